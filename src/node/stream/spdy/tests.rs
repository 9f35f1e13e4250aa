//! `kubectl exec` over SPDY against [`serve_remote_command`], with a small command side in
//! the test: the real kubectl v1.32, a loopback stand-in API server (see [`harness`]).

pub(crate) mod harness;

use std::sync::Arc;

use bytes::Bytes;
use futures::FutureExt;

use self::harness::{DialPort, FakeApi, RunCommand, Upgrade, maybe_write_fixture, run_to_end};
use crate::node::stream::{CommandEnds, Inbound, Outbound};
use crate::remotecommand::exit_status;

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
