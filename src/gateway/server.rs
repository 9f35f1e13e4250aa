//! Serving the gateway stack: hyper-util's auto builder (HTTP/1.1 and h2c, upgrades), bounded
//! header reads, an idle timeout, a connection limit, and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use prometheus_client::metrics::gauge::Gauge;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use super::HttpService;
use crate::auth::x509::ClientCertificate;
use crate::machinery::status::Status;
use crate::wire::body;

/// Connection-level limits.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Most connections open at once; further clients wait in the accept queue.
    pub max_connections: usize,
    /// How long a client may take to send request headers, and to send its first byte: a
    /// silent connection is closed after it instead of holding a connection slot forever.
    pub header_read_timeout: Duration,
    /// How often an HTTP/2 connection is pinged, and how long the answer may take: a peer that
    /// no longer answers is closed.
    pub http2_keep_alive: Duration,
    /// How long an HTTP/2 connection may stay open with no request in flight before it is
    /// closed with a GOAWAY (kube-apiserver's 90 s): a peer that answers pings but sends
    /// nothing does not hold a connection slot forever. HTTP/1 connections waiting for their
    /// next request are bounded by the header timeout.
    pub idle_timeout: Duration,
    /// How long open connections may finish their requests at shutdown.
    pub shutdown_grace: Duration,
    /// Whether credentials may arrive over plain HTTP from other hosts (a listener that serves
    /// no TLS at all, inside a network that is trusted instead); otherwise they are refused.
    pub remote_plain_credentials: bool,
}

/// The environment variable that sets the header timeout of every listener (`10s`, `500ms`;
/// 30 s when unset): an operator's knob, and the way tests shorten it.
pub const HEADER_TIMEOUT_ENV: &str = "PODGATE_HEADER_TIMEOUT";

/// The environment variable that sets the HTTP/2 idle timeout of every listener (90 s when
/// unset).
pub const IDLE_TIMEOUT_ENV: &str = "PODGATE_IDLE_TIMEOUT";

/// The duration in the environment variable `name` if it holds one above zero, else `default`.
fn duration_from_env(name: &str, default: Duration) -> Duration {
    let Ok(text) = std::env::var(name) else {
        return default;
    };
    match super::forward::parse_duration(&text).filter(|d| !d.is_zero()) {
        Some(d) => d,
        None => {
            tracing::warn!(value = %text, "{name} is no duration above zero; using {default:?}");
            default
        }
    }
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            header_read_timeout: duration_from_env(HEADER_TIMEOUT_ENV, Duration::from_secs(30)),
            http2_keep_alive: Duration::from_secs(30),
            idle_timeout: duration_from_env(IDLE_TIMEOUT_ENV, Duration::from_secs(90)),
            shutdown_grace: Duration::from_secs(10),
            remote_plain_credentials: false,
        }
    }
}

/// Serves `svc` on `listener` until `shutdown` turns true, then drains connections.
pub async fn serve(
    listener: TcpListener,
    svc: HttpService,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: ServerLimits,
    open_connections: Gauge<i64, AtomicI64>,
    mut shutdown: watch::Receiver<bool>,
) {
    widen_accept_queue(&listener);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let builder = connection_builder(&limits);
    let connections = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let permit = tokio::select! {
            _ = shutdown.changed() => break,
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let svc = svc.clone();
        let builder = builder.clone();
        let acceptor = acceptor.clone();
        let stop = shutdown.clone();
        let open = open_connections.clone();
        open.inc();
        // The TLS handshake (if any) runs in the connection's own task, never in the accept loop.
        connections.spawn(async move {
            let Ok(tls) = tokio::time::timeout(limits.header_read_timeout, is_tls(&stream)).await
            else {
                tracing::debug!(%peer, "closing a connection that sent nothing");
                open.dec();
                drop(permit);
                return;
            };
            let result = match (acceptor, tls) {
                // Boxed: a TLS connection's state is several times a plain one's, and every
                // connection task would otherwise reserve room for it (RSS per connection).
                (Some(acceptor), true) => {
                    Box::pin(async move {
                        match tokio::time::timeout(
                            limits.header_read_timeout,
                            acceptor.accept(stream),
                        )
                        .await
                        {
                            Ok(Ok(tls)) => {
                                // Verified by the handshake against the client CA, if one was sent.
                                let client_cert = tls
                                    .get_ref()
                                    .1
                                    .peer_certificates()
                                    .and_then(|c| c.first())
                                    .map(|c| ClientCertificate(Arc::new(c.clone().into_owned())));
                                let hyper_svc = PerConnection {
                                    svc,
                                    peer: Some(peer),
                                    tls: true,
                                    client_cert,
                                    remote_plain_credentials: false,
                                    activity: Activity::new(),
                                };
                                serve_connection(&builder, tls, hyper_svc, limits, stop).await
                            }
                            Ok(Err(e)) => Err(e.into()),
                            Err(_) => Err("TLS handshake timed out".into()),
                        }
                    })
                    .await
                }
                _ => {
                    let hyper_svc = PerConnection {
                        svc,
                        peer: Some(peer),
                        tls: false,
                        client_cert: None,
                        remote_plain_credentials: limits.remote_plain_credentials,
                        activity: Activity::new(),
                    };
                    serve_connection(&builder, stream, hyper_svc, limits, stop).await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            open.dec();
            drop(permit);
        });
    }
    drop(listener);
    drain(connections, limits.shutdown_grace).await;
}

/// Serves `svc` on a unix socket (plain HTTP, no client address) until `shutdown` turns true,
/// then drains connections.
pub async fn serve_unix(
    listener: tokio::net::UnixListener,
    svc: HttpService,
    limits: ServerLimits,
    open_connections: Gauge<i64, AtomicI64>,
    mut shutdown: watch::Receiver<bool>,
) {
    widen_accept_queue(&listener);
    let builder = connection_builder(&limits);
    let connections = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let permit = tokio::select! {
            _ = shutdown.changed() => break,
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let stream = tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let hyper_svc = PerConnection {
            svc: svc.clone(),
            peer: None,
            tls: false,
            client_cert: None,
            remote_plain_credentials: true,
            activity: Activity::new(),
        };
        let builder = builder.clone();
        let stop = shutdown.clone();
        let open = open_connections.clone();
        open.inc();
        connections.spawn(async move {
            if let Err(e) = serve_connection(&builder, stream, hyper_svc, limits, stop).await {
                tracing::debug!(error = %e, "unix socket connection ended with an error");
            }
            open.dec();
            drop(permit);
        });
    }
    drop(listener);
    drain(connections, limits.shutdown_grace).await;
}

/// The accept queue a listener is given (the kernel caps it at `net.core.somaxconn`, which is
/// what Go's listeners, kube-apiserver's among them, ask for). Tokio and std listen with 128, which a burst of
/// connections overflows whenever the accept loop waits for a CPU for a few milliseconds; the
/// kernel then drops the SYNs of new clients and they retry only after a second.
const ACCEPT_BACKLOG: i32 = 4096;

/// Gives a listening socket [`ACCEPT_BACKLOG`] (Linux takes `listen` on a listening socket as
/// a new backlog).
fn widen_accept_queue(listener: &impl std::os::fd::AsFd) {
    if let Err(e) = socket2::SockRef::from(listener).listen(ACCEPT_BACKLOG) {
        tracing::debug!(error = %e, "could not widen the accept queue");
    }
}

/// The HTTP/1.1 + h2c connection builder both listeners use: bounded header reads and buffers.
fn connection_builder(limits: &ServerLimits) -> Arc<auto::Builder<TokioExecutor>> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.http2_keep_alive)
        .keep_alive_timeout(limits.http2_keep_alive)
        .max_header_list_size(64 * 1024);
    Arc::new(builder)
}

/// Serves HTTP on one connection's `io` until it ends (see [`drive`]).
async fn serve_connection<I>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    svc: PerConnection,
    limits: ServerLimits,
    stop: watch::Receiver<bool>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let activity = svc.activity.clone();
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(io), svc)
        .into_owned();
    drive(conn, |c| c.graceful_shutdown(), &activity, limits, stop).await
}

/// Drives one connection to its end. It is closed gracefully (a GOAWAY, or `Connection: close`
/// after the response in flight) when the listener shuts down, and when it has had no request
/// in flight for the idle timeout.
async fn drive<C, E>(
    conn: C,
    close: impl Fn(std::pin::Pin<&mut C>),
    activity: &Activity,
    limits: ServerLimits,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), E>
where
    C: std::future::Future<Output = Result<(), E>>,
{
    let mut conn = std::pin::pin!(conn);
    let mut closing = false;
    loop {
        // While requests are in flight, look again one timeout from now.
        let idle_check = activity.idle_since().unwrap_or_else(Instant::now) + limits.idle_timeout;
        tokio::select! {
            ended = conn.as_mut() => return ended,
            _ = shutdown.changed(), if !closing => {
                close(conn.as_mut());
                closing = true;
            }
            _ = tokio::time::sleep_until(idle_check), if !closing => {
                if activity
                    .idle_since()
                    .is_some_and(|since| since.elapsed() >= limits.idle_timeout)
                {
                    tracing::debug!("closing a connection idle for the idle timeout");
                    close(conn.as_mut());
                    closing = true;
                }
            }
        }
    }
}

/// Requests in flight on one connection, and since when it has had none.
struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// When the last request ended, in milliseconds since `opened`.
    idle_since_ms: AtomicU64,
}

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
        })
    }

    /// Counts a request until the returned guard is dropped (with its response body).
    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// Since when no request has been in flight (`None`: one is).
    fn idle_since(&self) -> Option<Instant> {
        (self.in_flight.load(Ordering::Acquire) == 0).then(|| {
            self.opened + Duration::from_millis(self.idle_since_ms.load(Ordering::Acquire))
        })
    }
}

/// One request in flight on a connection, until its response body is done or dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let ms = self.0.opened.elapsed().as_millis() as u64;
        self.0.idle_since_ms.store(ms, Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Lets open connections finish their requests, for at most `grace`.
async fn drain(connections: TaskTracker, grace: Duration) {
    connections.close();
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period");
    }
}

/// Whether a new connection starts with a TLS handshake record (so one port serves both
/// HTTPS and plain HTTP).
async fn is_tls(stream: &tokio::net::TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(stream.peek(&mut first).await, Ok(1) if first[0] == 0x16)
}

/// The gateway stack as hyper calls it on one connection: adds the client's address.
#[derive(Clone)]
struct PerConnection {
    svc: HttpService,
    peer: Option<SocketAddr>,
    tls: bool,
    client_cert: Option<ClientCertificate>,
    remote_plain_credentials: bool,
    /// What the idle timeout watches.
    activity: Arc<Activity>,
}

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for PerConnection {
    type Response = http::Response<body::Body>;
    type Error = std::convert::Infallible;
    type Future = futures::future::Either<
        std::future::Ready<Result<Self::Response, Self::Error>>,
        futures::future::Either<
            tower::util::Oneshot<HttpService, http::Request<body::Body>>,
            futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>,
        >,
    >;

    fn call(&self, mut req: http::Request<hyper::body::Incoming>) -> Self::Future {
        if !self.remote_plain_credentials
            && credentials_in_clear_text(self.tls, self.peer, req.headers())
        {
            let status = Status::bad_request(
                "credentials are refused over plain HTTP from another host: use https",
            );
            return futures::future::Either::Left(std::future::ready(Ok(crate::wire::synthetic(
                status,
            ))));
        }
        if let Some(peer) = self.peer {
            req.extensions_mut().insert(ClientAddr(peer));
        }
        if self.tls {
            req.extensions_mut().insert(TlsConnection);
        }
        if let Some(cert) = &self.client_cert {
            req.extensions_mut().insert(cert.clone());
        }
        let http2 = req.version() == http::Version::HTTP_2;
        let response = tower::util::Oneshot::new(self.svc.clone(), req.map(incoming_body));
        if !http2 {
            return futures::future::Either::Right(futures::future::Either::Left(response));
        }
        // An HTTP/2 stream is in flight until its response body ends (a watch, a log follow);
        // only then may the connection count as idle.
        let in_flight = self.activity.begin();
        futures::future::Either::Right(futures::future::Either::Right(Box::pin(
            futures::FutureExt::map(response, move |answer| {
                answer.map(|resp| {
                    resp.map(|b| {
                        body::boxed(super::tracked::Tracked::new(
                            b,
                            Box::new(move |_, _| drop(in_flight)),
                        ))
                    })
                })
            }),
        )))
    }
}

/// Whether a request sends a credential in clear text over the network: a bearer token (or any
/// `Authorization`) on a plain-HTTP connection from a peer that is not this machine. Loopback
/// and unix-socket clients may use plain HTTP, as `kubectl proxy`'s do.
fn credentials_in_clear_text(
    tls: bool,
    peer: Option<SocketAddr>,
    headers: &http::HeaderMap,
) -> bool {
    !tls && peer.is_some_and(|p| !p.ip().to_canonical().is_loopback())
        && headers.contains_key(http::header::AUTHORIZATION)
}

/// Boxes hyper's request body into podgate's body type.
fn incoming_body(b: hyper::body::Incoming) -> body::Body {
    body::boxed(b)
}

/// Marks a request that arrived over TLS, as a request extension.
#[derive(Debug, Clone, Copy)]
pub struct TlsConnection;

/// The client's socket address, as a request extension.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn credentials_travel_in_clear_text_only_to_loopback() {
        let mut with_token = http::HeaderMap::new();
        with_token.insert(http::header::AUTHORIZATION, "Bearer t".parse().unwrap());
        let none = http::HeaderMap::new();
        let remote: SocketAddr = "192.0.2.7:5000".parse().unwrap();
        let mapped_loopback: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert!(credentials_in_clear_text(false, Some(remote), &with_token));
        assert!(
            !credentials_in_clear_text(true, Some(remote), &with_token),
            "TLS"
        );
        assert!(
            !credentials_in_clear_text(false, Some(remote), &none),
            "no credential"
        );
        assert!(!credentials_in_clear_text(false, Some(local), &with_token));
        assert!(!credentials_in_clear_text(
            false,
            Some(mapped_loopback),
            &with_token
        ));
        assert!(
            !credentials_in_clear_text(false, None, &with_token),
            "unix socket"
        );
    }

    /// A widened listener queues a burst of connections no one accepts yet; with tokio's own
    /// backlog of 128, the kernel drops the SYNs beyond it and those connects wait.
    #[test]
    fn the_accept_queue_holds_a_burst() {
        let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(4096);
        let burst = somaxconn.min(1_000);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        widen_accept_queue(&listener);
        let connected: Vec<_> = (0..burst)
            .map(|i| {
                std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(20))
                    .unwrap_or_else(|e| panic!("connection {i} of {burst}: {e}"))
            })
            .collect();
        assert_eq!(connected.len(), burst);
    }

    /// A stack that answers every request with 200 `ok`.
    fn ok_service() -> HttpService {
        tower::util::BoxCloneSyncService::new(tower::service_fn(|_req| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(body::full("ok")))
        }))
    }

    /// Silent connections do not lock clients out, and are closed after the header timeout.
    #[tokio::test]
    async fn silent_connections_are_closed_and_clients_still_served() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = ServerLimits {
            max_connections: 300,
            header_read_timeout: Duration::from_millis(300),
            ..ServerLimits::default()
        };
        let (_stop, shutdown) = watch::channel(false);
        let open = Gauge::<i64, AtomicI64>::default();
        tokio::spawn(serve(
            listener,
            ok_service(),
            None,
            limits,
            open.clone(),
            shutdown,
        ));

        // More silent sockets than there are connection slots.
        let mut silent = Vec::new();
        for _ in 0..400 {
            silent.push(tokio::net::TcpStream::connect(addr).await.unwrap());
        }
        // A real client is served once the silent ones time out.
        let client = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
                c.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                    .await
                    .unwrap();
                let mut answer = String::new();
                if c.read_to_string(&mut answer).await.is_ok() && answer.ends_with("ok") {
                    return answer;
                }
            }
        })
        .await
        .expect("a client is served despite the silent connections");
        assert!(client.starts_with("HTTP/1.1 200"), "{client}");

        // Every silent socket was closed by the server (EOF), none is still held open.
        for mut s in silent {
            let mut buf = [0u8; 1];
            let n = tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf))
                .await
                .expect("the server closes a silent connection")
                .unwrap_or(0);
            assert_eq!(n, 0);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while open.get() != 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "open connections: {}",
                open.get()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
