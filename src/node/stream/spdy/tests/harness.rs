//! A stand-in API server for the real kubectl: discovery, `GET` of one Running pod `p`, and
//! the exec and port-forward upgrades (SPDY `POST`, and the WebSocket tunnel for
//! port-forward), each handed to this crate's transports once the 101 is written.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::node::stream::portforward::{self, ForwardTarget};
use crate::node::stream::spdy::serve_remote_command;
use crate::node::stream::{CommandEnds, session};
use crate::remotecommand::{self, CommandOptions, PORT_FORWARD, PORT_FORWARD_TUNNEL};

/// The uid of the pod the server shows.
pub(crate) const POD_UID: &str = "6f1c0c5e-5b7e-4c35-9d5e-2d1c3a9f0001";

/// The command side of an exec session: given the options and the command's ends.
pub(crate) type RunCommand =
    Arc<dyn Fn(CommandOptions, CommandEnds) -> BoxFuture<'static, ()> + Send + Sync>;

/// Where port-forward connects for a remote port.
pub(crate) type DialPort =
    Arc<dyn Fn(u16) -> BoxFuture<'static, io::Result<TcpStream>> + Send + Sync>;

/// Which transport served an upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Upgrade {
    /// exec over SPDY.
    ExecSpdy,
    /// port-forward over SPDY.
    PortForwardSpdy,
    /// port-forward over the WebSocket tunnel.
    PortForwardTunnel,
}

/// The upgrades served, in order, each with the bytes the client sent after the 101.
type Sessions = Arc<Mutex<Vec<(Upgrade, Arc<Mutex<Vec<u8>>>)>>>;

/// The running server.
pub(crate) struct FakeApi {
    /// The upgrades served.
    sessions: Sessions,
    dir: tempfile::TempDir,
    _server: tokio_util::task::AbortOnDropHandle<()>,
}

/// What the handlers share.
struct Shared {
    run: RunCommand,
    dial: DialPort,
    sessions: Sessions,
}

impl FakeApi {
    /// Starts the server on a loopback port.
    pub(crate) async fn start(run: RunCommand, dial: DialPort) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sessions = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            run,
            dial,
            sessions: sessions.clone(),
        });
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(route(req, shared)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                });
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://{addr}\n\
             contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n    namespace: default\n\
             current-context: c\nusers:\n- name: u\n  user: {{}}\n"
        );
        std::fs::write(dir.path().join("kubeconfig"), kubeconfig).unwrap();
        Self {
            sessions,
            dir,
            _server: tokio_util::task::AbortOnDropHandle::new(server),
        }
    }

    /// A kubectl command against this server, with `env` set.
    pub(crate) fn kubectl(&self, args: &[&str], env: &[(&str, &str)]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("kubectl");
        cmd.args(args)
            .env("KUBECONFIG", self.dir.path().join("kubeconfig"))
            .env("HOME", self.dir.path())
            .envs(env.iter().copied())
            .kill_on_drop(true)
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// The upgrades served so far.
    pub(crate) fn upgrades(&self) -> Vec<Upgrade> {
        self.sessions
            .lock()
            .unwrap()
            .iter()
            .map(|(u, _)| *u)
            .collect()
    }

    /// What the client sent in the `n`th upgraded session.
    pub(crate) fn client_bytes(&self, n: usize) -> Vec<u8> {
        self.sessions.lock().unwrap()[n].1.lock().unwrap().clone()
    }
}

/// Runs `cmd` to its end, within a minute.
pub(crate) async fn run_to_end(mut cmd: tokio::process::Command) -> Output {
    tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("kubectl finished within a minute")
        .expect("kubectl runs")
}

/// A JSON response.
fn json(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// The one pod.
fn pod() -> serde_json::Value {
    serde_json::json!({
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": "p", "namespace": "default", "uid": POD_UID},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], "nodeName": "n"},
        "status": {"phase": "Running"},
    })
}

/// Answers one request.
fn route(req: Request<Incoming>, shared: Arc<Shared>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    match path.as_str() {
        "/api" => json(
            StatusCode::OK,
            serde_json::json!({"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}),
        ),
        "/apis" => json(
            StatusCode::OK,
            serde_json::json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []}),
        ),
        "/api/v1" => json(
            StatusCode::OK,
            serde_json::json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod",
                 "verbs": ["get", "list"], "shortNames": ["po"]},
                {"name": "pods/exec", "singularName": "", "namespaced": true, "kind": "PodExecOptions", "verbs": ["create", "get"]},
                {"name": "pods/portforward", "singularName": "", "namespaced": true, "kind": "PodPortForwardOptions", "verbs": ["create", "get"]},
            ]}),
        ),
        "/api/v1/namespaces/default/pods/p" => json(StatusCode::OK, pod()),
        "/api/v1/namespaces/default/pods/p/exec" => upgrade_exec(req, shared),
        "/api/v1/namespaces/default/pods/p/portforward" => upgrade_port_forward(req, shared),
        _ => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": "the server could not find the requested resource", "reason": "NotFound", "code": 404}),
        ),
    }
}

/// A 400 for a request that should have been an upgrade of another kind.
fn upgrade_refused(what: &str) -> Response<Full<Bytes>> {
    json(
        StatusCode::BAD_REQUEST,
        serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": what, "reason": "BadRequest", "code": 400}),
    )
}

/// Whether a header (any of its lines) contains `token`, case-insensitively.
fn header_has(req: &Request<Incoming>, name: &str, token: &str) -> bool {
    req.headers().get_all(name).iter().any(|v| {
        v.to_str()
            .map(|v| v.to_ascii_lowercase().contains(&token.to_ascii_lowercase()))
            .unwrap_or(false)
    })
}

/// Records what the client sends in a session.
fn record(shared: &Shared, upgrade: Upgrade) -> Arc<Mutex<Vec<u8>>> {
    let bytes = Arc::new(Mutex::new(Vec::new()));
    shared
        .sessions
        .lock()
        .unwrap()
        .push((upgrade, bytes.clone()));
    bytes
}

/// `POST …/exec` with `Upgrade: SPDY/3.1`: negotiate, 101, then the SPDY session.
fn upgrade_exec(mut req: Request<Incoming>, shared: Arc<Shared>) -> Response<Full<Bytes>> {
    if !header_has(&req, "upgrade", "spdy/3.1") {
        return upgrade_refused("Upgrade request required");
    }
    let offered: Vec<String> = req
        .headers()
        .get_all("x-stream-protocol-version")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let Some(protocol) = remotecommand::negotiate(
        offered.iter().map(String::as_str),
        &remotecommand::SPDY_PROTOCOLS,
    ) else {
        return upgrade_refused("no protocol in common");
    };
    let options = match CommandOptions::parse(req.uri().query().unwrap_or(""), true) {
        Ok(o) => o,
        Err(e) => return upgrade_refused(&e),
    };
    let recorded = record(&shared, Upgrade::ExecSpdy);
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let (transport, command) = session();
        let streams = options.streams;
        let run = (shared.run)(options, command);
        let io = Recorder::new(TokioIo::new(upgraded), recorded);
        tokio::join!(
            serve_remote_command(
                io,
                streams,
                transport,
                crate::node::DEFAULT_STREAMING_IDLE_TIMEOUT
            ),
            run
        );
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "SPDY/3.1")
        .header("X-Stream-Protocol-Version", protocol)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// `POST …/portforward` (SPDY) or `GET` with the WebSocket tunnel subprotocol.
fn upgrade_port_forward(mut req: Request<Incoming>, shared: Arc<Shared>) -> Response<Full<Bytes>> {
    let target = ForwardTarget {
        name: "p".into(),
        namespace: "default".into(),
        uid: POD_UID.into(),
    };
    let dial = shared.dial.clone();
    let dial = move |port| dial(port);
    if header_has(&req, "upgrade", "websocket") {
        if !header_has(&req, "sec-websocket-protocol", PORT_FORWARD_TUNNEL) {
            return upgrade_refused("unsupported WebSocket subprotocol");
        }
        let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
            return upgrade_refused("missing Sec-WebSocket-Key");
        };
        let recorded = record(&shared, Upgrade::PortForwardTunnel);
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let ws =
                WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
            let io = Recorder::new(portforward::tunnel(ws), recorded);
            portforward::serve(
                io,
                target,
                dial,
                crate::node::DEFAULT_STREAMING_IDLE_TIMEOUT,
            )
            .await;
        });
        return Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "websocket")
            .header("Sec-WebSocket-Accept", derive_accept_key(key.as_bytes()))
            .header("Sec-WebSocket-Protocol", PORT_FORWARD_TUNNEL)
            .body(Full::new(Bytes::new()))
            .unwrap();
    }
    if !header_has(&req, "upgrade", "spdy/3.1")
        || !header_has(&req, "x-stream-protocol-version", PORT_FORWARD)
    {
        return upgrade_refused("Upgrade request required");
    }
    let recorded = record(&shared, Upgrade::PortForwardSpdy);
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let io = Recorder::new(TokioIo::new(upgraded), recorded);
        portforward::serve(
            io,
            target,
            dial,
            crate::node::DEFAULT_STREAMING_IDLE_TIMEOUT,
        )
        .await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "SPDY/3.1")
        .header("X-Stream-Protocol-Version", PORT_FORWARD)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// The most bytes a [`Recorder`] keeps (the start of a session is what fixtures need).
const RECORD_LIMIT: usize = 64 * 1024;

/// A byte stream that keeps a copy of the first bytes read from it.
pub(crate) struct Recorder<IO> {
    io: IO,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl<IO> Recorder<IO> {
    /// Wraps `io`, recording into `seen`.
    fn new(io: IO, seen: Arc<Mutex<Vec<u8>>>) -> Self {
        Self { io, seen }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Recorder<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.io).poll_read(cx, buf);
        let mut seen = self.seen.lock().unwrap();
        let room = RECORD_LIMIT.saturating_sub(seen.len());
        let new = &buf.filled()[before..];
        seen.extend_from_slice(&new[..new.len().min(room)]);
        result
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Recorder<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Writes `bytes` as fixture `name` when `PODGATE_WRITE_FIXTURES` is set (to refresh the
/// recorded kubectl sessions the codec's tests decode).
pub(crate) fn maybe_write_fixture(name: &str, bytes: &[u8]) {
    if std::env::var_os("PODGATE_WRITE_FIXTURES").is_some() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/spdy")
            .join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}
