//! `pods/{name}/log`: proxied to the node that runs the pod, as kube-apiserver does to the
//! kubelet. Only the node's loopback endpoint from its status is ever dialed.

use std::net::{IpAddr, SocketAddr};

use http::StatusCode;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::Query;
use super::handlers;
use super::meta::meta_str;
use super::registry;
use crate::machinery::status::Status;
use crate::secrets::NodeKey;
use crate::store::Store;
use crate::wire::body::{self, Body};

/// The query parameters the kubelet's log endpoint understands.
const FORWARDED: [&str; 6] = [
    "follow",
    "previous",
    "tailLines",
    "sinceSeconds",
    "timestamps",
    "limitBytes",
];

/// Proxies log requests to nodes over a pooled client.
pub(super) struct LogProxy {
    client: Client<HttpConnector, Body>,
}

impl LogProxy {
    /// A proxy with its own connection pool.
    pub(super) fn new() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Streams the log of one container of `pod`, presenting `key` to its node.
    pub(super) async fn serve(
        &self,
        store: &Store,
        pod: &Value,
        query: &Query,
        key: Option<&NodeKey>,
    ) -> Result<http::Response<Body>, Status> {
        let name = meta_str(pod, "name").unwrap_or("");
        let ns = meta_str(pod, "namespace").unwrap_or("");
        let container = container_name(pod, query.get("container"))?;
        let address = match node_endpoint(store, pod) {
            Ok(a) => a,
            Err(NodeUnreachable::NoHost) => {
                return Err(Status::bad_request(format!(
                    "container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating"
                )));
            }
            Err(NodeUnreachable::Status(s)) => return Err(s),
        };
        let mut uri = format!("http://{address}/containerLogs/{ns}/{name}/{container}");
        let params: Vec<String> = FORWARDED
            .iter()
            .filter_map(|k| {
                query.get(k).map(|v| {
                    format!(
                        "{k}={}",
                        form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                    )
                })
            })
            .collect();
        if !params.is_empty() {
            uri.push('?');
            uri.push_str(&params.join("&"));
        }
        let mut req = http::Request::get(uri);
        if let Some(key) = key {
            req = req.header(http::header::AUTHORIZATION, key.authorization());
        }
        let req = req
            .body(body::empty())
            .map_err(|e| Status::internal(e.to_string()))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| Status::unavailable(format!("error trying to reach the node: {e}")))?;
        let (parts, incoming) = resp.into_parts();
        if parts.status != StatusCode::OK {
            let bytes = http_body_util::BodyExt::collect(incoming)
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes).trim().to_string();
            return Err(Status::bad_request(text));
        }
        let mut out = http::Response::new(body::boxed(incoming));
        out.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain"),
        );
        Ok(out)
    }
}

/// Why a pod's node cannot be reached.
pub(super) enum NodeUnreachable {
    /// The pod has no node yet.
    NoHost,
    /// The node is unknown or has no usable endpoint.
    Status(Status),
}

/// The address of the endpoint of the node that runs `pod` (from the Node's status; only a
/// loopback address is ever taken).
pub(super) fn node_endpoint(store: &Store, pod: &Value) -> Result<SocketAddr, NodeUnreachable> {
    let node_name = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if node_name.is_empty() {
        return Err(NodeUnreachable::NoHost);
    }
    let node_def = registry::find("", "v1", "nodes")
        .ok_or_else(|| NodeUnreachable::Status(Status::internal("no nodes resource")))?;
    let node = store
        .get(&handlers::key(node_def, None, node_name))
        .ok_or_else(|| NodeUnreachable::Status(Status::not_found("nodes", "", node_name)))?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(0);
    let address = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|x| x["type"] == "InternalIP"))
        .and_then(|x| x["address"].as_str())
        .and_then(|a| a.parse::<IpAddr>().ok());
    match address.filter(|a| a.is_loopback() && port > 0) {
        Some(a) => Ok(SocketAddr::new(a, port)),
        None => Err(NodeUnreachable::Status(Status::unavailable(format!(
            "node \"{node_name}\" has no reachable endpoint"
        )))),
    }
}

/// The container a log, exec or attach request means: the named one, or the only one.
pub(super) fn container_name(pod: &Value, asked: Option<&str>) -> Result<String, Status> {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let names = |field: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let containers = names("containers");
    let init = names("initContainers");
    match asked.filter(|s| !s.is_empty()) {
        Some(c) if containers.iter().chain(init.iter()).any(|n| n == c) => Ok(c.to_string()),
        Some(c) => Err(Status::bad_request(format!(
            "container {c} is not valid for pod {name}"
        ))),
        None if containers.len() == 1 => Ok(containers[0].clone()),
        None => {
            let mut msg = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !init.is_empty() {
                msg.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            Err(Status::bad_request(msg))
        }
    }
}
