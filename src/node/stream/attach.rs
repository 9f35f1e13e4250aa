//! `attach`: a client joins a running container's standard streams — its output from now
//! on (no replay), and its input when the spec keeps stdin open.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use super::exec::finish;
use super::live::LiveContainer;
use super::{CommandEnds, Inbound, Outbound, Streams};
use crate::node::logs::Stream;
use crate::remotecommand;

/// Joins `live` for the session `ends` until the container's output ends (it exited) or the
/// client goes away.
pub(crate) async fn run(live: Arc<LiveContainer>, streams: Streams, ends: CommandEnds) {
    let CommandEnds {
        mut inbound,
        outbound,
    } = ends;
    let mut output = live.output.subscribe();
    let stdin = live.stdin.clone().filter(|_| streams.stdin);
    let stdin = stdin.as_deref();
    if let Some(port) = stdin {
        port.attach();
    }
    let terminal = live.terminal.clone();
    // The session holds no sender of the output: it closes when the instance's output ends.
    drop(live);
    let mut client_gone = false;
    let mut input_open = stdin.is_some();
    loop {
        tokio::select! {
            chunk = output.recv() => match chunk {
                Ok((stream, data)) => {
                    let message = match stream {
                        Stream::Stderr if streams.stderr => Outbound::Stderr(data),
                        Stream::Stderr if !streams.tty => continue,
                        _ if streams.stdout => Outbound::Stdout(data),
                        _ => continue,
                    };
                    if outbound.send(message).await.is_err() {
                        client_gone = true;
                        break;
                    }
                }
                // A client that fell behind misses output rather than slowing the container.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            },
            message = inbound.recv() => match message {
                Some(Inbound::Stdin(data)) if input_open => {
                    if let Some(port) = stdin {
                        input_open = port.write(&data).await;
                    }
                }
                Some(Inbound::Stdin(_)) => {}
                Some(Inbound::StdinClosed) => {
                    if let Some(port) = stdin {
                        port.close().await;
                    }
                    input_open = false;
                }
                Some(Inbound::Resize(size)) => {
                    if let Some(t) = &terminal {
                        let _ = t.resize(size.width, size.height);
                    }
                }
                None => {
                    client_gone = true;
                    break;
                }
            },
        }
    }
    if let Some(port) = stdin {
        port.detach().await;
    }
    if !client_gone {
        // Attach carries no exit code: the container's end is a plain success.
        finish(&outbound, remotecommand::exit_status(0)).await;
    }
}
