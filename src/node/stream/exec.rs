//! `exec`: a new process inside a running container's namespaces, with the container's
//! environment and working directory, on pipes or on a terminal of its own, for as long as
//! the client stays.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::{CommandEnds, Inbound, MAX_CHUNK, Outbound, Streams};
use crate::node::probe::ExecContext;
use crate::node::process::{self, SpawnError, SpawnSpec};
use crate::node::pty::{self, PtyController, PtyOutput};
use crate::remotecommand;

/// How long output may still arrive after the command exited (a background child that keeps
/// the pipe open must not hold the session forever).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// How long a terminal session waits for the client's first size before starting anyway.
const FIRST_SIZE_WAIT: Duration = Duration::from_secs(1);

/// The exit code runtimes report when the command cannot be started.
const CANNOT_START: i32 = 126;

/// Runs `command` in the container `exec` describes, for the session `ends` and ends it with the exit status.
pub(crate) async fn run(
    exec: ExecContext,
    command: Vec<String>,
    streams: Streams,
    ends: CommandEnds,
) {
    let CommandEnds {
        mut inbound,
        outbound,
    } = ends;
    let Some((program, args)) = command.split_first() else {
        return finish(&outbound, remotecommand::internal_error("empty command")).await;
    };
    let mut env = exec.env.clone();
    if streams.tty && !env.iter().any(|(k, _)| k == "TERM") {
        env.push(("TERM".into(), "xterm".into()));
    }
    let (terminal, replica) = if streams.tty {
        match pty::open() {
            Ok((c, r)) => (Some(Arc::new(c)), Some(r)),
            Err(e) => {
                let msg = format!("error allocating a terminal: {e}");
                return finish(&outbound, remotecommand::internal_error(&msg)).await;
            }
        }
    } else {
        (None, None)
    };
    // kubectl sends the terminal's size as its first message: applied before the command
    // starts, its first look at the terminal sees the right size. Anything else that comes
    // first waits for the command.
    let mut early: Option<Inbound> = None;
    if let Some(t) = &terminal {
        match tokio::time::timeout(FIRST_SIZE_WAIT, inbound.recv()).await {
            Ok(Some(Inbound::Resize(size))) => {
                let _ = t.resize(size.width, size.height);
            }
            Ok(Some(other)) => early = Some(other),
            Ok(None) => return,
            Err(_) => {}
        }
    }
    let spawned = process::spawn(SpawnSpec {
        program: program.clone(),
        args: args.to_vec(),
        env,
        placement: exec.placement(),
        capture_output: true,
        stdin: streams.stdin,
        terminal: replica,
    });
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            // As runc reports it: the reason on the output, then the exit code.
            let text = match &e {
                SpawnError::Exec(m) => format!(
                    "OCI runtime exec failed: exec failed: unable to start container process: {m}: unknown\r\n"
                ),
                SpawnError::Setup { .. } => format!("exec failed: {e}\r\n"),
            };
            let out = if streams.stderr {
                Outbound::Stderr(Bytes::from(text))
            } else {
                Outbound::Stdout(Bytes::from(text))
            };
            if streams.stdout || streams.stderr {
                let _ = outbound.send(out).await;
            }
            return finish(&outbound, remotecommand::exit_status(CANNOT_START)).await;
        }
    };
    let pid = child.pid();

    // Output: one pump per stream, each chunk one message, in the order it was read.
    let mut pumps = tokio::task::JoinSet::new();
    if let Some(t) = &terminal {
        pumps.spawn(pump(
            PtyOutput(t.clone()),
            outbound.clone(),
            Outbound::Stdout,
        ));
    }
    if let Some(out) = child.take_stdout() {
        pumps.spawn(pump(out, outbound.clone(), Outbound::Stdout));
    }
    if let Some(err) = child.take_stderr() {
        pumps.spawn(pump(err, outbound.clone(), Outbound::Stderr));
    }
    let mut stdin = child.take_stdin();

    let mut client_gone = false;
    if let (Some(message), Some(t)) = (early.take(), &terminal) {
        match message {
            Inbound::Stdin(data) => {
                let _ = t.write_all(&data).await;
            }
            Inbound::StdinClosed => {
                let _ = t.write_all(&[4]).await;
            }
            Inbound::Resize(size) => {
                let _ = t.resize(size.width, size.height);
            }
        }
    }
    let exit = loop {
        tokio::select! {
            exit = child.wait() => break exit,
            message = inbound.recv(), if !client_gone => match message {
                Some(Inbound::Stdin(data)) => {
                    write_input(&mut stdin, terminal.as_deref(), &data).await;
                }
                Some(Inbound::StdinClosed) => match &terminal {
                    // A terminal has no half-close: the EOF character ends the input.
                    Some(t) => { let _ = t.write_all(&[4]).await; }
                    None => stdin = None,
                },
                Some(Inbound::Resize(size)) => {
                    if let Some(t) = &terminal {
                        let _ = t.resize(size.width, size.height);
                    }
                }
                None => {
                    // The client went away: its command goes with it.
                    client_gone = true;
                    process::signal_group(pid, libc::SIGKILL);
                }
            },
        }
    };
    drop(stdin);
    // Whatever the command left running in its group ends with it.
    process::signal_group(pid, libc::SIGKILL);
    let drained = async { while pumps.join_next().await.is_some() {} };
    if tokio::time::timeout(DRAIN_GRACE, drained).await.is_err() {
        pumps.abort_all();
    }
    drop(terminal);
    if !client_gone {
        finish(&outbound, remotecommand::exit_status(exit.code)).await;
    }
}

/// Writes client input to the command's stdin pipe or terminal; a closed input drops it.
async fn write_input(
    stdin: &mut Option<tokio::process::ChildStdin>,
    terminal: Option<&PtyController>,
    data: &[u8],
) {
    if let Some(t) = terminal {
        let _ = t.write_all(data).await;
    } else if let Some(pipe) = stdin.as_mut()
        && pipe.write_all(data).await.is_err()
    {
        *stdin = None;
    }
}

/// Sends each chunk read from `source` as one message until end of file or until the
/// client is gone.
pub(crate) async fn pump<R: AsyncRead + Unpin>(
    mut source: R,
    outbound: mpsc::Sender<Outbound>,
    wrap: fn(Bytes) -> Outbound,
) {
    let mut buf = vec![0u8; MAX_CHUNK];
    loop {
        match source.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if outbound
                    .send(wrap(Bytes::copy_from_slice(&buf[..n])))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Ends the session with `status` on the error channel.
pub(crate) async fn finish(outbound: &mpsc::Sender<Outbound>, status: serde_json::Value) {
    let bytes = serde_json::to_vec(&status).unwrap_or_default();
    let _ = outbound.send(Outbound::Status(Bytes::from(bytes))).await;
}
