//! Test harness for `podgate proxy`: a real process in front of a real `podgate up`, its
//! `Starting to serve on …` line read from stdout, raw HTTP/1.1 requests with full control of
//! the `Host` header, and the real kubectl through it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::common::{DEADLINE, Podgate, wait_for};

/// A running `podgate proxy`.
pub(crate) struct ProxyProcess {
    child: Option<Child>,
    /// Where it serves: `127.0.0.1:PORT` or a socket path.
    pub serving_on: String,
    /// Its stderr log file.
    pub log: PathBuf,
    _tmp: tempfile::TempDir,
}

impl ProxyProcess {
    /// Starts `podgate proxy --kubeconfig <pg's kubeconfig> --port 0 <extra>` and waits for its
    /// `Starting to serve on` line.
    pub(crate) fn start(pg: &Podgate, extra: &[&str]) -> Self {
        let kubeconfig = pg.kubeconfig();
        let mut args = vec!["--kubeconfig", kubeconfig.to_str().unwrap()];
        if !extra
            .iter()
            .any(|a| a.starts_with("--unix-socket") || *a == "-u")
        {
            args.extend(["--port", "0"]);
        }
        args.extend(extra);
        Self::start_raw(&args)
    }

    /// Starts `podgate proxy <args>` and waits for its `Starting to serve on` line.
    pub(crate) fn start_raw(args: &[&str]) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let log = tmp.path().join("proxy.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_podgate"))
            .arg("proxy")
            .args(args)
            .env("RUST_LOG", "info")
            .env_remove("KUBECONFIG")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("start podgate proxy");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx.recv_timeout(DEADLINE).unwrap_or_else(|_| {
            panic!(
                "podgate proxy printed nothing; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        let serving_on = line
            .strip_prefix("Starting to serve on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Self {
            child: Some(child),
            serving_on,
            log,
            _tmp: tmp,
        }
    }

    /// The TCP port it serves on.
    pub(crate) fn port(&self) -> u16 {
        self.serving_on
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a TCP address")
    }

    /// A raw HTTP/1.1 request with this `Host` header: (status, headers, body).
    pub(crate) fn request(
        &self,
        method: &str,
        path: &str,
        host: &str,
        headers: &[(&str, &str)],
    ) -> (u16, String, String) {
        let s = std::net::TcpStream::connect(("127.0.0.1", self.port())).expect("connect");
        raw_request(s, method, path, host, headers)
    }

    /// `GET path` with `Host: 127.0.0.1:PORT`.
    pub(crate) fn get(&self, path: &str) -> (u16, String, String) {
        let host = format!("127.0.0.1:{}", self.port());
        self.request("GET", path, &host, &[])
    }

    /// Runs the real kubectl against the proxy, with no credentials of its own.
    pub(crate) fn kubectl(&self, args: &[&str]) -> Output {
        let empty = self._tmp.path().join("empty-kubeconfig");
        std::fs::write(&empty, "").expect("empty kubeconfig");
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&empty)
            .arg("--server")
            .arg(format!("http://127.0.0.1:{}", self.port()))
            .args(args)
            .output()
            .expect("run kubectl")
    }

    /// Runs kubectl through the proxy, asserting success; returns stdout.
    pub(crate) fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Its log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = wait_for("podgate proxy to exit", || c.try_wait().ok().flatten());
        }
    }
}

/// Sends one request on `s` and reads the whole answer (`Connection: close`).
pub(crate) fn raw_request<S: Read + Write>(
    mut s: S,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Content-Length: 0\r\n\r\n");
    s.write_all(req.as_bytes()).expect("write");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, head.to_string(), body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Runs `podgate proxy <args>` expecting it to exit at once; returns (exit code, stderr).
pub(crate) fn run_expecting_exit(args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_podgate"))
        .arg("proxy")
        .args(args)
        .env_remove("KUBECONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start podgate proxy");
    let status = wait_for("podgate proxy to exit", || child.try_wait().ok().flatten());
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    (status.code().unwrap_or(-1), err)
}

/// Whether `path` exists within a few seconds.
pub(crate) fn appears(path: &Path) -> bool {
    for _ in 0..100 {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Creates a Running, Ready pod bound to a node no agent runs, whose IP and first container
/// port are `addr` (as `tests/gateway_proxy.rs` does).
pub(crate) fn fake_pod(
    pg: &Podgate,
    dir: &Path,
    name: &str,
    addr: std::net::SocketAddr,
    labels: &str,
) {
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\nspec:\n  nodeName: elsewhere\n  containers:\n  - name: c\n    image: x\n    command: [x]\n    ports:\n    - name: http\n      containerPort: {port}\n",
        port = addr.port()
    );
    let f = crate::common::manifest(dir, &format!("{name}.yaml"), &yaml);
    pg.kubectl_ok(&["apply", "-f", f.to_str().unwrap()]);
    let status = format!(
        r#"{{"status":{{"phase":"Running","podIP":"{ip}","podIPs":[{{"ip":"{ip}"}}],"conditions":[{{"type":"Ready","status":"True"}}]}}}}"#,
        ip = addr.ip()
    );
    pg.kubectl_ok(&[
        "patch",
        "pod",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status,
    ]);
}

/// A headless service `name` (port 80 named `http`) and one EndpointSlice with every
/// `(address, pod)` ready.
pub(crate) fn fake_service(
    pg: &Podgate,
    dir: &Path,
    name: &str,
    backends: &[(std::net::SocketAddr, &str)],
) {
    let svc = format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  clusterIP: None\n  ports:\n  - name: http\n    port: 80\n    targetPort: {port}\n",
        port = backends[0].0.port()
    );
    let mut eps = String::new();
    for (addr, pod) in backends {
        eps.push_str(&format!(
            "- addresses: [\"{}\"]\n  conditions: {{ready: true}}\n  targetRef: {{kind: Pod, name: {pod}, namespace: default}}\n",
            addr.ip()
        ));
    }
    let slice = format!(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {name}-abc\n  labels:\n    kubernetes.io/service-name: {name}\n    endpointslice.kubernetes.io/managed-by: tests\naddressType: IPv4\nports:\n- name: http\n  port: {port}\n  protocol: TCP\nendpoints:\n{eps}",
        port = backends[0].0.port()
    );
    for (file, text) in [("svc.yaml", svc), ("slice.yaml", slice)] {
        let f = crate::common::manifest(dir, file, &text);
        pg.kubectl_ok(&["apply", "-f", f.to_str().unwrap()]);
    }
}

/// A free port on `ip` at the moment of asking.
pub(crate) fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}
