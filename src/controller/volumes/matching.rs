//! Which PersistentVolume satisfies a claim (upstream `findBestMatchForClaim`): pre-bound
//! volumes first, then the smallest available volume of the claim's class whose capacity,
//! access modes, volume mode and labels fit.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::ResourceExt;
use kube::core::{Selector, SelectorExt};

use crate::machinery::quantity::parse_nanos;

/// The claim's class ("" for none).
pub fn claim_class(claim: &PersistentVolumeClaim) -> &str {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or("")
}

/// The volume's class ("" for none).
pub fn volume_class(pv: &PersistentVolume) -> &str {
    pv.spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or("")
}

/// The claim's storage request in nano-bytes (0 when unset).
pub fn requested(claim: &PersistentVolumeClaim) -> i128 {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .and_then(|q| parse_nanos(&q.0))
        .unwrap_or(0)
}

/// The volume's storage capacity in nano-bytes (0 when unset).
pub fn capacity(pv: &PersistentVolume) -> i128 {
    pv.spec
        .as_ref()
        .and_then(|s| s.capacity.as_ref())
        .and_then(|c| c.get("storage"))
        .and_then(|q| parse_nanos(&q.0))
        .unwrap_or(0)
}

/// Whether the volume's claimRef names this claim (by namespace and name, and uid if set).
pub fn bound_to(pv: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let Some(r) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return false;
    };
    r.name.as_deref() == Some(claim.name_any().as_str())
        && r.namespace == claim.namespace()
        && r.uid
            .as_deref()
            .is_none_or(|u| u.is_empty() || Some(u) == claim.uid().as_deref())
}

/// Whether the volume offers what the claim asks for (modes, volume mode, size, labels).
pub fn satisfies(pv: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let (Some(vs), Some(cs)) = (pv.spec.as_ref(), claim.spec.as_ref()) else {
        return false;
    };
    let modes = vs.access_modes.clone().unwrap_or_default();
    let wanted = cs.access_modes.clone().unwrap_or_default();
    let mode = |m: &Option<String>| m.clone().unwrap_or_else(|| "Filesystem".into());
    let labels_ok = match cs.selector.clone() {
        None => true,
        Some(sel) => Selector::try_from(sel).is_ok_and(|s| s.matches(pv.labels())),
    };
    wanted.iter().all(|m| modes.contains(m))
        && mode(&vs.volume_mode) == mode(&cs.volume_mode)
        && capacity(pv) >= requested(claim)
        && labels_ok
}

/// The volume to bind the claim to, if any.
pub fn best_match<'a>(
    claim: &PersistentVolumeClaim,
    volumes: impl IntoIterator<Item = &'a PersistentVolume>,
) -> Option<&'a PersistentVolume> {
    let mut best: Option<&PersistentVolume> = None;
    for pv in volumes {
        if pv.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let claimed = pv
            .spec
            .as_ref()
            .and_then(|s| s.claim_ref.as_ref())
            .is_some();
        if claimed {
            if bound_to(pv, claim) && satisfies(pv, claim) {
                return Some(pv);
            }
            continue;
        }
        let phase = pv.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Released" | "Failed")) {
            continue;
        }
        if volume_class(pv) != claim_class(claim) || !satisfies(pv, claim) {
            continue;
        }
        if best.is_none_or(|b| capacity(pv) < capacity(b)) {
            best = Some(pv);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn claim(spec: Value) -> PersistentVolumeClaim {
        serde_json::from_value(
            json!({"metadata": {"name": "c", "namespace": "ns", "uid": "cu"}, "spec": spec}),
        )
        .unwrap()
    }

    fn pv(name: &str, spec: Value) -> PersistentVolume {
        serde_json::from_value(json!({"metadata": {"name": name, "labels": {"tier": "fast"}}, "spec": spec, "status": {"phase": "Available"}}))
            .unwrap()
    }

    fn spec(class: &str, size: &str, modes: Value) -> Value {
        json!({"storageClassName": class, "capacity": {"storage": size}, "accessModes": modes, "hostPath": {"path": "/x"}})
    }

    #[test]
    fn the_smallest_fitting_volume_of_the_class_wins() {
        let c = claim(
            json!({"storageClassName": "manual", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}),
        );
        let vols = [
            pv("big", spec("manual", "10Gi", json!(["ReadWriteOnce"]))),
            pv(
                "small",
                spec("manual", "2Gi", json!(["ReadWriteOnce", "ReadOnlyMany"])),
            ),
            pv("tiny", spec("manual", "512Mi", json!(["ReadWriteOnce"]))),
            pv("other-class", spec("fast", "1Gi", json!(["ReadWriteOnce"]))),
            pv("wrong-mode", spec("manual", "1Gi", json!(["ReadOnlyMany"]))),
        ];
        assert_eq!(
            best_match(&c, &vols).map(|p| p.name_any()),
            Some("small".into())
        );
    }

    #[test]
    fn claimed_volumes_only_match_their_claim() {
        let c = claim(
            json!({"storageClassName": "", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}),
        );
        let mut mine = spec("", "1Gi", json!(["ReadWriteOnce"]));
        mine["claimRef"] = json!({"namespace": "ns", "name": "c"});
        let mut other = spec("", "1Gi", json!(["ReadWriteOnce"]));
        other["claimRef"] = json!({"namespace": "ns", "name": "c", "uid": "someone-else"});
        let vols = [pv("other", other), pv("mine", mine)];
        assert_eq!(
            best_match(&c, &vols).map(|p| p.name_any()),
            Some("mine".into())
        );
        assert!(best_match(&c, &vols[..1]).is_none());
    }

    #[test]
    fn selectors_and_released_volumes() {
        let c = claim(
            json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1"}},
                             "selector": {"matchLabels": {"tier": "slow"}}}),
        );
        let vols = [pv("fast", spec("", "1Gi", json!(["ReadWriteOnce"])))];
        assert!(best_match(&c, &vols).is_none());
        let c = claim(
            json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1"}}}),
        );
        let mut released = pv("r", spec("", "1Gi", json!(["ReadWriteOnce"])));
        released.status.as_mut().unwrap().phase = Some("Released".into());
        assert!(best_match(&c, [&released]).is_none());
    }
}
