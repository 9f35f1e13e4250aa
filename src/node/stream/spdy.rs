//! The SPDY/3.1 transport: remote-command sessions and the stream multiplexing port-forward
//! uses.
//!
//! A remote-command session ([`serve_remote_command`]) is kubelet's: the client opens one
//! stream per channel (error, then stdin, stdout, stderr, resize, as asked for), each gets an
//! empty SYN_REPLY, and once all have arrived the bytes flow between those streams and the
//! session's [`TransportEnds`]. The session ends with the `Status` on the error stream, FIN on
//! every output stream, and GOAWAY.

pub(crate) mod session;

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::Instant;

use self::session::{Acceptor, IncomingStream, RecvStream, SendStream, Session, SessionOptions};
use super::{Inbound, Outbound, Streams, TransportEnds};
use crate::remotecommand::spdy::rst;
use crate::remotecommand::{Channel, SizeDecoder};

/// How long the client has to open all its streams (kubelet's `StreamCreationTimeout`).
pub(crate) const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a finished session waits for the client to close its side before closing the
/// connection anyway.
pub(crate) const CLOSE_LINGER: Duration = Duration::from_secs(5);

/// Serves one exec or attach session over SPDY on `io`, whose 101 the caller has written
/// (with `X-Stream-Protocol-Version: v4.channel.k8s.io`). Waits up to 30 s for the client's
/// streams, then relays: stdin → [`Inbound::Stdin`] and its FIN → [`Inbound::StdinClosed`],
/// the resize stream → [`Inbound::Resize`], and [`Outbound`] messages → DATA on stdout,
/// stderr and error, one frame per message. Returns after the `Status`, or once the client
/// is gone, or after `idle` without a frame either way; either way `ends.inbound` is dropped
/// then.
pub(crate) async fn serve_remote_command<IO>(
    io: IO,
    streams: Streams,
    ends: TransportEnds,
    idle: Duration,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut acceptor, session) = Session::start(
        io,
        SessionOptions {
            idle_timeout: Some(idle),
        },
    );
    let TransportEnds {
        inbound,
        mut outbound,
    } = ends;
    let deadline = Instant::now() + STREAM_CREATION_TIMEOUT;
    let Some(channels) = accept_channels(&mut acceptor, streams, deadline).await else {
        tracing::debug!("SPDY remote-command client did not open its streams");
        session.close(CLOSE_LINGER).await;
        return;
    };
    let ChannelStreams {
        error,
        stdin,
        stdout,
        stderr,
        resize,
    } = channels;
    // Later streams (there should be none) are refused rather than left queued.
    let refuse_late = async {
        while let Some(late) = acceptor.accept().await {
            let _ = late.send.reset(rst::REFUSED_STREAM).await;
        }
    };
    let ended = {
        let to_command = relay_inbound(stdin, resize, &inbound);
        let to_client = relay_outbound(&mut outbound, &stdout, &stderr, &error);
        tokio::pin!(to_command, to_client, refuse_late);
        let (mut inbound_done, mut accepts_done) = (false, false);
        loop {
            tokio::select! {
                () = &mut to_command, if !inbound_done => inbound_done = true,
                ended = &mut to_client => break ended,
                () = session.client_gone() => break Ended::ClientGone,
                () = &mut refuse_late, if !accepts_done => accepts_done = true,
            }
        }
    };
    // The command's side learns at once that nobody listens any more.
    drop(inbound);
    match ended {
        Ended::StatusSent => session.close(CLOSE_LINGER).await,
        Ended::CommandGone => {
            tracing::debug!("remote command ended without a status");
            session.close(CLOSE_LINGER).await
        }
        Ended::ClientGone => {}
    }
}

/// The streams of a remote-command session, by channel.
#[derive(Debug, Default)]
struct ChannelStreams {
    error: Option<SendStream>,
    stdin: Option<RecvStream>,
    stdout: Option<SendStream>,
    stderr: Option<SendStream>,
    resize: Option<RecvStream>,
}

/// Accepts (with an empty SYN_REPLY) the streams the client opens until the
/// `spdy_stream_count()` known ones have arrived; `None` if the deadline passes or the
/// connection ends first. Streams of an unknown type are accepted and ignored, as kubelet does.
async fn accept_channels(
    acceptor: &mut Acceptor,
    streams: Streams,
    deadline: Instant,
) -> Option<ChannelStreams> {
    let mut out = ChannelStreams::default();
    let mut received = 0;
    while received < streams.spdy_stream_count() {
        let IncomingStream {
            headers,
            recv,
            send,
        } = tokio::time::timeout_at(deadline, acceptor.accept())
            .await
            .ok()??;
        send.reply().await.ok()?;
        let kind = headers
            .get("streamType")
            .and_then(Channel::from_stream_type);
        let taken = match kind {
            Some(Channel::Error) if out.error.is_none() => out.error.replace(send).is_none(),
            Some(Channel::Stdin) if out.stdin.is_none() => out.stdin.replace(recv).is_none(),
            Some(Channel::Stdout) if out.stdout.is_none() => out.stdout.replace(send).is_none(),
            Some(Channel::Stderr) if out.stderr.is_none() => out.stderr.replace(send).is_none(),
            Some(Channel::Resize) if out.resize.is_none() => out.resize.replace(recv).is_none(),
            _ => {
                tracing::debug!(stream_type = ?headers.get("streamType"), "unexpected SPDY stream");
                false
            }
        };
        received += usize::from(taken);
    }
    Some(out)
}

/// How a session's output side ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// The `Status` went out on the error stream.
    StatusSent,
    /// The command's side dropped its sender without a `Status`.
    CommandGone,
    /// A write to the client failed.
    ClientGone,
}

/// Relays the client's stdin and resize streams to the command until both have ended (or
/// the command stops listening; the streams are then dropped, so the session discards what
/// else arrives on them instead of waiting for a reader).
async fn relay_inbound(
    mut stdin: Option<RecvStream>,
    mut resize: Option<RecvStream>,
    inbound: &mpsc::Sender<Inbound>,
) {
    let mut sizes = SizeDecoder::default();
    while stdin.is_some() || resize.is_some() {
        let (message, sizes_ok) = tokio::select! {
            Some(got) = next(&mut stdin) => match got {
                Some(Ok(bytes)) => (vec![Inbound::Stdin(bytes)], true),
                // FIN, or a reset stdin: either way the command's input has ended.
                _ => {
                    stdin = None;
                    (vec![Inbound::StdinClosed], true)
                }
            },
            Some(got) = next(&mut resize) => match got {
                Some(Ok(bytes)) => match sizes.feed(&bytes) {
                    Ok(list) => (list.into_iter().map(Inbound::Resize).collect(), true),
                    Err(e) => {
                        tracing::debug!(error = %e, "bad resize stream; ignoring it");
                        (Vec::new(), false)
                    }
                },
                _ => (Vec::new(), false),
            },
        };
        if !sizes_ok {
            resize = None;
        }
        for m in message {
            if inbound.send(m).await.is_err() {
                return;
            }
        }
    }
}

/// The next event of an optional stream; `None` (so `select!` skips the branch) without one.
async fn next(
    stream: &mut Option<RecvStream>,
) -> Option<Option<Result<Bytes, session::StreamReset>>> {
    match stream {
        Some(s) => Some(s.recv().await),
        None => None,
    }
}

/// Writes the command's output to the client, one DATA frame per message, until the
/// `Status`: then FIN on stdout and stderr, the `Status` and FIN on the error stream.
async fn relay_outbound(
    outbound: &mut mpsc::Receiver<Outbound>,
    stdout: &Option<SendStream>,
    stderr: &Option<SendStream>,
    error: &Option<SendStream>,
) -> Ended {
    while let Some(message) = outbound.recv().await {
        let (stream, bytes) = match message {
            Outbound::Stdout(bytes) => (stdout, bytes),
            Outbound::Stderr(bytes) => (stderr, bytes),
            Outbound::Status(status) => {
                return match finish(stdout, stderr, error, status).await {
                    Ok(()) => Ended::StatusSent,
                    Err(_) => Ended::ClientGone,
                };
            }
        };
        // Output for a stream the client did not open is dropped; empty frames are not sent.
        if let Some(stream) = stream
            && !bytes.is_empty()
            && stream.send(bytes).await.is_err()
        {
            return Ended::ClientGone;
        }
    }
    Ended::CommandGone
}

/// The end of a session's output: FIN the output streams, then the `Status` and FIN on the
/// error stream.
async fn finish(
    stdout: &Option<SendStream>,
    stderr: &Option<SendStream>,
    error: &Option<SendStream>,
    status: Bytes,
) -> std::io::Result<()> {
    for stream in [stdout, stderr].into_iter().flatten() {
        stream.finish().await?;
    }
    if let Some(error) = error {
        error.send(status).await?;
        error.finish().await?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
