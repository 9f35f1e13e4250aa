//! PersistentVolumeClaim, PersistentVolume (`pkg/apis/core/validation`) and StorageClass
//! (`pkg/apis/storage/validation`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeSpec,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::Value;

use super::format;
use super::meta;
use super::render::{render_diff, render_json, render_str};
use super::{child, invalid_each, key, semantic};
use crate::machinery::quantity;
use crate::machinery::status::FieldError;

/// Access modes a claim or volume may use.
const ACCESS_MODES: [&str; 4] = [
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];

/// Validates a PersistentVolumeClaim on create (`old` is `None`) or update.
pub fn validate_pvc(
    new: &PersistentVolumeClaim,
    old: Option<&PersistentVolumeClaim>,
) -> Vec<FieldError> {
    let default_spec = PersistentVolumeClaimSpec::default();
    let spec = new.spec.as_ref().unwrap_or(&default_spec);
    let mut errs = Vec::new();
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(
            &new.metadata,
            &old.metadata,
            "metadata",
        ));
    }
    errs.extend(meta::validate_object_meta(&new.metadata, true, "metadata"));
    errs.extend(validate_pvc_spec(spec, "spec"));
    if let Some(old) = old {
        errs.extend(validate_pvc_update(
            new,
            old,
            spec,
            old.spec.as_ref().unwrap_or(&default_spec),
        ));
    }
    errs
}

/// `ValidatePersistentVolumeClaimSpec`.
pub fn validate_pvc_spec(spec: &PersistentVolumeClaimSpec, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let modes = spec.access_modes.as_deref().unwrap_or(&[]);
    if modes.is_empty() {
        errs.push(FieldError::required(
            child(path, "accessModes"),
            "at least 1 access mode is required",
        ));
    }
    if let Some(sel) = &spec.selector {
        errs.extend(meta::validate_label_selector(sel, &child(path, "selector")));
    }
    errs.extend(validate_access_modes(modes, &child(path, "accessModes")));
    let storage_path = key(&child(path, "resources"), "storage");
    match spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
    {
        None => errs.push(FieldError::required(storage_path, "")),
        Some(q) => errs.extend(positive_quantity(q, &storage_path)),
    }
    if let Some(class) = spec.storage_class_name.as_deref().filter(|c| !c.is_empty()) {
        errs.extend(invalid_each(
            &child(path, "storageClassName"),
            class,
            format::name_is_dns_subdomain(class, false),
        ));
    }
    if let Some(mode) = spec.volume_mode.as_deref() {
        errs.extend(validate_volume_mode(mode, &child(path, "volumeMode")));
    }
    if let Some(ds) = &spec.data_source {
        let dpath = child(path, "dataSource");
        if ds.name.is_empty() {
            errs.push(FieldError::required(child(&dpath, "name"), ""));
        }
        if ds.kind.is_empty() {
            errs.push(FieldError::required(child(&dpath, "kind"), ""));
        }
        if ds.api_group.as_deref().unwrap_or("").is_empty() && ds.kind != "PersistentVolumeClaim" {
            errs.push(FieldError::invalid(
                dpath,
                &render_str(&ds.kind),
                "must be 'PersistentVolumeClaim' when referencing the default apiGroup",
            ));
        }
    }
    errs
}

fn validate_access_modes(modes: &[String], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let (mut rwop, mut other) = (false, false);
    for m in modes {
        if !ACCESS_MODES.contains(&m.as_str()) {
            errs.push(FieldError::not_supported(
                path,
                &render_str(m),
                &ACCESS_MODES,
            ));
        } else if m == "ReadWriteOncePod" {
            rwop = true;
        } else {
            other = true;
        }
    }
    if rwop && other {
        errs.push(FieldError::forbidden(
            path,
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
    errs
}

fn validate_volume_mode(mode: &str, path: &str) -> Vec<FieldError> {
    if mode == "Block" || mode == "Filesystem" {
        Vec::new()
    } else {
        vec![FieldError::not_supported(
            path,
            &render_str(mode),
            &["Block", "Filesystem"],
        )]
    }
}

/// `ValidatePositiveQuantityValue` (and non-negative): `must be greater than zero`.
fn positive_quantity(q: &Quantity, path: &str) -> Vec<FieldError> {
    match quantity::parse_nanos(&q.0) {
        Some(n) if n > 0 => Vec::new(),
        _ => vec![FieldError::invalid(
            path,
            &render_str(&q.0),
            "must be greater than zero",
        )],
    }
}

/// The update rules of `ValidatePersistentVolumeClaimUpdate`.
fn validate_pvc_update(
    new: &PersistentVolumeClaim,
    old: &PersistentVolumeClaim,
    spec: &PersistentVolumeClaimSpec,
    old_spec: &PersistentVolumeClaimSpec,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut new_view = serde_json::to_value(spec).unwrap_or(Value::Null);
    let mut old_view = serde_json::to_value(old_spec).unwrap_or(Value::Null);
    let set = |v: &mut Value, field: &str, value: Option<Value>| {
        if let Some(map) = v.as_object_mut() {
            match value {
                Some(x) => map.insert(field.to_string(), x),
                None => map.remove(field),
            };
        }
    };
    if old_spec.volume_name.as_deref().unwrap_or("").is_empty() {
        set(
            &mut old_view,
            "volumeName",
            new_view.get("volumeName").cloned(),
        );
    }
    if old_spec.storage_class_name.is_none() && spec.storage_class_name.is_some() {
        set(&mut new_view, "storageClassName", None);
    }
    let bound = new.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
    if bound {
        let old_storage = old_view.pointer("/resources/requests/storage").cloned();
        if let Some(requests) = new_view
            .pointer_mut("/resources/requests")
            .and_then(Value::as_object_mut)
        {
            match old_storage {
                Some(s) => requests.insert("storage".to_string(), s),
                None => requests.remove("storage"),
            };
        }
        set(
            &mut new_view,
            "volumeAttributesClassName",
            old_view.get("volumeAttributesClassName").cloned(),
        );
    }
    if !semantic::equal(&new_view, &old_view) {
        let diff = render_diff(
            &semantic::normalize(&old_view),
            &semantic::normalize(&new_view),
        );
        errs.push(FieldError::forbidden(
            "spec",
            &format!("spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{diff}"),
        ));
    }
    let size = |s: &PersistentVolumeClaimSpec| {
        s.resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .map(|q| q.0.clone())
    };
    let status_size = old
        .status
        .as_ref()
        .and_then(|s| s.capacity.as_ref())
        .and_then(|c| c.get("storage"))
        .map(|q| q.0.clone());
    if let (Some(new_size), Some(old_size)) = (size(spec), size(old_spec))
        && quantity::compare(&new_size, &old_size) == Some(std::cmp::Ordering::Less)
        && status_size
            .as_deref()
            .is_none_or(|s| quantity::compare(&new_size, s) != Some(std::cmp::Ordering::Greater))
    {
        errs.push(FieldError::forbidden(
            "spec.resources.requests.storage",
            "field can not be less than status.capacity",
        ));
    }
    if spec.volume_mode != old_spec.volume_mode {
        errs.push(FieldError::invalid(
            "volumeMode",
            &spec
                .volume_mode
                .as_deref()
                .map_or_else(|| "null".to_string(), render_str),
            "field is immutable",
        ));
    }
    errs
}

/// Validates a PersistentVolume on create (`old` is `None`) or update.
pub fn validate_pv(new: &PersistentVolume, old: Option<&PersistentVolume>) -> Vec<FieldError> {
    let default_spec = PersistentVolumeSpec::default();
    let spec = new.spec.as_ref().unwrap_or(&default_spec);
    let mut errs = Vec::new();
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(
            &new.metadata,
            &old.metadata,
            "metadata",
        ));
    }
    errs.extend(meta::validate_object_meta(&new.metadata, false, "metadata"));
    errs.extend(validate_pv_spec(spec, "spec"));
    if let Some(old) = old {
        let old_spec = old.spec.as_ref().unwrap_or(&default_spec);
        let (new_src, old_src) = (pv_source(spec), pv_source(old_spec));
        if !semantic::equal(&new_src, &old_src) {
            let diff = render_diff(
                &semantic::normalize(&old_src),
                &semantic::normalize(&new_src),
            );
            errs.push(FieldError::forbidden(
                "spec.persistentvolumesource",
                &format!("spec.persistentvolumesource is immutable after creation\n{diff}"),
            ));
        }
        if spec.volume_mode != old_spec.volume_mode {
            errs.push(FieldError::invalid(
                "volumeMode",
                &spec
                    .volume_mode
                    .as_deref()
                    .map_or_else(|| "null".to_string(), render_str),
                "field is immutable",
            ));
        }
    }
    errs
}

/// Volume source fields of a PV spec, in upstream order, with their error-path names.
fn pv_sources(spec: &PersistentVolumeSpec) -> [(bool, &'static str); 22] {
    [
        (spec.host_path.is_some(), "hostPath"),
        (spec.gce_persistent_disk.is_some(), "gcePersistentDisk"),
        (
            spec.aws_elastic_block_store.is_some(),
            "awsElasticBlockStore",
        ),
        (spec.glusterfs.is_some(), "glusterfs"),
        (spec.flocker.is_some(), "flocker"),
        (spec.nfs.is_some(), "nfs"),
        (spec.rbd.is_some(), "rbd"),
        (spec.quobyte.is_some(), "quobyte"),
        (spec.cephfs.is_some(), "cephFS"),
        (spec.iscsi.is_some(), "iscsi"),
        (spec.cinder.is_some(), "cinder"),
        (spec.fc.is_some(), "fc"),
        (spec.flex_volume.is_some(), "flexVolume"),
        (spec.azure_file.is_some(), "azureFile"),
        (spec.vsphere_volume.is_some(), "vsphereVolume"),
        (
            spec.photon_persistent_disk.is_some(),
            "photonPersistentDisk",
        ),
        (spec.portworx_volume.is_some(), "portworxVolume"),
        (spec.azure_disk.is_some(), "azureDisk"),
        (spec.scale_io.is_some(), "scaleIO"),
        (spec.local.is_some(), "local"),
        (spec.storageos.is_some(), "storageos"),
        (spec.csi.is_some(), "csi"),
    ]
}

/// The `PersistentVolumeSource` part of a PV spec, for the immutability check.
fn pv_source(spec: &PersistentVolumeSpec) -> Value {
    let full = serde_json::to_value(spec).unwrap_or(Value::Null);
    const NOT_SOURCE: [&str; 9] = [
        "accessModes",
        "capacity",
        "claimRef",
        "mountOptions",
        "nodeAffinity",
        "persistentVolumeReclaimPolicy",
        "storageClassName",
        "volumeAttributesClassName",
        "volumeMode",
    ];
    match full {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| !NOT_SOURCE.contains(&k.as_str()))
                .collect(),
        ),
        other => other,
    }
}

/// `ValidatePersistentVolumeSpec` (not inline).
fn validate_pv_spec(spec: &PersistentVolumeSpec, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let modes = spec.access_modes.as_deref().unwrap_or(&[]);
    if modes.is_empty() {
        errs.push(FieldError::required(child(path, "accessModes"), ""));
    }
    errs.extend(validate_access_modes(modes, &child(path, "accessModes")));
    let empty = BTreeMap::new();
    let capacity = spec.capacity.as_ref().unwrap_or(&empty);
    let cap_path = child(path, "capacity");
    if capacity.is_empty() {
        errs.push(FieldError::required(cap_path.clone(), ""));
    }
    if !capacity.contains_key("storage") || capacity.len() > 1 {
        errs.push(FieldError::not_supported(
            cap_path.clone(),
            &spec
                .capacity
                .as_ref()
                .map_or_else(|| "null".to_string(), render_json),
            &["storage"],
        ));
    }
    for (name, q) in capacity {
        errs.extend(positive_quantity(q, &key(&cap_path, name)));
    }
    let policy = spec
        .persistent_volume_reclaim_policy
        .as_deref()
        .unwrap_or("");
    if !policy.is_empty() && !matches!(policy, "Delete" | "Recycle" | "Retain") {
        errs.push(FieldError::not_supported(
            child(path, "persistentVolumeReclaimPolicy"),
            &render_str(policy),
            &["Delete", "Recycle", "Retain"],
        ));
    }
    let mut count = 0;
    for (set, name) in pv_sources(spec) {
        if !set {
            continue;
        }
        if count > 0 {
            errs.push(FieldError::forbidden(
                child(path, name),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        match name {
            "hostPath" if spec.host_path.as_ref().is_some_and(|h| h.path.is_empty()) => {
                errs.push(FieldError::required(format!("{path}.hostPath.path"), ""));
            }
            "local" => {
                if spec.local.as_ref().is_some_and(|l| l.path.is_empty()) {
                    errs.push(FieldError::required(format!("{path}.local.path"), ""));
                }
                if spec
                    .node_affinity
                    .as_ref()
                    .and_then(|a| a.required.as_ref())
                    .is_none()
                {
                    errs.push(FieldError::required(
                        child(path, "nodeAffinity"),
                        "Local volume requires node affinity",
                    ));
                }
            }
            "csi" => {
                if let Some(csi) = &spec.csi {
                    if csi.driver.is_empty() {
                        errs.push(FieldError::required(format!("{path}.csi.driver"), ""));
                    }
                    if csi.volume_handle.is_empty() {
                        errs.push(FieldError::required(format!("{path}.csi.volumeHandle"), ""));
                    }
                }
            }
            "nfs" => {
                if let Some(n) = &spec.nfs {
                    if n.server.is_empty() {
                        errs.push(FieldError::required(format!("{path}.nfs.server"), ""));
                    }
                    if n.path.is_empty() {
                        errs.push(FieldError::required(format!("{path}.nfs.path"), ""));
                    }
                }
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a volume type"));
    }
    if spec
        .host_path
        .as_ref()
        .is_some_and(|h| h.path.trim_end_matches('/').is_empty())
        && policy == "Recycle"
    {
        errs.push(FieldError::forbidden(
            child(path, "persistentVolumeReclaimPolicy"),
            "may not be 'recycle' for a hostPath mount of '/'",
        ));
    }
    let class = spec.storage_class_name.as_deref().unwrap_or("");
    if !class.is_empty() {
        errs.extend(invalid_each(
            &child(path, "storageClassName"),
            class,
            format::name_is_dns_subdomain(class, false),
        ));
    }
    if let Some(mode) = spec.volume_mode.as_deref() {
        errs.extend(validate_volume_mode(mode, &child(path, "volumeMode")));
    }
    errs
}

/// Validates a StorageClass on create (`old` is `None`) or update.
pub fn validate_storage_class(new: &StorageClass, old: Option<&StorageClass>) -> Vec<FieldError> {
    let mut errs = match old {
        None => meta::validate_object_meta(&new.metadata, false, "metadata"),
        Some(old) => meta::validate_object_meta_update(&new.metadata, &old.metadata, "metadata"),
    };
    if new.provisioner.is_empty() {
        errs.push(FieldError::required("provisioner", ""));
    } else {
        let lower = new.provisioner.to_lowercase();
        errs.extend(invalid_each(
            "provisioner",
            &lower,
            format::is_qualified_name(&lower),
        ));
    }
    let params = new.parameters.as_ref();
    if params.is_some_and(|p| p.len() > 512) {
        errs.push(FieldError::too_long("parameters", 512));
    } else {
        let mut total = 0usize;
        for (k, v) in params.into_iter().flatten() {
            if k.is_empty() {
                errs.push(FieldError::invalid(
                    "parameters",
                    "\"\"",
                    "field can not be empty.",
                ));
            }
            total += k.len() + v.len();
        }
        if total > 256 * 1024 {
            errs.push(FieldError::too_long("parameters", 256 * 1024));
        }
    }
    if let Some(policy) = new.reclaim_policy.as_deref()
        && policy != "Delete"
        && policy != "Retain"
    {
        errs.push(FieldError::not_supported(
            "reclaimPolicy",
            &render_str(policy),
            &["Delete", "Retain"],
        ));
    }
    match new.volume_binding_mode.as_deref() {
        None => errs.push(FieldError::required("volumeBindingMode", "")),
        Some("Immediate" | "WaitForFirstConsumer") => {}
        Some(other) => errs.push(FieldError::not_supported(
            "volumeBindingMode",
            &render_str(other),
            &["Immediate", "WaitForFirstConsumer"],
        )),
    }
    if let Some(old) = old {
        if new.parameters.as_ref().filter(|p| !p.is_empty())
            != old.parameters.as_ref().filter(|p| !p.is_empty())
        {
            errs.push(FieldError::forbidden(
                "parameters",
                "updates to parameters are forbidden.",
            ));
        }
        if new.provisioner != old.provisioner {
            errs.push(FieldError::forbidden(
                "provisioner",
                "updates to provisioner are forbidden.",
            ));
        }
        if new.reclaim_policy != old.reclaim_policy {
            errs.push(FieldError::forbidden(
                "reclaimPolicy",
                "updates to reclaimPolicy are forbidden.",
            ));
        }
        if new.volume_binding_mode != old.volume_binding_mode {
            let shown = new
                .volume_binding_mode
                .as_deref()
                .map_or_else(|| "null".to_string(), render_str);
            errs.push(FieldError::invalid(
                "volumeBindingMode",
                &shown,
                "field is immutable",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machinery::defaults::{default_pv, default_pvc, default_storage_class};
    use serde_json::json;

    fn lines(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::line).collect()
    }

    fn pvc(spec: Value, status: Value) -> PersistentVolumeClaim {
        let mut p: PersistentVolumeClaim = serde_json::from_value(json!({
            "metadata": {"name": "data", "namespace": "default", "resourceVersion": "1"},
            "spec": spec,
            "status": status
        }))
        .expect("pvc json");
        default_pvc(&mut p);
        p
    }

    fn pvc_spec(storage: &str) -> Value {
        json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}})
    }

    #[test]
    fn pvc_create_table() {
        let cases: Vec<(&str, Value, Vec<&str>)> = vec![
            ("valid", pvc_spec("1Gi"), vec![]),
            (
                "no access modes",
                json!({"resources": {"requests": {"storage": "1Gi"}}}),
                vec!["spec.accessModes: Required value: at least 1 access mode is required"],
            ),
            (
                "no storage",
                json!({"accessModes": ["ReadWriteOnce"]}),
                vec!["spec.resources[storage]: Required value"],
            ),
            (
                "zero storage",
                pvc_spec("0"),
                vec!["spec.resources[storage]: Invalid value: \"0\": must be greater than zero"],
            ),
            (
                "bad access mode",
                json!({"accessModes": ["ReadWriteSometimes"], "resources": {"requests": {"storage": "1Gi"}}}),
                vec![
                    "spec.accessModes: Unsupported value: \"ReadWriteSometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
                ],
            ),
        ];
        for (name, spec, want) in cases {
            assert_eq!(
                lines(&validate_pvc(&pvc(spec, json!({})), None)),
                want,
                "case {name}"
            );
        }
    }

    #[test]
    fn pvc_update_rules() {
        let old = pvc(
            pvc_spec("1Gi"),
            json!({"phase": "Bound", "capacity": {"storage": "1Gi"}}),
        );
        let grow = pvc(pvc_spec("2Gi"), json!({"phase": "Bound"}));
        assert!(
            validate_pvc(&grow, Some(&old)).is_empty(),
            "bound claims may grow"
        );
        let unbound_old = pvc(pvc_spec("1Gi"), json!({}));
        let unbound_grow = pvc(pvc_spec("2Gi"), json!({}));
        let errs = validate_pvc(&unbound_grow, Some(&unbound_old));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].line().starts_with("spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n"), "{}", errs[0].line());
        let shrink = pvc(pvc_spec("512Mi"), json!({"phase": "Bound"}));
        assert_eq!(
            lines(&validate_pvc(&shrink, Some(&old))),
            vec![
                "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"
            ]
        );
        let bind = pvc(
            json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeName": "pv-1"}),
            json!({}),
        );
        assert!(
            validate_pvc(&bind, Some(&unbound_old)).is_empty(),
            "volumeName may be set once"
        );
    }

    fn pv(spec: Value) -> PersistentVolume {
        let mut p: PersistentVolume = serde_json::from_value(
            json!({"metadata": {"name": "pv1", "resourceVersion": "1"}, "spec": spec}),
        )
        .expect("pv json");
        default_pv(&mut p);
        p
    }

    #[test]
    fn pv_table() {
        let ok = json!({"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}, "hostPath": {"path": "/data"}});
        assert!(validate_pv(&pv(ok.clone()), None).is_empty());
        assert_eq!(
            lines(&validate_pv(
                &pv(json!({"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}})),
                None
            )),
            vec!["spec: Required value: must specify a volume type"]
        );
        assert_eq!(
            lines(&validate_pv(
                &pv(json!({"accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/d"}})),
                None
            )),
            vec![
                "spec.capacity: Required value",
                "spec.capacity: Unsupported value: null: supported values: \"storage\""
            ]
        );
        assert_eq!(
            lines(&validate_pv(
                &pv(
                    json!({"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}, "local": {"path": "/mnt"}})
                ),
                None
            )),
            vec!["spec.nodeAffinity: Required value: Local volume requires node affinity"]
        );
        let moved = pv(
            json!({"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}, "hostPath": {"path": "/other"}}),
        );
        let errs = validate_pv(&moved, Some(&pv(ok)));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].line().starts_with("spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation\n"));
    }

    #[test]
    fn storage_class_table() {
        let sc = |v: Value| {
            let mut s: StorageClass = serde_json::from_value(v).expect("sc json");
            default_storage_class(&mut s);
            s
        };
        let ok = sc(json!({"metadata": {"name": "fast"}, "provisioner": "rancher.io/local-path"}));
        assert!(validate_storage_class(&ok, None).is_empty());
        let no_prov = sc(json!({"metadata": {"name": "fast"}, "provisioner": ""}));
        assert_eq!(
            lines(&validate_storage_class(&no_prov, None)),
            vec!["provisioner: Required value"]
        );
        let recycle = sc(
            json!({"metadata": {"name": "fast"}, "provisioner": "x.io/y", "reclaimPolicy": "Recycle"}),
        );
        assert_eq!(
            lines(&validate_storage_class(&recycle, None)),
            vec![
                "reclaimPolicy: Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\""
            ]
        );
        let changed = sc(
            json!({"metadata": {"name": "fast"}, "provisioner": "other.io/z", "parameters": {"a": "b"}}),
        );
        assert_eq!(
            lines(&validate_storage_class(&changed, Some(&ok))),
            vec![
                "parameters: Forbidden: updates to parameters are forbidden.",
                "provisioner: Forbidden: updates to provisioner are forbidden.",
            ]
        );
    }
}
