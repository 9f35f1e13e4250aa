//! `ValidateConfigMap` / `ValidateConfigMapUpdate` (`pkg/apis/core/validation`).

use k8s_openapi::api::core::v1::ConfigMap;

use super::format;
use super::meta;
use super::{invalid_each, key};
use crate::machinery::status::FieldError;

/// `MaxSecretSize`: the data of a ConfigMap (or Secret) is at most 1 MiB.
pub const MAX_DATA_SIZE: usize = 1024 * 1024;

/// Validates a ConfigMap on create (`old` is `None`) or update: keys, no key in both
/// `data` and `binaryData`, total size, and no change once `immutable` is set.
pub fn validate_configmap(new: &ConfigMap, old: Option<&ConfigMap>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(
            &new.metadata,
            &old.metadata,
            "metadata",
        ));
        if old.immutable == Some(true) {
            let msg = "field is immutable when `immutable` is set";
            if new.immutable != Some(true) {
                errs.push(FieldError::forbidden("immutable", msg));
            }
            if new.data.as_ref().filter(|d| !d.is_empty())
                != old.data.as_ref().filter(|d| !d.is_empty())
            {
                errs.push(FieldError::forbidden("data", msg));
            }
            if new.binary_data.as_ref().filter(|d| !d.is_empty())
                != old.binary_data.as_ref().filter(|d| !d.is_empty())
            {
                errs.push(FieldError::forbidden("binaryData", msg));
            }
        }
    }
    errs.extend(meta::validate_object_meta(&new.metadata, true, "metadata"));
    let mut total = 0usize;
    for (k, v) in new.data.iter().flatten() {
        let path = key("data", k);
        errs.extend(invalid_each(&path, k, format::is_config_map_key(k)));
        if new.binary_data.as_ref().is_some_and(|b| b.contains_key(k)) {
            errs.extend(invalid_each(
                &path,
                k,
                vec!["duplicate of key present in binaryData".to_string()],
            ));
        }
        total += v.len();
    }
    for (k, v) in new.binary_data.iter().flatten() {
        errs.extend(invalid_each(
            &key("binaryData", k),
            k,
            format::is_config_map_key(k),
        ));
        total += v.0.len();
    }
    if total > MAX_DATA_SIZE {
        errs.push(FieldError::too_long("[]", MAX_DATA_SIZE));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(v: serde_json::Value) -> ConfigMap {
        serde_json::from_value(v).expect("configmap json")
    }

    fn lines(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::line).collect()
    }

    #[test]
    fn configmap_table() {
        let big = "x".repeat(MAX_DATA_SIZE + 1);
        let cases = [
            (json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a.conf": "x"}}), vec![]),
            (
                json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a b": "x"}}),
                vec!["data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".to_string()],
            ),
            (
                json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"k": "x"}, "binaryData": {"k": "eA=="}}),
                vec!["data[k]: Invalid value: \"k\": duplicate of key present in binaryData".to_string()],
            ),
            (
                json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"k": big}}),
                vec!["[]: Too long: may not be more than 1048576 bytes".to_string()],
            ),
        ];
        for (v, want) in cases {
            assert_eq!(lines(&validate_configmap(&cm(v), None)), want);
        }
    }

    #[test]
    fn immutable_configmap_cannot_change() {
        let old = cm(
            json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"k": "1"}, "immutable": true}),
        );
        let new = cm(
            json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"k": "2"}, "immutable": true}),
        );
        assert_eq!(
            lines(&validate_configmap(&new, Some(&old))),
            vec!["data: Forbidden: field is immutable when `immutable` is set"]
        );
        let mutable_again =
            cm(json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"k": "1"}}));
        assert_eq!(
            lines(&validate_configmap(&mutable_again, Some(&old))),
            vec!["immutable: Forbidden: field is immutable when `immutable` is set"]
        );
    }
}
