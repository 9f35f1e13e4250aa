//! `ValidateNode` / `ValidateNodeUpdate` (`pkg/apis/core/validation`), kept light:
//! metadata, taints and pod CIDRs.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Node;

use super::format;
use super::meta;
use super::render::render_str;
use super::{child, index, invalid_each};
use crate::machinery::status::FieldError;

/// Validates a Node on create (`old` is `None`) or update.
pub fn validate_node(new: &Node, old: Option<&Node>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(old) = old {
        errs.extend(meta::validate_object_meta_update(
            &new.metadata,
            &old.metadata,
            "metadata",
        ));
    }
    errs.extend(meta::validate_object_meta(&new.metadata, false, "metadata"));
    let spec = new.spec.clone().unwrap_or_default();
    let mut seen = BTreeSet::new();
    for (i, t) in spec.taints.iter().flatten().enumerate() {
        let path = index("spec.taints", i);
        errs.extend(invalid_each(
            &child(&path, "key"),
            &t.key,
            format::is_qualified_name(&t.key),
        ));
        let value = t.value.as_deref().unwrap_or("");
        errs.extend(invalid_each(
            &child(&path, "value"),
            value,
            format::is_valid_label_value(value),
        ));
        match t.effect.as_str() {
            "" => errs.push(FieldError::required(child(&path, "effect"), "")),
            "NoSchedule" | "PreferNoSchedule" | "NoExecute" => {}
            other => errs.push(FieldError::not_supported(
                child(&path, "effect"),
                &render_str(other),
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            )),
        }
        if !seen.insert((t.key.clone(), t.effect.clone())) {
            errs.push(FieldError::duplicate(
                path,
                &render_str(&format!("{}:{}", t.key, t.effect)),
            ));
        }
    }
    for (i, cidr) in spec.pod_cidrs.iter().flatten().enumerate() {
        errs.extend(invalid_each(
            &index("spec.podCIDRs", i),
            cidr,
            format::is_valid_cidr(cidr),
        ));
    }
    if let Some(old) = old {
        let old_spec = old.spec.clone().unwrap_or_default();
        let old_cidrs = old_spec.pod_cidrs.unwrap_or_default();
        let new_cidrs = spec.pod_cidrs.clone().unwrap_or_default();
        if !old_cidrs.is_empty() {
            let changed = old_cidrs.len() != new_cidrs.len();
            let diffs = old_cidrs
                .iter()
                .zip(&new_cidrs)
                .filter(|(a, b)| a != b)
                .count();
            for _ in 0..if changed { 1 } else { diffs } {
                errs.push(FieldError::forbidden(
                    "spec.podCIDRs",
                    "node updates may not change podCIDR except from \"\" to valid",
                ));
            }
        }
        let old_provider = old_spec.provider_id.unwrap_or_default();
        if !old_provider.is_empty() && spec.provider_id.as_deref().unwrap_or("") != old_provider {
            errs.push(FieldError::forbidden(
                "spec.providerID",
                "node updates may not change providerID except from \"\" to valid",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(v: serde_json::Value) -> Node {
        serde_json::from_value(v).expect("node json")
    }

    fn lines(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::line).collect()
    }

    #[test]
    fn node_table() {
        assert!(validate_node(&node(json!({"metadata": {"name": "node-1"}})), None).is_empty());
        assert_eq!(
            lines(&validate_node(
                &node(
                    json!({"metadata": {"name": "n"}, "spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}})
                ),
                None
            )),
            vec![
                "spec.taints[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\""
            ]
        );
        let old = node(json!({"metadata": {"name": "n"}, "spec": {"podCIDRs": ["10.244.1.0/24"]}}));
        let new = node(json!({"metadata": {"name": "n"}, "spec": {"podCIDRs": ["10.250.1.0/24"]}}));
        assert_eq!(
            lines(&validate_node(&new, Some(&old))),
            vec![
                "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid"
            ]
        );
    }
}
