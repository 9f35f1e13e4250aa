//! One reconcile of a StatefulSet (upstream `sync` + `UpdateStatefulSet`): adopt, settle the
//! revisions, run the sync, write the status, truncate the history, requeue for
//! `minReadySeconds`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;
use parking_lot::Mutex;
use serde_json::json;

use super::control::PodControl;
use super::identity::revision_of;
use super::revisions::{self, UpdateRevision};
use super::status::{available_at, complete_rolling_update, needs_write};
use super::sync::{self, Plan, min_ready_seconds};
use super::{adoption, has_selector};
use crate::controller::Error;
use crate::controller::events::Recorder;

/// How many times a status write retries on conflicts.
const STATUS_RETRIES: usize = 5;
/// How many name collisions a new revision tolerates before giving up this sync.
const MAX_COLLISIONS: usize = 16;

/// What the reconciler reads and writes through.
pub struct Context {
    /// The API.
    pub client: kube::Client,
    /// StatefulSets.
    pub sets: Store<StatefulSet>,
    /// Pods.
    pub pods: Store<Pod>,
    /// Claims.
    pub claims: Store<PersistentVolumeClaim>,
    /// ControllerRevisions.
    pub revisions: Store<ControllerRevision>,
    /// Events as `statefulset-controller`.
    pub recorder: Recorder,
    /// The statuses this controller wrote that the cache may not show yet, by set uid.
    pub written: Mutex<HashMap<String, WrittenStatus>>,
}

/// A status write: the resourceVersion it replaced, and the status it stored.
#[derive(Debug, Clone)]
pub struct WrittenStatus {
    before: Option<String>,
    status: StatefulSetStatus,
}

impl Context {
    /// The set with the last status this controller wrote while the cache still holds the
    /// version before that write: the next sync must not work from a stale `currentReplicas`
    /// or `collisionCount` (a pod deletion can be seen before the status write).
    fn with_own_status(&self, set: &StatefulSet) -> StatefulSet {
        let uid = set.uid().unwrap_or_default();
        let mut written = self.written.lock();
        let Some(w) = written.get(&uid) else {
            return set.clone();
        };
        let rv = set.resource_version();
        if rv.is_some() && rv == w.before {
            let mut fresh = set.clone();
            fresh.status = Some(w.status.clone());
            return fresh;
        }
        written.remove(&uid);
        set.clone()
    }
}

/// Reconciles one set.
pub async fn reconcile(set: Arc<StatefulSet>, ctx: Arc<Context>) -> Result<Action, Error> {
    let set = &ctx.with_own_status(&set);
    if !has_selector(set) {
        // An empty, missing or malformed selector: nothing to manage (validation refuses these).
        return Ok(Action::await_change());
    }
    let mut revs = adoption::claim_revisions(&ctx, set).await?;
    let pods = adoption::claim_pods(&ctx, set).await?;
    revisions::sort(&mut revs);
    let (current, update, collision_count) = settle_revisions(&ctx, set, &revs).await?;
    let with_template = |rev: &ControllerRevision| -> Result<StatefulSet, Error> {
        let template = revisions::template_of(rev).ok_or_else(|| {
            Error::other(format!(
                "controller revision {} has no pod template",
                rev.name_any()
            ))
        })?;
        let mut s = set.clone();
        s.spec.template = template;
        Ok(s)
    };
    let now = Timestamp::now();
    let plan = Plan {
        set,
        current_set: with_template(&current)?,
        update_set: with_template(&update)?,
        current_revision: current.name_any(),
        update_revision: update.name_any(),
        collision_count,
        pods: pods.clone(),
        now,
    };
    let control = PodControl::new(&ctx);
    let (mut status, result) = sync::sync(&control, plan).await;
    complete_rolling_update(set, &mut status);
    tracing::debug!(
        set = %set.name_any(),
        pods = pods.len(),
        replicas = status.replicas,
        ready = status.ready_replicas,
        "statefulset synced"
    );
    let status_result = write_status(&ctx, set, &status).await;
    let truncated = truncate_history(&ctx, set, &pods, &revs, &current, &update).await;
    let errors: Vec<Error> = [result, status_result, truncated]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    Error::collect(errors)?;
    Ok(requeue_for_availability(set, &status, &pods, now))
}

/// Upstream `getStatefulSetRevisions`: the current and update revisions (creating the update
/// revision, or rolling an older one forward) and the collision count.
async fn settle_revisions(
    ctx: &Context,
    set: &StatefulSet,
    sorted: &[ControllerRevision],
) -> Result<(ControllerRevision, ControllerRevision, i32), Error> {
    let mut collision_count = set
        .status
        .as_ref()
        .and_then(|s| s.collision_count)
        .unwrap_or(0);
    let number = revisions::next_number(sorted);
    let candidate = revisions::new_revision(set, number, collision_count);
    let api: Api<ControllerRevision> =
        Api::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
    let update = match revisions::find_update(sorted, &candidate) {
        UpdateRevision::Latest(i) => sorted[i].clone(),
        UpdateRevision::RollBack(i) => {
            let patch = json!({"revision": number});
            api.patch(
                &sorted[i].name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?
        }
        UpdateRevision::Create => {
            let mut attempt = candidate;
            let mut tries = 0;
            loop {
                match api.create(&PostParams::default(), &attempt).await {
                    Ok(created) => break created,
                    Err(kube::Error::Api(s)) if s.code == 409 => {
                        let existing = api.get(&attempt.name_any()).await?;
                        if revisions::equal(&existing, &attempt) {
                            break existing;
                        }
                        tries += 1;
                        if tries > MAX_COLLISIONS {
                            return Err(Error::other(
                                "too many ControllerRevision name collisions",
                            ));
                        }
                        collision_count += 1;
                        attempt = revisions::new_revision(set, number, collision_count);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    };
    let current_name = set
        .status
        .as_ref()
        .and_then(|s| s.current_revision.clone())
        .unwrap_or_default();
    let current = sorted
        .iter()
        .find(|r| r.name_any() == current_name)
        .cloned()
        .unwrap_or_else(|| update.clone());
    Ok((current, update, collision_count))
}

/// Writes the status when it changed, retrying conflicts on a fresh read.
async fn write_status(
    ctx: &Context,
    set: &StatefulSet,
    status: &StatefulSetStatus,
) -> Result<(), Error> {
    if !needs_write(set.status.as_ref(), status) {
        return Ok(());
    }
    let api: Api<StatefulSet> =
        Api::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
    let name = set.name_any();
    let mut obj = set.clone();
    let mut last = None;
    for _ in 0..STATUS_RETRIES {
        let mut next = status.clone();
        // The collision count never goes down.
        let live_collisions = obj
            .status
            .as_ref()
            .and_then(|s| s.collision_count)
            .unwrap_or(0);
        next.collision_count = Some(next.collision_count.unwrap_or(0).max(live_collisions));
        obj.status = Some(next);
        match api
            .replace_status(&name, &PostParams::default(), &obj)
            .await
        {
            Ok(stored) => {
                ctx.written.lock().insert(
                    set.uid().unwrap_or_default(),
                    WrittenStatus {
                        before: obj.resource_version(),
                        status: stored.status.unwrap_or_default(),
                    },
                );
                return Ok(());
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {
                last = Some(kube::Error::Api(s));
                match api.get(&name).await {
                    Ok(fresh) if fresh.uid() == set.uid() => obj = fresh,
                    Ok(_) => return Ok(()),
                    Err(e) => return Err(e.into()),
                }
            }
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last
        .map(Error::from)
        .unwrap_or_else(|| Error::other("status write failed")))
}

/// Upstream `truncateHistory`: deletes the oldest revisions nothing uses beyond the limit.
async fn truncate_history(
    ctx: &Context,
    set: &StatefulSet,
    pods: &[Pod],
    sorted: &[ControllerRevision],
    current: &ControllerRevision,
    update: &ControllerRevision,
) -> Result<(), Error> {
    let mut live: HashSet<String> = [current.name_any(), update.name_any()].into();
    live.extend(pods.iter().map(|p| revision_of(p).to_string()));
    let limit = set.spec.revision_history_limit.unwrap_or(10);
    let api: Api<ControllerRevision> =
        Api::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
    for name in revisions::to_truncate(sorted, &live, limit) {
        match api.delete(&name, &Default::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// With `minReadySeconds`, look again when the next ready pod becomes available.
fn requeue_for_availability(
    set: &StatefulSet,
    status: &StatefulSetStatus,
    pods: &[Pod],
    now: Timestamp,
) -> Action {
    let mrs = min_ready_seconds(set);
    let replicas = super::identity::replicas(set);
    if mrs <= 0 || status.available_replicas.unwrap_or(0) == replicas {
        return Action::await_change();
    }
    let soonest = pods
        .iter()
        .filter_map(|p| available_at(p, mrs, now))
        .min()
        .unwrap_or(Duration::from_secs(u64::try_from(mrs).unwrap_or(1)));
    Action::requeue(soonest.max(Duration::from_millis(100)))
}
