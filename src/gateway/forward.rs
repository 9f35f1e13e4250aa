//! Forwarding a proxy request to the pod, in named phases: check → resolve (waiting for the
//! ordinal if asked) → rewrite the request → send (one retry on another endpoint when a
//! connection could not be made) → rewrite the response → record.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::headers::{self, ForwardContext};
use super::metrics::{Metrics, RequestContext};
use super::resolve::{Resolver, Unresolved, Upstream};
use super::rewrite::{self, BackendUrl};
use super::server::{ClientAddr, TlsConnection};
use super::target::{self, ProxyTarget, Scheme, TargetKind};
use crate::machinery::status::Status;
use crate::wire::body::{self, Body};
use crate::wire::synthetic;

/// Asks the gateway to wait up to this long for the target's identity to be serving.
pub const WAIT_HEADER: &str = "x-podgate-wait";
/// Routes a service request to the StatefulSet ordinal this key maps to.
pub const SHARD_KEY_HEADER: &str = "x-podgate-shard-key";
/// Says which ordinal served a service request.
pub const ORDINAL_HEADER: &str = "x-podgate-ordinal";
/// The longest wait a request may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// How the proxy behaves.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// Rewrite `Location` headers and HTML links to stay under the proxy prefix, as the API
    /// server does.
    pub rewrite: bool,
    /// How long every request waits for its target when it does not say (`None`: fail at once,
    /// as Kubernetes does).
    pub default_wait: Option<Duration>,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        Self {
            rewrite: true,
            default_wait: None,
        }
    }
}

/// The pod and service proxy.
pub struct Proxy {
    resolver: Arc<Resolver>,
    http: Client<HttpConnector, Body>,
    https: Client<hyper_rustls::HttpsConnector<HttpConnector>, Body>,
    options: ProxyOptions,
    metrics: Arc<Metrics>,
}

impl Proxy {
    /// The watch cache targets are resolved from.
    pub(crate) fn cluster(&self) -> &crate::cluster::ClusterView {
        &self.resolver.cluster
    }

    /// A proxy with pooled connections to the pods.
    pub fn new(resolver: Arc<Resolver>, options: ProxyOptions, metrics: Arc<Metrics>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        connector.enforce_http(false);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .build(connector.clone());
        let https = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(crate::tls::insecure_https_connector(connector));
        Self {
            resolver,
            http,
            https,
            options,
            metrics,
        }
    }

    /// Serves one proxy request.
    pub async fn handle(&self, mut req: Request<Body>, t: ProxyTarget) -> Response<Body> {
        // The namespace label is set only once the target resolved: a client must not be able to
        // mint label sets (metrics memory) by naming namespaces that do not exist.
        let labels = req.extensions().get::<RequestContext>().cloned();
        if let Some(ctx) = &labels {
            ctx.0.lock().target = t.kind.kind_name();
        }
        // Phase: check.
        if !target::is_proxy_method(req.method()) {
            return synthetic(Status::method_not_supported());
        }
        if query_has(req.uri().query(), "dryRun") {
            return synthetic(Status::bad_request("dryRun is not supported"));
        }
        let upgrade = headers::is_upgrade_request(req.headers());
        if !upgrade && target::needs_root_redirect(&t, req.method()) {
            let location = target::root_redirect_location(req.uri().path(), req.uri().query());
            let mut resp = Response::new(body::empty());
            *resp.status_mut() = StatusCode::MOVED_PERMANENTLY;
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            return resp;
        }
        let wait = match wait_for(&req, self.options.default_wait) {
            Ok(w) => w,
            Err(s) => return synthetic(s),
        };
        let shard_key = req
            .headers()
            .get(SHARD_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(String::from);

        // Phase: resolve.
        let upstream = match self.resolve(&t, wait, shard_key.as_deref(), None).await {
            Ok(u) => u,
            Err(u) => {
                let reason = reason_of(&u.status);
                let namespace = if reason == "not_found" {
                    ""
                } else {
                    &t.namespace
                };
                self.metrics
                    .upstream_error(namespace, t.kind.kind_name(), reason);
                return synthetic(u.status);
            }
        };
        if let Some(ctx) = &labels {
            ctx.0.lock().namespace = t.namespace.clone();
        }

        // Phase: rewrite the request.
        let client_ip = req
            .extensions()
            .get::<ClientAddr>()
            .map(|a| a.0.ip())
            .unwrap_or([127, 0, 0, 1].into());
        let proto = if req.extensions().get::<TlsConnection>().is_some() {
            "https"
        } else {
            "http"
        };
        let host = req.headers().get(header::HOST).cloned().or_else(|| {
            req.uri()
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        let request_host = host
            .as_ref()
            .and_then(|h| h.to_str().ok())
            .map(String::from);
        let client_upgrade = if upgrade {
            Some(hyper::upgrade::on(&mut req))
        } else {
            None
        };
        let ctx = ForwardContext {
            client_ip,
            proto,
            host,
            original_uri: t.forwarded_uri(),
            upgrade,
        };
        let path_and_query = match req.uri().query() {
            Some(q) => format!("{}?{q}", t.backend_path()),
            None => t.backend_path().to_string(),
        };
        let (mut parts, body) = req.into_parts();
        headers::prepare_request_headers(&mut parts.headers, &ctx);
        // Only a bodiless service request may go to a second endpoint, so only then is a copy
        // of the request kept.
        let bodiless = body.is_end_stream() || body.size_hint().exact() == Some(0);
        let retryable = bodiless && t.kind == TargetKind::Service && shard_key.is_none();

        // Phase: send, with one retry elsewhere for services when nothing was sent.
        let mut upstream = upstream;
        let mut body = Some(body);
        let mut parts = Some(parts);
        let resp = loop {
            let uri = match upstream_uri(&upstream, path_and_query.clone()) {
                Ok(u) => u,
                Err(s) => return synthetic(s),
            };
            let Some(head) = (if retryable {
                parts.clone()
            } else {
                parts.take()
            }) else {
                return synthetic(Status::internal("request already sent"));
            };
            let mut out = Request::from_parts(head, body.take().unwrap_or_else(body::empty));
            *out.uri_mut() = uri;
            *out.version_mut() = http::Version::HTTP_11;
            let load = self.resolver.load.acquire(upstream.addr);
            let sent = match upstream.scheme {
                Scheme::Http => self.http.request(out).await,
                Scheme::Https => self.https.request(out).await,
            };
            match sent {
                Ok(resp) => break (resp, load),
                Err(e) => {
                    let connect = e.is_connect();
                    self.metrics.upstream_error(
                        &t.namespace,
                        t.kind.kind_name(),
                        if connect { "connect" } else { "protocol" },
                    );
                    if connect
                        && retryable
                        && let Ok(next) = self.resolve(&t, None, None, Some(upstream.addr)).await
                        && next.addr != upstream.addr
                    {
                        tracing::debug!(failed = %upstream.addr, next = %next.addr, "retrying on another endpoint");
                        upstream = next;
                        continue;
                    }
                    return synthetic(Status::unavailable(format!(
                        "error trying to reach service: {}",
                        error_text(&e)
                    )));
                }
            }
        };
        let (resp, load) = resp;
        if let (Some(ctx), Some((set, ordinal))) = (&labels, &upstream.ordinal) {
            let mut l = ctx.0.lock();
            l.statefulset = set.clone();
            l.ordinal = ordinal.to_string();
        }

        // Phase: rewrite the response.
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
            return splice_upgrade(resp, client_upgrade);
        }
        let (mut rparts, incoming) = resp.into_parts();
        headers::prepare_response_headers(&mut rparts.headers);
        if t.kind == TargetKind::Service
            && let Some((_, ordinal)) = &upstream.ordinal
            && let Ok(v) = HeaderValue::from_str(&ordinal.to_string())
        {
            rparts.headers.insert(ORDINAL_HEADER, v);
        }
        let backend = BackendUrl {
            scheme: upstream.scheme,
            host: upstream.addr.ip().to_string(),
            port: Some(upstream.addr.port()),
        };
        let mut resp_body: Body = body::boxed(incoming);
        if self.options.rewrite {
            if let Some(loc) = rparts
                .headers
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                && let Some(new) =
                    rewrite::rewrite_location(loc, &backend, request_host.as_deref(), &t.prefix)
                && let Ok(v) = HeaderValue::from_str(&new)
            {
                rparts.headers.insert(header::LOCATION, v);
            } else if let Some(coding) = rewrite::html_rewrite_coding(&rparts.headers) {
                resp_body = rewrite_html(
                    resp_body,
                    coding,
                    &backend,
                    request_host.as_deref(),
                    &t.prefix,
                    &mut rparts.headers,
                )
                .await;
            }
        }
        // The endpoint stays loaded until the response body ends.
        let tracked = super::tracked::Tracked::new(resp_body, Box::new(move |_, _| drop(load)));
        Response::from_parts(rparts, tracked.into())
    }

    /// Resolves, waiting (up to `wait`) while the failure is one that time can fix.
    async fn resolve(
        &self,
        t: &ProxyTarget,
        wait: Option<Duration>,
        shard_key: Option<&str>,
        avoid: Option<std::net::SocketAddr>,
    ) -> Result<Upstream, Unresolved> {
        let deadline = wait.map(|w| Instant::now() + w);
        loop {
            // Register for the next change before looking, so no change is missed.
            let changed = self.resolver.cluster.changed();
            let result = self.resolve_once(t, wait.is_some(), shard_key, avoid);
            match (result, deadline) {
                (Ok(u), _) => return Ok(u),
                (Err(e), Some(deadline)) if e.transient && Instant::now() < deadline => {
                    let _ = tokio::time::timeout_at(deadline.into(), changed).await;
                }
                (Err(e), _) => return Err(e),
            }
        }
    }

    fn resolve_once(
        &self,
        t: &ProxyTarget,
        require_serving: bool,
        shard_key: Option<&str>,
        avoid: Option<std::net::SocketAddr>,
    ) -> Result<Upstream, Unresolved> {
        match t.kind {
            TargetKind::Pod => self.resolver.pod(t, require_serving),
            TargetKind::Service => {
                let endpoints = self.resolver.service_endpoints(t)?;
                if let Some(key) = shard_key {
                    return self.resolver.shard(t, key, &endpoints);
                }
                let i = self.resolver.pick(&endpoints, avoid).ok_or_else(|| {
                    Unresolved::from(Status::unavailable(format!(
                        "no endpoints available for service \"{}\"",
                        t.name
                    )))
                })?;
                let (addr, pod) = endpoints[i].clone();
                let ordinal = pod
                    .as_deref()
                    .and_then(|p| self.resolver.cluster.pod(&t.namespace, p))
                    .and_then(|p| super::resolve::ordinal_of(&p));
                Ok(Upstream {
                    scheme: t.scheme,
                    addr,
                    pod,
                    ordinal,
                })
            }
        }
    }
}

fn query_has(query: Option<&str>, key: &str) -> bool {
    query.is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == key))
}

/// The wait a request asks for (`X-Podgate-Wait: 10s`), or the server default.
fn wait_for(req: &Request<Body>, default: Option<Duration>) -> Result<Option<Duration>, Status> {
    match req.headers().get(WAIT_HEADER) {
        None => Ok(default),
        Some(v) => {
            let s = v.to_str().unwrap_or("");
            parse_duration(s)
                .map(|d| Some(d.min(MAX_WAIT)))
                .ok_or_else(|| {
                    Status::bad_request(format!(
                        "invalid {WAIT_HEADER} value {s:?}: use a duration such as 500ms, 10s or 2m"
                    ))
                })
        }
    }
}

/// Parses `500ms`, `10s`, `2m`, `1h` (or a bare number of seconds).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, ""), |i| s.split_at(i));
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    // `try_`: a value too large for a `Duration` is refused, not a panic.
    if !(secs.is_finite() && secs >= 0.0) {
        return None;
    }
    Duration::try_from_secs_f64(secs).ok()
}

fn upstream_uri(u: &Upstream, path_and_query: String) -> Result<http::Uri, Status> {
    let authority = match u.addr {
        std::net::SocketAddr::V4(a) => a.to_string(),
        // Without the scope id `SocketAddrV6` would print (`%eth0` is no URI authority).
        std::net::SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    };
    http::Uri::builder()
        .scheme(u.scheme.as_str())
        .authority(authority)
        .path_and_query(path_and_query)
        .build()
        .map_err(|e| Status::bad_request(format!("invalid proxy path: {e}")))
}

/// The error chain as one line, as Go prints a dial error.
fn error_text(e: &hyper_util::client::legacy::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn reason_of(s: &Status) -> &'static str {
    match s.code {
        404 => "not_found",
        400 => "not_allowed",
        _ => "no_endpoints",
    }
}

/// Passes a 101 response on and splices the two upgraded connections together.
fn splice_upgrade(
    mut resp: Response<hyper::body::Incoming>,
    client: Option<hyper::upgrade::OnUpgrade>,
) -> Response<Body> {
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
    Response::from_parts(parts, body::empty())
}

/// Buffers an HTML body (up to the rewrite limit) and rewrites its links; larger bodies pass
/// through unchanged, streaming.
async fn rewrite_html(
    mut body: Body,
    coding: rewrite::HtmlCoding,
    backend: &BackendUrl,
    request_host: Option<&str>,
    prefix: &str,
    headers: &mut http::HeaderMap,
) -> Body {
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Some(d) = f.data_ref() {
                    buf.extend_from_slice(d);
                }
                if buf.len() > rewrite::MAX_REWRITE_BYTES {
                    // Too large to rewrite: send what we have, then the rest as it comes.
                    let head = futures::stream::once(async move {
                        Ok::<_, crate::wire::body::BoxError>(http_body::Frame::data(buf.freeze()))
                    });
                    let rest = body.into_data_stream().map_ok(http_body::Frame::data);
                    use futures::StreamExt;
                    return body::boxed(http_body_util::StreamBody::new(head.chain(rest)));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "reading an HTML body to rewrite failed");
                return body::empty();
            }
        }
    }
    let bytes: Bytes = buf.freeze();
    match rewrite::rewrite_html_body(&bytes, coding, backend, request_host, prefix) {
        Some(new) => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(new.len()));
            body::full(new)
        }
        None => body::full(bytes),
    }
}

use futures::TryStreamExt as _;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(
            parse_duration("99999999999999999999"),
            None,
            "too large: refused, no panic"
        );
        assert_eq!(parse_duration("1e400"), None);
    }

    #[test]
    fn dry_run_query_detected() {
        assert!(query_has(Some("a=1&dryRun=All"), "dryRun"));
        assert!(!query_has(Some("dry=1"), "dryRun"));
        assert!(!query_has(None, "dryRun"));
    }
}
