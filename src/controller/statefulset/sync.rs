//! One sync of a StatefulSet's pods (upstream `updateStatefulSet`): fill the ordinal slots,
//! scale up, fix the claims of condemned pods, scale down, then roll updates — in the order and
//! with the halting rules of `OrderedReady` and `Parallel`. All writes go through [`Control`],
//! so the ordering rules are unit-tested against an in-memory fake.

use std::future::Future;

use futures::future::join_all;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::identity::{self, in_range, new_pod, ordinal, start_ordinal};
use super::status::{
    apply_counts, count, is_running_and_ready, is_terminating, is_unavailable, phase,
};
use super::update;
use crate::controller::Error;

/// The largest batch Parallel management creates or deletes at once.
const MAX_BATCH: usize = 500;

/// The writes a sync makes (upstream `StatefulPodControl`), each recording its event.
pub trait Control: Sync {
    /// Creates the pod's missing claims, then the pod, then sets the claims' retention refs.
    fn create_pod(
        &self,
        set: &StatefulSet,
        pod: &Pod,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Creates the claims a Pending pod is missing, and sets their retention refs.
    fn create_missing_claims(
        &self,
        set: &StatefulSet,
        pod: &Pod,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Restores the pod's identity, storage and claim refs (upstream `UpdateStatefulPod`).
    fn update_pod(
        &self,
        set: &StatefulSet,
        pod: &Pod,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Deletes the pod.
    fn delete_pod(
        &self,
        set: &StatefulSet,
        pod: &Pod,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Whether a claim of the (not yet created) pod belongs to a previous incarnation.
    fn claims_stale(&self, set: &StatefulSet, pod: &Pod) -> bool;
    /// Whether the pod's claims carry the refs the retention policy wants.
    fn claims_match_policy(&self, set: &StatefulSet, pod: &Pod) -> bool;
    /// Sets the refs the retention policy wants on the pod's claims.
    fn fix_claims_for_policy(
        &self,
        set: &StatefulSet,
        pod: &Pod,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// What one sync works from.
pub struct Plan<'a> {
    /// The live set.
    pub set: &'a StatefulSet,
    /// The set with the current revision's template.
    pub current_set: StatefulSet,
    /// The set with the update revision's template.
    pub update_set: StatefulSet,
    /// The current revision's name.
    pub current_revision: String,
    /// The update revision's name.
    pub update_revision: String,
    /// The collision count to write.
    pub collision_count: i32,
    /// The pods the set owns.
    pub pods: Vec<Pod>,
    /// The time availability is judged at.
    pub now: Timestamp,
}

/// A slot of the ordinal range: the pod, or the placeholder for a pod to create.
#[derive(Debug, Clone)]
struct Slot {
    pod: Pod,
    created: bool,
}

/// The set's `minReadySeconds`.
pub fn min_ready_seconds(set: &StatefulSet) -> i32 {
    set.spec.min_ready_seconds.unwrap_or(0)
}

fn parallel(set: &StatefulSet) -> bool {
    set.spec.pod_management_policy.as_deref() == Some("Parallel")
}

/// Whether the strategy is OnDelete.
pub fn on_delete(set: &StatefulSet) -> bool {
    set.spec
        .update_strategy
        .as_ref()
        .and_then(|u| u.type_.as_deref())
        == Some("OnDelete")
}

/// Upstream `newVersionedStatefulSetPod`: ordinals below the partition (or, without
/// `rollingUpdate`, below `start + status.currentReplicas`) come back at the current revision.
fn versioned_pod(plan: &Plan<'_>, o: i32) -> Pod {
    let cur = &plan.current_set;
    let strategy = cur.spec.update_strategy.as_ref();
    let rolling = strategy
        .and_then(|u| u.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate");
    let start = start_ordinal(cur);
    let from_current = match strategy.and_then(|u| u.rolling_update.as_ref()) {
        None => {
            let current_replicas = cur
                .status
                .as_ref()
                .and_then(|s| s.current_replicas)
                .unwrap_or(0);
            rolling && i64::from(o) < i64::from(start) + i64::from(current_replicas)
        }
        Some(ru) => i64::from(o) < i64::from(start) + i64::from(ru.partition.unwrap_or(0)),
    };
    let (set, rev) = if from_current {
        (cur, &plan.current_revision)
    } else {
        (&plan.update_set, &plan.update_revision)
    };
    let template = set.spec.template.clone();
    new_pod(plan.set, &template, o, rev)
}

/// Runs one sync; returns the status to write and the first error met (the status is valid
/// either way, as upstream writes it even after errors).
pub async fn sync(
    control: &impl Control,
    plan: Plan<'_>,
) -> (StatefulSetStatus, Result<(), Error>) {
    let set = plan.set;
    let mrs = min_ready_seconds(set);
    let now = plan.now;
    let mut status = StatefulSetStatus {
        observed_generation: set.metadata.generation,
        current_revision: Some(plan.current_revision.clone()),
        update_revision: Some(plan.update_revision.clone()),
        collision_count: Some(plan.collision_count),
        ..Default::default()
    };
    let recount = |status: &mut StatefulSetStatus, pods: &[&Pod]| {
        apply_counts(
            status,
            count(
                pods.iter().copied(),
                mrs,
                &plan.current_revision,
                &plan.update_revision,
                now,
            ),
        );
    };
    recount(&mut status, &plan.pods.iter().collect::<Vec<_>>());

    // Partition into the ordinal range's slots and the condemned pods.
    let start = start_ordinal(set);
    let replicas = usize::try_from(identity::replicas(set)).unwrap_or(0);
    let mut slots: Vec<Option<Slot>> = vec![None; replicas];
    let mut condemned: Vec<Pod> = Vec::new();
    for pod in &plan.pods {
        let Some(o) = ordinal(pod) else { continue };
        if in_range(set, o) {
            if let Some(slot) = usize::try_from(o - start)
                .ok()
                .and_then(|i| slots.get_mut(i))
            {
                *slot = Some(Slot {
                    pod: pod.clone(),
                    created: true,
                });
            }
        } else if o >= 0 {
            condemned.push(pod.clone());
        }
    }
    let slots: Vec<Slot> = slots
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            s.unwrap_or_else(|| Slot {
                pod: versioned_pod(
                    &plan,
                    start.saturating_add(i32::try_from(i).unwrap_or(i32::MAX)),
                ),
                created: false,
            })
        })
        .collect();
    condemned.sort_by_key(|p| std::cmp::Reverse(ordinal(p)));

    let first_unavailable: Option<String> = slots
        .iter()
        .map(|s| &s.pod)
        .chain(condemned.iter().rev())
        .find(|p| is_unavailable(p, mrs, now))
        .map(ResourceExt::name_any);

    let all = |slots: &[Slot], condemned: &[Pod]| -> Vec<Pod> {
        slots
            .iter()
            .filter(|s| s.created)
            .map(|s| s.pod.clone())
            .chain(condemned.iter().cloned())
            .collect()
    };
    let finish = |status: &mut StatefulSetStatus, slots: &[Slot], condemned: &[Pod]| {
        let pods = all(slots, condemned);
        recount(status, &pods.iter().collect::<Vec<_>>());
    };

    if set.metadata.deletion_timestamp.is_some() {
        return (status, Ok(()));
    }
    let monotonic = !parallel(set);

    // Phase A: the replicas.
    let (stop, result) = run_for_all(slots.len(), monotonic, |i| {
        process_replica(control, &plan, monotonic, &slots[i], mrs, now)
    })
    .await;
    if stop || result.is_err() {
        finish(&mut status, &slots, &condemned);
        return (status, result);
    }

    // Phase B: the retention refs of condemned pods' claims, before any of them is deleted.
    let update_set = &plan.update_set;
    let (stop, result) = run_for_all(condemned.len(), monotonic, |i| {
        let pod = &condemned[i];
        async move {
            if !control.claims_match_policy(update_set, pod) {
                control.fix_claims_for_policy(update_set, pod).await?;
            }
            Ok(false)
        }
    })
    .await;
    if stop || result.is_err() {
        finish(&mut status, &slots, &condemned);
        return (status, result);
    }

    // Phase C: the condemned pods, highest ordinal first.
    let (stop, result) = run_for_all(condemned.len(), monotonic, |i| {
        process_condemned(
            control,
            set,
            monotonic,
            &condemned[i],
            first_unavailable.as_deref(),
            mrs,
            now,
        )
    })
    .await;
    finish(&mut status, &slots, &condemned);
    if stop || result.is_err() || on_delete(set) {
        return (status, result);
    }

    // Phase D: the rolling update.
    let pods: Vec<Option<&Pod>> = slots.iter().map(|s| s.created.then_some(&s.pod)).collect();
    let targets = update::targets(set, &pods, &plan.update_revision, now);
    for name in targets {
        let Some(pod) = slots.iter().find(|s| s.pod.name_any() == name) else {
            continue;
        };
        match control.delete_pod(set, &pod.pod).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return (status, Err(e)),
        }
        status.current_replicas = Some(status.current_replicas.unwrap_or(0) - 1);
    }
    (status, Ok(()))
}

/// Upstream `runForAll`: in order, stopping at the first stop or error (OrderedReady), or in
/// slow-start batches of 1, 2, 4, … stopping after a batch with errors (Parallel).
async fn run_for_all<'a, F, Fut>(n: usize, monotonic: bool, f: F) -> (bool, Result<(), Error>)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<bool, Error>> + 'a,
{
    if monotonic {
        for i in 0..n {
            match f(i).await {
                Ok(false) => {}
                Ok(true) => return (true, Ok(())),
                Err(e) => return (true, Err(e)),
            }
        }
        return (false, Ok(()));
    }
    let mut next = 0;
    let mut batch = 1;
    while next < n {
        let end = (next + batch).min(n);
        let results = join_all((next..end).map(&f)).await;
        if let Some(e) = results.into_iter().find_map(Result::err) {
            return (true, Err(e));
        }
        next = end;
        batch = (batch * 2).min(MAX_BATCH);
    }
    (false, Ok(()))
}

/// Upstream `processReplica`: returns whether this sync must stop here (OrderedReady).
async fn process_replica(
    control: &impl Control,
    plan: &Plan<'_>,
    monotonic: bool,
    slot: &Slot,
    mrs: i32,
    now: Timestamp,
) -> Result<bool, Error> {
    let set = plan.set;
    let pod = &slot.pod;
    if slot.created && matches!(phase(pod), "Failed" | "Succeeded") {
        if !is_terminating(pod) {
            control.delete_pod(set, pod).await?;
        }
        // The replacement is created once the old pod is gone.
        return Ok(true);
    }
    if !slot.created {
        if control.claims_stale(set, pod) {
            return Ok(true);
        }
        control.create_pod(set, pod).await?;
        if monotonic {
            return Ok(true);
        }
        return Ok(false);
    }
    if phase(pod) == "Pending" {
        control.create_missing_claims(set, pod).await?;
    }
    if monotonic
        && (is_terminating(pod) || !is_running_and_ready(pod) || is_unavailable(pod, mrs, now))
    {
        return Ok(true);
    }
    let matches = identity::identity_matches(set, pod)
        && identity::storage_matches(set, pod)
        && control.claims_match_policy(&plan.update_set, pod);
    if !matches {
        control.update_pod(&plan.update_set, pod).await?;
    }
    Ok(false)
}

/// Upstream `processCondemned`: returns whether this sync must stop here.
async fn process_condemned(
    control: &impl Control,
    set: &StatefulSet,
    monotonic: bool,
    pod: &Pod,
    first_unavailable: Option<&str>,
    mrs: i32,
    now: Timestamp,
) -> Result<bool, Error> {
    if is_terminating(pod) {
        return Ok(monotonic);
    }
    let is_first = first_unavailable == Some(pod.name_any().as_str());
    if monotonic && !is_first && (!is_running_and_ready(pod) || is_unavailable(pod, mrs, now)) {
        return Ok(true);
    }
    control.delete_pod(set, pod).await?;
    Ok(monotonic)
}

#[cfg(test)]
mod tests;
