//! Helpers shared by the controller tests: a `podgate up` with kubectl and a kube-rs client,
//! the readiness primitives of statefulset-spec.md §8.0 (status patches, as no node agent
//! runs here), pod and claim listings, and a recorder for `kubectl get -w` event streams.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::common::{Podgate, wait_for};

/// A running `podgate up` with a kube-rs client on a private runtime.
pub struct Cluster {
    /// The process and its state dir.
    pub pg: Podgate,
    rt: tokio::runtime::Runtime,
    /// kube-rs over the kubeconfig (real HTTPS).
    pub client: kube::Client,
}

impl Cluster {
    /// Starts `podgate up` on a fresh state dir.
    pub fn start() -> Self {
        let pg = Podgate::start(&[]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let client = rt.block_on(pg.client());
        Self { pg, rt, client }
    }

    /// Stops `podgate up` gracefully and starts it again on the same state dir.
    pub fn restart(&mut self) {
        assert!(self.pg.terminate().success(), "podgate exits cleanly");
        self.pg.spawn(&[]);
        self.client = self.rt.block_on(self.pg.client());
    }

    /// Runs a future on the test's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// kubectl with these args.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.pg.kubectl(args)
    }

    /// kubectl, asserting success; stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        self.pg.kubectl_ok(args)
    }

    /// `kubectl <verb> -f -` with `manifest` on stdin.
    pub fn with_stdin(&self, verb: &str, manifest: &str) -> Output {
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.pg.kubeconfig())
            .args([verb, "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(manifest.as_bytes())
            .expect("write manifest");
        child.wait_with_output().expect("kubectl")
    }

    /// `kubectl apply -f -` with `yaml` on stdin; stdout.
    pub fn apply(&self, yaml: &str) -> String {
        let out = self.with_stdin("apply", yaml);
        assert!(
            out.status.success(),
            "kubectl apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// §8.0 `ready(p)`: phase Running and Ready=True, by `kubectl patch --subresource=status`.
    pub fn ready(&self, pod: &str) {
        self.set_ready(pod, "Running", "True");
    }

    /// §8.0 `unready(p)`.
    pub fn unready(&self, pod: &str) {
        self.set_ready(pod, "Running", "False");
    }

    /// §8.0 `fail(p)`: phase Failed.
    pub fn fail(&self, pod: &str) {
        self.set_ready(pod, "Failed", "False");
    }

    fn set_ready(&self, pod: &str, phase: &str, ready: &str) {
        let patch = json!({"status": {"phase": phase, "conditions": [
            {"type": "Ready", "status": ready, "lastTransitionTime": now()}
        ]}})
        .to_string();
        self.kubectl_ok(&[
            "patch",
            "pod",
            pod,
            "--subresource=status",
            "--type=strategic",
            "-p",
            &patch,
        ]);
    }

    /// Makes every pod matching `selector` Running and Ready through the API (fast; for the
    /// steps a scenario does not look at).
    pub fn ready_all(&self, selector: &str) {
        let api: Api<Pod> = Api::default_namespaced(self.client.clone());
        for p in self.pods(selector) {
            if is_ready(&p) || p.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let patch = json!({"status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": now()}
            ]}});
            let _ = self.block_on(api.patch_status(
                &p.name_any(),
                &PatchParams::default(),
                &Patch::Strategic(&patch),
            ));
        }
    }

    /// The pods matching `selector` in the default namespace, by ordinal.
    pub fn pods(&self, selector: &str) -> Vec<Pod> {
        let api: Api<Pod> = Api::default_namespaced(self.client.clone());
        let mut pods = self
            .block_on(api.list(&ListParams::default().labels(selector)))
            .expect("list pods")
            .items;
        pods.sort_by_key(|p| ordinal(&p.name_any()));
        pods
    }

    /// The names of the active pods (not terminating, not finished) matching `selector`.
    pub fn active(&self, selector: &str) -> Vec<String> {
        self.pods(selector)
            .into_iter()
            .filter(|p| {
                p.metadata.deletion_timestamp.is_none()
                    && !matches!(phase(p).as_str(), "Failed" | "Succeeded")
            })
            .map(|p| p.name_any())
            .collect()
    }

    /// The active pods matching `selector` when every one of them is Ready (one listing).
    pub fn all_ready(&self, selector: &str) -> Option<Vec<String>> {
        let active: Vec<Pod> = self
            .pods(selector)
            .into_iter()
            .filter(|p| {
                p.metadata.deletion_timestamp.is_none()
                    && !matches!(phase(p).as_str(), "Failed" | "Succeeded")
            })
            .collect();
        active
            .iter()
            .all(is_ready)
            .then(|| active.iter().map(|p| p.name_any()).collect())
    }

    /// One pod, if it exists.
    pub fn pod(&self, name: &str) -> Option<Pod> {
        let api: Api<Pod> = Api::default_namespaced(self.client.clone());
        self.block_on(api.get_opt(name)).expect("get pod")
    }

    /// A StatefulSet.
    pub fn sts(&self, name: &str) -> StatefulSet {
        let api: Api<StatefulSet> = Api::default_namespaced(self.client.clone());
        self.block_on(api.get(name)).expect("get sts")
    }

    /// Waits until the controller has seen the set's latest spec; returns the set.
    pub fn observed(&self, name: &str) -> StatefulSet {
        wait_for(&format!("{name} observed"), || {
            let s = self.sts(name);
            let seen = s.status.as_ref().and_then(|st| st.observed_generation);
            (seen >= s.metadata.generation).then_some(s)
        })
    }

    /// The claims in the default namespace, by name.
    pub fn claims(&self) -> BTreeMap<String, PersistentVolumeClaim> {
        let api: Api<PersistentVolumeClaim> = Api::default_namespaced(self.client.clone());
        self.block_on(api.list(&ListParams::default()))
            .expect("list claims")
            .items
            .into_iter()
            .map(|c| (c.name_any(), c))
            .collect()
    }

    /// The names of the claims in the default namespace.
    pub fn claim_names(&self) -> Vec<String> {
        self.claims().into_keys().collect()
    }

    /// `kubectl get -o jsonpath=…` of one object.
    pub fn jsonpath(&self, what: &[&str], path: &str) -> String {
        let mut args: Vec<&str> = vec!["get"];
        args.extend_from_slice(what);
        let expr = format!("jsonpath={path}");
        args.extend_from_slice(&["-o", &expr]);
        self.kubectl_ok(&args)
    }

    /// The messages of the events about an object (`kind/name`), oldest first.
    pub fn events_about(&self, kind: &str, name: &str) -> Vec<(String, String, String, String)> {
        let out = self.kubectl_ok(&[
            "get",
            "events",
            "--field-selector",
            &format!("involvedObject.kind={kind},involvedObject.name={name}"),
            "-o",
            "json",
        ]);
        let v: Value = serde_json::from_str(&out).expect("events json");
        v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let s = |p: &str| {
                    e.pointer(p)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                (
                    s("/type"),
                    s("/reason"),
                    s("/message"),
                    s("/source/component"),
                )
            })
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.pg.log();
            let tail: Vec<&str> = log.lines().rev().take(80).collect();
            let out = self.pg.kubectl(&["get", "pods,sts,pvc,pv", "-A", "-o", "custom-columns=N:.metadata.name,RV:.metadata.resourceVersion,PH:.status.phase,C:.status.conditions"]);
            eprintln!("--- objects ---\n{}", String::from_utf8_lossy(&out.stdout));
            eprintln!("--- podgate log (last lines) ---");
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
    }
}

/// The ordinal in a pod name (for sorting).
pub fn ordinal(name: &str) -> i64 {
    name.rsplit_once('-')
        .and_then(|(_, o)| o.parse().ok())
        .unwrap_or(-1)
}

/// A pod's phase.
pub fn phase(p: &Pod) -> String {
    p.status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default()
}

/// Ready=True.
pub fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// A pod's revision label.
pub fn revision(p: &Pod) -> String {
    p.labels()
        .get("controller-revision-hash")
        .cloned()
        .unwrap_or_default()
}

/// The claim names a pod mounts.
pub fn pod_claims(p: &Pod) -> Vec<String> {
    p.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| {
            v.persistent_volume_claim
                .as_ref()
                .map(|c| c.claim_name.clone())
        })
        .collect()
}

/// Now, as Kubernetes writes timestamps.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// One event of a `kubectl get -w --output-watch-events -o json` stream.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    /// ADDED, MODIFIED or DELETED.
    pub kind: String,
    /// The object.
    pub object: Value,
}

impl WatchEvent {
    /// The object's name.
    pub fn name(&self) -> &str {
        self.object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// Whether the pod in the event is Running and Ready.
    pub fn running_and_ready(&self) -> bool {
        let p: Pod = serde_json::from_value(self.object.clone()).unwrap_or_default();
        phase(&p) == "Running" && is_ready(&p)
    }
}

/// A `kubectl get <what> -w --output-watch-events -o json` running in the background.
pub struct KubectlWatch {
    child: Child,
    rx: mpsc::Receiver<WatchEvent>,
    /// Every event received so far.
    pub seen: Vec<WatchEvent>,
}

impl KubectlWatch {
    /// Starts watching.
    pub fn start(c: &Cluster, args: &[&str]) -> Self {
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(c.pg.kubeconfig())
            .arg("get")
            .args(args)
            .args(["-w", "--output-watch-events", "-o", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl get -w");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let reader = BufReader::new(stdout);
            let stream = serde_json::Deserializer::from_reader(reader).into_iter::<Value>();
            for v in stream.map_while(Result::ok) {
                let kind = v["type"].as_str().unwrap_or("").to_string();
                if tx
                    .send(WatchEvent {
                        kind,
                        object: v["object"].clone(),
                    })
                    .is_err()
                {
                    break;
                }
            }
        });
        Self {
            child,
            rx,
            seen: Vec::new(),
        }
    }

    /// Takes in what arrived.
    pub fn drain(&mut self) -> &[WatchEvent] {
        while let Ok(e) = self.rx.try_recv() {
            self.seen.push(e);
        }
        &self.seen
    }

    /// Waits until `f` holds for the events so far.
    pub fn wait_until(&mut self, what: &str, f: impl Fn(&[WatchEvent]) -> bool) {
        wait_for(what, || f(self.drain()).then_some(()));
    }

    /// The names with a `kind` event, in arrival order (first occurrence each).
    pub fn order(&self, kind: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in self.seen.iter().filter(|e| e.kind == kind) {
            if !out.iter().any(|n| n == e.name()) {
                out.push(e.name().to_string());
            }
        }
        out
    }
}

impl Drop for KubectlWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
