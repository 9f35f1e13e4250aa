//! Pod identity: ordinals, names, labels, hostname and subdomain, claim volumes, and the pod a
//! set creates for an ordinal (`newStatefulSetPod` + `GetPodFromTemplate` upstream).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::ResourceExt;

/// The label naming a set's pod (the identity check reads it).
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// The label carrying a pod's ordinal.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// The label naming the ControllerRevision a pod was made from.
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// Splits `<parent>-<ordinal>`: the parent name and the ordinal, if the name has that form and
/// the ordinal fits an `i32` (upstream's `^(.*)-([0-9]+)$`).
pub fn parent_and_ordinal(name: &str) -> Option<(&str, i32)> {
    let (parent, digits) = name.rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, digits.parse().ok()?))
}

/// A pod's ordinal, if its name has one.
pub fn ordinal(pod: &Pod) -> Option<i32> {
    parent_and_ordinal(pod.metadata.name.as_deref()?).map(|(_, o)| o)
}

/// Whether the pod's name says it belongs to `set`.
pub fn is_member_of(set: &StatefulSet, pod: &Pod) -> bool {
    pod.metadata
        .name
        .as_deref()
        .and_then(parent_and_ordinal)
        .is_some_and(|(parent, _)| parent == set.name_any())
}

/// The name of the set's pod at `ordinal`.
pub fn pod_name(set_name: &str, ordinal: i32) -> String {
    format!("{set_name}-{ordinal}")
}

/// The first ordinal (`spec.ordinals.start`, else 0).
pub fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec
        .ordinals
        .as_ref()
        .and_then(|o| o.start)
        .unwrap_or(0)
}

/// `spec.replicas` (1 when unset, as defaulting does).
pub fn replicas(set: &StatefulSet) -> i32 {
    set.spec.replicas.unwrap_or(1)
}

/// Whether `ordinal` is in `[start, start + replicas)`.
pub fn in_range(set: &StatefulSet, ordinal: i32) -> bool {
    let start = start_ordinal(set);
    ordinal >= start && i64::from(ordinal) < i64::from(start) + i64::from(replicas(set))
}

/// The claim name of template `template` for the set's pod at `ordinal`.
pub fn claim_name(template: &str, set_name: &str, ordinal: i32) -> String {
    format!("{template}-{set_name}-{ordinal}")
}

/// The names of the claim templates.
pub fn claim_templates(set: &StatefulSet) -> Vec<String> {
    set.spec
        .volume_claim_templates
        .iter()
        .flatten()
        .filter_map(|t| t.metadata.name.clone())
        .collect()
}

/// The controller reference a set puts on its pods and revisions.
pub fn controller_ref(set: &StatefulSet) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "StatefulSet".into(),
        name: set.name_any(),
        uid: set.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The controller reference of an object, if it has one.
pub fn controller_of(refs: &[OwnerReference]) -> Option<&OwnerReference> {
    refs.iter().find(|r| r.controller == Some(true))
}

/// Upstream `identityMatches`: name, namespace and pod-name label agree with the ordinal.
pub fn identity_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let Some(o) = ordinal(pod) else { return false };
    let name = pod.name_any();
    is_member_of(set, pod)
        && name == pod_name(&set.name_any(), o)
        && pod.namespace() == set.namespace()
        && pod.labels().get(POD_NAME_LABEL) == Some(&name)
}

/// Upstream `storageMatches`: each claim template has a volume using this ordinal's claim.
pub fn storage_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let Some(o) = ordinal(pod) else { return false };
    let set_name = set.name_any();
    let volumes = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .map(Vec::as_slice)
        .unwrap_or_default();
    claim_templates(set).iter().all(|t| {
        volumes.iter().any(|v| {
            &v.name == t
                && v.persistent_volume_claim
                    .as_ref()
                    .map(|c| c.claim_name.as_str())
                    == Some(claim_name(t, &set_name, o).as_str())
        })
    })
}

/// Upstream `updateIdentity`: the name, namespace, pod-name and pod-index labels for the ordinal.
pub fn update_identity(set: &StatefulSet, pod: &mut Pod) {
    let Some(o) = ordinal(pod) else { return };
    let name = pod_name(&set.name_any(), o);
    pod.metadata.name = Some(name.clone());
    pod.metadata.namespace = set.namespace();
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(POD_NAME_LABEL.into(), name);
    labels.insert(POD_INDEX_LABEL.into(), o.to_string());
}

/// Upstream `updateStorage`: a volume per claim template (replacing a template volume of the
/// same name), then the pod's other volumes.
pub fn update_storage(set: &StatefulSet, pod: &mut Pod) {
    let Some(o) = ordinal(pod) else { return };
    let set_name = set.name_any();
    let templates = claim_templates(set);
    let spec = pod.spec.get_or_insert_with(Default::default);
    let current = spec.volumes.take().unwrap_or_default();
    let mut volumes: Vec<Volume> = templates
        .iter()
        .map(|t| Volume {
            name: t.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(t, &set_name, o),
                read_only: Some(false),
            }),
            ..Default::default()
        })
        .collect();
    volumes.extend(current.into_iter().filter(|v| !templates.contains(&v.name)));
    spec.volumes = Some(volumes);
}

/// The pod for `ordinal` built from `template` (the revision's), labelled with `revision`.
pub fn new_pod(set: &StatefulSet, template: &PodTemplateSpec, ordinal: i32, revision: &str) -> Pod {
    let set_name = set.name_any();
    let tmeta = template.metadata.clone().unwrap_or_default();
    let mut pod = Pod {
        metadata: ObjectMeta {
            name: Some(pod_name(&set_name, ordinal)),
            generate_name: Some(format!("{set_name}-")),
            namespace: set.namespace(),
            labels: Some(tmeta.labels.unwrap_or_default()),
            annotations: tmeta.annotations,
            finalizers: tmeta.finalizers,
            owner_references: Some(vec![controller_ref(set)]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    };
    update_identity(set, &mut pod);
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.hostname = Some(pod_name(&set_name, ordinal));
    spec.subdomain = set.spec.service_name.clone().filter(|s| !s.is_empty());
    update_storage(set, &mut pod);
    pod.labels_mut()
        .insert(REVISION_LABEL.into(), revision.to_string());
    pod
}

/// The revision label of a pod ("" when absent).
pub fn revision_of(pod: &Pod) -> &str {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(REVISION_LABEL))
        .map(String::as_str)
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set() -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "set-uid"},
            "spec": {
                "serviceName": "web-svc",
                "replicas": 3,
                "ordinals": {"start": 2},
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}, "annotations": {"a": "b"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}],
                             "volumes": [{"name": "data", "emptyDir": {}}, {"name": "home", "emptyDir": {}}]}
                },
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn names_parse_like_the_upstream_regex() {
        for (name, want) in [
            ("web-0", Some(("web", 0))),
            ("my-web-12", Some(("my-web", 12))),
            ("web-", None),
            ("web", None),
            ("web-1a", None),
            ("-3", Some(("", 3))),
            ("web-99999999999", None),
        ] {
            assert_eq!(parent_and_ordinal(name), want, "{name}");
        }
    }

    #[test]
    fn range_honours_the_start_ordinal() {
        let s = set();
        let inside: Vec<i32> = (0..7).filter(|o| in_range(&s, *o)).collect();
        assert_eq!(inside, vec![2, 3, 4]);
    }

    #[test]
    fn new_pod_has_the_identity_storage_and_revision() {
        let s = set();
        let tmpl = s.spec.template.clone();
        let pod = new_pod(&s, &tmpl, 3, "web-abc");
        assert_eq!(pod.name_any(), "web-3");
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-"));
        let labels = pod.labels();
        assert_eq!(labels["app"], "web");
        assert_eq!(labels[POD_NAME_LABEL], "web-3");
        assert_eq!(labels[POD_INDEX_LABEL], "3");
        assert_eq!(labels[REVISION_LABEL], "web-abc");
        assert_eq!(pod.annotations()["a"], "b");
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some("web-3"));
        assert_eq!(spec.subdomain.as_deref(), Some("web-svc"));
        let vols = spec.volumes.as_ref().unwrap();
        assert_eq!(
            vols.len(),
            2,
            "the template volume named like the claim is replaced"
        );
        assert_eq!(
            vols[0].persistent_volume_claim.as_ref().unwrap().claim_name,
            "data-web-3"
        );
        assert_eq!(vols[1].name, "home");
        let owner = &pod.owner_references()[0];
        assert_eq!(
            (
                owner.kind.as_str(),
                owner.uid.as_str(),
                owner.controller,
                owner.block_owner_deletion
            ),
            ("StatefulSet", "set-uid", Some(true), Some(true))
        );
        assert!(identity_matches(&s, &pod));
        assert!(storage_matches(&s, &pod));
    }

    #[test]
    fn a_missing_pod_name_label_breaks_the_identity_and_is_repaired() {
        let s = set();
        let tmpl = s.spec.template.clone();
        let mut pod = new_pod(&s, &tmpl, 2, "r");
        pod.labels_mut().remove(POD_NAME_LABEL);
        pod.labels_mut().remove(POD_INDEX_LABEL);
        assert!(!identity_matches(&s, &pod));
        update_identity(&s, &mut pod);
        assert!(identity_matches(&s, &pod));
        assert_eq!(pod.labels()[POD_INDEX_LABEL], "2");
    }

    #[test]
    fn storage_mismatch_is_detected() {
        let s = set();
        let tmpl = s.spec.template.clone();
        let mut pod = new_pod(&s, &tmpl, 2, "r");
        pod.spec.as_mut().unwrap().volumes.as_mut().unwrap()[0]
            .persistent_volume_claim
            .as_mut()
            .unwrap()
            .claim_name = "other".into();
        assert!(!storage_matches(&s, &pod));
    }
}
