//! `ObjectMeta`, labels, annotations and label selectors (`apimachinery/pkg/api/validation`,
//! `apis/meta/v1/validation`).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};

use super::format::{self, NameFn};
use super::render::{json_str, render_go_time, render_json, render_str, render_struct};
use super::{child, index, invalid_each, non_negative};
use crate::machinery::status::FieldError;

/// Total size of all annotation keys and values (256 KiB).
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Finalizer names Kubernetes accepts without a `/` prefix.
const STANDARD_FINALIZERS: [&str; 3] = ["kubernetes", "orphan", "foregroundDeletion"];

/// `ValidateObjectMeta` with the DNS-subdomain name rule (most kinds): `name` (or a
/// `generateName` whose generated name is still to come), `namespace` (required when
/// `namespaced`, forbidden otherwise), labels, annotations, owner references and finalizers.
pub fn validate_object_meta(meta: &ObjectMeta, namespaced: bool, path: &str) -> Vec<FieldError> {
    validate_object_meta_with(meta, namespaced, format::name_is_dns_subdomain, path)
}

/// `ValidateObjectMeta` with a kind-specific name rule (e.g. [`format::name_is_dns_label`]).
///
/// A `generateName` without `name` is accepted here: the server generates the name
/// (`generateName` + 5 characters) after defaulting, and the prefix is checked instead.
pub fn validate_object_meta_with(
    meta: &ObjectMeta,
    namespaced: bool,
    name_fn: NameFn,
    path: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let generate_name = meta.generate_name.as_deref().unwrap_or("");
    let name = meta.name.as_deref().unwrap_or("");
    if !generate_name.is_empty() {
        errs.extend(invalid_each(
            &child(path, "generateName"),
            generate_name,
            name_fn(generate_name, true),
        ));
    }
    if name.is_empty() {
        if generate_name.is_empty() {
            errs.push(FieldError::required(
                child(path, "name"),
                "name or generateName is required",
            ));
        }
    } else {
        errs.extend(invalid_each(
            &child(path, "name"),
            name,
            name_fn(name, false),
        ));
    }
    let namespace = meta.namespace.as_deref().unwrap_or("");
    if namespaced {
        if namespace.is_empty() {
            errs.push(FieldError::required(child(path, "namespace"), ""));
        } else {
            errs.extend(invalid_each(
                &child(path, "namespace"),
                namespace,
                format::name_is_dns_label(namespace, false),
            ));
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(
            child(path, "namespace"),
            "not allowed on this type",
        ));
    }
    errs.extend(non_negative(
        meta.generation.unwrap_or(0),
        &child(path, "generation"),
    ));
    errs.extend(validate_common(meta, path));
    errs
}

/// Labels, annotations, owner references and finalizers (shared by create and update).
fn validate_common(meta: &ObjectMeta, path: &str) -> Vec<FieldError> {
    let mut errs = validate_labels(meta.labels.as_ref(), &child(path, "labels"));
    errs.extend(validate_annotations(
        meta.annotations.as_ref(),
        &child(path, "annotations"),
    ));
    errs.extend(validate_owner_references(
        meta.owner_references.as_deref().unwrap_or(&[]),
        &child(path, "ownerReferences"),
    ));
    let finalizers = meta.finalizers.as_deref().unwrap_or(&[]);
    errs.extend(validate_finalizers(finalizers, &child(path, "finalizers")));
    for (i, f) in finalizers.iter().enumerate() {
        errs.extend(validate_kube_finalizer_name(
            f,
            &index(&child(path, "finalizers"), i),
        ));
    }
    errs
}

/// `ValidateObjectMetaUpdate`: name, namespace, uid, creationTimestamp, deletionTimestamp and
/// deletionGracePeriodSeconds are immutable; no finalizer may be added once deletion started;
/// labels, annotations, owner references and finalizers are re-validated.
///
/// As after upstream's `rest.BeforeUpdate`, an absent `uid` or `creationTimestamp` and a
/// removed `deletionTimestamp`/`deletionGracePeriodSeconds` count as unchanged (see
/// [`crate::machinery::defaults::prepare_object_meta_for_update`], which copies them).
/// Not checked (the registry sets them before validating): `resourceVersion` presence and
/// `generation` decrements.
pub fn validate_object_meta_update(
    new: &ObjectMeta,
    old: &ObjectMeta,
    path: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if old.deletion_timestamp.is_some() {
        let old_f = old.finalizers.as_deref().unwrap_or(&[]);
        let mut extra: Vec<&String> = new
            .finalizers
            .iter()
            .flatten()
            .filter(|f| !old_f.contains(f))
            .collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            let list = extra
                .iter()
                .map(|f| render_str(f))
                .collect::<Vec<_>>()
                .join(", ");
            errs.push(FieldError::forbidden(
                child(path, "finalizers"),
                &format!("no new finalizers can be added if the object is being deleted, found new finalizers []string{{{list}}}"),
            ));
        }
    }
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    // `rest.BeforeUpdate` fills an absent uid from the stored object before validating.
    let new_uid = new
        .uid
        .clone()
        .filter(|u| !u.is_empty())
        .or_else(|| old.uid.clone());
    for (field, new_v, old_v) in [
        ("name", s(&new.name), s(&old.name)),
        ("namespace", s(&new.namespace), s(&old.namespace)),
        ("uid", s(&new_uid), s(&old.uid)),
    ] {
        if new_v != old_v {
            errs.push(FieldError::invalid(
                child(path, field),
                &render_str(&new_v),
                "field is immutable",
            ));
        }
    }
    let time = |t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
        t.as_ref()
            .and_then(|t| serde_json::to_value(t).ok())
            .and_then(|v| v.as_str().map(str::to_string))
    };
    // `rest.BeforeUpdate` keeps the stored creationTimestamp and, once set, the stored
    // deletionTimestamp and deletionGracePeriodSeconds; only other changes are errors.
    let (new_ct, old_ct) = (time(&new.creation_timestamp), time(&old.creation_timestamp));
    if old_ct.is_none() && new_ct.is_some() {
        let shown = render_go_time(new_ct.as_deref().unwrap_or_default());
        errs.push(FieldError::invalid(
            child(path, "creationTimestamp"),
            &shown,
            "field is immutable",
        ));
    }
    let (new_dt, old_dt) = (time(&new.deletion_timestamp), time(&old.deletion_timestamp));
    if old_dt.is_none()
        && let Some(new_dt) = new_dt
    {
        errs.push(FieldError::invalid(
            child(path, "deletionTimestamp"),
            &render_go_time(&new_dt),
            "field is immutable",
        ));
    }
    let new_grace = new
        .deletion_grace_period_seconds
        .or(old.deletion_grace_period_seconds);
    if new_grace != old.deletion_grace_period_seconds {
        let shown = new_grace.map_or_else(|| "null".to_string(), |v| v.to_string());
        errs.push(FieldError::invalid(
            child(path, "deletionGracePeriodSeconds"),
            &shown,
            "field is immutable",
        ));
    }
    errs.extend(validate_common(new, path));
    errs
}

/// `ValidateLabels`: every key a qualified name, every value a valid label value.
pub fn validate_labels(labels: Option<&BTreeMap<String, String>>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in labels.into_iter().flatten() {
        errs.extend(invalid_each(path, k, format::is_qualified_name(k)));
        errs.extend(invalid_each(path, v, format::is_valid_label_value(v)));
    }
    errs
}

/// `ValidateAnnotations`: keys are qualified names (case-insensitive) and the total size of
/// keys and values is at most 256 KiB.
pub fn validate_annotations(
    annotations: Option<&BTreeMap<String, String>>,
    path: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut total = 0usize;
    for (k, v) in annotations.into_iter().flatten() {
        errs.extend(invalid_each(
            path,
            k,
            format::is_qualified_name(&k.to_lowercase()),
        ));
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

/// `ValidateOwnerReferences`.
pub fn validate_owner_references(refs: &[OwnerReference], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut first_controller: Option<String> = None;
    for r in refs {
        let version = r.api_version.rsplit('/').next().unwrap_or("");
        if version.is_empty() {
            errs.push(FieldError::invalid(
                child(path, "apiVersion"),
                &render_str(&r.api_version),
                "version must not be empty",
            ));
        }
        if r.kind.is_empty() {
            errs.push(FieldError::invalid(
                child(path, "kind"),
                &render_str(&r.kind),
                "must not be empty",
            ));
        }
        if r.name.is_empty() {
            errs.push(FieldError::invalid(
                child(path, "name"),
                &render_str(&r.name),
                "must not be empty",
            ));
        }
        if r.uid.is_empty() {
            errs.push(FieldError::invalid(
                child(path, "uid"),
                &render_str(&r.uid),
                "must not be empty",
            ));
        }
        if r.api_version == "v1" && r.kind == "Event" {
            errs.push(FieldError::invalid(
                path,
                &render_owner_reference(r),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.controller == Some(true) {
            let current = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path,
                    &format!("[{}]", refs.iter().map(render_owner_reference).collect::<Vec<_>>().join(",")),
                    &format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

/// An `OwnerReference` as `encoding/json` writes it (declaration order).
fn render_owner_reference(r: &OwnerReference) -> String {
    render_struct(&[
        ("apiVersion", Some(json_str(&r.api_version))),
        ("kind", Some(json_str(&r.kind))),
        ("name", Some(json_str(&r.name))),
        ("uid", Some(json_str(&r.uid))),
        ("controller", r.controller.map(|b| b.to_string())),
        (
            "blockOwnerDeletion",
            r.block_owner_deletion.map(|b| b.to_string()),
        ),
    ])
}

/// `ValidateFinalizers` (apimachinery part): qualified names, not both `orphan` and
/// `foregroundDeletion`.
pub fn validate_finalizers(finalizers: &[String], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for f in finalizers {
        errs.extend(invalid_each(path, f, format::is_qualified_name(f)));
    }
    if finalizers.iter().any(|f| f == "orphan")
        && finalizers.iter().any(|f| f == "foregroundDeletion")
    {
        errs.push(FieldError::invalid(
            path,
            &render_json(&finalizers),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

/// `validateKubeFinalizerName`: an unprefixed finalizer must be a standard one.
pub fn validate_kube_finalizer_name(name: &str, path: &str) -> Vec<FieldError> {
    if !name.contains('/') && !STANDARD_FINALIZERS.contains(&name) {
        vec![FieldError::invalid(
            path,
            &render_str(name),
            "name is neither a standard finalizer name nor is it fully qualified",
        )]
    } else {
        Vec::new()
    }
}

/// Whether a selector has no `matchLabels` and no `matchExpressions` entries.
pub fn selector_is_empty(sel: &LabelSelector) -> bool {
    sel.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
        && sel.match_expressions.as_ref().is_none_or(Vec::is_empty)
}

/// `ValidateLabelSelector` (strict: values must be valid label values).
pub fn validate_label_selector(sel: &LabelSelector, path: &str) -> Vec<FieldError> {
    let mut errs = validate_labels(sel.match_labels.as_ref(), &child(path, "matchLabels"));
    for (i, req) in sel.match_expressions.iter().flatten().enumerate() {
        let rpath = index(&child(path, "matchExpressions"), i);
        let values = req.values.as_deref().unwrap_or(&[]);
        match req.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => errs.push(FieldError::required(
                child(&rpath, "values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "In" | "NotIn" => {}
            "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldError::forbidden(
                child(&rpath, "values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "Exists" | "DoesNotExist" => {}
            other => errs.push(FieldError::invalid(
                child(&rpath, "operator"),
                &render_str(other),
                "not a valid selector operator",
            )),
        }
        errs.extend(invalid_each(
            &child(&rpath, "key"),
            &req.key,
            format::is_qualified_name(&req.key),
        ));
        for (j, v) in values.iter().enumerate() {
            errs.extend(invalid_each(
                &index(&child(&rpath, "values"), j),
                v,
                format::is_valid_label_value(v),
            ));
        }
    }
    errs
}

/// Whether `LabelSelectorAsSelector` accepts the selector (keys, values and operators valid).
pub fn selector_parses(sel: &LabelSelector) -> bool {
    let labels_ok = sel.match_labels.iter().flatten().all(|(k, v)| {
        format::is_qualified_name(k).is_empty() && format::is_valid_label_value(v).is_empty()
    });
    let exprs_ok = sel.match_expressions.iter().flatten().all(|r| {
        let values = r.values.as_deref().unwrap_or(&[]);
        let op_ok = match r.operator.as_str() {
            "In" | "NotIn" => !values.is_empty(),
            "Exists" | "DoesNotExist" => values.is_empty(),
            _ => false,
        };
        op_ok
            && format::is_qualified_name(&r.key).is_empty()
            && values
                .iter()
                .all(|v| format::is_valid_label_value(v).is_empty())
    });
    labels_ok && exprs_ok
}

/// Whether `labels` satisfy every requirement of the selector (an empty selector matches
/// everything).
pub fn selector_matches(sel: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    let get = |k: &str| labels.and_then(|l| l.get(k));
    let labels_ok = sel
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| get(k) == Some(v));
    let exprs_ok = sel.match_expressions.iter().flatten().all(|r| {
        let values = r.values.as_deref().unwrap_or(&[]);
        match r.operator.as_str() {
            "In" => get(&r.key).is_some_and(|v| values.contains(v)),
            "NotIn" => get(&r.key).is_none_or(|v| !values.contains(v)),
            "Exists" => get(&r.key).is_some(),
            "DoesNotExist" => get(&r.key).is_none(),
            _ => false,
        }
    });
    labels_ok && exprs_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn meta(name: &str, ns: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: ns.map(Into::into),
            ..Default::default()
        }
    }

    fn lines(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::line).collect()
    }

    #[test]
    fn object_meta_table() {
        let long_value = "v".repeat(64);
        let cases: Vec<(ObjectMeta, bool, Vec<String>)> = vec![
            (meta("web", Some("default")), true, vec![]),
            (ObjectMeta { namespace: Some("default".into()), ..Default::default() }, true, vec![
                "metadata.name: Required value: name or generateName is required".into(),
            ]),
            (ObjectMeta { generate_name: Some("web-".into()), namespace: Some("d".into()), ..Default::default() }, true, vec![]),
            (meta("web", None), true, vec!["metadata.namespace: Required value".into()]),
            (meta("web", Some("x")), false, vec!["metadata.namespace: Forbidden: not allowed on this type".into()]),
            (meta("Web", Some("d")), true, vec!["metadata.name: Invalid value: \"Web\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into()]),
            (
                ObjectMeta { labels: Some([("app".to_string(), long_value.clone())].into()), ..meta("web", Some("d")) },
                true,
                vec![format!("metadata.labels: Invalid value: \"{long_value}\": must be no more than 63 bytes")],
            ),
            (
                ObjectMeta { finalizers: Some(vec!["custom".into()]), ..meta("web", Some("d")) },
                true,
                vec!["metadata.finalizers[0]: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified".into()],
            ),
            (
                ObjectMeta { annotations: Some([("a".to_string(), "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT))].into()), ..meta("web", Some("d")) },
                true,
                vec!["metadata.annotations: Too long: may not be more than 262144 bytes".into()],
            ),
        ];
        for (m, namespaced, want) in cases {
            assert_eq!(
                lines(&validate_object_meta(&m, namespaced, "metadata")),
                want,
                "meta {m:?}"
            );
        }
    }

    #[test]
    fn object_meta_update_immutables() {
        let old = ObjectMeta {
            uid: Some("u1".into()),
            ..meta("web", Some("d"))
        };
        let new = ObjectMeta {
            uid: Some("u2".into()),
            ..meta("web2", Some("d"))
        };
        assert_eq!(
            lines(&validate_object_meta_update(&new, &old, "metadata")),
            vec![
                "metadata.name: Invalid value: \"web2\": field is immutable",
                "metadata.uid: Invalid value: \"u2\": field is immutable",
            ]
        );
    }

    #[test]
    fn object_meta_update_tolerates_fields_the_registry_restores() {
        let old: ObjectMeta = serde_json::from_value(serde_json::json!({
            "name": "web", "namespace": "d", "uid": "u1", "creationTimestamp": "2024-01-01T00:00:00Z"
        }))
        .expect("meta json");
        let client_sent = meta("web", Some("d"));
        assert!(validate_object_meta_update(&client_sent, &old, "metadata").is_empty());
        let new: ObjectMeta = serde_json::from_value(serde_json::json!({
            "name": "web", "namespace": "d", "deletionTimestamp": "2024-01-02T03:04:05Z"
        }))
        .expect("meta json");
        assert_eq!(
            lines(&validate_object_meta_update(&new, &old, "metadata")),
            vec![
                "metadata.deletionTimestamp: Invalid value: 2024-01-02 03:04:05 +0000 UTC: field is immutable"
            ]
        );
    }

    #[test]
    fn selector_validation_and_matching() {
        let sel = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["a".into(), "b".into()]),
            }]),
        };
        let yes: BTreeMap<String, String> =
            [("app".into(), "web".into()), ("tier".into(), "b".into())].into();
        let no: BTreeMap<String, String> = [("app".into(), "web".into())].into();
        assert!(selector_matches(&sel, Some(&yes)));
        assert!(!selector_matches(&sel, Some(&no)));
        assert!(selector_parses(&sel));
        let bad = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "k".into(),
                operator: "In".into(),
                values: None,
            }]),
            ..Default::default()
        };
        assert!(!selector_parses(&bad));
        assert_eq!(
            lines(&validate_label_selector(&bad, "spec.selector")),
            vec![
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
            ]
        );
    }
}
