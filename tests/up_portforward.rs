//! `kubectl port-forward` against `podgate up` with the real kubectl, over its default
//! WebSocket tunnel and over plain SPDY (`KUBECTL_PORT_FORWARD_WEBSOCKETS=false`): sequential
//! and concurrent connections to the pod's port, a port nobody listens on, and the same
//! through `podgate proxy`.

mod common;
#[path = "common/proxy.rs"]
mod proxy;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use common::{Podgate, http_request, manifest, wait_for};

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: pet
spec:
  containers:
  - name: main
    image: podgate
    command: ["podgate", "pet", "--data-dir", "/tmp"]
    env:
    - name: POD_IP
      valueFrom:
        fieldRef:
          fieldPath: status.podIP
    readinessProbe:
      httpGet: {path: /, port: 8080}
      periodSeconds: 1
"#;

/// A running `kubectl port-forward` and the local port it picked.
struct Forward {
    child: Child,
    port: u16,
    stderr: std::sync::mpsc::Receiver<String>,
}

impl Drop for Forward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward(mut cmd: Command, websockets: bool, remote: u16) -> Forward {
    if !websockets {
        cmd.env("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false");
    }
    let mut child = cmd
        .args(["port-forward", "pod/pet", &format!(":{remote}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl port-forward");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let (etx, erx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = etx.send(line);
        }
    });
    // "Forwarding from 127.0.0.1:41234 -> 8080"
    let port = wait_for("kubectl's Forwarding line", || {
        let line = rx.try_recv().ok()?;
        let rest = line.strip_prefix("Forwarding from 127.0.0.1:")?;
        rest.split_whitespace().next()?.parse().ok()
    });
    Forward {
        child,
        port,
        stderr: erx,
    }
}

/// `GET /` over a fresh connection to the forwarded port, asserting the pet answered.
fn get_pet(port: u16, what: &str) {
    let (status, body) = http_request(port, "GET", "/", &[], b"").expect("request");
    assert_eq!(status, 200, "{what}: {body}");
    assert!(body.contains("You've hit pet"), "{what}: {body}");
}

fn kubectl(pg: &Podgate) -> Command {
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig").arg(pg.kubeconfig());
    cmd
}

fn start_pet() -> Podgate {
    let pg = Podgate::start(&["--no-dns"]);
    let dir = pg.state_dir.parent().expect("tmp").to_path_buf();
    pg.kubectl_ok(&[
        "apply",
        "-f",
        manifest(&dir, "pet.yaml", POD).to_str().expect("path"),
    ]);
    wait_for("pet Ready", || {
        let out = pg.kubectl(&[
            "get",
            "pod",
            "pet",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ]);
        (out.stdout == b"True").then_some(())
    });
    pg
}

fn many_connections(port: u16, what: &str) {
    for i in 0..20 {
        get_pet(port, &format!("{what} #{i}"));
    }
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let what = format!("{what} concurrent #{i}");
            std::thread::spawn(move || get_pet(port, &what))
        })
        .collect();
    for h in handles {
        h.join().expect("a concurrent request");
    }
}

#[test]
fn port_forward_reaches_the_pod_over_both_protocols() {
    let pg = start_pet();
    for websockets in [true, false] {
        let what = format!("websockets={websockets}");
        let fwd = forward(kubectl(&pg), websockets, 8080);
        many_connections(fwd.port, &what);
    }
}

#[test]
fn a_port_nobody_listens_on_is_kubelets_error() {
    let pg = start_pet();
    for websockets in [true, false] {
        let mut fwd = forward(kubectl(&pg), websockets, 8099);
        let mut s = TcpStream::connect(("127.0.0.1", fwd.port)).expect("connect");
        let _ = s.write_all(b"GET / HTTP/1.1\r\n\r\n");
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
        let status = wait_for("kubectl port-forward to give up", || {
            fwd.child.try_wait().ok().flatten()
        });
        assert_eq!(status.code(), Some(1), "websockets={websockets}");
        let stderr: Vec<String> = fwd.stderr.try_iter().collect();
        let stderr = stderr.join("\n");
        assert!(
            stderr.contains("error forwarding port 8099 to pod")
                && stderr.contains("connection refused"),
            "websockets={websockets}: {stderr}"
        );
        assert!(stderr.contains("lost connection to pod"), "{stderr}");
    }
}

#[test]
fn port_forward_through_podgate_proxy() {
    let pg = start_pet();
    let proxy = proxy::ProxyProcess::start(&pg, &[]);
    let empty = tempfile::NamedTempFile::new().expect("kubeconfig");
    for websockets in [true, false] {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(empty.path())
            .arg("--server")
            .arg(format!("http://127.0.0.1:{}", proxy.port()));
        let fwd = forward(cmd, websockets, 8080);
        many_connections(
            fwd.port,
            &format!("through podgate proxy, websockets={websockets}"),
        );
    }
}
