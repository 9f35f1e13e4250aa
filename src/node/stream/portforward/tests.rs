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

use crate::node::stream::spdy::tests::harness::{
    DialPort, FakeApi, POD_UID, Upgrade, maybe_write_fixture,
};
use crate::node::stream::spdy::tests::test_commands;

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
