//! The StatefulSet controller (reference/statefulset-spec.md): stable pod identities and
//! claims per ordinal, OrderedReady and Parallel management, rolling updates with partitions
//! and maxUnavailable, OnDelete, ControllerRevisions, status, and the upstream events.
//!
//! Layout: [`identity`] (names, labels, the pod of an ordinal), [`claims`] (claims and their
//! retention refs), [`revisions`] (ControllerRevision data, hashes, history), [`status`] (pod
//! predicates and counts), [`sync`] (the ordering algorithm), [`update`] (rolling update
//! targets) are pure; [`adoption`], [`control`] and [`reconcile`] talk to the API.

pub mod adoption;
pub mod claims;
pub mod control;
pub mod identity;
pub mod reconcile;
pub mod revisions;
pub mod status;
pub mod sync;
pub mod update;

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::ResourceExt;
use kube::core::{Selector, SelectorExt};
use kube::runtime::reflector::{ObjectRef, Store};

use super::Caches;
use super::events::Recorder;
use super::work::{self, requests};
use crate::cluster::informer::Change;

/// The `source.component` of this controller's events.
pub const COMPONENT: &str = "statefulset-controller";

/// Runs the StatefulSet controller until its caches close.
pub async fn run(client: kube::Client, caches: Caches) {
    let ctx = Arc::new(reconcile::Context {
        client: client.clone(),
        sets: caches.statefulsets.store().clone(),
        pods: caches.pods.store().clone(),
        claims: caches.claims.store().clone(),
        revisions: caches.revisions.store().clone(),
        recorder: Recorder::new(client, COMPONENT),
        written: Default::default(),
    });
    caches.pods.ready().await;
    caches.claims.ready().await;
    caches.revisions.ready().await;
    let sets = caches.statefulsets.store().clone();
    let triggers = vec![
        requests(caches.statefulsets.subscribe(), {
            let sets = sets.clone();
            move |c: &Change<StatefulSet>| match c.object() {
                Some(s) => vec![ObjectRef::from_obj(s.as_ref())],
                None => all(&sets),
            }
        }),
        requests(caches.pods.subscribe(), pod_mapper(sets.clone())),
        requests(caches.claims.subscribe(), {
            let sets = sets.clone();
            move |c: &Change<PersistentVolumeClaim>| match c.object() {
                Some(claim) => selecting(&sets, claim.namespace().as_deref(), claim.labels()),
                None => all(&sets),
            }
        }),
    ];
    work::run("statefulset", sets, triggers, ctx, reconcile::reconcile).await;
}

fn all(sets: &Store<StatefulSet>) -> Vec<ObjectRef<StatefulSet>> {
    sets.state()
        .iter()
        .map(|s| ObjectRef::from_obj(s.as_ref()))
        .collect()
}

/// The sets in `namespace` whose selector matches `labels`.
fn selecting(
    sets: &Store<StatefulSet>,
    namespace: Option<&str>,
    labels: &std::collections::BTreeMap<String, String>,
) -> Vec<ObjectRef<StatefulSet>> {
    sets.state()
        .iter()
        .filter(|s| s.namespace().as_deref() == namespace && selects(s, labels))
        .map(|s| ObjectRef::from_obj(s.as_ref()))
        .collect()
}

/// The set's selector, unless it is missing, empty or malformed.
fn selector(set: &StatefulSet) -> Option<Selector> {
    let sel = set.spec.selector.clone();
    if sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && sel.match_expressions.as_ref().is_none_or(|e| e.is_empty())
    {
        return None;
    }
    Selector::try_from(sel).ok()
}

/// Whether the set has a usable selector.
pub fn has_selector(set: &StatefulSet) -> bool {
    selector(set).is_some()
}

/// Whether the set's selector matches `labels` (a missing or malformed selector matches nothing).
pub fn selects(set: &StatefulSet, labels: &std::collections::BTreeMap<String, String>) -> bool {
    selector(set).is_some_and(|s| s.matches(labels))
}

/// Pod changes → the owning set (and the previous owner when the controller ref changed), or
/// for orphans every set whose selector matches (upstream `addPod`/`updatePod`/`deletePod`).
fn pod_mapper(
    sets: Store<StatefulSet>,
) -> impl FnMut(&Change<Pod>) -> Vec<ObjectRef<StatefulSet>> + Send + 'static {
    let mut owners: HashMap<(String, String), String> = HashMap::new();
    move |c| {
        let Some(pod) = c.object() else {
            return all(&sets);
        };
        let ns = pod.namespace().unwrap_or_default();
        let key = (ns.clone(), pod.name_any());
        let owner = identity::controller_of(pod.owner_references())
            .filter(|r| r.kind == "StatefulSet" && r.api_version == "apps/v1");
        let mut out = Vec::new();
        let previous = match c {
            Change::Deleted(_) => owners.remove(&key),
            _ => match owner {
                Some(r) => owners.insert(key, r.name.clone()),
                None => owners.remove(&key),
            },
        };
        if let Some(prev) = previous
            && owner.is_none_or(|r| r.name != prev)
        {
            out.push(ObjectRef::new(&prev).within(&ns));
        }
        match owner {
            Some(r) => {
                let set_ref = ObjectRef::new(&r.name).within(&ns);
                if sets
                    .get(&set_ref)
                    .is_some_and(|s| s.uid().as_deref() == Some(r.uid.as_str()))
                {
                    out.push(set_ref);
                }
            }
            None if !matches!(c, Change::Deleted(_)) => {
                out.extend(selecting(&sets, Some(&ns), pod.labels()));
            }
            None => {}
        }
        out
    }
}
