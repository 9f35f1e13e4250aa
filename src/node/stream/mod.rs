//! The node's streaming endpoints, as the kubelet serves them to the API server:
//! `/exec/{ns}/{pod}/{container}`, `/attach/{ns}/{pod}/{container}` and
//! `/portForward/{ns}/{pod}`, each an HTTP/1.1 upgrade to WebSocket (`v5`/`v4.channel.k8s.io`,
//! or the SPDY port-forward tunnel) or to SPDY/3.1.
//!
//! A transport ([`websocket`], [`spdy`]) turns the client's frames into [`Inbound`] messages and
//! writes [`Outbound`] ones; exec and attach only see those two channels, whatever the wire.

pub(crate) mod attach;
pub(crate) mod exec;
pub(crate) mod live;
pub(crate) mod portforward;
pub(crate) mod server;
pub(crate) mod spdy;
pub(crate) mod websocket;

use bytes::Bytes;
use tokio::sync::mpsc;

pub(crate) use crate::remotecommand::{Streams, TerminalSize};

/// How many messages each direction of a session buffers before the sender waits: the
/// back-pressure between a slow client and a chatty command (and the other way round).
pub(crate) const SESSION_BUFFER: usize = 16;

/// The largest chunk read from a command's output and sent as one frame.
pub(crate) const MAX_CHUNK: usize = 32 * 1024;

/// What the client sent, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// Bytes for the command's standard input.
    Stdin(Bytes),
    /// The client half-closed standard input (v5 CLOSE, or FIN on the SPDY stdin stream).
    StdinClosed,
    /// The terminal was resized.
    Resize(TerminalSize),
}

/// What goes to the client, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outbound {
    /// Bytes of standard output (or of the terminal).
    Stdout(Bytes),
    /// Bytes of standard error.
    Stderr(Bytes),
    /// The error channel's one `Status` JSON document; the transport sends it after every
    /// earlier message and then ends the session cleanly (WebSocket close 1000, or SPDY FINs
    /// and GOAWAY).
    Status(Bytes),
}

/// The transport's ends of a session: a transport sends what the client sent on `inbound`
/// and writes to the client what arrives on `outbound`. It returns once it has sent a
/// `Status`, or when the client is gone; either way it drops `inbound`, which tells the
/// command's side that nobody listens any more.
#[derive(Debug)]
pub(crate) struct TransportEnds {
    /// Where the transport puts what the client sent.
    pub(crate) inbound: mpsc::Sender<Inbound>,
    /// What the transport writes to the client.
    pub(crate) outbound: mpsc::Receiver<Outbound>,
}

/// The command's ends of a session (the other sides of [`TransportEnds`]).
#[derive(Debug)]
pub(crate) struct CommandEnds {
    /// What the client sent; `None` once the client is gone.
    pub(crate) inbound: mpsc::Receiver<Inbound>,
    /// What to send to the client.
    pub(crate) outbound: mpsc::Sender<Outbound>,
}

/// A new session's two ends.
pub(crate) fn session() -> (TransportEnds, CommandEnds) {
    let (in_tx, in_rx) = mpsc::channel(SESSION_BUFFER);
    let (out_tx, out_rx) = mpsc::channel(SESSION_BUFFER);
    (
        TransportEnds {
            inbound: in_tx,
            outbound: out_rx,
        },
        CommandEnds {
            inbound: in_rx,
            outbound: out_tx,
        },
    )
}
