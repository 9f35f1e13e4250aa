//! Rolling updates (upstream `updateStatefulSetAfterInvariantEstablished`, the v1.35 default):
//! which outdated pods to delete this sync, highest ordinal first, never below the partition,
//! and never more than `maxUnavailable` unavailable at once.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::identity::{replicas, revision_of};
use super::status::{is_terminating, is_unavailable};
use super::sync::min_ready_seconds;

/// `maxUnavailable` as a pod count: an integer, or a percentage of `spec.replicas` rounded
/// down; at least 1 (and 1 when unset).
pub fn max_unavailable(value: Option<&IntOrString>, replicas: i32) -> i32 {
    let n = match value {
        None => 1,
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(s)) => {
            match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
                Some(pct) => i32::try_from(pct * i64::from(replicas) / 100).unwrap_or(i32::MAX),
                None => s.parse().unwrap_or(1),
            }
        }
    };
    n.max(1)
}

/// The names of the pods to delete for the update this sync. `slots` is the ordinal range in
/// order; `None` marks a pod not created yet.
pub fn targets(
    set: &StatefulSet,
    slots: &[Option<&Pod>],
    update_revision: &str,
    now: Timestamp,
) -> Vec<String> {
    let rolling = set
        .spec
        .update_strategy
        .as_ref()
        .and_then(|u| u.rolling_update.as_ref());
    let partition = rolling.and_then(|r| r.partition).unwrap_or(0);
    let max = max_unavailable(
        rolling.and_then(|r| r.max_unavailable.as_ref()),
        replicas(set),
    );
    let mrs = min_ready_seconds(set);
    let unavailable = slots
        .iter()
        .filter(|s| s.is_none_or(|p| is_unavailable(p, mrs, now)))
        .count();
    let budget = usize::try_from(max)
        .unwrap_or(1)
        .saturating_sub(unavailable);
    let update_min = usize::try_from(partition).unwrap_or(0);
    slots
        .iter()
        .enumerate()
        .rev()
        .take_while(|(i, _)| *i >= update_min)
        .filter_map(|(_, s)| *s)
        .filter(|p| revision_of(p) != update_revision && !is_terminating(p))
        .take(budget)
        .map(ResourceExt::name_any)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn set(rolling: Value, replicas: i32) -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "ss"},
            "spec": {"replicas": replicas, "selector": {}, "template": {},
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": rolling}}
        }))
        .unwrap()
    }

    fn pod(o: usize, rev: &str, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": format!("ss-{o}"), "labels": {"controller-revision-hash": rev}},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
        }))
        .unwrap()
    }

    fn run(set: &StatefulSet, pods: &[Pod]) -> Vec<String> {
        let slots: Vec<Option<&Pod>> = pods.iter().map(Some).collect();
        targets(set, &slots, "new", Timestamp::now())
    }

    #[test]
    fn max_unavailable_rounds_percentages_down_and_is_at_least_one() {
        let pct = |s: &str| IntOrString::String(s.into());
        for (v, replicas, want) in [
            (None, 5, 1),
            (Some(IntOrString::Int(2)), 5, 2),
            (Some(pct("50%")), 5, 2),
            (Some(pct("10%")), 5, 1),
            (Some(pct("100%")), 3, 3),
        ] {
            assert_eq!(max_unavailable(v.as_ref(), replicas), want, "{v:?}");
        }
    }

    #[test]
    fn one_at_a_time_from_the_highest_ordinal() {
        let s = set(json!({"partition": 0}), 3);
        let pods = [
            pod(0, "old", true),
            pod(1, "old", true),
            pod(2, "old", true),
        ];
        assert_eq!(run(&s, &pods), vec!["ss-2"]);
        let pods = [
            pod(0, "old", true),
            pod(1, "old", true),
            pod(2, "new", true),
        ];
        assert_eq!(run(&s, &pods), vec!["ss-1"]);
    }

    #[test]
    fn an_unavailable_pod_uses_up_the_budget() {
        let s = set(json!({"partition": 0}), 3);
        let pods = [
            pod(0, "old", true),
            pod(1, "old", false),
            pod(2, "old", true),
        ];
        assert!(run(&s, &pods).is_empty());
        let slots = [Some(&pods[0]), None, Some(&pods[2])];
        assert!(targets(&s, &slots, "new", Timestamp::now()).is_empty());
    }

    #[test]
    fn the_partition_protects_lower_ordinals() {
        let s = set(json!({"partition": 2}), 3);
        let pods = [
            pod(0, "old", true),
            pod(1, "old", true),
            pod(2, "new", true),
        ];
        assert!(run(&s, &pods).is_empty());
    }

    #[test]
    fn max_unavailable_deletes_several_at_once() {
        let s = set(json!({"partition": 2, "maxUnavailable": 2}), 5);
        let pods: Vec<Pod> = (0..5).map(|o| pod(o, "old", true)).collect();
        assert_eq!(run(&s, &pods), vec!["ss-4", "ss-3"]);
        let mut pods = pods;
        pods[4] = pod(4, "new", false);
        assert_eq!(run(&s, &pods), vec!["ss-3"]);
    }
}
