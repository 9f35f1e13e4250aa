//! kubectl's client-side apply record: the `kubectl.kubernetes.io/last-applied-configuration`
//! annotation, written byte for byte as `kubectl apply` writes it, so objects podgate creates
//! from manifests can later be re-applied with kubectl and come out `unchanged`.

use serde_json::{Map, Value};

/// The annotation key kubectl keeps the last applied manifest under.
pub(crate) const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Returns `manifest` carrying its own last-applied annotation, as kubectl computes it: the
/// object (namespaced ones in `default_namespace` unless they name one) with an `annotations`
/// map minus the annotation itself, encoded as Go's `encoding/json` encodes it (sorted keys,
/// HTML-escaped, a trailing newline).
pub(crate) fn with_last_applied(
    mut manifest: Value,
    namespaced: bool,
    default_namespace: &str,
) -> Value {
    let Some(object) = manifest.as_object_mut() else {
        return manifest;
    };
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(metadata) = metadata.as_object_mut() else {
        return manifest;
    };
    if namespaced && metadata.get("namespace").and_then(Value::as_str).is_none() {
        metadata.insert("namespace".into(), default_namespace.into());
    }
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if !annotations.is_object() {
        *annotations = Value::Object(Map::new());
    }
    if let Some(annotations) = annotations.as_object_mut() {
        annotations.remove(LAST_APPLIED_ANNOTATION);
    }
    let record = go_json(&manifest);
    if let Some(annotations) = manifest
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.insert(LAST_APPLIED_ANNOTATION.into(), record.into());
    }
    manifest
}

/// `value` as Go's `json.Encoder` writes it: `serde_json`'s compact form with map keys sorted,
/// `<`, `>`, `&`, U+2028 and U+2029 escaped, and a newline after it.
fn go_json(value: &Value) -> String {
    let compact = serde_json::to_string(value).unwrap_or_default();
    let mut out = String::with_capacity(compact.len() + 1);
    for c in compact.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_record_is_the_manifest_with_an_empty_annotation_map_and_its_namespace() {
        let applied = with_last_applied(
            json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"}, "data": {"k": "a<b&c"}}),
            true,
            "default",
        );
        assert_eq!(
            applied["metadata"]["annotations"][LAST_APPLIED_ANNOTATION],
            "{\"apiVersion\":\"v1\",\"data\":{\"k\":\"a\\u003cb\\u0026c\"},\"kind\":\"ConfigMap\",\"metadata\":{\"annotations\":{},\"name\":\"c\",\"namespace\":\"default\"}}\n"
        );
        let cluster_scoped = with_last_applied(
            json!({"metadata": {"name": "n", "annotations": {"a": "1"}}}),
            false,
            "default",
        );
        assert_eq!(
            cluster_scoped["metadata"]["annotations"][LAST_APPLIED_ANNOTATION],
            "{\"metadata\":{\"annotations\":{\"a\":\"1\"},\"name\":\"n\"}}\n"
        );
    }
}
