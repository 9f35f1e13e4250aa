//! Port-forward sessions: SPDY streams paired by `requestID`, each pair one TCP connection
//! to the pod.
//!
//! kubelet's semantics: for every local connection kubectl opens an error stream and a data
//! stream with the same `port` and `requestID` headers. Once both are in, the pod's port is
//! dialled and bytes are copied both ways, half-closes included; the error stream carries
//! any failure as text and is closed when the connection is done. [`serve`] runs it on an
//! upgraded HTTP connection, and over [`tunnel`], on the WebSocket tunnel kubectl prefers.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures::future::BoxFuture;
use futures::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::spdy::CLOSE_LINGER;
use super::spdy::session::{IncomingStream, Session, SessionOptions};
use crate::remotecommand::spdy::rst;

/// How long the first stream of a pair waits for its partner (kubelet's stream creation timeout).
pub(crate) const PAIR_TIMEOUT: Duration = Duration::from_secs(30);
/// The most pairs waiting for their partner at once; streams beyond it are reset.
const MAX_PENDING_PAIRS: usize = 256;
/// The most bytes read from the pod at a time, and so the largest DATA frame sent.
const COPY_CHUNK: usize = super::MAX_CHUNK;

/// The pod a session forwards to, for the texts kubectl shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForwardTarget {
    /// The pod's name.
    pub(crate) name: String,
    /// The pod's namespace.
    pub(crate) namespace: String,
    /// The pod's uid.
    pub(crate) uid: String,
}

impl fmt::Display for ForwardTarget {
    /// kubelet's pod name in these texts: `GetPodFullName`, `name_namespace`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.name, self.namespace)
    }
}

/// Serves a port-forward session on `io` (after its 101 with `X-Stream-Protocol-Version:
/// portforward.k8s.io`, or a [`tunnel`]); `dial(port)` connects to the pod's port. Returns when
/// the client is gone or no frame moved either way for `idle_timeout` (kubectl's pings every
/// 5 or 10 s count).
pub(crate) async fn serve<IO, D>(io: IO, target: ForwardTarget, dial: D, idle_timeout: Duration)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    D: Fn(u16) -> BoxFuture<'static, io::Result<TcpStream>> + Send + Sync + 'static,
{
    let (mut acceptor, session) = Session::start(
        io,
        SessionOptions {
            idle_timeout: Some(idle_timeout),
        },
    );
    let target = Arc::new(target);
    let dial: Arc<Dial> = Arc::new(dial);
    let mut pending: HashMap<String, Pending> = HashMap::new();
    let mut forwards = JoinSet::new();
    loop {
        let next_expiry = pending.values().map(|p| p.deadline).min();
        tokio::select! {
            stream = acceptor.accept() => {
                let Some(stream) = stream else { break };
                if let Some(pair) = add_stream(&mut pending, stream).await {
                    forwards.spawn(forward(pair, target.clone(), dial.clone()));
                }
            }
            () = sleep_until(next_expiry) => {
                let now = Instant::now();
                let expired: Vec<String> = pending
                    .iter()
                    .filter(|(_, p)| p.deadline <= now)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in expired {
                    if let Some(p) = pending.remove(&id) {
                        forwards.spawn(time_out(id, p));
                    }
                }
            }
            Some(_) = forwards.join_next(), if !forwards.is_empty() => {}
        }
    }
    // The client is gone: its connections' tasks end with the session.
    forwards.abort_all();
    session.close(CLOSE_LINGER).await;
}

/// The dialer, type-erased.
type Dial = dyn Fn(u16) -> BoxFuture<'static, io::Result<TcpStream>> + Send + Sync;

/// Sleeps until `deadline`; never without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A pair waiting for its partner.
#[derive(Debug)]
struct Pending {
    error: Option<IncomingStream>,
    data: Option<IncomingStream>,
    deadline: Instant,
}

/// A complete pair: what one local connection of kubectl's needs.
#[derive(Debug)]
struct Pair {
    port: u16,
    error: IncomingStream,
    data: IncomingStream,
}

/// The two stream types of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The connection's bytes.
    Data,
    /// Failures, as text.
    Error,
}

/// kubelet's checks of a port-forward stream's headers: its port, type and pair id.
fn classify(stream: &IncomingStream, id: u32) -> Result<(u16, Kind, String), String> {
    let port = match stream.headers.get("port") {
        None | Some("") => return Err("\"port\" header is required".into()),
        Some(p) => p,
    };
    let port = match port.parse::<u16>() {
        Ok(0) => return Err(format!("port {port:?} must be > 0")),
        Ok(n) => n,
        Err(e) => return Err(format!("unable to parse {port:?} as a port: {e}")),
    };
    let kind = match stream.headers.get("streamType") {
        None | Some("") => return Err("\"streamType\" header is required".into()),
        Some(t) if t.eq_ignore_ascii_case("data") => Kind::Data,
        Some(t) if t.eq_ignore_ascii_case("error") => Kind::Error,
        Some(t) => return Err(format!("invalid stream type {t:?}")),
    };
    // Without a requestID, kubelet derives it from the stream ids: the error stream is
    // opened first, the data stream next (two ids later).
    let request_id = match stream.headers.get("requestID") {
        Some(r) if !r.is_empty() => r.to_string(),
        _ if kind == Kind::Data => id.saturating_sub(2).to_string(),
        _ => id.to_string(),
    };
    Ok((port, kind, request_id))
}

/// Validates and replies to a new stream and files it with its partner; the pair, once both
/// are in.
async fn add_stream(
    pending: &mut HashMap<String, Pending>,
    stream: IncomingStream,
) -> Option<Pair> {
    let (port, kind, request_id) = match classify(&stream, stream.send.id()) {
        Ok(found) => found,
        Err(why) => {
            tracing::debug!(%why, "port-forward stream refused");
            let _ = stream.send.reset(rst::CANCEL).await;
            return None;
        }
    };
    if !pending.contains_key(&request_id) && pending.len() >= MAX_PENDING_PAIRS {
        tracing::debug!("too many port-forward streams waiting for their partner");
        let _ = stream.send.reset(rst::REFUSED_STREAM).await;
        return None;
    }
    let entry = pending
        .entry(request_id.clone())
        .or_insert_with(|| Pending {
            error: None,
            data: None,
            deadline: Instant::now() + PAIR_TIMEOUT,
        });
    let slot = match kind {
        Kind::Data => &mut entry.data,
        Kind::Error => &mut entry.error,
    };
    if slot.is_some() {
        tracing::debug!(%request_id, ?kind, "a second port-forward stream of one type");
        let _ = stream.send.reset(rst::CANCEL).await;
        return None;
    }
    let _ = stream.send.reply().await;
    *slot = Some(stream);
    if entry.error.is_some() && entry.data.is_some() {
        let entry = pending.remove(&request_id)?;
        return Some(Pair {
            port,
            error: entry.error?,
            data: entry.data?,
        });
    }
    None
}

/// A pair whose partner never came: kubelet's text on the error stream, if there is one.
async fn time_out(request_id: String, pending: Pending) {
    if let Some(error) = pending.error {
        let text = format!("(request={request_id}) timed out waiting for streams");
        let _ = error.send.send(Bytes::from(text)).await;
        let _ = error.send.finish().await;
    }
    if let Some(data) = pending.data {
        let _ = data.send.reset(rst::CANCEL).await;
    }
}

/// One forwarded connection: dial the pod's port and copy both ways; the error stream gets
/// the failure, if any, and FIN when done.
async fn forward(pair: Pair, target: Arc<ForwardTarget>, dial: Arc<Dial>) {
    let Pair {
        port,
        error,
        mut data,
    } = pair;
    // kubectl half-closes the error stream at once; whatever else came on it is dropped
    // rather than left to fill its queue.
    let IncomingStream { send: error, .. } = error;
    let conn = match dial(port).await {
        Ok(conn) => conn,
        Err(e) => {
            let text = format!(
                "error forwarding port {port} to pod {target}, uid {}: {}",
                target.uid,
                dial_error_text(&e)
            );
            let _ = error.send(Bytes::from(text)).await;
            let _ = error.finish().await;
            let _ = data.send.finish().await;
            return;
        }
    };
    let (mut from_pod, mut to_pod) = conn.into_split();
    let to_client = data.send.clone();
    let pod_to_client = async move {
        let mut buf = vec![0; COPY_CHUNK];
        loop {
            match from_pod.read(&mut buf).await {
                Ok(0) => return to_client.finish().await.is_ok(),
                Ok(n) => {
                    if to_client
                        .send(Bytes::copy_from_slice(&buf[..n]))
                        .await
                        .is_err()
                    {
                        return false;
                    }
                }
                Err(_) => {
                    let _ = to_client.reset(rst::CANCEL).await;
                    return false;
                }
            }
        }
    };
    let client_to_pod = async move {
        while let Some(got) = data.recv.recv().await {
            let Ok(bytes) = got else {
                // Reset by the client: drop the pod connection.
                return false;
            };
            if to_pod.write_all(&bytes).await.is_err() {
                return false;
            }
        }
        // The client's FIN: half-close toward the pod.
        to_pod.shutdown().await.is_ok()
    };
    tokio::pin!(pod_to_client, client_to_pod);
    tokio::select! {
        _ = &mut pod_to_client => {
            // The pod is done sending: kubectl waits for the error stream's FIN before it
            // closes its local connection, so close it now and let the client's side drain.
            let _ = error.finish().await;
            let _ = client_to_pod.await;
        }
        up_ok = &mut client_to_pod => {
            if up_ok {
                let _ = pod_to_client.await;
            }
            let _ = error.finish().await;
        }
    }
}

/// A connect error as Go prints it (`connect: connection refused`), so kubectl's texts read
/// as with kubelet.
fn dial_error_text(e: &io::Error) -> String {
    let what = match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused",
        io::ErrorKind::TimedOut => "connection timed out",
        io::ErrorKind::HostUnreachable => "no route to host",
        io::ErrorKind::NetworkUnreachable => "network is unreachable",
        _ => return e.to_string(),
    };
    format!("connect: {what}")
}

/// The `SPDY/3.1+portforward.k8s.io` WebSocket tunnel as a byte stream, so [`serve`] runs on
/// it: binary message payloads, concatenated, are what is read (a SPDY frame may span
/// several messages, one per Go `Write`); each write is one binary message; shutting down
/// sends Close 1000, the only code kubectl reads as a clean end.
pub(crate) fn tunnel<S>(ws: WebSocketStream<S>) -> Tunnel<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    Tunnel {
        ws,
        pending: Bytes::new(),
        ended: false,
        close_sent: false,
    }
}

/// A WebSocket connection read and written as bytes (see [`tunnel`]).
#[derive(Debug)]
pub(crate) struct Tunnel<S> {
    ws: WebSocketStream<S>,
    pending: Bytes,
    ended: bool,
    close_sent: bool,
}

impl<S> AsyncRead for Tunnel<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while this.pending.is_empty() {
            if this.ended {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(bytes))) => this.pending = bytes,
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "invalid message type received",
                    )));
                }
                // Pings are answered by tungstenite itself; pongs and raw frames carry nothing.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) | None => this.ended = true,
                Some(Err(e)) => return Poll::Ready(Err(io::Error::other(e))),
            }
        }
        let n = this.pending.len().min(buf.remaining());
        buf.put_slice(&this.pending[..n]);
        this.pending.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<S> AsyncWrite for Tunnel<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let ws = Pin::new(&mut self.ws);
        ready!(Sink::<Message>::poll_ready(ws, cx)).map_err(io::Error::other)?;
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        Pin::new(&mut self.ws)
            .start_send(Message::Binary(Bytes::copy_from_slice(buf)))
            .map_err(io::Error::other)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Sink::<Message>::poll_flush(Pin::new(&mut self.ws), cx).map_err(io::Error::other)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Close 1000 first: the sink's own close sends a Close without a code, which kubectl
        // reports as an error.
        if !self.close_sent {
            ready!(Sink::<Message>::poll_ready(Pin::new(&mut self.ws), cx))
                .map_err(io::Error::other)?;
            let close = Message::Close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            }));
            Pin::new(&mut self.ws)
                .start_send(close)
                .map_err(io::Error::other)?;
            self.close_sent = true;
        }
        match ready!(Sink::<Message>::poll_close(Pin::new(&mut self.ws), cx)) {
            Ok(()) | Err(tokio_tungstenite::tungstenite::Error::ConnectionClosed) => {
                Poll::Ready(Ok(()))
            }
            Err(e) => Poll::Ready(Err(io::Error::other(e))),
        }
    }
}

#[cfg(test)]
mod tests;
