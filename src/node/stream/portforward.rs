//! Port-forward sessions: SPDY streams paired by `requestID`, each pair one TCP connection
//! to the pod.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

/// The pod a session forwards to, for error texts.
#[derive(Debug, Clone)]
pub(crate) struct ForwardTarget {
    /// The pod's namespace.
    pub(crate) namespace: String,
    /// The pod's name.
    pub(crate) name: String,
    /// The pod's uid.
    pub(crate) uid: String,
}

/// Serves a port-forward session (not yet: the connection is closed).
pub(crate) async fn serve<IO, D>(io: IO, target: ForwardTarget, dial: D, idle: Duration)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    D: Fn(u16) -> futures::future::BoxFuture<'static, std::io::Result<tokio::net::TcpStream>>
        + Send
        + Sync
        + 'static,
{
    drop((io, target, dial, idle));
}

/// The WebSocket tunnel as a byte stream (not yet).
pub(crate) fn tunnel<S>(ws: tokio_tungstenite::WebSocketStream<S>) -> tokio::io::DuplexStream
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    drop(ws);
    tokio::io::duplex(1).0
}
