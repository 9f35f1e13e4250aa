//! Helpers shared by the controller tests: a `podgate up` with kubectl and a kube-rs client,
//! the readiness primitives of statefulset-spec.md §8.0, pod and claim listings, a recorder
//! for `kubectl get -w` event streams, and a view of the node agent's pod processes.
//!
//! `podgate up` runs a node agent that binds every pod asking for `default-scheduler` (or for
//! no scheduler) to its node, runs it as local processes and owns its status from then on.
//! Most controller scenarios need pods that are Ready, unready or Failed on command, so their
//! pod templates ask for [`UNSERVED_SCHEDULER`], a scheduler nobody runs: such pods are never
//! bound, the node agent leaves them alone, and the test plays kubelet with status patches
//! exactly as §8.0 describes ([`Cluster::ready`], [`Cluster::unready`], [`Cluster::fail`]).
//! Those primitives refuse to touch a pod bound to a node, so a fixture that forgets the
//! scheduler fails loudly instead of racing the node agent.
//!
//! The scenarios whose point is real processes (readiness from a probe, process counts) leave
//! `schedulerName` alone and let the node agent run `podgate pet`. Every `podgate up` hands
//! out pod IPs from the same base, so such tests hold [`real_pods`] while they run.

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

/// A `schedulerName` nobody serves: pods asking for it stay unbound, so the node agent never
/// runs them and the test sets their status (see the module doc).
pub(crate) const UNSERVED_SCHEDULER: &str = "status-patched-by-the-test";

/// Every `podgate up` hands out pod IPs from 127.1.0.1, and `podgate pet` listens on its pod
/// IP: tests of one binary that run pods on the node agent take turns.
static REAL_PODS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Held by a test while its pods run as processes on the node agent.
pub(crate) fn real_pods() -> std::sync::MutexGuard<'static, ()> {
    REAL_PODS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running `podgate up` with a kube-rs client on a private runtime.
pub(crate) struct Cluster {
    /// The process and its state dir.
    pub pg: Podgate,
    rt: tokio::runtime::Runtime,
    /// kube-rs over the kubeconfig (real HTTPS).
    pub client: kube::Client,
}

impl Cluster {
    /// Starts `podgate up` on a fresh state dir.
    pub(crate) fn start() -> Self {
        let pg = Podgate::start(&[]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let client = rt.block_on(pg.client());
        Self { pg, rt, client }
    }

    /// Stops `podgate up` gracefully and starts it again on the same state dir.
    pub(crate) fn restart(&mut self) {
        assert!(self.pg.terminate().success(), "podgate exits cleanly");
        self.pg.spawn(&[]);
        self.client = self.rt.block_on(self.pg.client());
    }

    /// Runs a future on the test's runtime.
    pub(crate) fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// kubectl with these args.
    pub(crate) fn kubectl(&self, args: &[&str]) -> Output {
        self.pg.kubectl(args)
    }

    /// kubectl, asserting success; stdout.
    pub(crate) fn kubectl_ok(&self, args: &[&str]) -> String {
        self.pg.kubectl_ok(args)
    }

    /// `kubectl <verb> -f -` with `manifest` on stdin.
    pub(crate) fn with_stdin(&self, verb: &str, manifest: &str) -> Output {
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
    pub(crate) fn apply(&self, yaml: &str) -> String {
        let out = self.with_stdin("apply", yaml);
        assert!(
            out.status.success(),
            "kubectl apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// §8.0 `ready(p)`: phase Running and Ready=True, by `kubectl patch --subresource=status`.
    pub(crate) fn ready(&self, pod: &str) {
        self.set_ready(pod, "Running", "True");
    }

    /// §8.0 `unready(p)`.
    pub(crate) fn unready(&self, pod: &str) {
        self.set_ready(pod, "Running", "False");
    }

    /// §8.0 `fail(p)`: phase Failed.
    pub(crate) fn fail(&self, pod: &str) {
        self.set_ready(pod, "Failed", "False");
    }

    fn set_ready(&self, pod: &str, phase: &str, ready: &str) {
        let patch = json!({"status": {"phase": phase, "conditions": [
            {"type": "Ready", "status": ready, "lastTransitionTime": now()}
        ]}});
        self.patch_status(pod, &patch);
    }

    /// `kubectl patch pod --subresource=status --type=strategic` for a pod no node agent runs
    /// (asserted: a bound pod's status belongs to the node agent).
    pub(crate) fn patch_status(&self, pod: &str, patch: &Value) {
        let node = self.kubectl_ok(&[
            "patch",
            "pod",
            pod,
            "--subresource=status",
            "--type=strategic",
            "-p",
            &patch.to_string(),
            "-o",
            "jsonpath={.spec.nodeName}",
        ]);
        assert!(
            node.is_empty(),
            "{pod} is bound to node {node:?}: its template must ask for UNSERVED_SCHEDULER"
        );
    }

    /// Makes every pod matching `selector` Running and Ready through the API (fast; for the
    /// steps a scenario does not look at).
    pub(crate) fn ready_all(&self, selector: &str) {
        let api: Api<Pod> = Api::default_namespaced(self.client.clone());
        for p in self.pods(selector) {
            if is_ready(&p) || p.metadata.deletion_timestamp.is_some() {
                continue;
            }
            assert_unbound(&p);
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
    pub(crate) fn pods(&self, selector: &str) -> Vec<Pod> {
        let api: Api<Pod> = Api::default_namespaced(self.client.clone());
        let mut pods = self
            .block_on(api.list(&ListParams::default().labels(selector)))
            .expect("list pods")
            .items;
        pods.sort_by_key(|p| ordinal(&p.name_any()));
        pods
    }

    /// The names of the active pods (not terminating, not finished) matching `selector`.
    pub(crate) fn active(&self, selector: &str) -> Vec<String> {
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
    pub(crate) fn all_ready(&self, selector: &str) -> Option<Vec<String>> {
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
    pub(crate) fn pod(&self, name: &str) -> Option<Pod> {
        let api: Api<Pod> = Api::default_namespaced(self.client.clone());
        self.block_on(api.get_opt(name)).expect("get pod")
    }

    /// A StatefulSet.
    pub(crate) fn sts(&self, name: &str) -> StatefulSet {
        let api: Api<StatefulSet> = Api::default_namespaced(self.client.clone());
        self.block_on(api.get(name)).expect("get sts")
    }

    /// Waits until the controller has seen the set's latest spec; returns the set.
    pub(crate) fn observed(&self, name: &str) -> StatefulSet {
        wait_for(&format!("{name} observed"), || {
            let s = self.sts(name);
            let seen = s.status.as_ref().and_then(|st| st.observed_generation);
            (seen >= s.metadata.generation).then_some(s)
        })
    }

    /// The claims in the default namespace, by name.
    pub(crate) fn claims(&self) -> BTreeMap<String, PersistentVolumeClaim> {
        let api: Api<PersistentVolumeClaim> = Api::default_namespaced(self.client.clone());
        self.block_on(api.list(&ListParams::default()))
            .expect("list claims")
            .items
            .into_iter()
            .map(|c| (c.name_any(), c))
            .collect()
    }

    /// The names of the claims in the default namespace.
    pub(crate) fn claim_names(&self) -> Vec<String> {
        self.claims().into_keys().collect()
    }

    /// `kubectl get -o jsonpath=…` of one object.
    pub(crate) fn jsonpath(&self, what: &[&str], path: &str) -> String {
        let mut args: Vec<&str> = vec!["get"];
        args.extend_from_slice(what);
        let expr = format!("jsonpath={path}");
        args.extend_from_slice(&["-o", &expr]);
        self.kubectl_ok(&args)
    }

    /// The messages of the events about an object (`kind/name`), oldest first.
    pub(crate) fn events_about(
        &self,
        kind: &str,
        name: &str,
    ) -> Vec<(String, String, String, String)> {
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

/// One live process the node agent of a cluster started for a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PodProcess {
    /// The process id.
    pub pid: u32,
    /// `HOSTNAME` in its environment: the pod's host name (a StatefulSet pod's name).
    pub hostname: String,
    /// The pod's uid (from `PODGATE_CONTAINER=<uid>/<container>`).
    pub uid: String,
    /// Its start time in clock ticks after boot (tells a reused pid apart).
    pub started: u64,
}

impl PodProcess {
    /// Whether this very process (same pid, same start time) is still alive and not a zombie.
    pub(crate) fn alive(&self) -> bool {
        proc_stat(self.pid).is_some_and(|(zombie, started)| !zombie && started == self.started)
    }
}

/// (zombie, start time) of a process, from `/proc/<pid>/stat`.
fn proc_stat(pid: u32) -> Option<(bool, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3 of stat(5), starttime field 22.
    Some((fields.first()? == &"Z", fields.get(19)?.parse().ok()?))
}

impl Cluster {
    /// The node agent's process view, read from the OS: the live (non-zombie) processes whose
    /// environment carries this cluster's node directory (`PODGATE_NODE_DIR`), which the node
    /// agent puts into every container process it starts.
    pub(crate) fn pod_processes(&self) -> Vec<PodProcess> {
        node_processes(&self.node_dir())
    }

    /// The node agent's directory, as it writes it into its processes' environment.
    pub(crate) fn node_dir(&self) -> String {
        let dir = self.pg.state_dir.join("node");
        std::fs::canonicalize(&dir)
            .unwrap_or(dir)
            .display()
            .to_string()
    }

    /// A pod's IP once it is Running on the node agent.
    pub(crate) fn running_ip(&self, name: &str) -> Option<String> {
        let p = self.pod(name)?;
        let status = p.status.as_ref()?;
        (status.phase.as_deref() == Some("Running")).then_some(())?;
        status.pod_ip.clone().filter(|ip| !ip.is_empty())
    }
}

/// The live container processes of the node agent whose node directory is `node_dir`.
pub(crate) fn node_processes(node_dir: &str) -> Vec<PodProcess> {
    let node_mark = format!("PODGATE_NODE_DIR={node_dir}");
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let vars: Vec<&[u8]> = env.split(|b| *b == 0).collect();
        if !vars.contains(&node_mark.as_bytes()) {
            continue;
        }
        let var = |key: &str| {
            vars.iter()
                .filter_map(|kv| std::str::from_utf8(kv).ok())
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .map(String::from)
        };
        let (Some(hostname), Some(container)) = (var("HOSTNAME"), var("PODGATE_CONTAINER")) else {
            continue;
        };
        let Some((false, started)) = proc_stat(pid) else {
            continue;
        };
        let uid = container
            .split_once('/')
            .map_or(container.as_str(), |(uid, _)| uid)
            .to_string();
        out.push(PodProcess {
            pid,
            hostname,
            uid,
            started,
        });
    }
    out
}

/// A `podgate pet` container (the kubia app of deploy/examples/kubia.yaml) storing its data
/// in `volume` mounted at /var/data, with `readiness` as its readiness probe.
pub(crate) fn pet_container(volume: &str, readiness: Value) -> Value {
    json!({
        "name": "pet",
        "image": "luksa/kubia-pet",
        "command": ["podgate", "pet", "--data-dir", "/var/data"],
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": readiness,
        "volumeMounts": [{"name": volume, "mountPath": "/var/data"}]
    })
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

/// Fails the test when `p` is bound to a node (its status is the node agent's).
fn assert_unbound(p: &Pod) {
    let node = p.spec.as_ref().and_then(|s| s.node_name.as_deref());
    assert!(
        node.is_none_or(str::is_empty),
        "{} is bound to node {node:?}: its template must ask for UNSERVED_SCHEDULER",
        p.name_any()
    );
}

/// The ordinal in a pod name (for sorting).
pub(crate) fn ordinal(name: &str) -> i64 {
    name.rsplit_once('-')
        .and_then(|(_, o)| o.parse().ok())
        .unwrap_or(-1)
}

/// A pod's phase.
pub(crate) fn phase(p: &Pod) -> String {
    p.status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default()
}

/// Ready=True.
pub(crate) fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// A pod's revision label.
pub(crate) fn revision(p: &Pod) -> String {
    p.labels()
        .get("controller-revision-hash")
        .cloned()
        .unwrap_or_default()
}

/// The claim names a pod mounts.
pub(crate) fn pod_claims(p: &Pod) -> Vec<String> {
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
pub(crate) fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// One event of a `kubectl get -w --output-watch-events -o json` stream.
#[derive(Debug, Clone)]
pub(crate) struct WatchEvent {
    /// ADDED, MODIFIED or DELETED.
    pub kind: String,
    /// The object.
    pub object: Value,
}

impl WatchEvent {
    /// The object's name.
    pub(crate) fn name(&self) -> &str {
        self.object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The pod in the event.
    pub(crate) fn pod(&self) -> Pod {
        serde_json::from_value(self.object.clone()).unwrap_or_default()
    }

    /// Whether the pod in the event is Running and Ready.
    pub(crate) fn running_and_ready(&self) -> bool {
        let p = self.pod();
        phase(&p) == "Running" && is_ready(&p)
    }

    /// Whether the pod in the event is marked for deletion.
    pub(crate) fn terminating(&self) -> bool {
        self.object.pointer("/metadata/deletionTimestamp").is_some()
    }
}

/// The last event about `name` before index `before`.
pub(crate) fn last_state(events: &[WatchEvent], name: &str, before: usize) -> Option<WatchEvent> {
    events[..before]
        .iter()
        .rev()
        .find(|e| e.name() == name)
        .cloned()
}

/// The index of the first event about `name` that satisfies `f`.
pub(crate) fn first_event(
    events: &[WatchEvent],
    name: &str,
    f: impl Fn(&WatchEvent) -> bool,
) -> Option<usize> {
    events.iter().position(|e| e.name() == name && f(e))
}

/// A `kubectl get <what> -w --output-watch-events -o json` running in the background.
pub(crate) struct KubectlWatch {
    child: Child,
    rx: mpsc::Receiver<WatchEvent>,
    /// Every event received so far.
    pub seen: Vec<WatchEvent>,
}

impl KubectlWatch {
    /// Starts watching.
    pub(crate) fn start(c: &Cluster, args: &[&str]) -> Self {
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
    pub(crate) fn drain(&mut self) -> &[WatchEvent] {
        while let Ok(e) = self.rx.try_recv() {
            self.seen.push(e);
        }
        &self.seen
    }

    /// Waits until `f` holds for the events so far.
    pub(crate) fn wait_until(&mut self, what: &str, f: impl Fn(&[WatchEvent]) -> bool) {
        wait_for(what, || f(self.drain()).then_some(()));
    }

    /// The names with a `kind` event, in arrival order (first occurrence each).
    pub(crate) fn order(&self, kind: &str) -> Vec<String> {
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
