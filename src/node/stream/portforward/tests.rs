//! Port-forward against the real kubectl, over SPDY and over the WebSocket tunnel, to a
//! loopback echo server standing in for the pod.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Child;

use super::{ForwardTarget, serve};
use crate::node::stream::spdy::tests::client::{RawClient, stream_bytes};
use crate::node::stream::spdy::tests::harness::{
    DialPort, FakeApi, POD_UID, Upgrade, maybe_write_fixture,
};
use crate::node::stream::spdy::tests::test_commands;
use crate::remotecommand::spdy::{Frame, rst};

/// The env that makes kubectl's port-forward use plain SPDY.
const SPDY: [(&str, &str); 1] = [("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")];
/// kubectl's default: SPDY tunnelled in WebSocket.
const TUNNEL: [(&str, &str); 0] = [];

/// A loopback echo server: every connection gets back what it sends, then EOF after the
/// client's EOF.
async fn echo_server() -> (SocketAddr, tokio_util::task::AbortOnDropHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = conn.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    (addr, tokio_util::task::AbortOnDropHandle::new(task))
}

/// A loopback port nothing listens on.
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// Remote port 80 is the echo server, 81 a closed port.
fn dialer(echo: SocketAddr, closed: SocketAddr) -> DialPort {
    Arc::new(move |port| {
        async move {
            match port {
                80 => TcpStream::connect(echo).await,
                _ => TcpStream::connect(closed).await,
            }
        }
        .boxed()
    })
}

/// `kubectl port-forward p :PORT` running, and the local port it listens on.
async fn port_forward(api: &FakeApi, remote: u16, env: &[(&str, &str)]) -> (Child, u16) {
    let spec = format!(":{remote}");
    let mut cmd = api.kubectl(&["port-forward", "--address", "127.0.0.1", "p", &spec], env);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let local = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            // "Forwarding from 127.0.0.1:41234 -> 80"
            if let Some(rest) = line.strip_prefix("Forwarding from 127.0.0.1:") {
                return rest.split(' ').next().unwrap().parse::<u16>().unwrap();
            }
        }
        panic!("kubectl port-forward ended without listening");
    })
    .await
    .expect("kubectl listens within 30 s");
    // Keep draining stdout ("Handling connection for …") so kubectl never blocks on it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, local)
}

/// Sends `payload` through the local port, half-closes, and returns all that comes back.
async fn round_trip(local: u16, payload: &[u8]) -> Vec<u8> {
    let mut conn = TcpStream::connect(("127.0.0.1", local)).await.unwrap();
    let (mut r, mut w) = conn.split();
    let send = async {
        w.write_all(payload).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let mut back = Vec::new();
    let recv = r.read_to_end(&mut back);
    let (_, got) = tokio::join!(send, recv);
    got.unwrap();
    back
}

/// The checks every transport must pass: sequential and concurrent connections, a large
/// transfer, and which upgrade kubectl used.
async fn forwards_connections(env: &[(&str, &str)], upgrade: Upgrade, fixture: Option<&str>) {
    let (echo, _echo_task) = echo_server().await;
    let api = FakeApi::start(test_commands(), dialer(echo, closed_port().await)).await;
    let (mut child, local) = port_forward(&api, 80, env).await;

    let first = round_trip(local, b"ping 0").await;
    assert_eq!(first, b"ping 0");
    if let Some(name) = fixture {
        maybe_write_fixture(name, &api.client_bytes(0));
    }
    for i in 1..20 {
        let msg = format!("ping {i}");
        assert_eq!(round_trip(local, msg.as_bytes()).await, msg.as_bytes());
    }
    let concurrent = (0..8).map(|i| async move {
        let msg = format!("concurrent {i} ").repeat(1000);
        assert_eq!(round_trip(local, msg.as_bytes()).await, msg.as_bytes());
    });
    futures::future::join_all(concurrent).await;

    let big: Vec<u8> = (0..32 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let back = round_trip(local, &big).await;
    assert_eq!(back.len(), big.len());
    assert!(back == big, "32 MiB came back altered");

    assert_eq!(
        api.upgrades(),
        [upgrade],
        "one session served all connections"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn kubectl_port_forward_over_spdy_forwards_connections() {
    forwards_connections(&SPDY, Upgrade::PortForwardSpdy, None).await;
}

#[tokio::test]
async fn kubectl_port_forward_over_the_websocket_tunnel_forwards_connections() {
    forwards_connections(
        &TUNNEL,
        Upgrade::PortForwardTunnel,
        Some("kubectl-port-forward.bin"),
    )
    .await;
}

/// A connection to a closed port: kubelet's text reaches kubectl, which gives up.
async fn refused_port_ends_kubectl(env: &[(&str, &str)]) {
    let (echo, _echo_task) = echo_server().await;
    let api = FakeApi::start(test_commands(), dialer(echo, closed_port().await)).await;
    let (mut child, local) = port_forward(&api, 81, env).await;
    let back = round_trip(local, b"hello").await;
    assert!(back.is_empty(), "{back:?}");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("kubectl exits after the error")
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    let expected = format!(
        "error forwarding port 81 to pod p_default, uid {POD_UID}: connect: connection refused"
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains("lost connection to pod"), "{stderr}");
}

#[tokio::test]
async fn kubectl_port_forward_over_spdy_reports_a_refused_port() {
    refused_port_ends_kubectl(&SPDY).await;
}

#[tokio::test]
async fn kubectl_port_forward_over_the_tunnel_reports_a_refused_port() {
    refused_port_ends_kubectl(&TUNNEL).await;
}

/// The pod the raw-client tests forward to.
fn raw_target() -> ForwardTarget {
    ForwardTarget {
        name: "p".into(),
        namespace: "default".into(),
        uid: "u-1".into(),
    }
}

/// A dialer that refuses every port, without touching the network (so a paused clock can
/// run ahead), and counts its calls.
fn refusing_dialer(
    calls: Arc<std::sync::atomic::AtomicUsize>,
) -> impl Fn(u16) -> futures::future::BoxFuture<'static, std::io::Result<TcpStream>>
+ Send
+ Sync
+ 'static {
    move |_| {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { Err(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)) }.boxed()
    }
}

#[tokio::test(start_paused = true)]
async fn a_stream_without_its_partner_times_out_with_kubelets_text() {
    let (mut client, server) = RawClient::pair(64 * 1024);
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let _served = tokio::spawn(serve(
        server,
        raw_target(),
        refusing_dialer(calls.clone()),
        crate::node::DEFAULT_STREAMING_IDLE_TIMEOUT,
    ));
    client
        .open(
            1,
            &[("streamType", "error"), ("port", "80"), ("requestID", "0")],
        )
        .await;
    let frames = client
        .until(|f| {
            matches!(
                f,
                Frame::Data {
                    stream_id: 1,
                    fin: true,
                    ..
                }
            )
        })
        .await;
    assert!(matches!(frames[0], Frame::SynReply { stream_id: 1, .. }));
    let (text, fin) = stream_bytes(&frames, 1);
    assert_eq!(
        String::from_utf8(text).unwrap(),
        "(request=0) timed out waiting for streams"
    );
    assert!(fin);
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing dialled"
    );
}

#[tokio::test(start_paused = true)]
async fn streams_with_bad_headers_are_reset() {
    let (mut client, server) = RawClient::pair(64 * 1024);
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let _served = tokio::spawn(serve(
        server,
        raw_target(),
        refusing_dialer(calls.clone()),
        crate::node::DEFAULT_STREAMING_IDLE_TIMEOUT,
    ));
    let cases: [&[(&str, &str)]; 5] = [
        &[("streamType", "data")],
        &[("streamType", "data"), ("port", "0")],
        &[("streamType", "data"), ("port", "http")],
        &[("port", "80")],
        &[("streamType", "bogus"), ("port", "80")],
    ];
    for (i, headers) in cases.iter().enumerate() {
        let id = 2 * i as u32 + 1;
        client.open(id, headers).await;
        let frame = client.next().await;
        assert_eq!(
            frame,
            Some(Frame::RstStream {
                stream_id: id,
                status: rst::CANCEL
            }),
            "{headers:?}"
        );
    }
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn streams_pair_by_stream_id_without_a_request_id_and_report_a_refused_dial() {
    let (mut client, server) = RawClient::pair(64 * 1024);
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let _served = tokio::spawn(serve(
        server,
        raw_target(),
        refusing_dialer(calls.clone()),
        crate::node::DEFAULT_STREAMING_IDLE_TIMEOUT,
    ));
    client
        .open(1, &[("streamType", "error"), ("port", "8080")])
        .await;
    client
        .open(3, &[("streamType", "data"), ("port", "8080")])
        .await;
    let frames = client
        .until(|f| {
            matches!(
                f,
                Frame::Data {
                    stream_id: 1,
                    fin: true,
                    ..
                }
            )
        })
        .await;
    let (text, _) = stream_bytes(&frames, 1);
    assert_eq!(
        String::from_utf8(text).unwrap(),
        "error forwarding port 8080 to pod p_default, uid u-1: connect: connection refused"
    );
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn an_idle_session_is_closed() {
    let (mut client, server) = RawClient::pair(64 * 1024);
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let served = tokio::spawn(serve(
        server,
        raw_target(),
        refusing_dialer(calls),
        Duration::from_secs(3600),
    ));
    // A ping resets the idle timer and is answered; then silence ends the session.
    client.send(Frame::Ping { id: 1 }).await;
    assert_eq!(client.next().await, Some(Frame::Ping { id: 1 }));
    let rest = client.rest().await;
    assert!(
        matches!(rest.as_slice(), [Frame::GoAway { status: 0, .. }]),
        "{rest:?}"
    );
    served.await.unwrap();
}

/// The peak resident set of this process, in KiB (`VmHWM`).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// 256 MiB each way through `kubectl port-forward` over the tunnel, generated and checked on
/// the fly: the throughput, and the growth of this process's peak memory, which must stay
/// flat (the server side's buffers are bounded). Run with `cargo test --lib --release
/// large_transfer -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: 256 MiB through kubectl"]
async fn large_transfer_through_kubectl_keeps_memory_flat() {
    const TOTAL: usize = 256 * 1024 * 1024;
    let (echo, _echo_task) = echo_server().await;
    let api = FakeApi::start(test_commands(), dialer(echo, closed_port().await)).await;
    for (name, env) in [("tunnel", &TUNNEL[..]), ("spdy", &SPDY[..])] {
        let (mut child, local) = port_forward(&api, 80, env).await;
        let before = peak_rss_kib();
        let started = std::time::Instant::now();
        let mut conn = TcpStream::connect(("127.0.0.1", local)).await.unwrap();
        let (mut r, mut w) = conn.split();
        let pattern = |i: usize| (i.wrapping_mul(2_654_435_761) >> 24) as u8;
        let send = async {
            let mut buf = vec![0u8; 64 * 1024];
            let mut at = 0;
            while at < TOTAL {
                for (k, b) in buf.iter_mut().enumerate() {
                    *b = pattern(at + k);
                }
                w.write_all(&buf).await.unwrap();
                at += buf.len();
            }
            w.shutdown().await.unwrap();
        };
        let recv = async {
            let mut buf = vec![0u8; 64 * 1024];
            let mut at = 0;
            loop {
                let n = r.read(&mut buf).await.unwrap();
                if n == 0 {
                    return at;
                }
                for (k, b) in buf[..n].iter().enumerate() {
                    assert_eq!(*b, pattern(at + k), "byte {}", at + k);
                }
                at += n;
            }
        };
        let (_, received) = tokio::join!(send, recv);
        let secs = started.elapsed().as_secs_f64();
        let growth = peak_rss_kib().saturating_sub(before);
        assert_eq!(received, TOTAL);
        println!(
            "{name}: 256 MiB each way in {secs:.1} s ({:.0} MiB/s), peak RSS grew {growth} KiB",
            256.0 / secs
        );
        assert!(growth < 64 * 1024, "peak RSS grew {growth} KiB");
        child.kill().await.unwrap();
    }
}
