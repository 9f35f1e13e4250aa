//! The API behind `podgate proxy`: every request passes through to the real kube-apiserver with
//! the kubeconfig's credentials, as `kubectl proxy` forwards (`reference/proxy-semantics.md`
//! §4.4–4.5).
//!
//! * Connection and credentials come from a [`kube::Config`]: its cluster URL, its rustls client
//!   configuration (custom CA, client certificates, exec plugins that return certificates,
//!   `insecure-skip-tls-verify`, `tls-server-name`) and its auth layer (tokens, token files,
//!   exec plugins, basic auth), refreshed as kube-rs refreshes them.
//! * The credentials are added only when the client sent no `Authorization` of its own, and
//!   the kubeconfig's impersonation only when the client sent no `Impersonate-User`, as
//!   kubectl's round trippers do. (With client authentication on, the client's `Authorization`
//!   never gets this far.)
//! * Ordinary requests share one pool that negotiates HTTP/2 (as client-go does); bodies stream
//!   both ways. Upgrades (WebSocket, SPDY) go over a fresh HTTP/1.1 connection each, never
//!   reused, with the TCP keep-alive of `--keepalive`, and keep their query string.
//! * `Host` becomes the API server's; hop-by-hop headers go; `X-Forwarded-For` gets the client.
//! * Failures are `Status` objects (kubectl answers `500` with Go's error text):
//!   `503 error trying to reach the API server: …` when it cannot be reached, `500` when the
//!   credentials cannot be had, and the API server's own `invalid upgrade response: status code N`
//!   when an upgrade is answered with neither `101` nor an error.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{AUTHORIZATION, HOST, USER_AGENT};
use http::{HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kube::client::ConfigExt;
use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt};

use super::headers;
use super::server::ClientAddr;
use crate::machinery::status::Status;
use crate::wire::body::{self, Body, BoxError};

/// Go's `net.Dialer` keep-alive when `--keepalive` is 0.
const GO_DEFAULT_KEEPALIVE: Duration = Duration::from_secs(15);

/// How the pass-through behaves.
#[derive(Debug, Clone, Default)]
pub struct UpstreamOptions {
    /// `--append-server-path`: put the kubeconfig server URL's path in front of every request
    /// path (e.g. Rancher's `/k8s/clusters/c-xxx`).
    pub append_server_path: bool,
    /// `--keepalive`: the TCP keep-alive period of upgraded connections; `None` disables it,
    /// zero means Go's default of 15 s (kubectl's behaviour despite its help text).
    pub keepalive: Option<Duration>,
}

/// Why the pass-through could not be built.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The TLS configuration or the credentials could not be loaded.
    #[error("loading the kubeconfig's TLS settings or credentials: {0}")]
    Config(#[source] kube::Error),
    /// The cluster URL has no scheme or host.
    #[error("the cluster URL {0:?} has no scheme and host")]
    BadUrl(String),
}

type Inner = BoxCloneSyncService<Request<Body>, Response<Incoming>, BoxError>;

/// The pass-through service (see the module docs).
#[derive(Clone)]
pub struct ApiUpstream {
    shared: Arc<Shared>,
}

struct Shared {
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    server_path: String,
    append_server_path: bool,
    /// Ordinary requests, with and without the kubeconfig's credentials.
    pooled: Inner,
    pooled_bare: Inner,
    /// Upgrades, with and without the kubeconfig's credentials.
    upgrade: Inner,
    upgrade_bare: Inner,
    impersonation: Vec<(HeaderName, HeaderValue)>,
    user_agent: HeaderValue,
}

impl ApiUpstream {
    /// Builds the pass-through from a kube-rs configuration.
    pub fn new(config: &kube::Config, options: &UpstreamOptions) -> Result<Self, UpstreamError> {
        let url = &config.cluster_url;
        let (Some(scheme), Some(authority)) = (url.scheme().cloned(), url.authority().cloned())
        else {
            return Err(UpstreamError::BadUrl(url.to_string()));
        };
        let server_path = url.path().trim_end_matches('/').to_string();
        if !server_path.is_empty() && !options.append_server_path {
            tracing::warn!(
                server = %url,
                "the server URL has a path; it is not used unless --append-server-path is set"
            );
        }
        let tls = config
            .rustls_client_config()
            .map_err(UpstreamError::Config)?;

        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(
            config.connect_timeout.unwrap_or(Duration::from_secs(30)),
        ));
        let mut upgrade_http = http.clone();
        upgrade_http.set_keepalive(
            options
                .keepalive
                .map(|d| if d.is_zero() { GO_DEFAULT_KEEPALIVE } else { d }),
        );

        let pooled_connector = connector(config, tls.clone(), http, true)?;
        let upgrade_connector = connector(config, tls, upgrade_http, false)?;
        let pooled: Client<_, Body> = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(pooled_connector);
        // One connection per upgrade, never pooled: a connection whose upgrade failed is not
        // reused with the proxy's credentials (CVE-2018-1002105).
        let upgrade: Client<_, Body> = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(upgrade_connector);

        let auth = || config.auth_layer().map_err(UpstreamError::Config);
        let shared = Shared {
            scheme,
            authority,
            server_path,
            append_server_path: options.append_server_path,
            pooled: with_auth(pooled.clone(), auth()?),
            pooled_bare: with_auth(pooled, None),
            upgrade: with_auth(upgrade.clone(), auth()?),
            upgrade_bare: with_auth(upgrade, None),
            impersonation: impersonation_headers(config),
            user_agent: HeaderValue::from_static(concat!("podgate/", env!("CARGO_PKG_VERSION"))),
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// The upstream URI for a request's path and query (reused as they are unless the server
    /// path goes in front).
    fn uri(&self, incoming: &Uri) -> Result<Uri, http::Error> {
        let s = &self.shared;
        let path = match incoming.path() {
            "" => "/",
            p => p,
        };
        let pq = match incoming.path_and_query() {
            Some(pq)
                if (!s.append_server_path || s.server_path.is_empty()) && pq.path() == path =>
            {
                pq.clone()
            }
            _ => {
                let prefix = if s.append_server_path {
                    s.server_path.as_str()
                } else {
                    ""
                };
                let text = match incoming.query() {
                    Some(q) => format!("{prefix}{path}?{q}"),
                    None => format!("{prefix}{path}"),
                };
                http::uri::PathAndQuery::try_from(text)?
            }
        };
        Uri::builder()
            .scheme(s.scheme.clone())
            .authority(s.authority.clone())
            .path_and_query(pq)
            .build()
    }

    async fn forward(self, mut req: Request<Body>) -> Response<Body> {
        let upgrade = headers::is_upgrade_request(req.headers());
        let uri = match self.uri(req.uri()) {
            Ok(u) => u,
            Err(e) => {
                return crate::wire::synthetic(Status::bad_request(format!("invalid path: {e}")));
            }
        };
        let client_ip: Option<IpAddr> = req.extensions().get::<ClientAddr>().map(|a| a.0.ip());
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let s = &self.shared;
        let (mut parts, body) = req.into_parts();
        headers::prepare_api_request_headers(&mut parts.headers, client_ip, upgrade);
        parts.headers.remove(HOST);
        if !parts.headers.contains_key(USER_AGENT) {
            parts.headers.insert(USER_AGENT, s.user_agent.clone());
        }
        if !parts.headers.contains_key("impersonate-user") {
            for (name, value) in &s.impersonation {
                parts.headers.append(name.clone(), value.clone());
            }
        }
        let own_credentials = parts.headers.contains_key(AUTHORIZATION);
        parts.uri = uri;
        parts.version = http::Version::HTTP_11;
        let out = Request::from_parts(parts, body);
        let svc = match (upgrade, own_credentials) {
            (false, false) => s.pooled.clone(),
            (false, true) => s.pooled_bare.clone(),
            (true, false) => s.upgrade.clone(),
            (true, true) => s.upgrade_bare.clone(),
        };
        let resp = match send(svc, out).await {
            Ok(r) => r,
            Err(e) => return crate::wire::synthetic(error_status(&*e)),
        };
        if upgrade {
            return finish_upgrade(resp, client_upgrade);
        }
        let (mut parts, incoming) = resp.into_parts();
        headers::prepare_api_response_headers(&mut parts.headers);
        Response::from_parts(parts, body::boxed(incoming))
    }
}

impl tower::Service<Request<Body>> for ApiUpstream {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = futures::future::BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.forward(req).await) })
    }
}

/// Waits for `svc` to be ready and sends `req`.
async fn send(mut svc: Inner, req: Request<Body>) -> Result<Response<Incoming>, BoxError> {
    futures::future::poll_fn(|cx| tower::Service::poll_ready(&mut svc, cx)).await?;
    tower::Service::call(&mut svc, req).await
}

/// An HTTPS (or plain HTTP) connector with the kubeconfig's TLS settings; `h2` offers HTTP/2
/// by ALPN, otherwise only HTTP/1.1 is spoken (for upgrades).
fn connector(
    config: &kube::Config,
    tls: rustls::ClientConfig,
    http: HttpConnector,
    h2: bool,
) -> Result<hyper_rustls::HttpsConnector<HttpConnector>, UpstreamError> {
    let mut builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    if let Some(name) = &config.tls_server_name {
        let name = rustls::pki_types::ServerName::try_from(name.clone()).map_err(|e| {
            UpstreamError::Config(kube::Error::Service(
                format!("invalid tls-server-name {name:?}: {e}").into(),
            ))
        })?;
        builder =
            builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name));
    }
    Ok(if h2 {
        builder.enable_all_versions().wrap_connector(http)
    } else {
        builder.enable_http1().wrap_connector(http)
    })
}

/// The client behind kube-rs's auth layer (when there is one).
fn with_auth<C>(client: Client<C, Body>, auth: Option<kube::client::middleware::AuthLayer>) -> Inner
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    let base = client.map_err(|e| -> BoxError { Box::new(e) });
    match auth {
        Some(layer) => BoxCloneSyncService::new(ServiceBuilder::new().layer(layer).service(base)),
        None => BoxCloneSyncService::new(base),
    }
}

/// The kubeconfig's `as`, `as-groups`, `as-uid` and `as-user-extra` as headers.
fn impersonation_headers(config: &kube::Config) -> Vec<(HeaderName, HeaderValue)> {
    let a = &config.auth_info;
    let mut out = Vec::new();
    let mut push = |name: &str, value: &str| {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            out.push((n, v));
        }
    };
    if let Some(user) = &a.impersonate {
        push("impersonate-user", user);
    }
    if let Some(uid) = &a.impersonate_uid {
        push("impersonate-uid", uid);
    }
    for group in a.impersonate_groups.iter().flatten() {
        push("impersonate-group", group);
    }
    for (key, values) in a.impersonate_user_extra.iter().flatten() {
        let key: String =
            percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
                .to_ascii_lowercase();
        for value in values {
            push(&format!("impersonate-extra-{key}"), value);
        }
    }
    out
}

/// The `Status` for a failed round trip.
fn error_status(e: &(dyn std::error::Error + 'static)) -> Status {
    if e.downcast_ref::<hyper_util::client::legacy::Error>()
        .is_some()
    {
        Status::unavailable(format!(
            "error trying to reach the API server: {}",
            error_chain(e)
        ))
    } else {
        Status::internal(format!(
            "getting credentials for the API server: {}",
            error_chain(e)
        ))
    }
}

/// An error and its sources on one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// The answer to an upgrade request: `101` is passed on and both connections are spliced;
/// an error (≥ 400) is passed on as it is; anything else is an invalid upgrade response.
fn finish_upgrade(
    mut resp: Response<Incoming>,
    client: Option<hyper::upgrade::OnUpgrade>,
) -> Response<Body> {
    let status = resp.status();
    if status == StatusCode::SWITCHING_PROTOCOLS {
        let upstream = hyper::upgrade::on(&mut resp);
        if let Some(client) = client {
            tokio::spawn(async move {
                match tokio::try_join!(client, upstream) {
                    Ok((c, u)) => {
                        let (mut c, mut u) = (TokioIo::new(c), TokioIo::new(u));
                        if let Err(e) = tokio::io::copy_bidirectional(&mut c, &mut u).await {
                            tracing::debug!(error = %e, "upgraded connection ended");
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "upgrade failed"),
                }
            });
        }
        let (parts, _) = resp.into_parts();
        return Response::from_parts(parts, body::empty());
    }
    if status.as_u16() >= 400 {
        let (mut parts, incoming) = resp.into_parts();
        headers::prepare_api_response_headers(&mut parts.headers);
        return Response::from_parts(parts, body::boxed(incoming));
    }
    crate::wire::synthetic(Status::other(
        500,
        "InternalError",
        format!("invalid upgrade response: status code {}", status.as_u16()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> kube::Config {
        kube::Config::new(url.parse().unwrap())
    }

    #[test]
    fn uris_keep_path_and_query_and_append_the_server_path_on_request() {
        let c = config("https://10.0.0.1:6443/k8s/clusters/c-x/");
        let plain = ApiUpstream::new(&c, &UpstreamOptions::default()).unwrap();
        assert_eq!(
            plain.uri(&"/api/v1/pods?watch=1".parse().unwrap()).unwrap(),
            "https://10.0.0.1:6443/api/v1/pods?watch=1"
        );
        assert_eq!(
            plain.uri(&"/a/b%2Fc".parse().unwrap()).unwrap(),
            "https://10.0.0.1:6443/a/b%2Fc"
        );
        let appended = ApiUpstream::new(
            &c,
            &UpstreamOptions {
                append_server_path: true,
                keepalive: None,
            },
        )
        .unwrap();
        assert_eq!(
            appended.uri(&"/api/v1/services/".parse().unwrap()).unwrap(),
            "https://10.0.0.1:6443/k8s/clusters/c-x/api/v1/services/"
        );
        assert_eq!(
            appended
                .uri(&"/api/v1/pods?watch=1".parse().unwrap())
                .unwrap(),
            "https://10.0.0.1:6443/k8s/clusters/c-x/api/v1/pods?watch=1"
        );
    }

    #[test]
    fn kubeconfig_impersonation_becomes_headers() {
        let mut c = config("https://k:6443");
        c.auth_info.impersonate = Some("jane".into());
        c.auth_info.impersonate_groups = Some(vec!["a".into(), "b".into()]);
        let h = impersonation_headers(&c);
        let names: Vec<_> = h
            .iter()
            .map(|(n, v)| format!("{n}={}", v.to_str().unwrap()))
            .collect();
        assert_eq!(
            names,
            [
                "impersonate-user=jane",
                "impersonate-group=a",
                "impersonate-group=b"
            ]
        );
    }

    #[test]
    fn bad_urls_are_refused() {
        let c = config("/relative");
        assert!(matches!(
            ApiUpstream::new(&c, &UpstreamOptions::default()),
            Err(UpstreamError::BadUrl(_))
        ));
    }

    #[tokio::test]
    async fn unreachable_api_server_is_a_status() {
        use http_body_util::BodyExt;
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = config(&format!("http://127.0.0.1:{port}"));
        let mut up = ApiUpstream::new(&c, &UpstreamOptions::default()).unwrap();
        let req = Request::get("/api").body(body::empty()).unwrap();
        let resp = tower::Service::call(&mut up, req).await.unwrap();
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()["content-type"], "application/json");
        let v: serde_json::Value =
            serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!(v["kind"], "Status");
        assert_eq!(v["reason"], "ServiceUnavailable");
        let msg = v["message"].as_str().unwrap();
        assert!(
            msg.starts_with("error trying to reach the API server: "),
            "{msg}"
        );
    }

    /// A one-request HTTP/1.1 server on loopback that answers `reply` and hands back the
    /// request head it read.
    async fn one_shot(reply: &'static str) -> (u16, tokio::sync::oneshot::Receiver<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut chunk).await.unwrap();
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
            s.write_all(reply.as_bytes()).await.unwrap();
            s.shutdown().await.ok();
        });
        (port, rx)
    }

    fn upgrade_request(extra: &[(&str, &str)]) -> Request<Body> {
        let mut b = Request::get("/api/v1/namespaces/d/pods/p/proxy/ws?token=abc")
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("host", "localhost:8001");
        for (k, v) in extra {
            b = b.header(*k, *v);
        }
        b.body(body::empty()).unwrap()
    }

    #[tokio::test]
    async fn upgrades_carry_credentials_query_and_host_and_refuse_non_101() {
        use http_body_util::BodyExt;
        let (port, head) = one_shot("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nno").await;
        let mut c = config(&format!("http://127.0.0.1:{port}"));
        c.auth_info.token = Some("s3cret".to_string().into());
        let mut up = ApiUpstream::new(&c, &UpstreamOptions::default()).unwrap();
        let resp = tower::Service::call(&mut up, upgrade_request(&[]))
            .await
            .unwrap();
        let head = head.await.unwrap().to_ascii_lowercase();
        assert!(
            head.starts_with("get /api/v1/namespaces/d/pods/p/proxy/ws?token=abc http/1.1\r\n"),
            "{head}"
        );
        assert!(head.contains("authorization: bearer s3cret"), "{head}");
        assert!(head.contains(&format!("host: 127.0.0.1:{port}")), "{head}");
        assert!(head.contains("upgrade: websocket"), "{head}");
        assert_eq!(resp.status(), 500);
        let v: serde_json::Value =
            serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!(v["message"], "invalid upgrade response: status code 200");
    }

    #[tokio::test]
    async fn upgrade_errors_pass_through_and_client_credentials_win() {
        use http_body_util::BodyExt;
        let (port, head) =
            one_shot("HTTP/1.1 403 Forbidden\r\ncontent-length: 4\r\n\r\nnope").await;
        let mut c = config(&format!("http://127.0.0.1:{port}"));
        c.auth_info.token = Some("s3cret".to_string().into());
        let mut up = ApiUpstream::new(&c, &UpstreamOptions::default()).unwrap();
        let req = upgrade_request(&[("authorization", "Bearer mine")]);
        let resp = tower::Service::call(&mut up, req).await.unwrap();
        let head = head.await.unwrap().to_ascii_lowercase();
        assert!(head.contains("authorization: bearer mine"), "{head}");
        assert!(!head.contains("s3cret"), "{head}");
        assert_eq!(resp.status(), 403);
        assert_eq!(
            &resp.into_body().collect().await.unwrap().to_bytes()[..],
            b"nope"
        );
    }
}
