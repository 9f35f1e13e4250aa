//! `pods/{name}/exec`, `/attach` and `/portforward`: kube-apiserver's checks (the pod, its
//! container, its node), then the client's upgrade spliced onto the node's streaming endpoint,
//! as kube-apiserver does with the kubelet's. The node gets a fresh request that carries only
//! the upgrade's own headers and the API server's node credential: nothing of the client's
//! credentials ever reaches it.

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::logs::{NodeUnreachable, container_name, node_endpoint};
use super::meta::meta_str;
use crate::machinery::status::Status;
use crate::remotecommand::CommandOptions;
use crate::secrets::NodeKey;
use crate::store::Store;
use crate::wire::body::{self, Body};

/// The headers of an upgrade that travel on to the node (the WebSocket handshake and SPDY's
/// protocol negotiation), and back from it.
const UPGRADE_HEADERS: [&str; 7] = [
    "connection",
    "upgrade",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-accept",
    "x-stream-protocol-version",
];

/// Which streaming subresource a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `exec`.
    Exec,
    /// `attach`.
    Attach,
    /// `portforward`.
    PortForward,
}

impl Kind {
    /// The kind a subresource name means.
    pub(super) fn of(subresource: &str) -> Option<Self> {
        match subresource {
            "exec" => Some(Self::Exec),
            "attach" => Some(Self::Attach),
            "portforward" => Some(Self::PortForward),
            _ => None,
        }
    }
}

/// Serves one streaming request for `pod`.
pub(super) async fn connect<B>(
    store: &Store,
    key: Option<&NodeKey>,
    kind: Kind,
    pod: &Value,
    query: &str,
    mut req: http::Request<B>,
) -> Result<Response<Body>, Status> {
    let name = meta_str(pod, "name").unwrap_or("");
    let ns = meta_str(pod, "namespace").unwrap_or("");
    let path = match kind {
        Kind::Exec | Kind::Attach => {
            let mut options =
                CommandOptions::parse(query, kind == Kind::Exec).map_err(Status::bad_request)?;
            let container = container_name(pod, options.container.as_deref())?;
            options.container = Some(container.clone());
            let verb = if kind == Kind::Exec { "exec" } else { "attach" };
            format!(
                "/{verb}/{}/{}/{}?{}",
                segment(ns),
                segment(name),
                segment(&container),
                options.to_query()
            )
        }
        Kind::PortForward => format!("/portForward/{}/{}", segment(ns), segment(name)),
    };
    let address = match node_endpoint(store, pod) {
        Ok(a) => a,
        Err(NodeUnreachable::NoHost) => {
            return Err(Status::bad_request(format!(
                "pod {name} does not have a host assigned"
            )));
        }
        Err(NodeUnreachable::Status(s)) => return Err(s),
    };
    if !req.headers().contains_key(header::UPGRADE) {
        return Err(Status::bad_request("Upgrade request required"));
    }

    let mut upstream = http::Request::builder()
        .method(req.method().clone())
        .uri(path)
        .header(header::HOST, address.to_string());
    for (name, value) in upgrade_headers(req.headers()) {
        upstream = upstream.header(name, value);
    }
    if let Some(key) = key {
        upstream = upstream.header(header::AUTHORIZATION, key.authorization());
    }
    let upstream = upstream
        .body(body::empty())
        .map_err(|e| Status::internal(e.to_string()))?;
    let unreachable =
        |e: &dyn std::fmt::Display| Status::internal(format!("error dialing the node: {e}"));
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| unreachable(&e))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(&e))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let mut node_resp = sender
        .send_request(upstream)
        .await
        .map_err(|e| unreachable(&e))?;
    if node_resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        // The node's refusal is already a `Status` (made by the same code as this server's):
        // it goes to the client as it is.
        return Ok(node_resp.map(body::boxed));
    }

    let mut resp = Response::new(body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    for (name, value) in upgrade_headers(node_resp.headers()) {
        resp.headers_mut().append(name, value);
    }
    let client_upgrade = hyper::upgrade::on(&mut req);
    let node_upgrade = hyper::upgrade::on(&mut node_resp);
    tokio::spawn(async move {
        let (Ok(client), Ok(node)) = tokio::join!(client_upgrade, node_upgrade) else {
            return;
        };
        let mut client = TokioIo::new(client);
        let mut node = TokioIo::new(node);
        let _ = tokio::io::copy_bidirectional(&mut client, &mut node).await;
    });
    Ok(resp)
}

/// The upgrade's own headers of `headers`, and nothing else.
fn upgrade_headers(headers: &HeaderMap) -> Vec<(http::HeaderName, HeaderValue)> {
    headers
        .iter()
        .filter(|(n, _)| UPGRADE_HEADERS.contains(&n.as_str()))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect()
}

/// A path segment, percent-encoded.
fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_upgrades_own_headers_travel_to_the_node() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("authorization", "Bearer user-token"),
            ("cookie", "session=1"),
            ("impersonate-user", "root"),
            ("x-remote-user", "root"),
            ("proxy-authorization", "Basic eA=="),
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-version", "13"),
            ("sec-websocket-protocol", "v5.channel.k8s.io"),
            ("x-stream-protocol-version", "v4.channel.k8s.io"),
        ] {
            h.append(k, HeaderValue::from_static(v));
        }
        h.append(
            "x-stream-protocol-version",
            HeaderValue::from_static("v5.channel.k8s.io"),
        );
        let kept: Vec<String> = upgrade_headers(&h)
            .iter()
            .map(|(n, _)| n.as_str().to_string())
            .collect();
        assert_eq!(
            kept,
            [
                "connection",
                "upgrade",
                "sec-websocket-key",
                "sec-websocket-version",
                "sec-websocket-protocol",
                "x-stream-protocol-version",
                "x-stream-protocol-version",
            ]
        );
    }

    #[test]
    fn subresources_name_their_kind() {
        assert_eq!(Kind::of("exec"), Some(Kind::Exec));
        assert_eq!(Kind::of("attach"), Some(Kind::Attach));
        assert_eq!(Kind::of("portforward"), Some(Kind::PortForward));
        assert_eq!(Kind::of("log"), None);
    }
}
