//! One pod on this node: set up its volumes, run its init containers in order and then its
//! containers, publish its status, and take it down when it is deleted (then remove the Pod
//! object, as the kubelet finishes a graceful deletion).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod, PodStatus};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::{Notify, watch};

use super::container::{self, ContainerCtx, Finish, Stop};
use super::env::PodFacts;
use super::events::{Kind, PodRef, Recorder};
use super::logs::{ContainerLog, LogLimits};
use super::podstatus::{self, ContainerRuntime, PodRuntime, State, Termination};
use super::process::IsolationMode;
use super::stream::live::LiveContainer;
use super::task::AbortOnDrop;
use super::volumes::{self, Layout, Prepared};

/// How long podgate's own shutdown waits for a pod's processes at most.
pub const SHUTDOWN_GRACE_CAP: Duration = Duration::from_secs(10);

/// Node-wide state shared by all pod workers.
pub struct Shared {
    /// The API client.
    pub client: kube::Client,
    /// This node's name.
    pub node_name: String,
    /// `<state>/node`.
    pub node_dir: PathBuf,
    /// Directory of the podgate binary (first on the pods' `PATH`).
    pub bin_dir: PathBuf,
    /// The node's IP (127.0.0.1).
    pub host_ip: Ipv4Addr,
    /// What isolation the OS allows.
    pub isolation: IsolationMode,
    /// Log file limits.
    pub log_limits: LogLimits,
    /// Records events as the kubelet.
    pub recorder: Recorder,
    /// Live pods by namespace and name (for the log endpoint).
    pub registry: Registry,
    /// The cluster DNS settings for pods.
    pub dns: super::PodDns,
}

/// Live pods by `(namespace, name)`.
pub type Registry = Arc<Mutex<HashMap<(String, String), Arc<PodHandle>>>>;

/// A live pod's state, shared between its worker, its containers and the log endpoint.
pub struct PodHandle {
    /// Which pod.
    pub key: PodRef,
    /// `<state>/node/pods/<uid>`.
    pub pod_dir: PathBuf,
    /// The containers' states.
    pub runtime: Mutex<PodRuntime>,
    /// Signalled whenever `runtime` changes.
    pub changed: Notify,
    /// Log of each container instance by container id.
    logs: Mutex<HashMap<String, Arc<ContainerLog>>>,
    /// The running instance of each container, by container name, for exec and attach.
    live: Mutex<HashMap<String, Arc<LiveContainer>>>,
}

impl PodHandle {
    /// The running instance of container `name`, if it runs.
    pub(crate) fn live(&self, name: &str) -> Option<Arc<LiveContainer>> {
        self.live.lock().get(name).cloned()
    }

    /// Records that `live` is container `name`'s running instance.
    pub(crate) fn set_live(&self, name: &str, live: Arc<LiveContainer>) {
        self.live.lock().insert(name.to_string(), live);
    }

    /// Forgets container `name`'s instance `live` (not a newer one).
    pub(crate) fn clear_live(&self, name: &str, live: &Arc<LiveContainer>) {
        let mut map = self.live.lock();
        if map.get(name).is_some_and(|l| Arc::ptr_eq(l, live)) {
            map.remove(name);
        }
    }

    /// Where a container's log files are.
    pub fn logs_dir(&self, container: &str) -> PathBuf {
        self.pod_dir.join("logs").join(container)
    }

    /// Registers the log of a new instance `container_id` (restart number `restart`), keeping
    /// the logs the container statuses still refer to and deleting older files.
    pub fn add_log(
        &self,
        container: &str,
        container_id: &str,
        log: Option<Arc<ContainerLog>>,
        restart: i32,
    ) {
        prune_log_files(&self.logs_dir(container), restart - 1);
        let live: Vec<String> = {
            let rt = self.runtime.lock();
            rt.init
                .iter()
                .chain(rt.main.iter())
                .flat_map(|c| {
                    let mut ids = vec![];
                    if let Some(id) = &c.container_id {
                        ids.push(id.clone());
                    }
                    if let State::Terminated(t) = &c.state {
                        ids.push(t.container_id.clone());
                    }
                    if let Some(t) = &c.last {
                        ids.push(t.container_id.clone());
                    }
                    ids
                })
                .collect()
        };
        let mut logs = self.logs.lock();
        logs.retain(|id, _| live.contains(id));
        if let Some(log) = log {
            logs.insert(container_id.to_string(), log);
        }
    }

    /// The log of a container instance.
    pub fn log(&self, container_id: &str) -> Option<Arc<ContainerLog>> {
        self.logs.lock().get(container_id).cloned()
    }
}

/// Deletes the log files of instances before `keep_from`.
fn prune_log_files(dir: &Path, keep_from: i32) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let n = name.split('.').next().and_then(|n| n.parse::<i32>().ok());
        if n.is_some_and(|n| n < keep_from) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// What the supervisor wants for a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Run it.
    Run,
    /// It has a deletionTimestamp: stop it gracefully, then remove the object.
    Delete,
    /// It is gone from the API: kill its processes at once.
    Gone,
    /// podgate is shutting down: stop it, leave the object as it is.
    Shutdown,
}

/// The supervisor's latest word on a pod.
#[derive(Debug, Clone)]
pub struct Desired {
    /// The latest pod object.
    pub pod: Arc<Pod>,
    /// What to do.
    pub want: Want,
}

fn container_specs(pod: &Pod) -> (Vec<Container>, Vec<Container>) {
    let spec = pod.spec.clone().unwrap_or_default();
    (spec.init_containers.unwrap_or_default(), spec.containers)
}

fn restored(spec: &Container, status: Option<&ContainerStatus>, waiting: &str) -> ContainerRuntime {
    let mut c = ContainerRuntime::waiting(&spec.name, spec.image.as_deref().unwrap_or(""), waiting);
    let Some(st) = status else { return c };
    c.restart_count = st.restart_count;
    let state = st.state.clone().unwrap_or_default();
    if let Some(t) = &state.terminated {
        c.last = Some(podstatus::restore_termination(t));
    } else if let Some(r) = &state.running {
        c.last = Some(Termination {
            exit_code: 255,
            reason: "Unknown".into(),
            message: Some("the container's process was gone when podgate restarted".into()),
            started_at: r.started_at.as_ref().map(|t| t.0),
            finished_at: Timestamp::now(),
            container_id: st.container_id.clone().unwrap_or_default(),
        });
    } else if let Some(t) = st.last_state.as_ref().and_then(|l| l.terminated.as_ref()) {
        c.last = Some(podstatus::restore_termination(t));
    }
    c
}

/// The runtime state of a pod this worker starts: fresh, or continuing what the status in the
/// store says (restart counts, the last termination) after podgate restarted.
fn initial_runtime(pod: &Pod, ip: Ipv4Addr) -> PodRuntime {
    let (init, main) = container_specs(pod);
    let status = pod.status.clone().unwrap_or_default();
    let find = |list: &Option<Vec<ContainerStatus>>, name: &str| {
        list.as_ref()
            .and_then(|l| l.iter().find(|s| s.name == name).cloned())
    };
    let main_reason = if init.is_empty() {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    PodRuntime {
        init: init
            .iter()
            .map(|c| {
                restored(
                    c,
                    find(&status.init_container_statuses, &c.name).as_ref(),
                    "PodInitializing",
                )
            })
            .collect(),
        main: main
            .iter()
            .map(|c| {
                restored(
                    c,
                    find(&status.container_statuses, &c.name).as_ref(),
                    main_reason,
                )
            })
            .collect(),
        pod_ip: Some(ip),
        start_time: Some(status.start_time.map_or_else(Timestamp::now, |t| t.0)),
        ..Default::default()
    }
}

/// The runtime of a pod that already finished: its statuses as stored.
fn terminal_runtime(pod: &Pod, ip: Ipv4Addr) -> PodRuntime {
    let mut rt = initial_runtime(pod, ip);
    let status = pod.status.clone().unwrap_or_default();
    let all = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for st in all {
        let c = rt
            .init
            .iter_mut()
            .chain(rt.main.iter_mut())
            .find(|c| c.name == st.name);
        if let (Some(c), Some(t)) = (c, st.state.as_ref().and_then(|s| s.terminated.as_ref())) {
            c.state = State::Terminated(podstatus::restore_termination(t));
            c.container_id = st.container_id.clone();
            c.last = st
                .last_state
                .as_ref()
                .and_then(|l| l.terminated.as_ref())
                .map(podstatus::restore_termination);
        }
    }
    rt.terminal = true;
    rt.pod_ip = status.pod_ip.and_then(|p| p.parse().ok()).or(Some(ip));
    rt
}

/// Publishes a pod's status when it changes (JSON merge patch of `status`).
struct StatusWriter {
    shared: Arc<Shared>,
    handle: Arc<PodHandle>,
    last: tokio::sync::Mutex<Option<PodStatus>>,
}

/// Status fields the node agent owns: absent ones are cleared in the patch.
const OWNED: [&str; 12] = [
    "phase",
    "conditions",
    "hostIP",
    "hostIPs",
    "podIP",
    "podIPs",
    "startTime",
    "containerStatuses",
    "initContainerStatuses",
    "qosClass",
    "reason",
    "message",
];

impl StatusWriter {
    async fn publish(&self, pod: &Pod) -> Result<(), kube::Error> {
        let mut last = self.last.lock().await;
        let rt = self.handle.runtime.lock().clone();
        let status = podstatus::build(
            pod,
            last.as_ref(),
            &rt,
            self.shared.host_ip,
            Timestamp::now(),
        );
        if last.as_ref() == Some(&status) {
            return Ok(());
        }
        let mut value = serde_json::to_value(&status).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            for key in OWNED {
                map.entry(key).or_insert(Value::Null);
            }
        }
        let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), &self.handle.key.namespace);
        let body = serde_json::json!({ "status": value });
        api.patch_status(
            &self.handle.key.name,
            &PatchParams::default(),
            &Patch::Merge(&body),
        )
        .await?;
        *last = Some(status);
        Ok(())
    }
}

async fn publish_loop(writer: Arc<StatusWriter>, pod: watch::Receiver<Arc<Pod>>) {
    loop {
        let current = pod.borrow().clone();
        if let Err(e) = writer.publish(&current).await {
            if matches!(&e, kube::Error::Api(s) if s.code == 404) {
                return;
            }
            tracing::debug!(pod = %writer.handle.key.name, error = %e, "status update failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        writer.handle.changed.notified().await;
        // Let a burst of changes settle into one update.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn grace_of(pod: &Pod) -> Duration {
    let secs = pod
        .metadata
        .deletion_grace_period_seconds
        .or(pod
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds))
        .unwrap_or(30);
    Duration::from_secs(secs.max(0) as u64)
}

fn stop_for(want: Want, pod: &Pod) -> Stop {
    match want {
        Want::Run => Stop::No,
        Want::Delete => {
            let grace = grace_of(pod);
            if grace.is_zero() {
                Stop::Kill
            } else {
                Stop::Graceful {
                    grace,
                    prestop: true,
                }
            }
        }
        Want::Gone => Stop::Kill,
        Want::Shutdown => Stop::Graceful {
            grace: grace_of(pod).min(SHUTDOWN_GRACE_CAP),
            prestop: true,
        },
    }
}

/// Escalates the stop request (never relaxes it).
fn escalate(stop: &watch::Sender<Stop>, next: Stop) {
    stop.send_if_modified(|cur| {
        let rank = |s: &Stop| match s {
            Stop::No => 0,
            Stop::Graceful { .. } => 1,
            Stop::Kill => 2,
        };
        if rank(&next) > rank(cur) {
            *cur = next;
            true
        } else {
            false
        }
    });
}

/// How the pod's containers ended.
enum End {
    /// No container will run again (restart policy).
    Terminal,
    /// A stop request ended them.
    Stopped,
}

struct PodCtx {
    shared: Arc<Shared>,
    handle: Arc<PodHandle>,
    pod: watch::Receiver<Arc<Pod>>,
    ip: Ipv4Addr,
    stop: watch::Receiver<Stop>,
}

impl PodCtx {
    fn event(&self, kind: Kind, reason: &str, message: &str) {
        self.shared
            .recorder
            .pod(&self.handle.key, None, kind, reason, message);
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow() != Stop::No
    }
}

/// Volumes, then init containers in order, then all containers until they end.
async fn lifecycle(mut ctx: PodCtx) -> End {
    let pod = ctx.pod.borrow().clone();
    let facts = PodFacts {
        pod_ip: ctx.ip,
        host_ip: ctx.shared.host_ip,
        node_name: ctx.shared.node_name.clone(),
    };
    let layout = Layout {
        pod_dir: ctx.handle.pod_dir.clone(),
        claims_root: ctx.shared.node_dir.join("claims"),
    };
    let mut delay = Duration::from_secs(1);
    let prepared: Prepared = loop {
        match volumes::prepare(&ctx.shared.client, &pod, &facts, &layout).await {
            Ok(p) => break p,
            Err(e) => {
                ctx.event(Kind::Warning, "FailedMount", &e.to_string());
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = ctx.stop.wait_for(|s| *s != Stop::No) => return End::Stopped,
                }
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    };
    for w in &prepared.warnings {
        ctx.event(Kind::Warning, "FailedMount", w);
    }
    if ctx.shared.isolation == IsolationMode::None {
        let mut where_ = Vec::new();
        for c in pod.spec.iter().flat_map(|s| {
            s.init_containers
                .iter()
                .flatten()
                .chain(s.containers.iter())
        }) {
            for m in c.volume_mounts.iter().flatten() {
                if let Some(p) = prepared.paths.get(&m.name) {
                    where_.push(format!(
                        "volume {:?} (mountPath {}) is at {}",
                        m.name,
                        m.mount_path,
                        p.display()
                    ));
                }
            }
        }
        let mut msg = format!(
            "mount and UTS namespaces are not available on this machine: the pod runs with the host's file system \
             and host name {:?}",
            super::process::hostname()
        );
        if !where_.is_empty() {
            msg.push_str("; ");
            msg.push_str(&where_.join("; "));
        }
        tracing::warn!(pod = %ctx.handle.key.name, "{msg}");
        ctx.event(Kind::Warning, "NoIsolation", &msg);
    }
    {
        ctx.handle.runtime.lock().sandbox_ready = true;
        ctx.handle.changed.notify_one();
    }
    let volumes = Arc::new(prepared);
    let (init, main) = container_specs(&pod);
    let make = |init_flag: bool, index: usize, spec: Container| ContainerCtx {
        shared: ctx.shared.clone(),
        handle: ctx.handle.clone(),
        pod: ctx.pod.clone(),
        ip: ctx.ip,
        volumes: volumes.clone(),
        init: init_flag,
        index,
        spec,
        stop: ctx.stop.clone(),
    };
    for (i, spec) in init.into_iter().enumerate() {
        if ctx.stopping() {
            return End::Stopped;
        }
        match container::supervise(make(true, i, spec)).await {
            Finish::Exited(t) if t.exit_code == 0 => {}
            Finish::Exited(_) => return End::Terminal,
            Finish::Stopped => return End::Stopped,
        }
    }
    container::waiting_all(&ctx.handle, "ContainerCreating");
    ctx.handle.changed.notify_one();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, spec) in main.into_iter().enumerate() {
        tasks.spawn(container::supervise(make(false, i, spec)));
    }
    let mut stopped = false;
    while let Some(res) = tasks.join_next().await {
        if !matches!(res, Ok(Finish::Exited(_))) {
            stopped = true;
        }
    }
    if stopped { End::Stopped } else { End::Terminal }
}

/// Runs pod `desired` until it is deleted, gone, or podgate shuts down. `ip` is its address.
pub async fn run_pod(shared: Arc<Shared>, mut desired: watch::Receiver<Desired>, ip: Ipv4Addr) {
    let first = desired.borrow().clone();
    let pod = first.pod.clone();
    let key = PodRef {
        namespace: pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into()),
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
    };
    let pod_dir = shared.node_dir.join("pods").join(&key.uid);
    let _ = std::fs::create_dir_all(&pod_dir);
    let already_done = matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    );
    let runtime = if already_done {
        terminal_runtime(&pod, ip)
    } else {
        initial_runtime(&pod, ip)
    };
    let handle = Arc::new(PodHandle {
        key: key.clone(),
        pod_dir: pod_dir.clone(),
        runtime: Mutex::new(runtime.clone()),
        changed: Notify::new(),
        logs: Mutex::new(HashMap::new()),
        live: Mutex::new(HashMap::new()),
    });
    // Logs of instances from before a podgate restart stay readable.
    for c in runtime.init.iter().chain(runtime.main.iter()) {
        let dir = handle.logs_dir(&c.name);
        if let State::Terminated(t) = &c.state {
            handle.logs.lock().insert(
                t.container_id.clone(),
                ContainerLog::existing(&dir, c.restart_count),
            );
        }
        if let Some(t) = &c.last {
            let n = if matches!(c.state, State::Terminated(_)) {
                c.restart_count - 1
            } else {
                c.restart_count
            };
            handle
                .logs
                .lock()
                .insert(t.container_id.clone(), ContainerLog::existing(&dir, n));
        }
    }
    shared
        .registry
        .lock()
        .insert((key.namespace.clone(), key.name.clone()), handle.clone());

    let (pod_tx, pod_rx) = watch::channel(pod.clone());
    let writer = Arc::new(StatusWriter {
        shared: shared.clone(),
        handle: handle.clone(),
        last: Default::default(),
    });
    let mut publisher =
        (!already_done).then(|| AbortOnDrop::spawn(publish_loop(writer.clone(), pod_rx.clone())));
    if matches!(first.want, Want::Shutdown | Want::Gone) {
        publisher = None;
    }
    let (stop_tx, stop_rx) = watch::channel(stop_for(first.want, &pod));

    let mut run = if already_done {
        None
    } else {
        let ctx = PodCtx {
            shared: shared.clone(),
            handle: handle.clone(),
            pod: pod_rx.clone(),
            ip,
            stop: stop_rx.clone(),
        };
        Some(AbortOnDrop::spawn(lifecycle(ctx)))
    };
    let mut want = first.want;
    let mut ended = run.is_none();
    // Follow the supervisor until the pod leaves, and its containers have ended.
    loop {
        if want != Want::Run && ended {
            break;
        }
        tokio::select! {
            res = async { if let Some(r) = run.as_mut() { r.await.ok() } else { None } }, if !ended => {
                ended = true;
                run = None;
                if matches!(res, Some(End::Terminal) | Some(End::Stopped)) {
                    handle.runtime.lock().terminal = true;
                    handle.changed.notify_one();
                }
            }
            changed = desired.changed() => {
                let d = if changed.is_ok() { desired.borrow().clone() } else { Desired { pod: pod_rx.borrow().clone(), want: Want::Gone } };
                let _ = pod_tx.send(d.pod.clone());
                want = match (want, d.want) {
                    (Want::Gone, _) | (_, Want::Gone) => Want::Gone,
                    (Want::Delete, Want::Shutdown) | (Want::Shutdown, Want::Delete) => Want::Delete,
                    (_, w) => w,
                };
                // Stopping for podgate's shutdown, or for a pod that is gone: the status in the
                // store stays as it was (the next start runs the pod again).
                if matches!(want, Want::Shutdown | Want::Gone) {
                    publisher = None;
                }
                escalate(&stop_tx, stop_for(want, &d.pod));
                if changed.is_err() {
                    // The supervisor is gone: nothing more will come.
                    if let Some(r) = run.take() { let _ = r.await; }
                    ended = true;
                }
            }
        }
    }
    handle.runtime.lock().terminal = true;
    handle.changed.notify_one();
    drop(publisher);
    match want {
        Want::Delete => {
            let current = pod_rx.borrow().clone();
            let _ = writer.publish(&current).await;
            let api: Api<Pod> = Api::namespaced(shared.client.clone(), &key.namespace);
            let params = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions {
                    uid: Some(key.uid.clone()),
                    resource_version: None,
                }),
                ..Default::default()
            };
            if let Err(e) = api.delete(&key.name, &params).await
                && !matches!(&e, kube::Error::Api(s) if s.code == 404 || s.code == 409)
            {
                tracing::warn!(pod = %key.name, error = %e, "could not remove the pod object");
            }
            cleanup(&shared, &handle);
        }
        Want::Gone => cleanup(&shared, &handle),
        Want::Shutdown | Want::Run => unregister(&shared, &handle),
    }
}

fn unregister(shared: &Shared, handle: &Arc<PodHandle>) {
    let mut reg = shared.registry.lock();
    let k = (handle.key.namespace.clone(), handle.key.name.clone());
    if reg.get(&k).is_some_and(|h| Arc::ptr_eq(h, handle)) {
        reg.remove(&k);
    }
}

fn cleanup(shared: &Shared, handle: &Arc<PodHandle>) {
    unregister(shared, handle);
    shared.recorder.forget(&handle.key);
    if let Err(e) = std::fs::remove_dir_all(&handle.pod_dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(dir = %handle.pod_dir.display(), error = %e, "could not remove the pod directory");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateRunning, ContainerStateTerminated, PodSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn pod_with_status(statuses: Vec<ContainerStatus>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "a".into(),
                    image: Some("img".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus {
                container_statuses: Some(statuses),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn restart_continues_counts_and_last_state() {
        let running = ContainerStatus {
            name: "a".into(),
            restart_count: 4,
            container_id: Some("podgate://old".into()),
            state: Some(ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(Time(Timestamp::UNIX_EPOCH)),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let rt = initial_runtime(&pod_with_status(vec![running]), Ipv4Addr::new(127, 1, 0, 1));
        let c = &rt.main[0];
        assert_eq!(c.restart_count, 4);
        assert!(matches!(&c.state, State::Waiting { reason, .. } if reason == "ContainerCreating"));
        let last = c.last.as_ref().expect("last");
        assert_eq!(
            (
                last.exit_code,
                last.reason.as_str(),
                last.container_id.as_str()
            ),
            (255, "Unknown", "podgate://old")
        );

        let done = ContainerStatus {
            name: "a".into(),
            restart_count: 1,
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 3,
                    container_id: Some("podgate://x".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let rt = terminal_runtime(&pod_with_status(vec![done]), Ipv4Addr::new(127, 1, 0, 1));
        assert!(rt.terminal);
        assert!(
            matches!(&rt.main[0].state, State::Terminated(t) if t.exit_code == 3 && t.reason == "Error")
        );
    }

    #[test]
    fn stop_requests_escalate_only() {
        let (tx, rx) = watch::channel(Stop::No);
        escalate(
            &tx,
            Stop::Graceful {
                grace: Duration::from_secs(5),
                prestop: true,
            },
        );
        escalate(&tx, Stop::No);
        assert_eq!(
            *rx.borrow(),
            Stop::Graceful {
                grace: Duration::from_secs(5),
                prestop: true
            }
        );
        escalate(&tx, Stop::Kill);
        escalate(
            &tx,
            Stop::Graceful {
                grace: Duration::from_secs(1),
                prestop: true,
            },
        );
        assert_eq!(*rx.borrow(), Stop::Kill);
        let mut pod = Pod::default();
        assert_eq!(
            stop_for(Want::Delete, &pod),
            Stop::Graceful {
                grace: Duration::from_secs(30),
                prestop: true
            }
        );
        pod.metadata.deletion_grace_period_seconds = Some(0);
        assert_eq!(stop_for(Want::Delete, &pod), Stop::Kill);
        pod.metadata.deletion_grace_period_seconds = Some(60);
        assert_eq!(
            stop_for(Want::Shutdown, &pod),
            Stop::Graceful {
                grace: SHUTDOWN_GRACE_CAP,
                prestop: true
            }
        );
    }

    #[test]
    fn old_log_files_are_pruned() {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in ["0.log", "1.log", "1.log.1", "2.log", "3.log"] {
            std::fs::write(dir.path().join(f), "x").expect("write");
        }
        prune_log_files(dir.path(), 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("read")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["2.log", "3.log"]);
    }
}
