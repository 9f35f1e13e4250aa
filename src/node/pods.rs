//! The node's pod supervisor: watches Pods, binds unscheduled ones to this node, and keeps
//! exactly one worker per pod name. A pod re-created under the same name (a StatefulSet
//! ordinal) starts only after the previous incarnation's processes are gone.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::binder;
use super::events::{PodRef, Recorder};
use super::ipam::IpAllocator;
use super::worker::{self, Desired, Shared, Want};

type Key = (String, String);

struct Running {
    uid: String,
    ip: Ipv4Addr,
    tx: watch::Sender<Desired>,
}

/// The supervisor's state.
struct Supervisor {
    shared: Arc<Shared>,
    ipam: IpAllocator,
    /// The pods the API shows, by namespace and name.
    pods: HashMap<Key, Arc<Pod>>,
    /// The worker of each pod name.
    running: HashMap<Key, Running>,
    workers: JoinSet<()>,
    worker_keys: HashMap<tokio::task::Id, Key>,
    scheduler: Recorder,
    binding: HashSet<String>,
    bindings: JoinSet<String>,
    initialized: bool,
}

fn key_of(pod: &Pod) -> Key {
    (
        pod.metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into()),
        pod.metadata.name.clone().unwrap_or_default(),
    )
}

fn uid_of(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

impl Supervisor {
    fn ours(&self, pod: &Pod) -> bool {
        pod.spec.as_ref().and_then(|s| s.node_name.as_deref())
            == Some(self.shared.node_name.as_str())
    }

    fn want(pod: &Pod) -> Want {
        if pod.metadata.deletion_timestamp.is_some() {
            Want::Delete
        } else {
            Want::Run
        }
    }

    /// Brings workers in line with the pods the API shows.
    fn reconcile(&mut self) {
        let pods: Vec<(Key, Arc<Pod>)> = self
            .pods
            .iter()
            .map(|(k, p)| (k.clone(), p.clone()))
            .collect();
        for (key, pod) in &pods {
            if binder::wants_binding(pod) {
                let uid = uid_of(pod);
                if self.binding.insert(uid.clone()) {
                    let target = PodRef {
                        namespace: key.0.clone(),
                        name: key.1.clone(),
                        uid: uid.clone(),
                    };
                    let client = self.shared.client.clone();
                    let recorder = self.scheduler.clone();
                    let node = self.shared.node_name.clone();
                    self.bindings.spawn(async move {
                        binder::bind(client, recorder, target, node).await;
                        uid
                    });
                }
                continue;
            }
            if !self.ours(pod) {
                continue;
            }
            let uid = uid_of(pod);
            match self.running.get(key) {
                Some(run) if run.uid == uid => {
                    let d = Desired {
                        pod: pod.clone(),
                        want: Self::want(pod),
                    };
                    run.tx.send_replace(d);
                }
                Some(run) => {
                    // A new incarnation under the same name: the old one is gone from the API.
                    let old = run.tx.borrow().pod.clone();
                    run.tx.send_replace(Desired {
                        pod: old,
                        want: Want::Gone,
                    });
                }
                None => self.start(key.clone(), pod.clone()),
            }
        }
        for (key, run) in &self.running {
            let present = self
                .pods
                .get(key)
                .is_some_and(|p| uid_of(p) == run.uid && self.ours(p));
            if !present && run.tx.borrow().want != Want::Gone {
                let old = run.tx.borrow().pod.clone();
                run.tx.send_replace(Desired {
                    pod: old,
                    want: Want::Gone,
                });
            }
        }
    }

    fn start(&mut self, key: Key, pod: Arc<Pod>) {
        let preferred = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse().ok());
        let Some(ip) = self.ipam.allocate(preferred) else {
            tracing::error!(pod = %key.1, "no free pod IP address left");
            return;
        };
        let (tx, rx) = watch::channel(Desired {
            pod: pod.clone(),
            want: Self::want(&pod),
        });
        self.running.insert(
            key.clone(),
            Running {
                uid: uid_of(&pod),
                ip,
                tx,
            },
        );
        let shared = self.shared.clone();
        let task = self.workers.spawn(async move {
            worker::run_pod(shared, rx, ip).await;
        });
        self.worker_keys.insert(task.id(), key);
    }

    fn finished(&mut self, task: tokio::task::Id) {
        let Some(key) = self.worker_keys.remove(&task) else {
            return;
        };
        if let Some(run) = self.running.remove(&key) {
            self.ipam.release(run.ip);
        }
    }

    /// Removes the directories of pods that no longer exist (deleted while podgate was down).
    fn collect_garbage(&self) {
        let uids: HashSet<String> = self.pods.values().map(|p| uid_of(p)).collect();
        let Ok(entries) = std::fs::read_dir(self.shared.node_dir.join("pods")) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !uids.contains(&name) && e.path().is_dir() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// Runs the supervisor until `shutdown`; then stops every pod (gracefully, bounded) and
/// returns when their processes are gone.
pub async fn supervise(
    shared: Arc<Shared>,
    ipam: IpAllocator,
    mut shutdown: watch::Receiver<bool>,
) {
    let api: Api<Pod> = Api::all(shared.client.clone());
    let mut events = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let scheduler = Recorder::new(
        shared.client.clone(),
        binder::DEFAULT_SCHEDULER,
        &shared.node_name,
    );
    let mut sup = Supervisor {
        shared,
        worker_keys: HashMap::new(),
        scheduler,
        ipam,
        pods: HashMap::new(),
        running: HashMap::new(),
        workers: JoinSet::new(),
        binding: HashSet::new(),
        bindings: JoinSet::new(),
        initialized: false,
    };
    let mut buffer: HashMap<Key, Arc<Pod>> = HashMap::new();
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            ev = events.next() => {
                let Some(ev) = ev else { break };
                match ev {
                    Ok(watcher::Event::Init) => buffer.clear(),
                    Ok(watcher::Event::InitApply(p)) => { buffer.insert(key_of(&p), Arc::new(p)); }
                    Ok(watcher::Event::InitDone) => {
                        sup.pods = std::mem::take(&mut buffer);
                        if !sup.initialized {
                            sup.initialized = true;
                            sup.collect_garbage();
                        }
                        sup.reconcile();
                    }
                    Ok(watcher::Event::Apply(p)) => {
                        sup.pods.insert(key_of(&p), Arc::new(p));
                        sup.reconcile();
                    }
                    Ok(watcher::Event::Delete(p)) => {
                        let key = key_of(&p);
                        if sup.pods.get(&key).is_some_and(|cur| uid_of(cur) == uid_of(&p)) {
                            sup.pods.remove(&key);
                        }
                        sup.reconcile();
                    }
                    Err(e) => tracing::debug!(error = %e, "pod watch error"),
                }
            }
            Some(done) = sup.workers.join_next_with_id(), if !sup.workers.is_empty() => {
                let task = match done {
                    Ok((id, ())) => id,
                    Err(e) => {
                        tracing::error!(error = %e, "a pod worker failed");
                        e.id()
                    }
                };
                sup.finished(task);
                sup.reconcile();
            }
            Some(done) = sup.bindings.join_next(), if !sup.bindings.is_empty() => {
                if let Ok(uid) = done {
                    sup.binding.remove(&uid);
                }
            }
        }
    }
    // podgate is stopping: stop every pod, leave the objects for the next start.
    for run in sup.running.values() {
        let pod = run.tx.borrow().pod.clone();
        let want = if run.tx.borrow().want == Want::Run {
            Want::Shutdown
        } else {
            run.tx.borrow().want
        };
        run.tx.send_replace(Desired { pod, want });
    }
    while sup.workers.join_next().await.is_some() {}
    sup.bindings.abort_all();
}
