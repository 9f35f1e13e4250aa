//! A minimal OpenAPI v3 description: the index and one document per group version, listing
//! each resource's operations with their `x-kubernetes-group-version-kind` and query
//! parameters. kubectl reads it to learn that the server validates fields itself
//! (`fieldValidation`), so it sends `fieldValidation=Strict` instead of validating client-side.
//! Schemas are not published.

use serde_json::{Value, json};

use super::registry::{RESOURCES, group_versions};

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: the index of group-version documents.
pub fn index() -> Value {
    let mut paths = serde_json::Map::new();
    for (g, v) in group_versions() {
        let p = gv_path(g, v);
        paths.insert(p.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={}", env!("CARGO_PKG_VERSION"))}));
    }
    json!({"paths": paths})
}

fn query_params(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|n| json!({"name": n, "in": "query", "description": "", "schema": {"type": "string", "uniqueItems": true}}))
        .collect()
}

/// `/openapi/v3/{api/v1 | apis/group/version}`.
pub fn document(path: &str) -> Option<Value> {
    let (group, version) = group_versions()
        .into_iter()
        .find(|(g, v)| gv_path(g, v) == path)?;
    let mut paths = serde_json::Map::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let base = if r.namespaced {
            format!(
                "/{}/namespaces/{{namespace}}/{}",
                gv_path(group, version),
                r.plural
            )
        } else {
            format!("/{}/{}", gv_path(group, version), r.plural)
        };
        let write = query_params(&["dryRun", "fieldManager", "fieldValidation", "pretty"]);
        let op = |action: &str, params: &Vec<Value>| {
            json!({"operationId": format!("{action}{}", r.kind), "x-kubernetes-action": action,
                   "x-kubernetes-group-version-kind": gvk, "parameters": params, "responses": {}})
        };
        if r.shape == super::registry::Shape::Review {
            paths.insert(base.clone(), json!({"post": op("post", &write)}));
            continue;
        }
        paths.insert(base.clone(), json!({
            "get": op("list", &query_params(&["labelSelector", "fieldSelector", "limit", "continue", "watch", "resourceVersion"])),
            "post": op("post", &write),
        }));
        paths.insert(format!("{base}/{{name}}"), json!({
            "get": op("get", &query_params(&["pretty"])),
            "put": op("put", &write),
            "patch": op("patch", &query_params(&["dryRun", "fieldManager", "fieldValidation", "force", "pretty"])),
            "delete": op("delete", &query_params(&["dryRun", "gracePeriodSeconds", "propagationPolicy"])),
        }));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v1.{}.0", super::discovery::KUBE_MINOR)},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}
