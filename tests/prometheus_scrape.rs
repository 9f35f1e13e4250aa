//! Issue 15, must-show 1: a real Prometheus (Debian's `prometheus` package) discovers every
//! ordinal of a StatefulSet through `GET /sd/prometheus` and scrapes each pod through the
//! gateway's pod proxy, with a ServiceAccount token that may only `list pods` and
//! `get pods/proxy`; the targets follow a scale-up and a scale-down. The gateway's own
//! `/metrics` is scraped by an identity bound to `system:monitoring`, and refused to the
//! scraper's token. Everything is checked through Prometheus' own HTTP API.

#[path = "common/auth.rs"]
mod auth;
mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use auth::{apply, sa_token};
use common::{Podgate, wait_for};
use serde_json::Value;

const SETUP: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: prom}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: monitor}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: scraper}
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
- apiGroups: [""]
  resources: ["pods/proxy"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: prom-scraper}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: scraper}
subjects:
- {kind: ServiceAccount, name: prom, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: monitor-metrics}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:monitoring"}
subjects:
- {kind: ServiceAccount, name: monitor, namespace: default}
---
apiVersion: v1
kind: Service
metadata: {name: kubia}
spec:
  clusterIP: None
  selector: {app: kubia}
  ports:
  - {name: http, port: 80, targetPort: 8080}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: kubia}
spec:
  serviceName: kubia
  replicas: 3
  podManagementPolicy: Parallel
  selector:
    matchLabels: {app: kubia}
  template:
    metadata:
      labels: {app: kubia}
    spec:
      containers:
      - name: kubia
        image: luksa/kubia-pet
        command: ["podgate", "pet", "--data-dir", "/var/data"]
        env:
        - name: POD_IP
          valueFrom:
            fieldRef: {fieldPath: status.podIP}
        ports:
        - {name: metrics, containerPort: 8080}
        volumeMounts:
        - {name: data, mountPath: /var/data}
      volumes:
      - name: data
        emptyDir: {}
"#;

/// A running Prometheus, killed when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Prometheus {
    /// The end of Prometheus' log (for failure messages).
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// The scrape configuration: the pods found by HTTP SD, the gateway's `/metrics` with the
/// monitoring identity, and the same with the scraper's token (which must be refused).
/// Prometheus 2.42 sends the SD request's credentials without the `Bearer` prefix unless the
/// `type` is spelled out (its scrape requests default to Bearer).
fn config(gateway: u16, dir: &Path) -> String {
    let ca = dir.join("ca.crt");
    let prom = dir.join("prom.token");
    let monitor = dir.join("monitor.token");
    let (ca, prom, monitor) = (ca.display(), prom.display(), monitor.display());
    format!(
        r#"global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
- job_name: pods
  authorization: {{credentials_file: "{prom}"}}
  tls_config: {{ca_file: "{ca}"}}
  http_sd_configs:
  - url: https://127.0.0.1:{gateway}/sd/prometheus?namespace=default
    refresh_interval: 1s
    authorization: {{type: Bearer, credentials_file: "{prom}"}}
    tls_config: {{ca_file: "{ca}"}}
- job_name: gateway
  scheme: https
  authorization: {{credentials_file: "{monitor}"}}
  tls_config: {{ca_file: "{ca}"}}
  static_configs:
  - targets: ["127.0.0.1:{gateway}"]
- job_name: gateway-as-scraper
  scheme: https
  authorization: {{credentials_file: "{prom}"}}
  tls_config: {{ca_file: "{ca}"}}
  static_configs:
  - targets: ["127.0.0.1:{gateway}"]
"#
    )
}

/// Starts Prometheus on a free loopback port with `config`, its data under `dir`.
fn start_prometheus(dir: &Path, config: &str) -> Prometheus {
    let file = dir.join("prometheus.yml");
    std::fs::write(&file, config).expect("prometheus.yml");
    let port = free_port();
    let log_path = dir.join("prometheus.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("run prometheus (Debian package `prometheus`)");
    let prom = Prometheus {
        child,
        port,
        log: log_path,
    };
    wait_for("Prometheus to be ready", || {
        (curl(port, "/-/ready", &[]).is_some()).then_some(())
    });
    prom
}

/// `GET path` on Prometheus' HTTP API with curl (`args`: more curl arguments); `None` unless 2xx.
fn curl(port: u16, path: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("curl")
        .args(["-sSf", "--max-time", "10"])
        .args(args)
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The active targets of `job`.
fn targets(prom: &Prometheus, job: &str) -> Vec<Value> {
    let Some(text) = curl(prom.port, "/api/v1/targets?state=active", &[]) else {
        return Vec::new();
    };
    let doc: Value = serde_json::from_str(&text).unwrap_or_default();
    doc["data"]["activeTargets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["labels"]["job"] == job)
        .cloned()
        .collect()
}

/// The result vector of an instant query.
fn query(prom: &Prometheus, q: &str) -> Vec<Value> {
    let Some(text) = curl(
        prom.port,
        "/api/v1/query",
        &["-G", "--data-urlencode", &format!("query={q}")],
    ) else {
        return Vec::new();
    };
    let doc: Value = serde_json::from_str(&text).unwrap_or_default();
    doc["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `(pod, ordinal, value)` of every series of an instant query, sorted.
fn by_pod(series: &[Value]) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = series
        .iter()
        .map(|s| {
            let m = &s["metric"];
            (
                m["pod"].as_str().unwrap_or("").to_string(),
                m["ordinal"].as_str().unwrap_or("").to_string(),
                s["value"][1].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Waits until the pods job has exactly the ordinals `want`, every one up; on timeout the
/// failure shows what Prometheus saw last.
fn wait_for_ordinals(prom: &Prometheus, want: &[u32]) {
    let expected: Vec<(String, String, String)> = want
        .iter()
        .map(|i| (format!("kubia-{i}"), i.to_string(), "1".to_string()))
        .collect();
    let start = std::time::Instant::now();
    loop {
        let active = targets(prom, "pods");
        let healthy = active.len() == want.len() && active.iter().all(|t| t["health"] == "up");
        let up = by_pod(&query(prom, "up{job=\"pods\"}"));
        if healthy && up == expected {
            return;
        }
        assert!(
            start.elapsed() < common::DEADLINE,
            "timed out waiting for ordinals {want:?} discovered and up: targets {active:#?}, up {up:?}; Prometheus' log:\n{}",
            prom.log_tail()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn prometheus_discovers_and_scrapes_every_ordinal_through_the_gateway() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pg = Podgate::start(&["--no-dns"]);
    apply(&pg, dir.path(), "setup.yaml", SETUP);
    std::fs::copy(pg.state_dir.join("ca.crt"), dir.path().join("ca.crt")).expect("ca.crt");
    std::fs::write(
        dir.path().join("prom.token"),
        sa_token(&pg, "default", "prom"),
    )
    .expect("prom.token");
    std::fs::write(
        dir.path().join("monitor.token"),
        sa_token(&pg, "default", "monitor"),
    )
    .expect("monitor.token");
    let prom = start_prometheus(dir.path(), &config(pg.port, dir.path()));

    // Every ordinal discovered, scraped through the pod proxy and up, with its labels.
    wait_for_ordinals(&prom, &[0, 1, 2]);
    let active = targets(&prom, "pods");
    for t in &active {
        let pod = t["labels"]["pod"].as_str().expect("pod label");
        assert_eq!(t["labels"]["statefulset"], "kubia", "{t}");
        assert_eq!(t["labels"]["namespace"], "default", "{t}");
        assert_eq!(
            t["scrapeUrl"],
            format!(
                "https://127.0.0.1:{}/api/v1/namespaces/default/pods/{pod}:metrics/proxy/metrics",
                pg.port
            ),
            "{t}"
        );
    }
    // The pods' own series carry one value per ordinal.
    let stored = wait_for("kubia_stored_bytes of every ordinal", || {
        let s = by_pod(&query(&prom, "kubia_stored_bytes"));
        (s.len() == 3).then_some(s)
    });
    let ordinals: Vec<&str> = stored.iter().map(|(_, o, _)| o.as_str()).collect();
    assert_eq!(ordinals, ["0", "1", "2"], "{stored:?}");

    // The gateway's own metrics: up for the system:monitoring identity, 403 for the scraper.
    wait_for("the gateway's /metrics scraped", || {
        let up = query(&prom, "up{job=\"gateway\"}");
        let requests = query(&prom, "podgate_requests_total{job=\"gateway\"}");
        (up.len() == 1 && up[0]["value"][1] == "1" && !requests.is_empty()).then_some(())
    });
    let denied = wait_for("the scraper refused at /metrics", || {
        let t = targets(&prom, "gateway-as-scraper");
        (t.len() == 1 && t[0]["health"] == "down").then(|| t[0].clone())
    });
    assert!(
        denied["lastError"].as_str().unwrap_or("").contains("403"),
        "{denied}"
    );

    // A scale-up adds the new ordinal; a scale-down removes it and the one below.
    pg.kubectl_ok(&["scale", "statefulset", "kubia", "--replicas=4"]);
    wait_for_ordinals(&prom, &[0, 1, 2, 3]);
    pg.kubectl_ok(&["scale", "statefulset", "kubia", "--replicas=2"]);
    wait_for_ordinals(&prom, &[0, 1]);

    // The tokens appear nowhere in podgate's log.
    let log = pg.log();
    for file in ["prom.token", "monitor.token"] {
        let token = std::fs::read_to_string(dir.path().join(file)).expect("token");
        auth::assert_not_logged(&log, &token, file);
    }
}
