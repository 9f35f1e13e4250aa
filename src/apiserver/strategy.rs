//! Per-kind handling of incoming objects: decode into the Kubernetes type, fill defaults,
//! validate, and encode back. Decoding through the typed struct also drops unknown fields,
//! as kube-apiserver does; they are reported as warnings or, with `fieldValidation=Strict`,
//! refused.

use k8s_openapi::api::{
    apps::v1 as apps, core::v1 as core, discovery::v1 as discovery, storage::v1 as storage,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::registry::{ResourceDef, Shape};
use crate::machinery::status::{FieldError, Status};
use crate::machinery::{defaults, validation};

/// How to treat fields the type does not know (`?fieldValidation=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and warn.
    Warn,
    /// Refuse the request.
    Strict,
}

impl FieldValidation {
    /// Parses the query value; Kubernetes' default is Warn.
    pub fn parse(value: Option<&str>) -> Result<Self, Status> {
        match value.unwrap_or("") {
            "" | "Warn" => Ok(Self::Warn),
            "Ignore" => Ok(Self::Ignore),
            "Strict" => Ok(Self::Strict),
            other => Err(Status::bad_request(format!(
                "fieldValidation parameter unsupported: {other}, supported values are Ignore, Warn, Strict"
            ))),
        }
    }
}

/// Decodes, defaults and validates `obj` (for create when `old` is None, else update),
/// returning the normalized object and any warnings.
pub fn normalize(
    def: &ResourceDef,
    obj: Value,
    old: Option<&Value>,
    fields: FieldValidation,
) -> Result<(Value, Vec<String>), Status> {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (out, causes) = match def.shape {
        Shape::Pod => typed::<core::Pod>(
            def,
            &obj,
            old,
            defaults::default_pod,
            validation::validate_pod,
        )?,
        Shape::Service => typed::<core::Service>(
            def,
            &obj,
            old,
            defaults::default_service,
            validation::validate_service,
        )?,
        Shape::Endpoints => typed::<core::Endpoints>(
            def,
            &obj,
            old,
            defaults::default_endpoints,
            validation::validate_endpoints,
        )?,
        Shape::Namespace => typed::<core::Namespace>(
            def,
            &obj,
            old,
            |n| {
                if old.is_none() {
                    defaults::prepare_namespace_for_create(n)
                }
                defaults::default_namespace(n)
            },
            validation::validate_namespace,
        )?,
        Shape::Node => typed::<core::Node>(
            def,
            &obj,
            old,
            defaults::default_node,
            validation::validate_node,
        )?,
        Shape::PersistentVolumeClaim => typed::<core::PersistentVolumeClaim>(
            def,
            &obj,
            old,
            defaults::default_pvc,
            validation::validate_pvc,
        )?,
        Shape::PersistentVolume => typed::<core::PersistentVolume>(
            def,
            &obj,
            old,
            defaults::default_pv,
            validation::validate_pv,
        )?,
        Shape::ConfigMap => {
            typed::<core::ConfigMap>(def, &obj, old, |_| {}, validation::validate_configmap)?
        }
        Shape::StatefulSet => typed::<apps::StatefulSet>(
            def,
            &obj,
            old,
            defaults::default_statefulset,
            validation::validate_statefulset,
        )?,
        Shape::EndpointSlice => typed::<discovery::EndpointSlice>(
            def,
            &obj,
            old,
            defaults::default_endpointslice,
            validation::validate_endpointslice,
        )?,
        Shape::StorageClass => typed::<storage::StorageClass>(
            def,
            &obj,
            old,
            defaults::default_storage_class,
            validation::validate_storage_class,
        )?,
        Shape::Plain | Shape::Review => plain(def, &obj)?,
    };
    // Kinds stored as given still decode through their type to find the fields it lacks,
    // which are then dropped from what is stored, as the typed kinds drop them.
    let typed_plain = match def.shape {
        Shape::Plain | Shape::Review => plain_round_trip(def, &obj),
        _ => None,
    };
    if !causes.is_empty() {
        return Err(Status::invalid(def.kind, def.group, &name, causes));
    }
    let known = typed_plain.as_ref().unwrap_or(&out);
    let unknown = if fields == FieldValidation::Ignore {
        Vec::new()
    } else {
        unknown_fields(&obj, known)
    };
    if fields == FieldValidation::Strict && !unknown.is_empty() {
        let list = unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Status::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {list}",
            def.kind, def.version, def.kind
        )));
    }
    let mut out = out;
    if let Some(known) = &typed_plain {
        prune_unknown(&mut out, known);
    }
    if def.shape == Shape::StatefulSet {
        defaults::drop_embedded_type_meta(&mut out);
    }
    let warnings = unknown
        .into_iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    Ok((out, warnings))
}

fn decode<T: DeserializeOwned>(def: &ResourceDef, obj: &Value) -> Result<T, Status> {
    serde_json::from_value(obj.clone()).map_err(|e| {
        Status::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            def.kind, def.version, def.kind
        ))
    })
}

fn typed<T: DeserializeOwned + Serialize>(
    def: &ResourceDef,
    obj: &Value,
    old: Option<&Value>,
    default: impl Fn(&mut T),
    validate: fn(&T, Option<&T>) -> Vec<FieldError>,
) -> Result<(Value, Vec<FieldError>), Status> {
    let mut new: T = decode(def, obj)?;
    default(&mut new);
    let old: Option<T> = match old {
        Some(o) => Some(decode(def, o)?),
        None => None,
    };
    let causes = validate(&new, old.as_ref());
    let out = serde_json::to_value(&new).map_err(|e| Status::internal(e.to_string()))?;
    Ok((out, causes))
}

/// Kinds stored as given: only the envelope and metadata are checked.
fn plain(def: &ResourceDef, obj: &Value) -> Result<(Value, Vec<FieldError>), Status> {
    let meta: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta =
        decode(def, obj.get("metadata").unwrap_or(&Value::Null))?;
    let name_rule = if def.group == "rbac.authorization.k8s.io" {
        validation::format::name_is_path_segment
    } else {
        validation::format::name_is_dns_subdomain
    };
    let causes =
        validation::validate_object_meta_with(&meta, def.namespaced, name_rule, "metadata");
    Ok((obj.clone(), causes))
}

/// `obj` decoded into and encoded from the Rust type of a kind stored as given; `None` for a
/// kind without one, or an object the type cannot hold (the Rust types require some fields
/// that Go leaves at their zero value, and these kinds were never refused for that).
fn plain_round_trip(def: &ResourceDef, obj: &Value) -> Option<Value> {
    use k8s_openapi::api::{apps, coordination, core, events, rbac};
    fn round_trip<T: DeserializeOwned + Serialize>(obj: &Value) -> Option<Value> {
        let typed: T = serde_json::from_value(obj.clone()).ok()?;
        serde_json::to_value(&typed).ok()
    }
    match (def.group, def.kind) {
        ("", "Event") => round_trip::<core::v1::Event>(obj),
        ("", "Secret") => round_trip::<core::v1::Secret>(obj),
        ("", "ServiceAccount") => round_trip::<core::v1::ServiceAccount>(obj),
        ("apps", "ControllerRevision") => round_trip::<apps::v1::ControllerRevision>(obj),
        ("events.k8s.io", "Event") => round_trip::<events::v1::Event>(obj),
        ("coordination.k8s.io", "Lease") => round_trip::<coordination::v1::Lease>(obj),
        ("rbac.authorization.k8s.io", "Role") => round_trip::<rbac::v1::Role>(obj),
        ("rbac.authorization.k8s.io", "ClusterRole") => round_trip::<rbac::v1::ClusterRole>(obj),
        ("rbac.authorization.k8s.io", "RoleBinding") => round_trip::<rbac::v1::RoleBinding>(obj),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            round_trip::<rbac::v1::ClusterRoleBinding>(obj)
        }
        _ => None,
    }
}

/// Removes from `stored` every non-null field that `known` (its typed round trip) lacks.
fn prune_unknown(stored: &mut Value, known: &Value) {
    match (stored, known) {
        (Value::Object(s), Value::Object(k)) => {
            s.retain(|key, value| match k.get(key) {
                Some(_) => true,
                None => value.is_null() || is_empty_container(value),
            });
            for (key, value) in s.iter_mut() {
                if let Some(known) = k.get(key) {
                    prune_unknown(value, known);
                }
            }
        }
        (Value::Array(s), Value::Array(k)) => {
            for (value, known) in s.iter_mut().zip(k) {
                prune_unknown(value, known);
            }
        }
        _ => {}
    }
}

/// Paths of fields present (and not null) in `input` but absent from the normalized `output`.
pub fn unknown_fields(input: &Value, output: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk_unknown(input, output, String::new(), &mut out);
    out
}

fn walk_unknown(input: &Value, output: &Value, path: String, out: &mut Vec<String>) {
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => {
            for (k, v) in i {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match o.get(k) {
                    Some(ov) => walk_unknown(v, ov, p, out),
                    None if !v.is_null() && !is_empty_container(v) => out.push(p),
                    None => {}
                }
            }
        }
        (Value::Array(i), Value::Array(o)) => {
            for (idx, (iv, ov)) in i.iter().zip(o.iter()).enumerate() {
                walk_unknown(iv, ov, format!("{path}[{idx}]"), out);
            }
        }
        _ => {}
    }
}

fn is_empty_container(v: &Value) -> bool {
    matches!(v, Value::Object(m) if m.is_empty()) || matches!(v, Value::Array(a) if a.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_found_by_path() {
        let input = json!({"spec": {"replicas": 1, "bogus": 2, "template": {"x": null}}, "list": [{"a": 1, "b": 2}]});
        let output = json!({"spec": {"replicas": 1, "template": {}}, "list": [{"a": 1}]});
        assert_eq!(unknown_fields(&input, &output), ["list[0].b", "spec.bogus"]);
        let mut stored = input.clone();
        prune_unknown(&mut stored, &output);
        assert_eq!(
            stored,
            json!({"spec": {"replicas": 1, "template": {"x": null}}, "list": [{"a": 1}]})
        );
    }
}
