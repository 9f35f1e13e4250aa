//! The routes of the node's streaming endpoints: find the pod and container, negotiate the
//! protocol, answer the upgrade, and run the session on the upgraded connection.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::{attach, exec, session, websocket};

use crate::machinery::status::Status;
use crate::node::worker::Registry;
use crate::remotecommand::{self, CommandOptions};
use crate::wire::body::{self, Body};

/// The largest WebSocket message a client may send (kubectl's stdin chunks are 32 KiB).
const MAX_MESSAGE: usize = 1024 * 1024;

/// What the streaming routes need.
#[derive(Clone)]
pub(crate) struct StreamRoutes {
    /// The pods this node runs.
    pub(crate) registry: Registry,
    /// How long a session may sit without data before it is closed.
    pub(crate) idle_timeout: Duration,
}

/// What a streaming path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// `/exec/{ns}/{pod}/{container}`.
    Exec,
    /// `/attach/{ns}/{pod}/{container}`.
    Attach,
    /// `/portForward/{ns}/{pod}`.
    PortForward,
}

/// A streaming route: what, and for which pod (and container).
pub(crate) struct Route {
    target: Target,
    ns: String,
    pod: String,
    container: String,
}

/// The streaming route `path` names (`None`: not a streaming path).
pub(crate) fn route_of(path: &str) -> Option<Route> {
    let parts: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(crate::wire::decoded_path)
        .collect();
    let (target, ns, pod, container) = match parts.as_slice() {
        [kind, ns, pod, container] if kind == "exec" => (Target::Exec, ns, pod, container.clone()),
        [kind, ns, pod, container] if kind == "attach" => {
            (Target::Attach, ns, pod, container.clone())
        }
        [kind, ns, pod] if kind == "portForward" => (Target::PortForward, ns, pod, String::new()),
        _ => return None,
    };
    Some(Route {
        target,
        ns: ns.clone(),
        pod: pod.clone(),
        container,
    })
}

/// The upgrade a request asks for.
#[derive(Clone, Copy)]
enum Upgrade {
    /// WebSocket with the negotiated subprotocol.
    WebSocket(&'static str),
    /// SPDY/3.1 with the negotiated `X-Stream-Protocol-Version`.
    Spdy(&'static str),
}

fn header_values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect()
}

fn asks_for(headers: &HeaderMap, token: &str) -> bool {
    header_values(headers, header::UPGRADE.as_str())
        .iter()
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case(token))
}

/// Negotiates the upgrade: WebSocket by its subprotocol, SPDY by `X-Stream-Protocol-Version`.
fn negotiate(
    headers: &HeaderMap,
    websocket: &[&'static str],
    spdy: &[&'static str],
) -> Result<Upgrade, Status> {
    if asks_for(headers, "websocket") {
        let offered = header_values(headers, header::SEC_WEBSOCKET_PROTOCOL.as_str());
        return remotecommand::negotiate(offered, websocket)
            .map(Upgrade::WebSocket)
            .ok_or_else(|| {
                Status::bad_request(format!(
                    "unable to upgrade: no WebSocket protocol in common: the server supports {websocket:?}"
                ))
            });
    }
    if asks_for(headers, "spdy/3.1") {
        let offered = header_values(headers, "x-stream-protocol-version");
        return remotecommand::negotiate(offered, spdy)
            .map(Upgrade::Spdy)
            .ok_or_else(|| {
                Status::other(
                    403,
                    "Forbidden",
                    format!("unable to upgrade: unable to negotiate protocol: the server supports {spdy:?}"),
                )
            });
    }
    Err(Status::bad_request("Upgrade request required"))
}

/// The 101 answer to `upgrade`.
fn switching(headers: &HeaderMap, upgrade: &Upgrade) -> Response<Body> {
    let mut resp = Response::new(body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    match upgrade {
        Upgrade::WebSocket(protocol) => {
            h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            let key = headers
                .get(header::SEC_WEBSOCKET_KEY)
                .map(|k| derive_accept_key(k.as_bytes()))
                .unwrap_or_default();
            if let Ok(v) = HeaderValue::from_str(&key) {
                h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
            }
            h.insert(
                header::SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_static(protocol),
            );
        }
        Upgrade::Spdy(protocol) => {
            h.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
            h.insert(
                "x-stream-protocol-version",
                HeaderValue::from_static(protocol),
            );
        }
    }
    resp
}

/// The server side of a WebSocket whose handshake the 101 completed, with bounded messages.
async fn accept_websocket<S>(io: S) -> WebSocketStream<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await
}

impl StreamRoutes {
    /// Serves the streaming request `req` for `route`.
    pub(crate) async fn serve(&self, req: Request<Incoming>, route: Route) -> Response<Body> {
        if !matches!(*req.method(), Method::GET | Method::POST) {
            return Status::method_not_supported().to_response();
        }
        let query = req.uri().query().unwrap_or("").to_string();
        let Route {
            target,
            ns,
            pod,
            container,
        } = route;
        let Some(handle) = self
            .registry
            .lock()
            .get(&(ns.clone(), pod.clone()))
            .cloned()
        else {
            return Status::not_found("pods", "", &pod).to_response();
        };
        match target {
            Target::Exec | Target::Attach => {
                let Some(live) = handle.live(&container) else {
                    return Status::bad_request(format!(
                        "container {container:?} in pod {pod:?} is not running"
                    ))
                    .to_response();
                };
                let is_exec = target == Target::Exec;
                let options = match CommandOptions::parse(&query, is_exec) {
                    Ok(o) => o,
                    Err(msg) => return Status::bad_request(msg).to_response(),
                };
                let upgrade = match negotiate(
                    req.headers(),
                    &remotecommand::WEBSOCKET_PROTOCOLS,
                    &remotecommand::SPDY_PROTOCOLS,
                ) {
                    Ok(u) => u,
                    Err(s) => return s.to_response(),
                };
                if !is_exec && options.streams.tty && live.terminal.is_none() {
                    return Status::bad_request(format!(
                        "container {container:?} in pod {pod:?} did not allocate a terminal"
                    ))
                    .to_response();
                }
                let idle = self.idle_timeout;
                run_upgraded(req, upgrade, move |io| async move {
                    let (transport, command) = session();
                    let streams = options.streams;
                    let command_side = async move {
                        if is_exec {
                            exec::run(live.exec.clone(), options.command, streams, command).await
                        } else {
                            attach::run(live, streams, command).await
                        }
                    };
                    match upgrade {
                        Upgrade::WebSocket(protocol) => {
                            let ws = accept_websocket(io).await;
                            let transport_side = websocket::serve_remote_command(
                                ws, protocol, streams, transport, idle,
                            );
                            tokio::join!(transport_side, command_side);
                        }
                        Upgrade::Spdy(_) => {
                            let transport_side =
                                super::spdy::serve_remote_command(io, streams, transport, idle);
                            tokio::join!(transport_side, command_side);
                        }
                    }
                })
            }
            Target::PortForward => {
                let upgrade = match negotiate(
                    req.headers(),
                    &[remotecommand::PORT_FORWARD_TUNNEL],
                    &[remotecommand::PORT_FORWARD],
                ) {
                    Ok(u) => u,
                    Err(s) => return s.to_response(),
                };
                let Some(ip) = handle.runtime.lock().pod_ip else {
                    return Status::bad_request(format!("pod {pod:?} has no IP address yet"))
                        .to_response();
                };
                let target = super::portforward::ForwardTarget {
                    namespace: ns,
                    name: pod,
                    uid: handle.key.uid.clone(),
                };
                let idle = self.idle_timeout;
                run_upgraded(req, upgrade, move |io| async move {
                    // Only the pod's own address is ever dialed.
                    let dial = move |port: u16| -> futures::future::BoxFuture<
                        'static,
                        std::io::Result<tokio::net::TcpStream>,
                    > {
                        Box::pin(tokio::net::TcpStream::connect(SocketAddr::new(
                            IpAddr::V4(ip),
                            port,
                        )))
                    };
                    match upgrade {
                        Upgrade::WebSocket(_) => {
                            let ws = accept_websocket(io).await;
                            super::portforward::serve(
                                super::portforward::tunnel(ws),
                                target,
                                dial,
                                idle,
                            )
                            .await;
                        }
                        Upgrade::Spdy(_) => {
                            super::portforward::serve(io, target, dial, idle).await;
                        }
                    }
                })
            }
        }
    }
}

/// Answers 101 for `upgrade`, and runs `session` on the connection once hyper hands it over.
fn run_upgraded<F, Fut>(mut req: Request<Incoming>, upgrade: Upgrade, session: F) -> Response<Body>
where
    F: FnOnce(TokioIo<hyper::upgrade::Upgraded>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let response = switching(req.headers(), &upgrade);
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            session(TokioIo::new(upgraded)).await;
        }
    });
    response
}
