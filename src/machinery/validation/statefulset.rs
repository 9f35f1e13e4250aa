//! `ValidateStatefulSet` / `ValidateStatefulSetUpdate` (`pkg/apis/apps/validation`).
//!
//! Since v1.34 upstream also validates the template's pod spec (with one claim-backed
//! volume per `volumeClaimTemplates` entry, so mounts of claims resolve; kubernetes#131790),
//! the claim templates' specs (kubernetes#132212) and `serviceName` as a DNS label
//! (kubernetes#130233). Each of these is skipped on update when the stored object already
//! fails it (ratcheting), as upstream does.
//!
//! k8s-openapi decodes a missing `spec.selector` into an empty selector, so a selector with
//! neither `matchLabels` nor `matchExpressions` present is treated as the missing (nil)
//! selector upstream sees; an explicitly empty `matchLabels: {}` gives the
//! "empty selector" error.

use k8s_openapi::api::apps::v1::{RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{PersistentVolumeClaimVolumeSource, PodSpec, Volume};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use super::meta::{
    self, selector_is_empty, selector_matches, selector_parses, validate_label_selector,
};
use super::render::{
    json_str, render_int_or_string_json, render_label_selector, render_str, render_string_map,
    render_struct,
};
use super::{child, format, index, invalid_each, non_negative, pod, semantic, storage};
use crate::machinery::status::FieldError;

/// The Forbidden detail for changes to immutable StatefulSet spec fields (v1.35 wording).
pub const IMMUTABLE_SPEC_MESSAGE: &str = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

/// Validates a StatefulSet on create (`old` is `None`) or update.
pub fn validate_statefulset(new: &StatefulSet, old: Option<&StatefulSet>) -> Vec<FieldError> {
    let spec = &new.spec;
    let mut errs = match old {
        None => meta::validate_object_meta_with(
            &new.metadata,
            true,
            format::name_is_dns_label,
            "metadata",
        ),
        Some(old) => meta::validate_object_meta_update(&new.metadata, &old.metadata, "metadata"),
    };
    let opts = match old {
        None => Options::default(),
        Some(old) => Options {
            allow_invalid_service_name: !service_name_errors(&old.spec, "spec").is_empty(),
            skip_pod_template: !pod_template_errors(&old.spec, "spec.template").is_empty(),
            skip_claim_templates: !claim_template_errors(&old.spec, "spec").is_empty(),
        },
    };
    errs.extend(validate_spec(spec, "spec", opts));
    if let Some(old) = old
        && !semantic::equal(&immutable_view(spec), &immutable_view(&old.spec))
    {
        errs.push(FieldError::forbidden("spec", IMMUTABLE_SPEC_MESSAGE));
    }
    errs
}

/// Ratcheting switches (`StatefulSetValidationOptions`): checks the stored object already
/// fails are not applied to its updates.
#[derive(Debug, Clone, Copy, Default)]
struct Options {
    allow_invalid_service_name: bool,
    skip_pod_template: bool,
    skip_claim_templates: bool,
}

/// `serviceName`, when set, must be a DNS-1123 label (it becomes the pods' subdomain).
fn service_name_errors(spec: &StatefulSetSpec, path: &str) -> Vec<FieldError> {
    let name = spec.service_name.as_deref().unwrap_or("");
    if name.is_empty() {
        return Vec::new();
    }
    invalid_each(
        &child(path, "serviceName"),
        name,
        format::name_is_dns_label(name, false),
    )
}

/// `ValidateVolumeClaimTemplates`: each claim template's spec is a valid claim spec.
fn claim_template_errors(spec: &StatefulSetSpec, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, claim) in spec.volume_claim_templates.iter().flatten().enumerate() {
        let cpath = index(&child(path, "volumeClaimTemplates"), i);
        let claim_spec = claim.spec.clone().unwrap_or_default();
        errs.extend(storage::validate_pvc_spec(
            &claim_spec,
            &child(&cpath, "spec"),
        ));
    }
    errs
}

/// `ValidatePodTemplateSpec` of the template, with a claim-backed volume for every claim
/// template (`volumesToAddForTemplates`) in front of the template's own volumes, which are
/// dropped when a claim template has the same name.
fn pod_template_errors(spec: &StatefulSetSpec, path: &str) -> Vec<FieldError> {
    let meta = spec.template.metadata.clone().unwrap_or_default();
    let mut errs = meta::validate_labels(meta.labels.as_ref(), &child(path, "labels"));
    errs.extend(meta::validate_annotations(
        meta.annotations.as_ref(),
        &child(path, "annotations"),
    ));
    let mut pod_spec: PodSpec = spec.template.spec.clone().unwrap_or_default();
    let mut claims: Vec<String> = spec
        .volume_claim_templates
        .iter()
        .flatten()
        .filter_map(|c| c.metadata.name.clone().filter(|n| !n.is_empty()))
        .collect();
    claims.sort();
    claims.dedup();
    if !claims.is_empty() {
        let own = pod_spec.volumes.take().unwrap_or_default();
        let mut volumes: Vec<Volume> = claims
            .iter()
            .map(|name| Volume {
                name: name.clone(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: name.clone(),
                    read_only: None,
                }),
                ..Default::default()
            })
            .collect();
        volumes.extend(own.into_iter().filter(|v| !claims.contains(&v.name)));
        pod_spec.volumes = Some(volumes);
    }
    errs.extend(pod::validate_pod_spec(
        &pod_spec,
        &child(path, "spec"),
        false,
    ));
    if pod_spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errs.push(FieldError::forbidden(
            child(&child(path, "spec"), "ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

/// The spec with every mutable field removed, for the immutability comparison.
fn immutable_view(spec: &StatefulSetSpec) -> Value {
    let mut v = serde_json::to_value(spec).unwrap_or(Value::Null);
    if let Some(map) = v.as_object_mut() {
        for field in [
            "replicas",
            "ordinals",
            "template",
            "updateStrategy",
            "revisionHistoryLimit",
            "persistentVolumeClaimRetentionPolicy",
            "minReadySeconds",
        ] {
            map.remove(field);
        }
    }
    v
}

/// `ValidateStatefulSetSpec`.
fn validate_spec(spec: &StatefulSetSpec, path: &str, opts: Options) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let pmp_path = child(path, "podManagementPolicy");
    match spec.pod_management_policy.as_deref().unwrap_or("") {
        "" => errs.push(FieldError::required(pmp_path, "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(
            pmp_path,
            &render_str(other),
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }

    let us_path = child(path, "updateStrategy");
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    match strategy.type_.as_deref().unwrap_or("") {
        "" => errs.push(FieldError::required(us_path, "")),
        "OnDelete" => {
            if let Some(ru) = &strategy.rolling_update {
                errs.push(FieldError::invalid(
                    child(&us_path, "rollingUpdate"),
                    &internal_rolling_update(ru),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = &strategy.rolling_update {
                errs.extend(validate_rolling_update(
                    ru,
                    &child(&us_path, "rollingUpdate"),
                ));
            }
        }
        other => {
            let shown = render_struct(&[
                ("Type", Some(json_str(other))),
                (
                    "RollingUpdate",
                    Some(
                        strategy
                            .rolling_update
                            .as_ref()
                            .map_or_else(|| "null".into(), internal_rolling_update),
                    ),
                ),
            ]);
            errs.push(FieldError::invalid(
                us_path,
                &shown,
                "must be 'RollingUpdate' or 'OnDelete'",
            ));
        }
    }

    if let Some(policy) = &spec.persistent_volume_claim_retention_policy {
        let rp_path = child(path, "persistentVolumeClaimRetentionPolicy");
        for (field, value) in [
            ("whenDeleted", &policy.when_deleted),
            ("whenScaled", &policy.when_scaled),
        ] {
            let value = value.as_deref().unwrap_or("");
            if value != "Retain" && value != "Delete" {
                errs.push(FieldError::not_supported(
                    child(&rp_path, field),
                    &render_str(value),
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    if !opts.skip_claim_templates {
        errs.extend(claim_template_errors(spec, path));
    }

    errs.extend(non_negative(
        i64::from(spec.replicas.unwrap_or(0)),
        &child(path, "replicas"),
    ));
    errs.extend(non_negative(
        i64::from(spec.min_ready_seconds.unwrap_or(0)),
        &child(path, "minReadySeconds"),
    ));
    if let Some(ordinals) = &spec.ordinals {
        errs.extend(non_negative(
            i64::from(ordinals.start.unwrap_or(0)),
            &child(path, "ordinals.start"),
        ));
    }
    if !opts.allow_invalid_service_name {
        errs.extend(service_name_errors(spec, path));
    }

    let sel_path = child(path, "selector");
    let selector = &spec.selector;
    let nil_selector = selector.match_labels.is_none() && selector.match_expressions.is_none();
    if nil_selector {
        errs.push(FieldError::required(sel_path.clone(), ""));
    } else {
        errs.extend(validate_label_selector(selector, &sel_path));
        if selector_is_empty(selector) {
            errs.push(FieldError::invalid(
                sel_path.clone(),
                &render_label_selector(selector),
                "empty selector is invalid for statefulset",
            ));
        }
    }

    let template_path = child(path, "template");
    let template_meta = spec.template.metadata.clone().unwrap_or_default();
    if !nil_selector && !selector_parses(selector) {
        errs.push(FieldError::invalid(
            sel_path,
            &render_label_selector(selector),
            "",
        ));
    } else {
        // A nil selector selects nothing (so the template never matches); an empty one
        // selects everything and skips the check.
        let selects_everything = !nil_selector && selector_is_empty(selector);
        if !selects_everything
            && (nil_selector || !selector_matches(selector, template_meta.labels.as_ref()))
        {
            errs.push(FieldError::invalid(
                child(&child(&template_path, "metadata"), "labels"),
                &render_string_map(template_meta.labels.as_ref()),
                "`selector` does not match template `labels`",
            ));
        }
        if opts.skip_pod_template {
            errs.extend(meta::validate_labels(
                template_meta.labels.as_ref(),
                &child(&template_path, "labels"),
            ));
            errs.extend(meta::validate_annotations(
                template_meta.annotations.as_ref(),
                &child(&template_path, "annotations"),
            ));
        } else {
            errs.extend(pod_template_errors(spec, &template_path));
        }
    }

    let pod_spec = spec.template.spec.clone().unwrap_or_default();
    let restart_policy = pod_spec.restart_policy.as_deref().unwrap_or("");
    if restart_policy != "Always" {
        errs.push(FieldError::not_supported(
            child(&child(&template_path, "spec"), "restartPolicy"),
            &render_str(restart_policy),
            &["Always"],
        ));
    }
    if pod_spec.active_deadline_seconds.is_some() {
        errs.push(FieldError::forbidden(
            child(&child(&template_path, "spec"), "activeDeadlineSeconds"),
            "activeDeadlineSeconds in StatefulSet is not Supported",
        ));
    }
    errs
}

/// The internal `RollingUpdateStatefulSetStrategy` as a bad value.
fn internal_rolling_update(ru: &RollingUpdateStatefulSetStrategy) -> String {
    render_struct(&[
        ("Partition", Some(ru.partition.unwrap_or(0).to_string())),
        (
            "MaxUnavailable",
            Some(render_int_or_string_json(ru.max_unavailable.as_ref())),
        ),
    ])
}

/// `validateRollingUpdateStatefulSet`: partition ≥ 0; maxUnavailable a positive int or a
/// percentage, not 0, at most 100%.
fn validate_rolling_update(ru: &RollingUpdateStatefulSetStrategy, path: &str) -> Vec<FieldError> {
    let mut errs = non_negative(
        i64::from(ru.partition.unwrap_or(0)),
        &child(path, "partition"),
    );
    if let Some(max) = &ru.max_unavailable {
        let mu_path = child(path, "maxUnavailable");
        errs.extend(validate_positive_int_or_percent(max, &mu_path));
        if int_or_percent_value(max) == 0 {
            errs.push(FieldError::invalid(
                mu_path.clone(),
                &int_or_string_text(max),
                "cannot be 0",
            ));
        }
        if percent_value(max).is_some_and(|p| p > 100) {
            errs.push(FieldError::invalid(
                mu_path,
                &int_or_string_text(max),
                "must not be greater than 100%",
            ));
        }
    }
    errs
}

/// `IntOrString.String()` (how `field.Error` prints it: unquoted).
pub(crate) fn int_or_string_text(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(i) => i.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

/// `ValidatePositiveIntOrPercent`.
pub(crate) fn validate_positive_int_or_percent(v: &IntOrString, path: &str) -> Vec<FieldError> {
    match v {
        IntOrString::String(s) => format::is_valid_percent(s)
            .into_iter()
            .map(|m| FieldError::invalid(path, &int_or_string_text(v), &m))
            .collect(),
        IntOrString::Int(i) => non_negative(i64::from(*i), path),
    }
}

/// `getPercentValue`: the number of a valid `N%` string.
fn percent_value(v: &IntOrString) -> Option<i64> {
    match v {
        IntOrString::String(s) if format::is_valid_percent(s).is_empty() => {
            s.trim_end_matches('%').parse().ok()
        }
        _ => None,
    }
}

/// `getIntOrPercentValue`: the percentage, or the int (`IntValue()`: a non-numeric string is 0).
fn int_or_percent_value(v: &IntOrString) -> i64 {
    match (percent_value(v), v) {
        (Some(p), _) => p,
        (None, IntOrString::Int(i)) => i64::from(*i),
        (None, IntOrString::String(s)) => s.parse().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machinery::defaults::default_statefulset;
    use k8s_openapi::api::apps::v1::{StatefulSetOrdinals, StatefulSetUpdateStrategy};
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use serde_json::json;

    /// A defaulted, valid set decoded from JSON, then changed by `edit` (JSON merge).
    fn sts(edit: Value) -> StatefulSet {
        let mut base = json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "serviceName": "web",
                "selector": {"matchLabels": {"app": "nginx"}},
                "template": {
                    "metadata": {"labels": {"app": "nginx"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}
                }
            }
        });
        merge(&mut base, edit);
        let mut s: StatefulSet = serde_json::from_value(base).expect("valid statefulset json");
        default_statefulset(&mut s);
        s
    }

    fn merge(base: &mut Value, patch: Value) {
        match (base, patch) {
            (Value::Object(b), Value::Object(p)) => {
                for (k, v) in p {
                    if v.is_null() {
                        b.remove(&k);
                    } else {
                        merge(b.entry(k).or_insert(Value::Null), v);
                    }
                }
            }
            (b, p) => *b = p,
        }
    }

    fn lines(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::line).collect()
    }

    #[test]
    fn create_table() {
        let long_label = format!(
            "spec.template.labels: Invalid value: \"{}\": must be no more than 63 bytes",
            "x".repeat(64)
        );
        let cases: Vec<(&str, Value, Vec<&str>)> = vec![
            ("valid", json!({}), vec![]),
            (
                "no selector",
                json!({"spec": {"selector": null}}),
                vec![
                    "spec.selector: Required value",
                    "spec.template.metadata.labels: Invalid value: {\"app\":\"nginx\"}: `selector` does not match template `labels`",
                ],
            ),
            (
                "selector does not match",
                json!({"spec": {"selector": {"matchLabels": {"app": "other"}}}}),
                vec![
                    "spec.template.metadata.labels: Invalid value: {\"app\":\"nginx\"}: `selector` does not match template `labels`",
                ],
            ),
            (
                "negative replicas",
                json!({"spec": {"replicas": -1}}),
                vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0"],
            ),
            (
                "negative partition",
                json!({"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": -2}}}}),
                vec![
                    "spec.updateStrategy.rollingUpdate.partition: Invalid value: -2: must be greater than or equal to 0",
                ],
            ),
            (
                "maxUnavailable 0",
                json!({"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}}}}),
                vec![
                    "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: cannot be 0",
                ],
            ),
            (
                "maxUnavailable 0%",
                json!({"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "0%"}}}}),
                vec![
                    "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0%: cannot be 0",
                ],
            ),
            (
                "maxUnavailable 150%",
                json!({"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "150%"}}}}),
                vec![
                    "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 150%: must not be greater than 100%",
                ],
            ),
            (
                "restartPolicy Never",
                json!({"spec": {"template": {"spec": {"restartPolicy": "Never"}}}}),
                vec![
                    "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
                ],
            ),
            (
                "activeDeadlineSeconds",
                json!({"spec": {"template": {"spec": {"activeDeadlineSeconds": 10}}}}),
                vec![
                    "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in StatefulSet is not Supported",
                ],
            ),
            (
                "bad podManagementPolicy",
                json!({"spec": {"podManagementPolicy": "Random"}}),
                vec![
                    "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'",
                ],
            ),
            (
                "OnDelete with rollingUpdate",
                json!({"spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": {"partition": 1}}}}),
                vec![
                    "spec.updateStrategy.rollingUpdate: Invalid value: {\"Partition\":1,\"MaxUnavailable\":null}: only allowed for updateStrategy 'RollingUpdate'",
                ],
            ),
            (
                "bad retention policy",
                json!({"spec": {"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Keep"}}}),
                vec![
                    "spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: \"Keep\": supported values: \"Retain\", \"Delete\"",
                ],
            ),
            (
                "negative ordinals.start",
                json!({"spec": {"ordinals": {"start": -1}}}),
                vec!["spec.ordinals.start: Invalid value: -1: must be greater than or equal to 0"],
            ),
            (
                "name must be a DNS label",
                json!({"metadata": {"name": "web.example"}}),
                vec!["metadata.name: Invalid value: \"web.example\": must not contain dots"],
            ),
            (
                "template label value too long",
                json!({"spec": {"selector": {"matchLabels": {"app": "nginx"}}, "template": {"metadata": {"labels": {"v": "x".repeat(64)}}}}}),
                vec![long_label.as_str()],
            ),
        ];
        for (name, edit, want) in cases {
            let set = sts(edit);
            assert_eq!(
                lines(&validate_statefulset(&set, None)),
                want,
                "case {name}"
            );
        }
    }

    #[test]
    fn template_and_claim_templates_are_validated_since_1_34() {
        let no_image = json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx"}]}}}});
        assert_eq!(
            lines(&validate_statefulset(&sts(no_image), None)),
            vec!["spec.template.spec.containers[0].image: Required value"]
        );
        let with_claim = |mount: &str| {
            json!({"spec": {
                "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx",
                    "volumeMounts": [{"name": mount, "mountPath": "/data"}]}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
            }})
        };
        assert!(
            validate_statefulset(&sts(with_claim("data")), None).is_empty(),
            "claim mounts resolve"
        );
        assert_eq!(
            lines(&validate_statefulset(&sts(with_claim("other")), None)),
            vec!["spec.template.spec.containers[0].volumeMounts[0].name: Not found: \"other\""]
        );
        let bad_claim = json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"},
            "spec": {"resources": {"requests": {"storage": "1Gi"}}}}]}});
        assert_eq!(
            lines(&validate_statefulset(&sts(bad_claim), None)),
            vec![
                "spec.volumeClaimTemplates[0].spec.accessModes: Required value: at least 1 access mode is required"
            ]
        );
        let bad_service = json!({"spec": {"serviceName": "Web_Svc"}});
        let errs = lines(&validate_statefulset(&sts(bad_service), None));
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with(
                "spec.serviceName: Invalid value: \"Web_Svc\": a lowercase RFC 1123 label"
            ),
            "{errs:?}"
        );
    }

    #[test]
    fn updates_tolerate_already_invalid_stored_parts() {
        let invalid = json!({"metadata": {"resourceVersion": "1"}, "spec": {
            "serviceName": "Web_Svc",
            "template": {"spec": {"containers": [{"name": "nginx"}]}}
        }});
        let old = sts(invalid.clone());
        let mut edit = invalid;
        merge(&mut edit, json!({"spec": {"replicas": 3}}));
        assert!(validate_statefulset(&sts(edit), Some(&old)).is_empty());
        let valid_old = sts(json!({"metadata": {"resourceVersion": "1"}}));
        let broken = sts(
            json!({"metadata": {"resourceVersion": "1"}, "spec": {"template": {"spec": {"containers": [{"name": "nginx"}]}}}}),
        );
        assert_eq!(
            lines(&validate_statefulset(&broken, Some(&valid_old))),
            vec!["spec.template.spec.containers[0].image: Required value"]
        );
    }

    #[test]
    fn explicitly_empty_selector_is_invalid() {
        let mut set = sts(json!({}));
        set.spec.selector = LabelSelector {
            match_labels: Some(Default::default()),
            match_expressions: None,
        };
        assert_eq!(
            lines(&validate_statefulset(&set, None)),
            vec!["spec.selector: Invalid value: {}: empty selector is invalid for statefulset"]
        );
    }

    #[test]
    fn missing_selector_status_message_matches_kubectl() {
        let set = sts(json!({"spec": {"selector": null}}));
        let joined = validate_statefulset(&set, None)
            .iter()
            .map(FieldError::line)
            .collect::<Vec<_>>()
            .join(", ");
        assert_eq!(
            format!("StatefulSet.apps \"web\" is invalid: [{joined}]"),
            "StatefulSet.apps \"web\" is invalid: [spec.selector: Required value, spec.template.metadata.labels: Invalid value: {\"app\":\"nginx\"}: `selector` does not match template `labels`]"
        );
    }

    #[test]
    fn update_table() {
        let forbidden = format!("spec: Forbidden: {IMMUTABLE_SPEC_MESSAGE}");
        let cases: Vec<(&str, Value, Vec<String>)> = vec![
            ("replicas", json!({"spec": {"replicas": 5}}), vec![]),
            (
                "image",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:2"}]}}}}),
                vec![],
            ),
            (
                "revisionHistoryLimit",
                json!({"spec": {"revisionHistoryLimit": 3}}),
                vec![],
            ),
            (
                "minReadySeconds",
                json!({"spec": {"minReadySeconds": 3}}),
                vec![],
            ),
            (
                "serviceName",
                json!({"spec": {"serviceName": "other"}}),
                vec![forbidden.clone()],
            ),
            (
                "podManagementPolicy",
                json!({"spec": {"podManagementPolicy": "Parallel"}}),
                vec![forbidden.clone()],
            ),
            (
                "selector",
                json!({"spec": {"selector": {"matchLabels": {"app": "nginx", "x": "y"}}, "template": {"metadata": {"labels": {"app": "nginx", "x": "y"}}}}}),
                vec![forbidden.clone()],
            ),
        ];
        let old = sts(json!({"metadata": {"resourceVersion": "1"}}));
        for (name, edit, want) in cases {
            let mut edit = edit;
            merge(&mut edit, json!({"metadata": {"resourceVersion": "1"}}));
            let new = sts(edit);
            assert_eq!(
                lines(&validate_statefulset(&new, Some(&old))),
                want,
                "case {name}"
            );
        }
    }

    #[test]
    fn update_of_claim_template_size_is_forbidden() {
        let claim = |size: &str| {
            serde_json::from_value::<PersistentVolumeClaim>(json!({
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
            }))
            .expect("claim json")
        };
        let mut old = sts(json!({}));
        let mut new = old.clone();
        old.spec.volume_claim_templates = Some(vec![claim("1Gi")]);
        new.spec.volume_claim_templates = Some(vec![claim("1024Mi")]);
        assert!(
            validate_statefulset(&new, Some(&old)).is_empty(),
            "equal quantities are semantically equal"
        );
        new.spec.volume_claim_templates = Some(vec![claim("2Gi")]);
        assert_eq!(
            lines(&validate_statefulset(&new, Some(&old))),
            vec![format!("spec: Forbidden: {IMMUTABLE_SPEC_MESSAGE}")]
        );
    }

    #[test]
    fn typed_construction_without_defaults() {
        let set = StatefulSet {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("db".into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            spec: StatefulSetSpec {
                selector: LabelSelector {
                    match_labels: Some([("a".to_string(), "b".to_string())].into()),
                    ..Default::default()
                },
                update_strategy: Some(StatefulSetUpdateStrategy {
                    type_: None,
                    rolling_update: None,
                }),
                ordinals: Some(StatefulSetOrdinals { start: Some(0) }),
                ..Default::default()
            },
            status: None,
        };
        assert_eq!(
            lines(&validate_statefulset(&set, None)),
            vec![
                "spec.podManagementPolicy: Required value",
                "spec.updateStrategy: Required value",
                "spec.template.metadata.labels: Invalid value: null: `selector` does not match template `labels`",
                "spec.template.spec.terminationGracePeriodSeconds: Required value",
                "spec.template.spec.containers: Required value",
                "spec.template.spec.restartPolicy: Required value",
                "spec.template.spec.dnsPolicy: Required value",
                "spec.template.spec.restartPolicy: Unsupported value: \"\": supported values: \"Always\"",
            ]
        );
    }
}
