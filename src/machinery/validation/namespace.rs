//! `ValidateNamespace` / `ValidateNamespaceUpdate` (`pkg/apis/core/validation`).

use k8s_openapi::api::core::v1::Namespace;

use super::format;
use super::meta;
use crate::machinery::status::FieldError;

/// Validates a Namespace on create (`old` is `None`) or update: a DNS-1123 label name, no
/// namespace of its own, valid `spec.finalizers` (checked on create, as upstream).
pub fn validate_namespace(new: &Namespace, old: Option<&Namespace>) -> Vec<FieldError> {
    match old {
        Some(old) => meta::validate_object_meta_update(&new.metadata, &old.metadata, "metadata"),
        None => {
            let mut errs = meta::validate_object_meta_with(
                &new.metadata,
                false,
                format::name_is_dns_label,
                "metadata",
            );
            for f in new.spec.iter().flat_map(|s| s.finalizers.iter().flatten()) {
                errs.extend(meta::validate_finalizers(
                    std::slice::from_ref(f),
                    "spec.finalizers",
                ));
                errs.extend(meta::validate_kube_finalizer_name(f, "spec.finalizers"));
            }
            errs
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ns(v: serde_json::Value) -> Namespace {
        serde_json::from_value(v).expect("namespace json")
    }

    #[test]
    fn namespace_table() {
        let cases = [
            (json!({"metadata": {"name": "team-a"}}), vec![]),
            (
                json!({"metadata": {"name": "team.a"}}),
                vec!["metadata.name: Invalid value: \"team.a\": must not contain dots"],
            ),
            (
                json!({"metadata": {"name": "a", "namespace": "b"}}),
                vec!["metadata.namespace: Forbidden: not allowed on this type"],
            ),
            (
                json!({"metadata": {"name": "a"}, "spec": {"finalizers": ["kubernetes"]}}),
                vec![],
            ),
            (
                json!({"metadata": {"name": "a"}, "spec": {"finalizers": ["custom"]}}),
                vec![
                    "spec.finalizers: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified",
                ],
            ),
        ];
        for (v, want) in cases {
            let got: Vec<String> = validate_namespace(&ns(v.clone()), None)
                .iter()
                .map(FieldError::line)
                .collect();
            assert_eq!(got, want, "namespace {v}");
        }
    }

    #[test]
    fn namespace_name_is_immutable() {
        let old = ns(json!({"metadata": {"name": "a"}}));
        let new = ns(json!({"metadata": {"name": "b"}}));
        let got: Vec<String> = validate_namespace(&new, Some(&old))
            .iter()
            .map(FieldError::line)
            .collect();
        assert_eq!(
            got,
            vec!["metadata.name: Invalid value: \"b\": field is immutable"]
        );
    }
}
