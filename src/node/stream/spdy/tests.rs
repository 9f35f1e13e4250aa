//! `kubectl exec` over SPDY against [`serve_remote_command`], with a small command side in
//! the test: the real kubectl v1.32, a loopback stand-in API server (see [`harness`]).

pub(crate) mod client;
pub(crate) mod harness;

use std::sync::Arc;

use bytes::Bytes;
use futures::FutureExt;

use self::client::{RawClient, stream_bytes};
use self::harness::{DialPort, FakeApi, RunCommand, Upgrade, maybe_write_fixture, run_to_end};
use super::serve_remote_command;
use super::session::STREAM_QUEUE;
use crate::node::stream::{
    CommandEnds, Inbound, Outbound, SESSION_BUFFER, Streams, TerminalSize, session,
};
use crate::remotecommand::exit_status;
use crate::remotecommand::spdy::Frame;

/// The env that makes kubectl use SPDY for exec.
const SPDY_EXEC: [(&str, &str); 1] = [("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false")];

/// The test's commands: `hello` writes to stdout and stderr and exits 3; `cat CODE` echoes
/// stdin until its end, then exits CODE.
pub(crate) fn test_commands() -> RunCommand {
    Arc::new(|options, ends: CommandEnds| {
        async move {
            let CommandEnds {
                mut inbound,
                outbound,
            } = ends;
            let status = |code| Outbound::Status(Bytes::from(exit_status(code).to_string()));
            match options.command.first().map(String::as_str) {
                Some("hello") => {
                    let _ = outbound
                        .send(Outbound::Stdout(Bytes::from_static(b"hello from p\n")))
                        .await;
                    let _ = outbound
                        .send(Outbound::Stderr(Bytes::from_static(b"to stderr\n")))
                        .await;
                    let _ = outbound.send(status(3)).await;
                }
                Some("cat") => {
                    let code = options
                        .command
                        .get(1)
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(0);
                    while let Some(message) = inbound.recv().await {
                        match message {
                            Inbound::Stdin(bytes) => {
                                if outbound.send(Outbound::Stdout(bytes)).await.is_err() {
                                    return;
                                }
                            }
                            Inbound::StdinClosed => break,
                            Inbound::Resize(_) => {}
                        }
                    }
                    let _ = outbound.send(status(code)).await;
                }
                _ => {
                    let _ = outbound.send(status(127)).await;
                }
            }
        }
        .boxed()
    })
}

/// A dialer for servers that do not forward ports.
fn no_dial() -> DialPort {
    Arc::new(|_| async { Err(std::io::Error::other("no ports here")) }.boxed())
}

#[tokio::test]
async fn kubectl_exec_over_spdy_prints_output_and_exits_with_the_code() {
    let api = FakeApi::start(test_commands(), no_dial()).await;
    let out = run_to_end(api.kubectl(&["exec", "p", "--", "hello"], &SPDY_EXEC)).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from p\n",
        "{stderr}"
    );
    assert!(stderr.contains("to stderr\n"), "{stderr}");
    assert!(
        stderr.contains("command terminated with exit code 3"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(api.upgrades(), [Upgrade::ExecSpdy]);
}

#[tokio::test]
async fn kubectl_exec_stdin_eof_reaches_the_command() {
    let api = FakeApi::start(test_commands(), no_dial()).await;
    let mut cmd = api.kubectl(&["exec", "-i", "p", "--", "cat", "3"], &SPDY_EXEC);
    let (reader, mut writer) = std::io::pipe().unwrap();
    std::io::Write::write_all(&mut writer, b"hello\n").unwrap();
    drop(writer);
    cmd.stdin(reader);
    let out = run_to_end(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n", "{stderr}");
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    maybe_write_fixture("kubectl-exec.bin", &api.client_bytes(0));
}

#[tokio::test]
async fn kubectl_exec_streams_megabytes_of_stdin_back() {
    let api = FakeApi::start(test_commands(), no_dial()).await;
    let dir = tempfile::tempdir().unwrap();
    let input: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let path = dir.path().join("input");
    std::fs::write(&path, &input).unwrap();
    let mut cmd = api.kubectl(&["exec", "-i", "p", "--", "cat", "0"], &SPDY_EXEC);
    cmd.stdin(std::fs::File::open(&path).unwrap());
    let out = run_to_end(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(out.stdout.len(), input.len(), "{stderr}");
    assert!(out.stdout == input, "output differs from input");
}

/// A stdin+stdout+tty session's streams, opened by a raw client: error 1, stdin 3,
/// stdout 5, resize 7; returns once all four have their SYN_REPLY.
async fn open_tty_session(client: &mut RawClient) {
    for (id, kind) in [(1, "error"), (3, "stdin"), (5, "stdout"), (7, "resize")] {
        client.open(id, &[("streamType", kind)]).await;
    }
    let mut replied = Vec::new();
    while replied.len() < 4 {
        if let Some(Frame::SynReply { stream_id, .. }) = client.next().await {
            replied.push(stream_id);
        }
    }
    replied.sort_unstable();
    assert_eq!(replied, [1, 3, 5, 7]);
}

/// Streams of a tty session with stdin.
const TTY: Streams = Streams {
    stdin: true,
    stdout: true,
    stderr: false,
    tty: true,
};

#[tokio::test(start_paused = true)]
async fn stdin_resize_and_output_flow_and_the_session_ends_cleanly() {
    let (mut client, server) = RawClient::pair(64 * 1024);
    let (transport, mut command) = session();
    let served = tokio::spawn(serve_remote_command(
        server,
        TTY,
        transport,
        crate::node::DEFAULT_STREAMING_IDLE_TIMEOUT,
    ));
    open_tty_session(&mut client).await;
    // A resize split across frames, then stdin and its FIN.
    client.data(7, br#"{"Width":80,"#, false).await;
    client.data(7, b"\"Height\":24}\n", false).await;
    client.data(3, b"ab", false).await;
    client.data(3, b"", true).await;
    let mut got = Vec::new();
    while got.len() < 3 {
        got.push(command.inbound.recv().await.expect("the client is there"));
    }
    assert!(
        got.contains(&Inbound::Resize(TerminalSize {
            width: 80,
            height: 24
        })),
        "{got:?}"
    );
    let stdin: Vec<_> = got
        .iter()
        .filter(|m| !matches!(m, Inbound::Resize(_)))
        .collect();
    assert_eq!(
        stdin,
        [
            &Inbound::Stdin(Bytes::from_static(b"ab")),
            &Inbound::StdinClosed
        ]
    );

    command
        .outbound
        .send(Outbound::Stdout(Bytes::from_static(b"x")))
        .await
        .unwrap();
    command
        .outbound
        .send(Outbound::Stdout(Bytes::from_static(b"y")))
        .await
        .unwrap();
    let status = exit_status(3).to_string();
    command
        .outbound
        .send(Outbound::Status(Bytes::from(status.clone())))
        .await
        .unwrap();
    let frames = client.until(|f| matches!(f, Frame::GoAway { .. })).await;
    // One frame per message, never coalesced; FIN on stdout and on error.
    let stdout: Vec<_> = frames
        .iter()
        .filter_map(|f| match f {
            Frame::Data {
                stream_id: 5, data, ..
            } if !data.is_empty() => Some(data.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(stdout, [Bytes::from_static(b"x"), Bytes::from_static(b"y")]);
    assert_eq!(stream_bytes(&frames, 5), (b"xy".to_vec(), true));
    assert_eq!(stream_bytes(&frames, 1), (status.into_bytes(), true));
    assert!(matches!(
        frames.last(),
        Some(Frame::GoAway {
            status: 0,
            last_good_stream_id: 7
        })
    ));
    client.shutdown().await;
    assert!(client.rest().await.is_empty());
    served.await.unwrap();
    assert_eq!(
        command.inbound.recv().await,
        None,
        "the transport let go of inbound"
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_that_leaves_ends_the_session() {
    let (mut client, server) = RawClient::pair(64 * 1024);
    let (transport, mut command) = session();
    let served = tokio::spawn(serve_remote_command(
        server,
        TTY,
        transport,
        crate::node::DEFAULT_STREAMING_IDLE_TIMEOUT,
    ));
    open_tty_session(&mut client).await;
    drop(client);
    served.await.unwrap();
    // The broken stdin stream may be passed on as its end, then the transport lets go.
    let mut rest = Vec::new();
    while let Some(message) = command.inbound.recv().await {
        rest.push(message);
    }
    assert!(rest.iter().all(|m| *m == Inbound::StdinClosed), "{rest:?}");
    assert!(
        command
            .outbound
            .send(Outbound::Stdout(Bytes::from_static(b"late")))
            .await
            .is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_opens_its_streams_is_given_up_on() {
    let (mut client, server) = RawClient::pair(64 * 1024);
    let (transport, mut command) = session();
    let served = tokio::spawn(serve_remote_command(
        server,
        TTY,
        transport,
        crate::node::DEFAULT_STREAMING_IDLE_TIMEOUT,
    ));
    client.open(1, &[("streamType", "error")]).await;
    // Only one of four streams: after kubelet's 30 s the session is closed with GOAWAY.
    let frames = client.until(|f| matches!(f, Frame::GoAway { .. })).await;
    assert!(matches!(frames[0], Frame::SynReply { stream_id: 1, .. }));
    served.await.unwrap();
    assert_eq!(command.inbound.recv().await, None);
}

#[tokio::test(start_paused = true)]
async fn a_command_that_does_not_read_stdin_holds_the_client_back() {
    let (mut client, server) = RawClient::pair(64 * 1024);
    let (transport, _command) = session();
    let _served = tokio::spawn(serve_remote_command(
        server,
        TTY,
        transport,
        crate::node::DEFAULT_STREAMING_IDLE_TIMEOUT,
    ));
    open_tty_session(&mut client).await;
    // The command never reads: the client's writes must stall after a bounded number of
    // frames (the inbound channel, the stream's queue, the pipe), not be buffered on.
    let chunk = vec![7u8; 32 * 1024];
    let mut sent = 0;
    let attempt = async {
        loop {
            client.data(3, &chunk, false).await;
            sent += 1;
        }
    };
    let stalled = tokio::time::timeout(std::time::Duration::from_secs(60), attempt).await;
    assert!(stalled.is_err(), "the client never stalls");
    let bound = SESSION_BUFFER + STREAM_QUEUE + 4;
    assert!(
        sent <= bound,
        "{sent} frames of 32 KiB accepted; at most {bound} expected"
    );
}

#[tokio::test(start_paused = true)]
async fn client_pings_are_echoed() {
    let (mut client, server) = RawClient::pair(64 * 1024);
    let (transport, _command) = session();
    let _served = tokio::spawn(serve_remote_command(
        server,
        TTY,
        transport,
        crate::node::DEFAULT_STREAMING_IDLE_TIMEOUT,
    ));
    client.send(Frame::Ping { id: 2 }).await;
    client.send(Frame::Ping { id: 5 }).await;
    // Only the client's own (odd) ping comes back: an even id would answer a server ping.
    assert_eq!(client.next().await, Some(Frame::Ping { id: 5 }));
}

#[tokio::test(start_paused = true)]
async fn output_longer_than_a_data_frame_is_split_not_refused() {
    let (mut client, server) = RawClient::pair(64 * 1024);
    let (transport, command) = session();
    let _served = tokio::spawn(serve_remote_command(
        server,
        TTY,
        transport,
        crate::node::DEFAULT_STREAMING_IDLE_TIMEOUT,
    ));
    open_tty_session(&mut client).await;
    let big = Bytes::from(vec![1u8; crate::remotecommand::spdy::MAX_DATA_FRAME + 10]);
    let send = command.outbound.send(Outbound::Stdout(big.clone()));
    let receive =
        client.until(|f| matches!(f, Frame::Data { stream_id: 5, data, .. } if data.len() == 10));
    let (sent, frames) = tokio::join!(send, receive);
    sent.unwrap();
    assert_eq!(stream_bytes(&frames, 5).0, big.to_vec());
}

#[tokio::test]
async fn kubectl_exec_falls_back_to_spdy_when_the_websocket_upgrade_is_refused() {
    // kubectl's default tries WebSocket first; this server refuses it with a 400 Status.
    let api = FakeApi::start(test_commands(), no_dial()).await;
    let out = run_to_end(api.kubectl(&["exec", "p", "--", "hello"], &[])).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from p\n",
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(api.upgrades(), [Upgrade::ExecSpdy]);
}
