//! Validation of the objects podgate's embedded API server stores, with Kubernetes' own
//! field paths, reasons and messages (`details.causes` of a 422 `Status`).
//!
//! Each `validate_<kind>(new, old)` mirrors upstream's `Validate<Kind>` (create, `old` is
//! `None`) and `Validate<Kind>Update` (update, `old` is the stored object). Objects are
//! expected to be decoded and defaulted first (see [`crate::machinery::defaults`]), as the
//! real API server does before it validates. Bad values are printed by [`render_value`] the
//! way Kubernetes v1.35 prints them.
//!
//! Upstream sources followed: `pkg/apis/core/validation/validation.go`,
//! `pkg/apis/apps/validation/validation.go`, `pkg/apis/discovery/validation/validation.go`,
//! `pkg/apis/storage/validation/validation.go` and `k8s.io/apimachinery`'s
//! `api/validation`, `apis/meta/v1/validation` and `util/validation`.

pub mod configmap;
pub mod endpoints;
pub mod format;
pub mod meta;
pub mod namespace;
pub mod node;
pub mod pod;
pub mod render;
pub mod semantic;
pub mod service;
pub mod statefulset;
pub mod storage;

pub use configmap::validate_configmap;
pub use endpoints::{validate_endpoints, validate_endpointslice};
pub use meta::{validate_object_meta, validate_object_meta_update, validate_object_meta_with};
pub use namespace::validate_namespace;
pub use node::validate_node;
pub use pod::validate_pod;
pub use render::{render_str, render_value, render_value_go_syntax};
pub use service::validate_service;
pub use statefulset::validate_statefulset;
pub use storage::{validate_pv, validate_pvc, validate_storage_class};

use crate::machinery::status::FieldError;

/// `path.name`, as `field.Path.Child` prints it.
pub(crate) fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// `path[i]`, as `field.Path.Index` prints it.
pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// `path[key]` (unquoted), as `field.Path.Key` prints it.
pub(crate) fn key(path: &str, k: &str) -> String {
    format!("{path}[{k}]")
}

/// `field.NotFound`: `Not found: <value>`.
pub(crate) fn not_found(field: impl Into<String>, value: &str) -> FieldError {
    FieldError {
        reason: "FieldValueNotFound",
        field: field.into(),
        message: format!("Not found: {value}"),
    }
}

/// `field.TooMany`: `Too many: <n>: must have at most <max> items`.
pub(crate) fn too_many(field: impl Into<String>, actual: usize, max: usize) -> FieldError {
    FieldError {
        reason: "FieldValueTooMany",
        field: field.into(),
        message: format!("Too many: {actual}: must have at most {max} items"),
    }
}

/// `ValidateNonnegativeField`: `Invalid value: -1: must be greater than or equal to 0`.
pub(crate) fn non_negative(value: i64, field: &str) -> Vec<FieldError> {
    if value < 0 {
        vec![FieldError::invalid(
            field,
            &value.to_string(),
            "must be greater than or equal to 0",
        )]
    } else {
        Vec::new()
    }
}

/// `field.Invalid` for every message a format check returned, with a quoted string value.
pub(crate) fn invalid_each(field: &str, value: &str, msgs: Vec<String>) -> Vec<FieldError> {
    msgs.into_iter()
        .map(|m| FieldError::invalid(field, &render_str(value), &m))
        .collect()
}

/// `ValidateImmutableField` for string values: `Invalid value: "new": field is immutable`.
pub(crate) fn immutable_str(new: &str, old: &str, field: &str) -> Vec<FieldError> {
    if new == old {
        Vec::new()
    } else {
        vec![FieldError::invalid(
            field,
            &render_str(new),
            "field is immutable",
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_helpers_print_like_field_path() {
        assert_eq!(child("spec", "template"), "spec.template");
        assert_eq!(child("", "spec"), "spec");
        assert_eq!(index("spec.containers", 2), "spec.containers[2]");
        assert_eq!(key("data", "a b"), "data[a b]");
    }

    #[test]
    fn odd_input_never_panics() {
        let inputs = [
            "",
            "-",
            "é-",
            "a\u{0}b",
            "💥",
            &"x".repeat(300),
            "..",
            "/",
            "a/b/c",
            "1e999",
            "--",
            "%",
            "[::1]",
        ];
        for s in inputs {
            let _ = format::is_dns1123_label(s);
            let _ = format::is_dns1123_subdomain(s);
            let _ = format::is_dns1035_label(s);
            let _ = format::name_is_dns_subdomain(s, true);
            let _ = format::is_qualified_name(s);
            let _ = format::is_valid_label_value(s);
            let _ = format::is_config_map_key(s);
            let _ = format::is_valid_port_name(s);
            let _ = format::is_valid_percent(s);
            let _ = format::is_valid_cidr(s);
            let _ = format::non_special_ip(s);
            let _ = crate::machinery::quantity::parse_nanos(s);
            assert!(render_str(s).starts_with('"'));
        }
        assert_eq!(
            non_negative(-1, "spec.replicas")[0].line(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(not_found("x", "\"v\"").line(), "x: Not found: \"v\"");
        assert_eq!(
            too_many("x", 3, 2).line(),
            "x: Too many: 3: must have at most 2 items"
        );
    }
}
