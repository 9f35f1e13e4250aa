//! Pod health predicates and the StatefulSet status computed from the pods (upstream
//! `computeReplicaStatus`, `completeRollingUpdate`, `inconsistentStatus`).

use std::time::Duration;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::identity::revision_of;

/// The pod's phase ("" when the pod has none: not created).
pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Whether the API server has the pod (it defaults the phase to Pending on create).
pub fn is_created(pod: &Pod) -> bool {
    !phase(pod).is_empty()
}

/// Whether the pod has a deletion timestamp.
pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// The pod's Ready condition: (is true, last transition).
fn ready_condition(pod: &Pod) -> Option<(bool, Option<Timestamp>)> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| {
            (
                c.status == "True",
                c.last_transition_time.as_ref().map(|t| t.0),
            )
        })
}

/// Whether the pod's Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|(ready, _)| ready)
}

/// Phase Running and Ready.
pub fn is_running_and_ready(pod: &Pod) -> bool {
    phase(pod) == "Running" && is_ready(pod)
}

/// Upstream `IsPodAvailable`: Ready, and Ready for longer than `min_ready_seconds`.
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match ready_condition(pod) {
        Some((true, _)) if min_ready_seconds <= 0 => true,
        Some((true, Some(since))) => since
            .saturating_add(SignedDuration::from_secs(i64::from(min_ready_seconds)))
            .is_ok_and(|t| t < now),
        _ => false,
    }
}

/// When a Ready pod becomes available, if it is not yet.
pub fn available_at(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> Option<Duration> {
    let (true, Some(since)) = ready_condition(pod)? else {
        return None;
    };
    if min_ready_seconds <= 0 || is_available(pod, min_ready_seconds, now) {
        return None;
    }
    let at = since
        .saturating_add(SignedDuration::from_secs(i64::from(min_ready_seconds) + 1))
        .ok()?;
    Duration::try_from(at.duration_since(now)).ok()
}

/// Running, Ready and not terminating.
pub fn is_healthy(pod: &Pod) -> bool {
    is_running_and_ready(pod) && !is_terminating(pod)
}

/// Upstream `isUnavailable`: terminating, or not Running+Ready+Available.
pub fn is_unavailable(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    !is_healthy(pod) || !is_available(pod, min_ready_seconds, now)
}

/// The counting part of the status, over the pods of a sync.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Created pods (terminating and failed ones included).
    pub replicas: i32,
    /// Running and Ready.
    pub ready: i32,
    /// Ready for `minReadySeconds`.
    pub available: i32,
    /// Live pods at the current revision.
    pub current: i32,
    /// Live pods at the update revision.
    pub updated: i32,
}

/// Upstream `computeReplicaStatus` over `pods` (placeholders not created are not counted).
pub fn count<'a>(
    pods: impl IntoIterator<Item = &'a Pod>,
    min_ready_seconds: i32,
    current_revision: &str,
    update_revision: &str,
    now: Timestamp,
) -> Counts {
    let mut c = Counts::default();
    for pod in pods {
        if is_created(pod) {
            c.replicas += 1;
        }
        if is_running_and_ready(pod) {
            c.ready += 1;
            if is_available(pod, min_ready_seconds, now) {
                c.available += 1;
            }
        }
        if is_created(pod) && !is_terminating(pod) {
            let rev = revision_of(pod);
            if rev == current_revision {
                c.current += 1;
            }
            if rev == update_revision {
                c.updated += 1;
            }
        }
    }
    c
}

/// Writes the counts into a status.
pub fn apply_counts(status: &mut StatefulSetStatus, c: Counts) {
    status.replicas = c.replicas;
    status.ready_replicas = Some(c.ready);
    status.available_replicas = Some(c.available);
    status.current_replicas = Some(c.current);
    status.updated_replicas = Some(c.updated);
}

/// Upstream `completeRollingUpdate`: once every replica is updated and ready, the update
/// revision becomes the current one (RollingUpdate only).
pub fn complete_rolling_update(set: &StatefulSet, status: &mut StatefulSetStatus) {
    let spec = &set.spec;
    let rolling = spec
        .update_strategy
        .as_ref()
        .and_then(|u| u.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate");
    let replicas = spec.replicas.unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    if rolling
        && updated == status.ready_replicas.unwrap_or(0)
        && updated == status.replicas
        && updated == replicas
    {
        status.current_replicas = Some(updated);
        status.current_revision = status.update_revision.clone();
    }
}

/// Upstream `inconsistentStatus`: whether the new status must be written (a newer generation
/// or any count or revision differs; the collision count alone does not).
pub fn needs_write(old: Option<&StatefulSetStatus>, new: &StatefulSetStatus) -> bool {
    let Some(old) = old else { return true };
    new.observed_generation.unwrap_or(0) > old.observed_generation.unwrap_or(0)
        || new.replicas != old.replicas
        || new.current_replicas.unwrap_or(0) != old.current_replicas.unwrap_or(0)
        || new.ready_replicas.unwrap_or(0) != old.ready_replicas.unwrap_or(0)
        || new.updated_replicas.unwrap_or(0) != old.updated_replicas.unwrap_or(0)
        || new.current_revision != old.current_revision
        || new.available_replicas.unwrap_or(0) != old.available_replicas.unwrap_or(0)
        || new.update_revision != old.update_revision
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pod(
        phase: &str,
        ready: Option<&str>,
        since: Option<&str>,
        rev: &str,
        terminating: bool,
    ) -> Pod {
        let mut meta = json!({"name": "p-0", "labels": {"controller-revision-hash": rev}});
        if terminating {
            meta["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        }
        let conds: Value = match ready {
            Some(s) => json!([{"type": "Ready", "status": s, "lastTransitionTime": since}]),
            None => json!([]),
        };
        let status = if phase.is_empty() {
            json!({})
        } else {
            json!({"phase": phase, "conditions": conds})
        };
        serde_json::from_value(json!({"metadata": meta, "status": status})).unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn availability_needs_ready_for_longer_than_min_ready_seconds() {
        let now = at("2024-01-01T00:01:00Z");
        let p = pod(
            "Running",
            Some("True"),
            Some("2024-01-01T00:00:30Z"),
            "r",
            false,
        );
        for (mrs, want) in [(0, true), (29, true), (30, false), (60, false)] {
            assert_eq!(is_available(&p, mrs, now), want, "minReadySeconds {mrs}");
        }
        assert_eq!(available_at(&p, 40, now), Some(Duration::from_secs(11)));
        assert_eq!(available_at(&p, 10, now), None);
        let no_time = pod("Running", Some("True"), None, "r", false);
        assert!(is_available(&no_time, 0, now));
        assert!(!is_available(&no_time, 5, now));
    }

    #[test]
    fn counts_follow_the_upstream_rules() {
        let now = at("2024-01-01T00:01:00Z");
        let pods = [
            pod(
                "Running",
                Some("True"),
                Some("2024-01-01T00:00:00Z"),
                "cur",
                false,
            ),
            pod(
                "Running",
                Some("True"),
                Some("2024-01-01T00:00:59Z"),
                "upd",
                false,
            ),
            pod("Running", Some("False"), None, "upd", false),
            pod(
                "Running",
                Some("True"),
                Some("2024-01-01T00:00:00Z"),
                "cur",
                true,
            ),
            pod("Failed", None, None, "cur", false),
            pod("", None, None, "upd", false),
        ];
        let c = count(&pods, 10, "cur", "upd", now);
        assert_eq!(
            c,
            Counts {
                replicas: 5,
                ready: 3,
                available: 2,
                current: 2,
                updated: 2
            }
        );
        assert!(
            is_unavailable(&pods[3], 0, now),
            "terminating pods are unavailable"
        );
        assert!(
            is_unavailable(&pods[5], 0, now),
            "placeholders are unavailable"
        );
    }

    #[test]
    fn completion_needs_every_replica_updated_and_ready() {
        let set: StatefulSet = serde_json::from_value(
            json!({"spec": {"replicas": 2, "selector": {}, "template": {}}}),
        )
        .unwrap();
        let mut s = StatefulSetStatus {
            replicas: 2,
            ready_replicas: Some(2),
            updated_replicas: Some(2),
            current_replicas: Some(0),
            current_revision: Some("old".into()),
            update_revision: Some("new".into()),
            ..Default::default()
        };
        let mut not_ready = s.clone();
        not_ready.ready_replicas = Some(1);
        complete_rolling_update(&set, &mut not_ready);
        assert_eq!(not_ready.current_revision.as_deref(), Some("old"));
        complete_rolling_update(&set, &mut s);
        assert_eq!(s.current_revision.as_deref(), Some("new"));
        assert_eq!(s.current_replicas, Some(2));
    }

    #[test]
    fn collision_count_alone_does_not_need_a_write() {
        let old = StatefulSetStatus {
            observed_generation: Some(2),
            replicas: 1,
            collision_count: Some(0),
            ..Default::default()
        };
        let mut new = old.clone();
        new.collision_count = Some(1);
        assert!(!needs_write(Some(&old), &new));
        new.ready_replicas = Some(1);
        assert!(needs_write(Some(&old), &new));
        assert!(needs_write(None, &old));
    }
}
