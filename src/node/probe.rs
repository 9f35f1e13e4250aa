//! Probes and lifecycle hooks: `httpGet` (to the pod IP), `tcpSocket`, `exec` (inside the
//! container's namespaces), `sleep`; and the kubelet's threshold logic that turns single
//! results into a probe's state.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use k8s_openapi::api::core::v1::{
    Container, HTTPGetAction, LifecycleHandler, Probe, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::process::{self, Placement, SpawnSpec};

/// Which probe a result belongs to (for messages: `Readiness probe failed: …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// `startupProbe`.
    Startup,
    /// `livenessProbe`.
    Liveness,
    /// `readinessProbe`.
    Readiness,
}

impl ProbeKind {
    /// `Startup`, `Liveness` or `Readiness`, as in the kubelet's event messages.
    pub fn title(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
        }
    }
}

/// What a probe or hook does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run a command inside the container.
    Exec(Vec<String>),
    /// `GET scheme://host:port/path`.
    Http {
        /// `http` or `https`.
        https: bool,
        /// The host to connect to (the pod IP unless `host` is set).
        host: IpAddrOrName,
        /// The resolved port.
        port: u16,
        /// The path and query.
        path: String,
        /// Extra request headers.
        headers: Vec<(String, String)>,
    },
    /// Open a TCP connection.
    Tcp {
        /// The host to connect to.
        host: IpAddrOrName,
        /// The resolved port.
        port: u16,
    },
    /// Wait (lifecycle `sleep`).
    Sleep(Duration),
    /// Something podgate cannot run (gRPC probes, unresolvable ports, empty handlers).
    Unsupported(String),
}

/// A probe target host: an IP address or a name to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpAddrOrName {
    /// An address.
    Ip(IpAddr),
    /// A host name.
    Name(String),
}

impl std::fmt::Display for IpAddrOrName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IpAddrOrName::Ip(ip) => write!(f, "{ip}"),
            IpAddrOrName::Name(n) => write!(f, "{n}"),
        }
    }
}

/// A probe's timing and thresholds with Kubernetes' defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// `initialDelaySeconds` (0).
    pub initial_delay: Duration,
    /// `periodSeconds` (10).
    pub period: Duration,
    /// `timeoutSeconds` (1).
    pub timeout: Duration,
    /// `successThreshold` (1).
    pub success_threshold: u32,
    /// `failureThreshold` (3).
    pub failure_threshold: u32,
    /// The probe-level `terminationGracePeriodSeconds`, if any.
    pub termination_grace: Option<i64>,
}

impl Timing {
    /// Reads the timing fields of `probe`.
    pub fn of(probe: &Probe) -> Self {
        let secs = |v: Option<i32>, default: i32, min: i32| {
            Duration::from_secs(v.unwrap_or(default).max(min) as u64)
        };
        Timing {
            initial_delay: secs(probe.initial_delay_seconds, 0, 0),
            period: secs(probe.period_seconds, 10, 1),
            timeout: secs(probe.timeout_seconds, 1, 1),
            success_threshold: probe.success_threshold.unwrap_or(1).max(1) as u32,
            failure_threshold: probe.failure_threshold.unwrap_or(3).max(1) as u32,
            termination_grace: probe.termination_grace_period_seconds,
        }
    }
}

fn resolve_port(port: &IntOrString, container: &Container) -> Result<u16, String> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("invalid port number: {n}")),
        IntOrString::String(name) => {
            if let Ok(n) = name.parse::<u16>() {
                return Ok(n);
            }
            container
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .and_then(|p| u16::try_from(p.container_port).ok())
                .ok_or_else(|| {
                    format!(
                        "couldn't find port: {name} in container {:?}",
                        container.name
                    )
                })
        }
    }
}

fn host_of(host: Option<&String>, pod_ip: IpAddr) -> IpAddrOrName {
    match host.map(|h| h.trim()).filter(|h| !h.is_empty()) {
        None => IpAddrOrName::Ip(pod_ip),
        Some(h) => h
            .parse()
            .map(IpAddrOrName::Ip)
            .unwrap_or_else(|_| IpAddrOrName::Name(h.to_string())),
    }
}

fn http_action(h: &HTTPGetAction, container: &Container, pod_ip: IpAddr) -> Action {
    match resolve_port(&h.port, container) {
        Ok(port) => {
            let mut path = h.path.clone().unwrap_or_default();
            if !path.starts_with('/') {
                path.insert(0, '/');
            }
            Action::Http {
                https: h
                    .scheme
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("https")),
                host: host_of(h.host.as_ref(), pod_ip),
                port,
                path,
                headers: h
                    .http_headers
                    .iter()
                    .flatten()
                    .map(|hh| (hh.name.clone(), hh.value.clone()))
                    .collect(),
            }
        }
        Err(e) => Action::Unsupported(e),
    }
}

fn tcp_action(t: &TCPSocketAction, container: &Container, pod_ip: IpAddr) -> Action {
    match resolve_port(&t.port, container) {
        Ok(port) => Action::Tcp {
            host: host_of(t.host.as_ref(), pod_ip),
            port,
        },
        Err(e) => Action::Unsupported(e),
    }
}

impl Action {
    /// The action of a probe.
    pub fn of_probe(probe: &Probe, container: &Container, pod_ip: IpAddr) -> Self {
        if let Some(e) = &probe.exec {
            Action::Exec(e.command.clone().unwrap_or_default())
        } else if let Some(h) = &probe.http_get {
            http_action(h, container, pod_ip)
        } else if let Some(t) = &probe.tcp_socket {
            tcp_action(t, container, pod_ip)
        } else if probe.grpc.is_some() {
            Action::Unsupported("gRPC probes are not supported by podgate's node agent".into())
        } else {
            Action::Unsupported("probe has no handler".into())
        }
    }

    /// The action of a lifecycle hook (`preStop`, `postStart`).
    pub fn of_hook(hook: &LifecycleHandler, container: &Container, pod_ip: IpAddr) -> Self {
        if let Some(e) = &hook.exec {
            Action::Exec(e.command.clone().unwrap_or_default())
        } else if let Some(h) = &hook.http_get {
            http_action(h, container, pod_ip)
        } else if let Some(t) = &hook.tcp_socket {
            tcp_action(t, container, pod_ip)
        } else if let Some(s) = &hook.sleep {
            Action::Sleep(Duration::from_secs(s.seconds.max(0) as u64))
        } else {
            Action::Unsupported("lifecycle hook has no handler".into())
        }
    }
}

/// How to run `exec` actions: inside which container process, with which environment.
#[derive(Debug, Clone)]
pub struct ExecContext {
    /// The container's main process (whose namespaces to join), if isolated.
    pub join_pid: Option<i32>,
    /// Whether the container runs in a user namespace.
    pub user_ns: bool,
    /// The container's environment.
    pub env: Vec<(String, String)>,
    /// The container's working directory.
    pub working_dir: Option<std::path::PathBuf>,
}

impl ExecContext {
    /// Where a command run in the container goes: into the namespaces of its main process
    /// when it has them, else on the host, in the container's working directory either way.
    pub(crate) fn placement(&self) -> Placement {
        match self.join_pid {
            Some(pid) => Placement::Join {
                pid,
                user: self.user_ns,
                working_dir: self.working_dir.clone(),
            },
            None => Placement::Host(super::mounts::MountPlan::chdir_only(
                self.working_dir.as_deref(),
            )),
        }
    }
}

/// The result of one probe run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The probe succeeded.
    Success,
    /// The probe failed, with the kubelet-style explanation.
    Failure(String),
}

/// Runs `action` once with `timeout`.
pub async fn run(action: &Action, exec: &ExecContext, timeout: Duration) -> Outcome {
    match action {
        Action::Exec(cmd) => run_exec(cmd, exec, timeout).await,
        Action::Http {
            https,
            host,
            port,
            path,
            headers,
        } => run_http(*https, host, *port, path, headers, timeout).await,
        Action::Tcp { host, port } => match connect(host, *port, timeout).await {
            Ok(_) => Outcome::Success,
            Err(e) => Outcome::Failure(e),
        },
        Action::Sleep(d) => {
            tokio::time::sleep(*d).await;
            Outcome::Success
        }
        Action::Unsupported(why) => Outcome::Failure(why.clone()),
    }
}

/// Go's `net.Dial` error texts: `dial tcp 127.1.0.1:8080: connect: connection refused`.
async fn connect(host: &IpAddrOrName, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let target = format!("{host}:{port}");
    let addr: SocketAddr = match host {
        IpAddrOrName::Ip(ip) => SocketAddr::new(*ip, port),
        IpAddrOrName::Name(name) => match tokio::net::lookup_host((name.as_str(), port)).await {
            Ok(mut addrs) => match addrs.next() {
                Some(a) => a,
                None => return Err(format!("dial tcp: lookup {name}: no such host")),
            },
            Err(_) => return Err(format!("dial tcp: lookup {name}: no such host")),
        },
    };
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(format!("dial tcp {target}: connect: {}", os_text(&e))),
        Err(_) => Err(format!("dial tcp {target}: i/o timeout")),
    }
}

fn os_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::ConnectionReset => "connection reset by peer".into(),
        std::io::ErrorKind::AddrNotAvailable => "cannot assign requested address".into(),
        _ => {
            let s = e.to_string();
            s.split(" (os error").next().unwrap_or(&s).to_lowercase()
        }
    }
}

async fn run_http(
    https: bool,
    host: &IpAddrOrName,
    port: u16,
    path: &str,
    headers: &[(String, String)],
    timeout: Duration,
) -> Outcome {
    let scheme = if https { "https" } else { "http" };
    let url = format!("{scheme}://{host}:{port}{path}");
    let attempt = async {
        let stream = connect(host, port, timeout).await?;
        let status = if https {
            let tls = tls_connect(stream, host)
                .await
                .map_err(|e| format!("{e}"))?;
            send_get(tls, host, port, path, headers).await?
        } else {
            send_get(stream, host, port, path, headers).await?
        };
        Ok::<u16, String>(status)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(code)) if (200..400).contains(&code) => Outcome::Success,
        Ok(Ok(code)) => Outcome::Failure(format!("HTTP probe failed with statuscode: {code}")),
        Ok(Err(e)) => Outcome::Failure(format!("Get \"{url}\": {e}")),
        Err(_) => Outcome::Failure(format!(
            "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
    }
}

async fn send_get<S>(
    stream: S,
    host: &IpAddrOrName,
    port: u16,
    path: &str,
    headers: &[(String, String)],
) -> Result<u16, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = http::Request::get(path)
        .header(http::header::HOST, format!("{host}:{port}"))
        .header(http::header::USER_AGENT, "kube-probe/1.37")
        .header(http::header::ACCEPT, "*/*");
    for (name, value) in headers {
        req = req.header(name.as_str(), value.as_str());
    }
    let req = req.body(Empty::<Bytes>::new()).map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    // Drain (a bounded amount of) the body so the server sees a complete exchange.
    let _ = http_body_util::Limited::new(resp.into_body(), 10 * 1024)
        .collect()
        .await;
    Ok(status)
}

async fn tls_connect(
    stream: TcpStream,
    host: &IpAddrOrName,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, std::io::Error> {
    // Like the kubelet (`InsecureSkipVerify`): probes do not verify the pod's certificate.
    let config = crate::tls::insecure_client_config();
    let name = match host {
        IpAddrOrName::Ip(ip) => rustls::pki_types::ServerName::IpAddress((*ip).into()),
        IpAddrOrName::Name(n) => {
            rustls::pki_types::ServerName::try_from(n.clone()).map_err(std::io::Error::other)?
        }
    };
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
}

async fn run_exec(cmd: &[String], ctx: &ExecContext, timeout: Duration) -> Outcome {
    let Some((program, args)) = cmd.split_first() else {
        return Outcome::Failure("exec probe has an empty command".into());
    };
    let spec = SpawnSpec {
        program: program.clone(),
        args: args.to_vec(),
        env: ctx.env.clone(),
        placement: ctx.placement(),
        capture_output: true,
        stdin: false,
        terminal: None,
    };
    let mut child = match process::spawn(spec) {
        Ok(c) => c,
        Err(e) => return Outcome::Failure(e.to_string()),
    };
    let pid = child.pid();
    let mut stdout = child.take_stdout();
    let mut stderr = child.take_stderr();
    let gather = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        if let Some(o) = stdout.as_mut() {
            let _ = o.take(10 * 1024).read_to_end(&mut out).await;
        }
        if let Some(e) = stderr.as_mut() {
            let _ = e.take(10 * 1024).read_to_end(&mut err).await;
        }
        let exit = child.wait().await;
        out.extend_from_slice(&err);
        (exit, out)
    };
    match tokio::time::timeout(timeout, gather).await {
        Ok((exit, _)) if exit.code == 0 => Outcome::Success,
        Ok((_, output)) => Outcome::Failure(String::from_utf8_lossy(&output).into_owned()),
        Err(_) => {
            process::signal_group(pid, libc::SIGKILL);
            Outcome::Failure(format!("command {:?} timed out", cmd.join(" ")))
        }
    }
}

/// The kubelet's probe state: a result changes only after `successThreshold` successes or
/// `failureThreshold` failures in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeState {
    result: bool,
    last: Option<bool>,
    run: u32,
}

impl ProbeState {
    /// The state before the first probe: liveness starts successful, readiness and startup
    /// start unsuccessful (a container is neither ready nor started until a probe says so).
    pub fn new(kind: ProbeKind) -> Self {
        Self {
            result: kind == ProbeKind::Liveness,
            last: None,
            run: 0,
        }
    }

    /// How many runs in a row have failed.
    pub fn failures_in_a_row(&self) -> u32 {
        if self.last == Some(false) {
            self.run
        } else {
            0
        }
    }

    /// The current result.
    pub fn result(&self) -> bool {
        self.result
    }

    /// Records one probe run; returns `true` when the result changed.
    pub fn observe(&mut self, ok: bool, timing: &Timing) -> bool {
        if self.last == Some(ok) {
            self.run = self.run.saturating_add(1);
        } else {
            self.last = Some(ok);
            self.run = 1;
        }
        let threshold = if ok {
            timing.success_threshold
        } else {
            timing.failure_threshold
        };
        if self.run < threshold {
            return false;
        }
        let changed = self.result != ok;
        self.result = ok;
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerPort, ExecAction, HTTPHeader};

    fn container() -> Container {
        Container {
            name: "web".into(),
            ports: Some(vec![ContainerPort {
                name: Some("http".into()),
                container_port: 8080,
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    fn timing(success: u32, failure: u32) -> Timing {
        Timing {
            success_threshold: success,
            failure_threshold: failure,
            ..Timing::of(&Probe::default())
        }
    }

    #[test]
    fn defaults_and_named_ports() {
        let t = Timing::of(&Probe::default());
        assert_eq!(
            (
                t.initial_delay.as_secs(),
                t.period.as_secs(),
                t.timeout.as_secs()
            ),
            (0, 10, 1)
        );
        assert_eq!((t.success_threshold, t.failure_threshold), (1, 3));
        let ip: IpAddr = "127.1.0.9".parse().expect("ip");
        let probe = Probe {
            http_get: Some(HTTPGetAction {
                port: IntOrString::String("http".into()),
                path: Some("healthz".into()),
                http_headers: Some(vec![HTTPHeader {
                    name: "X-A".into(),
                    value: "b".into(),
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            Action::of_probe(&probe, &container(), ip),
            Action::Http {
                https: false,
                host: IpAddrOrName::Ip(ip),
                port: 8080,
                path: "/healthz".into(),
                headers: vec![("X-A".into(), "b".into())]
            }
        );
        let bad = Probe {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::String("nope".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            Action::of_probe(&bad, &container(), ip),
            Action::Unsupported("couldn't find port: nope in container \"web\"".into())
        );
    }

    #[test]
    fn thresholds_table() {
        // (kind, success threshold, failure threshold, observations, results after each)
        type Case = (ProbeKind, u32, u32, Vec<bool>, Vec<bool>);
        let cases: Vec<Case> = vec![
            (ProbeKind::Readiness, 1, 3, vec![true], vec![true]),
            (
                ProbeKind::Readiness,
                2,
                3,
                vec![true, true],
                vec![false, true],
            ),
            (
                ProbeKind::Readiness,
                1,
                3,
                vec![true, false, false, false],
                vec![true, true, true, false],
            ),
            (
                ProbeKind::Readiness,
                1,
                2,
                vec![true, false, true, false, false],
                vec![true, true, true, true, false],
            ),
            (
                ProbeKind::Liveness,
                1,
                3,
                vec![false, false, false],
                vec![true, true, false],
            ),
            (ProbeKind::Startup, 1, 1, vec![false], vec![false]),
        ];
        for (kind, s, f, obs, want) in cases {
            let mut st = ProbeState::new(kind);
            let got: Vec<bool> = obs
                .iter()
                .map(|ok| {
                    st.observe(*ok, &timing(s, f));
                    st.result()
                })
                .collect();
            assert_eq!(got, want, "{kind:?} s={s} f={f} {obs:?}");
        }
    }

    async fn http_server(status: u16) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let svc = hyper::service::service_fn(
                    move |req: http::Request<hyper::body::Incoming>| async move {
                        let code = if req.headers().get("x-probe").is_some() {
                            status
                        } else {
                            418
                        };
                        let mut resp = http::Response::new(http_body_util::Full::new(
                            Bytes::from_static(b"ok"),
                        ));
                        *resp.status_mut() = http::StatusCode::from_u16(code).expect("status");
                        Ok::<_, std::convert::Infallible>(resp)
                    },
                );
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        addr
    }

    fn exec_ctx() -> ExecContext {
        ExecContext {
            join_pid: None,
            user_ns: false,
            env: vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("WHO".into(), "probe".into()),
            ],
            working_dir: None,
        }
    }

    #[tokio::test]
    async fn http_probes_against_a_real_listener() {
        let t = Duration::from_secs(2);
        let hdr = vec![("X-Probe".to_string(), "1".to_string())];
        for (status, want_ok) in [(200u16, true), (302, true), (500, false), (404, false)] {
            let addr = http_server(status).await;
            let action = Action::Http {
                https: false,
                host: IpAddrOrName::Ip(addr.ip()),
                port: addr.port(),
                path: "/".into(),
                headers: hdr.clone(),
            };
            let got = run(&action, &exec_ctx(), t).await;
            if want_ok {
                assert_eq!(got, Outcome::Success, "status {status}");
            } else {
                assert_eq!(
                    got,
                    Outcome::Failure(format!("HTTP probe failed with statuscode: {status}"))
                );
            }
        }
        // Headers are sent: without the header our server answers 418.
        let addr = http_server(200).await;
        let action = Action::Http {
            https: false,
            host: IpAddrOrName::Ip(addr.ip()),
            port: addr.port(),
            path: "/".into(),
            headers: vec![],
        };
        assert_eq!(
            run(&action, &exec_ctx(), t).await,
            Outcome::Failure("HTTP probe failed with statuscode: 418".into())
        );
    }

    #[tokio::test]
    async fn https_probes_skip_certificate_verification() {
        let cert =
            rcgen::generate_simple_self_signed(vec!["example.invalid".to_string()]).expect("cert");
        let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der())
            .expect("key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(
                        |_req: http::Request<hyper::body::Incoming>| async {
                            Ok::<_, std::convert::Infallible>(http::Response::new(
                                http_body_util::Full::new(Bytes::from_static(b"ok")),
                            ))
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        let action = Action::Http {
            https: true,
            host: IpAddrOrName::Ip(addr.ip()),
            port: addr.port(),
            path: "/".into(),
            headers: vec![],
        };
        assert_eq!(
            run(&action, &exec_ctx(), Duration::from_secs(5)).await,
            Outcome::Success
        );
        let plain = Action::Http {
            https: false,
            host: IpAddrOrName::Ip(addr.ip()),
            port: addr.port(),
            path: "/".into(),
            headers: vec![],
        };
        assert!(matches!(
            run(&plain, &exec_ctx(), Duration::from_secs(2)).await,
            Outcome::Failure(_)
        ));
    }

    #[tokio::test]
    async fn tcp_and_refused_connections() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let host = IpAddrOrName::Ip("127.0.0.1".parse().expect("ip"));
        let t = Duration::from_secs(2);
        assert_eq!(
            run(
                &Action::Tcp {
                    host: host.clone(),
                    port
                },
                &exec_ctx(),
                t
            )
            .await,
            Outcome::Success
        );
        drop(listener);
        // A port that is bound but not listening: connections to it are refused, and no test
        // running beside this one can take it meanwhile (as it could a port just freed).
        let held = tokio::net::TcpSocket::new_v4().expect("socket");
        held.bind(([127, 0, 0, 1], 0).into()).expect("bind");
        let port = held.local_addr().expect("addr").port();
        assert_eq!(
            run(
                &Action::Tcp {
                    host: host.clone(),
                    port
                },
                &exec_ctx(),
                t
            )
            .await,
            Outcome::Failure(format!(
                "dial tcp 127.0.0.1:{port}: connect: connection refused"
            ))
        );
        let http = Action::Http {
            https: false,
            host,
            port,
            path: "/x".into(),
            headers: vec![],
        };
        assert_eq!(
            run(&http, &exec_ctx(), t).await,
            Outcome::Failure(format!(
                "Get \"http://127.0.0.1:{port}/x\": dial tcp 127.0.0.1:{port}: connect: connection refused"
            ))
        );
    }

    #[tokio::test]
    async fn exec_probes_use_the_container_env_and_time_out() {
        let sh = |script: &str| Action::Exec(vec!["sh".into(), "-c".into(), script.into()]);
        let t = Duration::from_secs(5);
        assert_eq!(
            run(&sh("test \"$WHO\" = probe"), &exec_ctx(), t).await,
            Outcome::Success
        );
        assert_eq!(
            run(&sh("echo not ready; exit 1"), &exec_ctx(), t).await,
            Outcome::Failure("not ready\n".into())
        );
        let slow = run(&sh("sleep 5"), &exec_ctx(), Duration::from_millis(300)).await;
        assert_eq!(
            slow,
            Outcome::Failure("command \"sh -c sleep 5\" timed out".into())
        );
        let hook = LifecycleHandler {
            exec: Some(ExecAction {
                command: Some(vec!["true".into()]),
            }),
            ..Default::default()
        };
        assert_eq!(
            Action::of_hook(&hook, &container(), "127.1.0.1".parse().expect("ip")),
            Action::Exec(vec!["true".into()])
        );
    }
}
