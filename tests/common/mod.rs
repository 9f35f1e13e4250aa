//! Test harness: a real `podgate up` process on loopback, the real `kubectl`, deadline-bounded polls.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before it fails.
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

/// Polls `f` until it returns `Some`, failing the test after `DEADLINE`.
pub(crate) fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running `podgate up`.
pub(crate) struct Podgate {
    pub state_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    child: Option<Child>,
    pub port: u16,
    /// `--listen` (`127.0.0.1:0` unless started with [`Podgate::start_with`]).
    listen: String,
    /// Extra environment of the process.
    env: Vec<(String, String)>,
}

impl Podgate {
    /// Starts `podgate up` on a free loopback port with a fresh state dir.
    pub(crate) fn start(extra: &[&str]) -> Self {
        Self::start_with("127.0.0.1:0", &[], extra)
    }

    /// Starts `podgate up` listening on `listen` (port 0 picks one; the kubeconfig names
    /// 127.0.0.1 for an unspecified address) with `env` added to its environment.
    pub(crate) fn start_with(listen: &str, env: &[(&str, &str)], extra: &[&str]) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let state_dir = tmp.path().join("state");
        let mut p = Podgate {
            state_dir,
            _tmp: Some(tmp),
            child: None,
            port: 0,
            listen: listen.to_string(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        p.spawn(extra);
        p
    }

    /// Starts (again) on the same state dir.
    pub(crate) fn spawn(&mut self, extra: &[&str]) {
        let _ = std::fs::remove_file(self.state_dir.join("kubeconfig"));
        let log = std::fs::File::create(self.state_dir.with_extension("log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_podgate"))
            .arg("up")
            .arg("--listen")
            .arg(&self.listen)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .args(extra)
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start podgate up");
        self.child = Some(child);
        let kubeconfig = self.kubeconfig();
        self.port = wait_for("the kubeconfig", || {
            let text = std::fs::read_to_string(&kubeconfig).ok()?;
            let server = text
                .lines()
                .find(|l| l.trim_start().starts_with("server:"))?;
            server.rsplit(':').next()?.trim().parse().ok()
        });
        let port = self.port;
        wait_for("/readyz", || {
            (http_get(port, "/readyz").ok()?.0 == 200).then_some(())
        });
    }

    /// The process id of `podgate up`.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The kubeconfig `podgate up` wrote.
    pub(crate) fn kubeconfig(&self) -> PathBuf {
        self.state_dir.join("kubeconfig")
    }

    /// The admin token.
    pub(crate) fn token(&self) -> String {
        std::fs::read_to_string(self.state_dir.join("token"))
            .expect("token")
            .trim()
            .to_string()
    }

    /// Runs kubectl against this podgate.
    pub(crate) fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .output()
            .expect("run kubectl")
    }

    /// Runs kubectl, asserting success, and returns stdout.
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

    /// A kube-rs client from the kubeconfig (real HTTPS).
    pub(crate) async fn client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(self.kubeconfig()).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("config");
        kube::Client::try_from(config).expect("client")
    }

    /// Kills the process with SIGKILL and waits for it.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits for a graceful exit.
    pub(crate) fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        unsafe_free_sigterm(c.id());
        wait_for("podgate to exit", || c.try_wait().ok().flatten())
    }

    /// The server's log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.state_dir.with_extension("log")).unwrap_or_default()
    }
}

impl Drop for Podgate {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe_free_sigterm(c.id());
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(15) {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn unsafe_free_sigterm(pid: u32) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
}

/// A plain-HTTP GET on loopback (no credentials): (status, body).
pub(crate) fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    http_request(port, "GET", path, &[], b"")
}

/// A plain-HTTP/1.1 request on loopback: (status, body).
pub(crate) fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    http_request_to("127.0.0.1", port, method, path, headers, body)
}

/// A plain-HTTP/1.1 request to `/` of a pod's own address (any loopback IP): (status, body),
/// `None` when it cannot be made.
pub(crate) fn pod_http(ip: &str, port: u16, method: &str, body: &str) -> Option<(u16, String)> {
    http_request_to(ip, port, method, "/", &[], body.as_bytes()).ok()
}

/// A plain-HTTP/1.1 request to `ip:port`: (status, body).
pub(crate) fn http_request_to(
    ip: &str,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect((ip, port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {ip}:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Writes `text` to a file in a fresh temp dir and returns its path (the dir lives as long as the test).
pub(crate) fn manifest(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write manifest");
    p
}
