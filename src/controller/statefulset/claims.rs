//! Claims from `volumeClaimTemplates` and the retention policy's ownerReferences (upstream
//! `getPersistentVolumeClaims`, `isClaimOwnerUpToDate`, `updateClaimOwnerRefForSetAndPod`,
//! `PodClaimIsStale`). Pure functions: the caller reads claims from the cache and writes them.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;

use super::identity::{claim_name, controller_ref};

/// The effective `persistentVolumeClaimRetentionPolicy` (Retain/Retain when unset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `whenDeleted: Delete`.
    pub delete_when_deleted: bool,
    /// `whenScaled: Delete`.
    pub delete_when_scaled: bool,
}

impl Policy {
    /// The set's policy.
    pub fn of(set: &StatefulSet) -> Self {
        let p = set.spec.persistent_volume_claim_retention_policy.as_ref();
        let delete = |v: Option<&String>| v.map(String::as_str) == Some("Delete");
        Self {
            delete_when_deleted: delete(p.and_then(|p| p.when_deleted.as_ref())),
            delete_when_scaled: delete(p.and_then(|p| p.when_scaled.as_ref())),
        }
    }

    fn retain_all(self) -> bool {
        !self.delete_when_deleted && !self.delete_when_scaled
    }
}

/// Who a claim belongs to: the set's pod (possibly not created yet: empty uid) for one ordinal.
#[derive(Debug, Clone)]
pub struct PodIdent {
    /// The pod name.
    pub name: String,
    /// The pod uid ("" for a pod not created yet).
    pub uid: String,
    /// Whether the ordinal is inside the set's range (false: the pod is condemned).
    pub in_range: bool,
}

impl PodIdent {
    fn owner_ref(&self) -> OwnerReference {
        OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: self.name.clone(),
            uid: self.uid.clone(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }
}

/// The claims of the set's pod at `ordinal`: each template with the per-ordinal name, the set's
/// namespace, and the selector's `matchLabels` merged into its labels.
pub fn new_claims(set: &StatefulSet, ordinal: i32) -> Vec<PersistentVolumeClaim> {
    let set_name = set.name_any();
    let spec = &set.spec;
    let match_labels = spec.selector.match_labels.clone().unwrap_or_default();
    spec.volume_claim_templates
        .iter()
        .flatten()
        .map(|t| {
            let mut claim = t.clone();
            let template = t.metadata.name.clone().unwrap_or_default();
            claim.metadata.name = Some(claim_name(&template, &set_name, ordinal));
            claim.metadata.namespace = set.namespace();
            let labels = claim.metadata.labels.get_or_insert_with(BTreeMap::new);
            labels.extend(match_labels.clone());
            claim.metadata.owner_references = None;
            claim.metadata.resource_version = None;
            claim.metadata.uid = None;
            claim.status = None;
            claim
        })
        .collect()
}

fn matches_set(r: &OwnerReference, set: &StatefulSet) -> bool {
    r.api_version == "apps/v1" && r.kind == "StatefulSet" && r.name == set.name_any()
}

fn matches_pod(r: &OwnerReference, pod: &PodIdent) -> bool {
    r.api_version == "v1" && r.kind == "Pod" && r.name == pod.name
}

fn has_ref(claim: &PersistentVolumeClaim, uid: &str) -> bool {
    !uid.is_empty() && claim.owner_references().iter().any(|r| r.uid == uid)
}

/// Upstream `hasStaleOwnerRef`: the first ref naming the object has another uid.
fn stale_ref(
    claim: &PersistentVolumeClaim,
    matches: impl Fn(&OwnerReference) -> bool,
    uid: &str,
) -> bool {
    claim
        .owner_references()
        .iter()
        .find(|r| matches(r))
        .is_some_and(|r| r.uid != uid)
}

/// Upstream `hasUnexpectedController`: under a non-Retain policy, a controller ref that is not
/// this set or pod (a ref naming them with another uid counts too).
pub fn has_unexpected_controller(
    claim: &PersistentVolumeClaim,
    set: &StatefulSet,
    pod: &PodIdent,
) -> bool {
    if Policy::of(set).retain_all() {
        return false;
    }
    let set_uid = set.uid().unwrap_or_default();
    claim.owner_references().iter().any(|r| {
        if matches_set(r, set) {
            r.uid != set_uid
        } else if matches_pod(r, pod) {
            r.uid != pod.uid
        } else {
            r.controller == Some(true)
        }
    })
}

/// Upstream `isClaimOwnerUpToDate`: whether the claim's refs agree with the retention policy
/// (claims with stale refs or a foreign controller count as up to date: they are left alone).
pub fn owner_up_to_date(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: &PodIdent) -> bool {
    let set_uid = set.uid().unwrap_or_default();
    if stale_ref(claim, |r| matches_set(r, set), &set_uid)
        || stale_ref(claim, |r| matches_pod(r, pod), &pod.uid)
    {
        return true;
    }
    let has_set = has_ref(claim, &set_uid);
    let has_pod = has_ref(claim, &pod.uid);
    if has_unexpected_controller(claim, set, pod) {
        return !(has_set || has_pod);
    }
    let non_controller = claim.owner_references().iter().any(|r| {
        (r.uid == set_uid || (!pod.uid.is_empty() && r.uid == pod.uid))
            && r.controller != Some(true)
    });
    if non_controller {
        return false;
    }
    let (want_set, want_pod) = wanted_refs(Policy::of(set), pod.in_range);
    has_set == want_set && has_pod == want_pod
}

/// Which refs the policy wants: (set ref, pod ref).
fn wanted_refs(policy: Policy, in_range: bool) -> (bool, bool) {
    match (policy.delete_when_scaled, policy.delete_when_deleted) {
        (false, false) => (false, false),
        (false, true) => (true, false),
        (true, false) => (false, !in_range),
        (true, true) => (in_range, !in_range),
    }
}

/// Upstream `updateClaimOwnerRefForSetAndPod`: the claim's refs with ours scrubbed and the
/// policy's controller refs appended (none when a foreign controller is present).
pub fn fixed_owner_refs(
    claim: &PersistentVolumeClaim,
    set: &StatefulSet,
    pod: &PodIdent,
) -> Vec<OwnerReference> {
    let unexpected = has_unexpected_controller(claim, set, pod);
    let mut refs: Vec<OwnerReference> = claim
        .owner_references()
        .iter()
        .filter(|r| !matches_set(r, set) && !matches_pod(r, pod))
        .cloned()
        .collect();
    if unexpected {
        return refs;
    }
    let (want_set, want_pod) = wanted_refs(Policy::of(set), pod.in_range);
    if want_pod && !pod.uid.is_empty() {
        refs.push(pod.owner_ref());
    }
    if want_set {
        refs.push(controller_ref(set));
    }
    refs
}

/// Upstream `PodClaimIsStale` for one claim: under `whenScaled: Delete`, a claim that names the
/// pod with another uid belongs to a previous incarnation about to be garbage collected.
pub fn is_stale(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: &PodIdent) -> bool {
    Policy::of(set).delete_when_scaled && stale_ref(claim, |r| matches_pod(r, pod), &pod.uid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn set(policy: Value) -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "ss", "namespace": "ns", "uid": "set-uid"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"foo": "bar"}},
                "template": {"metadata": {"labels": {"foo": "bar"}}},
                "persistentVolumeClaimRetentionPolicy": policy,
                "volumeClaimTemplates": [{"metadata": {"name": "datadir", "labels": {"x": "y", "foo": "other"}},
                                          "spec": {"accessModes": ["ReadWriteOnce"]}}]
            }
        }))
        .unwrap()
    }

    fn claim(refs: Value) -> PersistentVolumeClaim {
        serde_json::from_value(
            json!({"metadata": {"name": "datadir-ss-1", "ownerReferences": refs}}),
        )
        .unwrap()
    }

    fn pod(in_range: bool) -> PodIdent {
        PodIdent {
            name: "ss-1".into(),
            uid: "pod-uid".into(),
            in_range,
        }
    }

    fn set_ref(controller: bool) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "ss", "uid": "set-uid", "controller": controller, "blockOwnerDeletion": true})
    }

    fn pod_ref() -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "name": "ss-1", "uid": "pod-uid", "controller": true, "blockOwnerDeletion": true})
    }

    fn kinds(refs: &[OwnerReference]) -> Vec<String> {
        refs.iter()
            .map(|r| format!("{}/{}", r.kind, r.name))
            .collect()
    }

    #[test]
    fn claims_are_named_per_ordinal_with_selector_labels() {
        let s = set(json!({}));
        let claims = new_claims(&s, 4);
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].name_any(), "datadir-ss-4");
        assert_eq!(claims[0].namespace().as_deref(), Some("ns"));
        let labels = claims[0].labels();
        assert_eq!(labels["foo"], "bar", "selector values win");
        assert_eq!(labels["x"], "y");
        assert!(claims[0].owner_references().is_empty());
    }

    /// The policy table of the spec (§3.3): which refs each policy wants, in range and condemned.
    #[test]
    fn the_policy_table() {
        let table = [
            // whenScaled, whenDeleted, in range → refs, condemned → refs
            ("Retain", "Retain", vec![], vec![]),
            (
                "Retain",
                "Delete",
                vec!["StatefulSet/ss"],
                vec!["StatefulSet/ss"],
            ),
            ("Delete", "Retain", vec![], vec!["Pod/ss-1"]),
            ("Delete", "Delete", vec!["StatefulSet/ss"], vec!["Pod/ss-1"]),
        ];
        for (scaled, deleted, in_range, condemned) in table {
            let s = set(json!({"whenScaled": scaled, "whenDeleted": deleted}));
            for (inside, want) in [(true, &in_range), (false, &condemned)] {
                let c = claim(json!([]));
                let fixed = fixed_owner_refs(&c, &s, &pod(inside));
                assert_eq!(&kinds(&fixed), want, "{scaled}/{deleted} in range {inside}");
                let mut after = c.clone();
                after.metadata.owner_references = Some(fixed);
                assert!(owner_up_to_date(&after, &s, &pod(inside)));
                assert_eq!(
                    owner_up_to_date(&c, &s, &pod(inside)),
                    want.is_empty(),
                    "{scaled}/{deleted} in range {inside}"
                );
            }
        }
    }

    #[test]
    fn back_to_retain_removes_our_refs_and_keeps_foreign_ones() {
        let s = set(json!({"whenScaled": "Retain", "whenDeleted": "Retain"}));
        let foreign =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "cm-uid"});
        let c = claim(json!([foreign, set_ref(true)]));
        assert!(!owner_up_to_date(&c, &s, &pod(true)));
        assert_eq!(
            kinds(&fixed_owner_refs(&c, &s, &pod(true))),
            vec!["ConfigMap/cm"]
        );
    }

    #[test]
    fn a_non_controller_ref_to_us_is_rewritten_as_controller() {
        let s = set(json!({"whenScaled": "Delete", "whenDeleted": "Delete"}));
        let c = claim(json!([set_ref(false)]));
        assert!(!owner_up_to_date(&c, &s, &pod(true)));
        let fixed = fixed_owner_refs(&c, &s, &pod(true));
        assert_eq!(fixed.len(), 1);
        assert_eq!(fixed[0].controller, Some(true));
    }

    #[test]
    fn foreign_controllers_and_stale_refs_are_left_alone() {
        let s = set(json!({"whenScaled": "Delete", "whenDeleted": "Delete"}));
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "cm-uid", "controller": true});
        let only_foreign = claim(json!([cm]));
        assert!(owner_up_to_date(&only_foreign, &s, &pod(false)));
        assert!(has_unexpected_controller(&only_foreign, &s, &pod(false)));
        let with_ours = claim(json!([cm, set_ref(true)]));
        assert!(!owner_up_to_date(&with_ours, &s, &pod(true)));
        assert_eq!(
            kinds(&fixed_owner_refs(&with_ours, &s, &pod(true))),
            vec!["ConfigMap/cm"]
        );
        let stale = claim(
            json!([{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "ss", "uid": "old", "controller": true}]),
        );
        assert!(owner_up_to_date(&stale, &s, &pod(true)));
    }

    #[test]
    fn a_claim_naming_an_older_pod_is_stale_only_under_when_scaled_delete() {
        let old = claim(
            json!([{"apiVersion": "v1", "kind": "Pod", "name": "ss-1", "uid": "old-pod", "controller": true}]),
        );
        let placeholder = PodIdent {
            name: "ss-1".into(),
            uid: String::new(),
            in_range: true,
        };
        let scaled = set(json!({"whenScaled": "Delete", "whenDeleted": "Retain"}));
        assert!(is_stale(&old, &scaled, &placeholder));
        assert!(!is_stale(&claim(json!([pod_ref()])), &scaled, &pod(true)));
        let retain = set(json!({"whenScaled": "Retain", "whenDeleted": "Delete"}));
        assert!(!is_stale(&old, &retain, &placeholder));
    }
}
