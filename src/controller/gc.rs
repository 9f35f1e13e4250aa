//! The ownerReference garbage collector: deletes objects whose owners are gone (background
//! propagation), deletes dependents before their owner (foreground, the `foregroundDeletion`
//! finalizer), and strips ownerReferences from dependents of an owner deleted with the
//! `orphan` finalizer — for every kind discovery reports, as kube-controller-manager does.
//!
//! It keeps a graph (uid → object and ownerReferences, owner uid → dependents) fed by one
//! watch per kind, and works through a deduplicated queue of items to look at. An owner that
//! is not in the graph is looked up live before anything is deleted for its absence.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, stream};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy,
};
use kube::{Resource, ResourceExt};
use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::Error;
use super::kinds::{Kind, discover};
use crate::cluster::informer::{Change, Informer};

/// The finalizer of a foreground deletion.
pub const FOREGROUND: &str = "foregroundDeletion";
/// The finalizer of an orphaning deletion.
pub const ORPHAN: &str = "orphan";

/// The longest wait before an item that failed is looked at again.
const RETRY_MAX: Duration = Duration::from_secs(10);

/// Something to look at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Item {
    /// A dependent: are its owners gone or waiting for it?
    Dependent(String),
    /// An owner being deleted with the `orphan` or `foregroundDeletion` finalizer.
    Owner(String),
}

/// One object in the graph.
#[derive(Debug, Clone)]
struct Node {
    kind: usize,
    namespace: Option<String>,
    name: String,
    owners: Vec<OwnerReference>,
    deleting: bool,
    finalizers: Vec<String>,
}

impl Node {
    fn of(kind: usize, obj: &DynamicObject) -> Self {
        Self {
            kind,
            namespace: obj.namespace(),
            name: obj.name_any(),
            owners: obj.owner_references().to_vec(),
            deleting: obj.meta().deletion_timestamp.is_some(),
            finalizers: obj.finalizers().to_vec(),
        }
    }

    fn has_finalizer(&self, f: &str) -> bool {
        self.finalizers.iter().any(|x| x == f)
    }

    /// Deleted in the foreground and waiting for its dependents.
    fn deleting_dependents(&self) -> bool {
        self.deleting && self.has_finalizer(FOREGROUND)
    }
}

// === impl Graph ===

/// Objects by uid, and dependents by owner uid.
#[derive(Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    /// Adds or replaces a node; returns the previous one.
    fn upsert(&mut self, uid: &str, node: Node) -> Option<Node> {
        let old = self.nodes.insert(uid.to_string(), node.clone());
        if let Some(old) = &old {
            for r in &old.owners {
                if let Some(set) = self.dependents.get_mut(&r.uid) {
                    set.remove(uid);
                }
            }
        }
        for r in &node.owners {
            self.dependents
                .entry(r.uid.clone())
                .or_default()
                .insert(uid.to_string());
        }
        old
    }

    /// Removes a node; returns it.
    fn remove(&mut self, uid: &str) -> Option<Node> {
        let old = self.nodes.remove(uid)?;
        for r in &old.owners {
            if let Some(set) = self.dependents.get_mut(&r.uid) {
                set.remove(uid);
                if set.is_empty() {
                    self.dependents.remove(&r.uid);
                }
            }
        }
        Some(old)
    }

    /// The uids of the objects that name `uid` as an owner.
    fn dependents_of(&self, uid: &str) -> Vec<String> {
        self.dependents
            .get(uid)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

// === impl Queue ===

/// A deduplicated FIFO of items.
#[derive(Default)]
struct Queue {
    items: Mutex<(VecDeque<Item>, HashSet<Item>)>,
    notify: Notify,
}

impl Queue {
    fn push(&self, item: Item) {
        let mut q = self.items.lock();
        if q.1.insert(item.clone()) {
            q.0.push_back(item);
            self.notify.notify_one();
        }
    }

    async fn pop(&self) -> Item {
        loop {
            let notified = self.notify.notified();
            if let Some(item) = {
                let mut q = self.items.lock();
                let item = q.0.pop_front();
                if let Some(i) = &item {
                    q.1.remove(i);
                }
                item
            } {
                return item;
            }
            notified.await;
        }
    }
}

// === impl Collector ===

struct Collector {
    client: kube::Client,
    kinds: Vec<Kind>,
    graph: Mutex<Graph>,
    queue: Queue,
    failures: Mutex<HashMap<Item, u32>>,
}

/// Runs the garbage collector until its watches end.
pub async fn run(client: kube::Client) {
    let kinds = discover(&client).await;
    let mut tasks = JoinSet::new();
    let informers: Vec<Informer<DynamicObject>> = kinds
        .iter()
        .map(|k| {
            Informer::spawn_with(
                Api::all_with(client.clone(), &k.ar),
                k.ar.clone(),
                &mut tasks,
            )
        })
        .collect();
    let gc = Arc::new(Collector {
        client,
        kinds,
        graph: Mutex::new(Graph::default()),
        queue: Queue::default(),
        failures: Mutex::new(HashMap::new()),
    });
    let changes = stream::select_all(
        informers
            .iter()
            .enumerate()
            .map(|(i, inf)| inf.subscribe().map(move |c| (i, c)).boxed()),
    );
    for inf in &informers {
        inf.ready().await;
    }
    let worker = gc.clone();
    tasks.spawn(async move {
        loop {
            let item = worker.queue.pop().await;
            let result = worker.process(&item).await;
            worker.settle(item, result);
        }
    });
    let mut changes = std::pin::pin!(changes);
    while let Some((kind, change)) = changes.next().await {
        gc.observe(kind, change, informers[kind].store());
    }
}

impl Collector {
    /// Updates the graph from a change notice and queues what it affects.
    fn observe(
        &self,
        kind: usize,
        change: Change<DynamicObject>,
        store: &kube::runtime::reflector::Store<DynamicObject>,
    ) {
        let mut graph = self.graph.lock();
        match change {
            Change::Applied(obj) => self.applied(&mut graph, kind, &obj),
            Change::Deleted(obj) => {
                if let Some(uid) = obj.uid() {
                    self.deleted(&mut graph, &uid);
                }
            }
            Change::Resync => {
                let live: Vec<Arc<DynamicObject>> = store.state();
                let uids: HashSet<String> = live.iter().filter_map(|o| o.uid()).collect();
                let gone: Vec<String> = graph
                    .nodes
                    .iter()
                    .filter(|(uid, n)| n.kind == kind && !uids.contains(*uid))
                    .map(|(uid, _)| uid.clone())
                    .collect();
                for uid in gone {
                    self.deleted(&mut graph, &uid);
                }
                for obj in live {
                    self.applied(&mut graph, kind, &obj);
                }
            }
        }
    }

    fn applied(&self, graph: &mut Graph, kind: usize, obj: &DynamicObject) {
        let Some(uid) = obj.uid() else { return };
        let node = Node::of(kind, obj);
        let old = graph.upsert(&uid, node.clone());
        if !node.owners.is_empty()
            && old
                .as_ref()
                .is_none_or(|o| o.owners != node.owners || o.deleting != node.deleting)
        {
            self.queue.push(Item::Dependent(uid.clone()));
        }
        if node.deleting && (node.has_finalizer(ORPHAN) || node.has_finalizer(FOREGROUND)) {
            self.queue.push(Item::Owner(uid.clone()));
        }
    }

    fn deleted(&self, graph: &mut Graph, uid: &str) {
        let Some(old) = graph.remove(uid) else { return };
        for dep in graph.dependents_of(uid) {
            self.queue.push(Item::Dependent(dep));
        }
        for r in &old.owners {
            if graph
                .nodes
                .get(&r.uid)
                .is_some_and(Node::deleting_dependents)
            {
                self.queue.push(Item::Owner(r.uid.clone()));
            }
        }
    }

    /// Records the outcome of an item: on failure it is looked at again after a backoff.
    fn settle(self: &Arc<Self>, item: Item, result: Result<(), Error>) {
        match result {
            Ok(()) => {
                self.failures.lock().remove(&item);
            }
            Err(e) => {
                let n = {
                    let mut f = self.failures.lock();
                    let n = f.entry(item.clone()).or_insert(0);
                    *n = n.saturating_add(1);
                    *n
                };
                if e.is_transient() {
                    tracing::debug!(?item, error = %e, "garbage collection retry");
                } else {
                    tracing::warn!(?item, error = %e, "garbage collection failed");
                }
                let delay = Duration::from_millis(50)
                    .saturating_mul(1 << n.min(10))
                    .min(RETRY_MAX);
                let me = self.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    me.queue.push(item);
                });
            }
        }
    }

    async fn process(&self, item: &Item) -> Result<(), Error> {
        match item {
            Item::Dependent(uid) => self.attempt_to_delete(uid).await,
            Item::Owner(uid) => self.process_owner(uid).await,
        }
    }

    fn node(&self, uid: &str) -> Option<Node> {
        self.graph.lock().nodes.get(uid).cloned()
    }

    fn api(&self, kind: &Kind, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace.filter(|_| kind.namespaced) {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &kind.ar),
            None => Api::all_with(self.client.clone(), &kind.ar),
        }
    }

    fn node_api(&self, node: &Node) -> Api<DynamicObject> {
        self.api(&self.kinds[node.kind], node.namespace.as_deref())
    }

    /// What an owner reference points at, from the graph or a live read.
    async fn owner_state(&self, dependent: &Node, r: &OwnerReference) -> Result<OwnerState, Error> {
        if let Some(owner) = self.node(&r.uid) {
            return Ok(if owner.deleting_dependents() {
                OwnerState::Waiting
            } else {
                OwnerState::Solid
            });
        }
        let Some(kind) = self.kinds.iter().find(|k| k.is(&r.api_version, &r.kind)) else {
            // A kind this server does not serve: never delete for it.
            return Ok(OwnerState::Solid);
        };
        if kind.namespaced && dependent.namespace.is_none() {
            return Ok(OwnerState::Solid);
        }
        match self
            .api(kind, dependent.namespace.as_deref())
            .get_opt(&r.name)
            .await?
        {
            None => Ok(OwnerState::Dangling),
            Some(o) if o.uid().as_deref() != Some(r.uid.as_str()) => Ok(OwnerState::Dangling),
            Some(o) => {
                let waiting = o.meta().deletion_timestamp.is_some()
                    && o.finalizers().iter().any(|f| f == FOREGROUND);
                Ok(if waiting {
                    OwnerState::Waiting
                } else {
                    OwnerState::Solid
                })
            }
        }
    }

    /// Upstream `attemptToDeleteItem`.
    async fn attempt_to_delete(&self, uid: &str) -> Result<(), Error> {
        let Some(node) = self.node(uid) else {
            return Ok(());
        };
        if node.deleting_dependents() {
            return self.process_owner(uid).await;
        }
        if node.deleting || node.owners.is_empty() {
            return Ok(());
        }
        let mut solid = Vec::new();
        let mut dangling = Vec::new();
        let mut waiting = Vec::new();
        for r in &node.owners {
            match self.owner_state(&node, r).await? {
                OwnerState::Solid => solid.push(r.uid.clone()),
                OwnerState::Dangling => dangling.push(r.uid.clone()),
                OwnerState::Waiting => waiting.push(r.uid.clone()),
            }
        }
        let api = self.node_api(&node);
        if !solid.is_empty() {
            if dangling.is_empty() && waiting.is_empty() {
                return Ok(());
            }
            // Other owners keep it: only forget the ones that are gone or going.
            let removed: Vec<_> = dangling
                .iter()
                .chain(&waiting)
                .map(|u| json!({"$patch": "delete", "uid": u}))
                .collect();
            let patch = json!({"metadata": {"ownerReferences": removed, "uid": uid}});
            return match api
                .patch(
                    &node.name,
                    &PatchParams::default(),
                    &Patch::Strategic(&patch),
                )
                .await
            {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                Err(e) => Err(e.into()),
            };
        }
        let has_dependents = !self.graph.lock().dependents_of(uid).is_empty();
        let policy = if !waiting.is_empty() && has_dependents {
            PropagationPolicy::Foreground
        } else if node.has_finalizer(ORPHAN) {
            PropagationPolicy::Orphan
        } else if node.has_finalizer(FOREGROUND) {
            PropagationPolicy::Foreground
        } else {
            PropagationPolicy::Background
        };
        tracing::info!(
            kind = %self.kinds[node.kind].ar.kind,
            namespace = node.namespace.as_deref().unwrap_or(""),
            name = %node.name,
            ?policy,
            "garbage collecting an object whose owners are gone"
        );
        delete(&api, &node.name, uid, policy).await
    }

    /// Orphans the dependents of an owner with the `orphan` finalizer, or deletes the
    /// dependents of one with `foregroundDeletion`; removes the finalizer when done.
    async fn process_owner(&self, uid: &str) -> Result<(), Error> {
        let Some(node) = self.node(uid) else {
            return Ok(());
        };
        if !node.deleting {
            return Ok(());
        }
        let dependents: Vec<(String, Node)> = {
            let g = self.graph.lock();
            g.dependents_of(uid)
                .into_iter()
                .filter_map(|d| g.nodes.get(&d).cloned().map(|n| (d, n)))
                .collect()
        };
        if node.has_finalizer(ORPHAN) {
            for (dep_uid, dep) in &dependents {
                let patch = json!({"metadata": {
                    "ownerReferences": [{"$patch": "delete", "uid": uid}],
                    "uid": dep_uid,
                }});
                match self
                    .node_api(dep)
                    .patch(
                        &dep.name,
                        &PatchParams::default(),
                        &Patch::Strategic(&patch),
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
            }
            return self.remove_finalizer(&node, uid, ORPHAN).await;
        }
        if node.has_finalizer(FOREGROUND) {
            let blocking = dependents.iter().any(|(_, d)| {
                d.owners
                    .iter()
                    .any(|r| r.uid == uid && r.block_owner_deletion == Some(true))
            });
            if !blocking {
                return self.remove_finalizer(&node, uid, FOREGROUND).await;
            }
            for (dep_uid, dep) in dependents {
                if !dep.deleting || dep.deleting_dependents() {
                    self.queue.push(Item::Dependent(dep_uid));
                }
            }
        }
        Ok(())
    }

    /// Removes one finalizer, guarded by the resourceVersion it was read at.
    async fn remove_finalizer(&self, node: &Node, uid: &str, finalizer: &str) -> Result<(), Error> {
        let api = self.node_api(node);
        for _ in 0..5 {
            let Some(live) = api.get_opt(&node.name).await? else {
                return Ok(());
            };
            if live.uid().as_deref() != Some(uid) {
                return Ok(());
            }
            let rest: Vec<&String> = live
                .finalizers()
                .iter()
                .filter(|f| *f != finalizer)
                .collect();
            if rest.len() == live.finalizers().len() {
                return Ok(());
            }
            let patch = json!({"metadata": {
                "finalizers": rest,
                "resourceVersion": live.resource_version(),
            }});
            match api
                .patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 409 => continue,
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::other(format!(
            "could not remove the {finalizer} finalizer of {}: conflicts",
            node.name
        )))
    }
}

/// Where an owner reference points.
enum OwnerState {
    /// The owner exists and is not waiting for its dependents.
    Solid,
    /// The owner is gone (or replaced by another object of the same name).
    Dangling,
    /// The owner is being deleted in the foreground.
    Waiting,
}

async fn delete(
    api: &Api<DynamicObject>,
    name: &str,
    uid: &str,
    policy: PropagationPolicy,
) -> Result<(), Error> {
    let dp = DeleteParams {
        propagation_policy: Some(policy),
        preconditions: Some(Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(name, &dp).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(owners: &[&str]) -> Node {
        Node {
            kind: 0,
            namespace: Some("ns".into()),
            name: "n".into(),
            owners: owners
                .iter()
                .map(|u| OwnerReference {
                    uid: u.to_string(),
                    ..Default::default()
                })
                .collect(),
            deleting: false,
            finalizers: vec![],
        }
    }

    #[test]
    fn the_graph_tracks_dependents_through_updates_and_removals() {
        let mut g = Graph::default();
        g.upsert("a", node(&["o1", "o2"]));
        g.upsert("b", node(&["o1"]));
        let mut deps = g.dependents_of("o1");
        deps.sort();
        assert_eq!(deps, vec!["a", "b"]);
        g.upsert("a", node(&["o2"]));
        assert_eq!(g.dependents_of("o1"), vec!["b"]);
        assert_eq!(g.dependents_of("o2"), vec!["a"]);
        g.remove("b");
        assert!(g.dependents_of("o1").is_empty());
        assert!(g.remove("b").is_none());
    }

    #[tokio::test]
    async fn the_queue_deduplicates_and_keeps_order() {
        let q = Queue::default();
        q.push(Item::Dependent("a".into()));
        q.push(Item::Owner("b".into()));
        q.push(Item::Dependent("a".into()));
        assert_eq!(q.pop().await, Item::Dependent("a".into()));
        assert_eq!(q.pop().await, Item::Owner("b".into()));
        q.push(Item::Dependent("a".into()));
        assert_eq!(q.pop().await, Item::Dependent("a".into()));
    }

    #[test]
    fn foreground_waiting_is_a_deleting_node_with_the_finalizer() {
        let mut n = node(&[]);
        n.finalizers = vec![FOREGROUND.into()];
        assert!(!n.deleting_dependents());
        n.deleting = true;
        assert!(n.deleting_dependents());
    }
}
