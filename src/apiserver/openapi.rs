//! The OpenAPI documents kubectl reads: the `/openapi/v3` index, one self-contained document
//! per served group version, and the `/openapi/v2` fallback.
//!
//! Schemas and field descriptions come from k8s-openapi's `schemars` impls (the same types the
//! server decodes into). On top of them go the Kubernetes extensions kubectl reads:
//! `x-kubernetes-group-version-kind` (an array on kind schemas, an object on operations) and the
//! patch merge keys and strategies, taken from the strategic-merge-patch tables in
//! [`crate::machinery::patch::strategic`], so what kubectl diffs with and what the server
//! merges with never disagree. PATCH and write operations declare `fieldValidation`, so kubectl
//! leaves field validation to the server.
//!
//! The documents are built once, on first use, and each is served under the uppercase hex
//! SHA-512 of its bytes: the index links `?hash=<digest>`, a matching request is cacheable for a
//! year, and a stale hash gets a 301 to the current one, so kubectl's disk cache can never serve
//! an old document after an upgrade.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Instant;

use bytes::Bytes;
use http::{StatusCode, header};
use k8s_openapi::Resource;
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha512};

use super::registry::{RESOURCES, ResourceDef, Shape, group_versions};
use crate::machinery::patch::strategic::merge_tagged_fields;
use crate::wire::body::{Body, empty, full};

/// Where `$ref`s point inside a document.
const SCHEMA_REF_PREFIX: &str = "#/components/schemas/";

/// The schema name of PATCH request bodies.
const PATCH_SCHEMA: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";

/// The media type of the `/openapi/v2` answer, as kube-apiserver labels it. kubectl asks for
/// `…spec.v2@v1.0+protobuf` and decodes the body as protobuf whatever the answer says, but
/// Go's media-type parser rejects the `@` in a response.
const OPENAPI_V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// One published document: its bytes and their digest.
#[derive(Debug)]
struct Published {
    /// The serialized document.
    bytes: Bytes,
    /// Uppercase hex SHA-512 of `bytes`: the `?hash=` and the ETag.
    hash: String,
}

impl Published {
    fn new(bytes: Vec<u8>) -> Self {
        let hash = Sha512::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        Self {
            bytes: Bytes::from(bytes),
            hash,
        }
    }
}

/// Every document the server publishes.
#[derive(Debug)]
struct Documents {
    /// `/openapi/v3`.
    index: Published,
    /// `/openapi/v3/<api/v1 | apis/group/version>`, keyed by that path.
    group_versions: BTreeMap<String, Published>,
    /// `/openapi/v2` as a gnostic protobuf `Document`.
    v2: Published,
}

/// The documents, built on first use.
fn documents() -> &'static Documents {
    static DOCUMENTS: OnceLock<Documents> = OnceLock::new();
    DOCUMENTS.get_or_init(|| {
        let started = Instant::now();
        let docs = build();
        let v3_bytes: usize = docs.group_versions.values().map(|d| d.bytes.len()).sum();
        tracing::info!(
            group_versions = docs.group_versions.len(),
            v3_bytes,
            build_ms = started.elapsed().as_millis() as u64,
            "built the OpenAPI documents"
        );
        docs
    })
}

/// Answers `/openapi/v2`, `/openapi/v3` and `/openapi/v3/<gv>`; `None` for any other path
/// (or an unknown group version).
pub(crate) fn respond(
    path: &str,
    requested_hash: Option<&str>,
    if_none_match: Option<&str>,
) -> Option<http::Response<Body>> {
    let docs = documents();
    let path = path.trim_end_matches('/');
    if path == "/openapi/v2" {
        return Some(answer(&docs.v2, OPENAPI_V2_PROTOBUF, if_none_match, false));
    }
    if path == "/openapi/v3" {
        return Some(answer(
            &docs.index,
            "application/json",
            if_none_match,
            false,
        ));
    }
    let gv = path.strip_prefix("/openapi/v3/")?;
    let doc = docs.group_versions.get(gv)?;
    match requested_hash {
        Some(hash) if hash != doc.hash => http::Response::builder()
            .status(StatusCode::MOVED_PERMANENTLY)
            .header(header::LOCATION, served_url(gv, &doc.hash))
            .body(empty())
            .ok(),
        Some(_) => Some(answer(doc, "application/json", if_none_match, true)),
        None => Some(answer(doc, "application/json", if_none_match, false)),
    }
}

/// A 200 (or a 304 when the client's ETag is current) carrying `doc`.
fn answer(
    doc: &Published,
    content_type: &str,
    if_none_match: Option<&str>,
    immutable: bool,
) -> http::Response<Body> {
    let etag = format!("\"{}\"", doc.hash);
    let not_modified = if_none_match.is_some_and(|tags| {
        tags.split(',')
            .any(|t| t.trim().trim_start_matches("W/") == etag)
    });
    let mut builder = http::Response::builder()
        .header(header::ETAG, &etag)
        .header(header::VARY, "Accept");
    if immutable {
        let expires = k8s_openapi::jiff::Timestamp::now()
            .checked_add(k8s_openapi::jiff::SignedDuration::from_hours(365 * 24))
            .unwrap_or_else(|_| k8s_openapi::jiff::Timestamp::now());
        builder = builder
            .header(header::CACHE_CONTROL, "public, immutable")
            .header(
                header::EXPIRES,
                expires.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string(),
            );
    }
    let resp = if not_modified {
        builder.status(StatusCode::NOT_MODIFIED).body(empty())
    } else {
        builder
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, content_type)
            .body(full(doc.bytes.clone()))
    };
    resp.unwrap_or_else(|_| http::Response::new(empty()))
}

/// The path segment of a group version: `api/v1` for core, `apis/<group>/<version>` otherwise.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The URL the index gives for a group version's document.
fn served_url(gv: &str, hash: &str) -> String {
    format!("/openapi/v3/{gv}?hash={hash}")
}

/// Builds every document.
fn build() -> Documents {
    let mut group_version_docs = BTreeMap::new();
    let mut index_paths = Map::new();
    for (group, version) in group_versions() {
        let path = gv_path(group, version);
        let doc = Published::new(
            serde_json::to_vec(&group_version_document(group, version)).unwrap_or_default(),
        );
        index_paths.insert(
            path.clone(),
            json!({"serverRelativeURL": served_url(&path, &doc.hash)}),
        );
        group_version_docs.insert(path, doc);
    }
    let index =
        Published::new(serde_json::to_vec(&json!({"paths": index_paths})).unwrap_or_default());
    Documents {
        index,
        group_versions: group_version_docs,
        v2: Published::new(v2_document()),
    }
}

/// The group, version and kind of a served kind, as its Rust type declares them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KindSchema {
    /// The schema's name under `components/schemas` (`io.k8s.api.apps.v1.StatefulSet`).
    name: String,
    /// API group ("" for core).
    group: &'static str,
    /// API version.
    version: &'static str,
    /// Kind.
    kind: &'static str,
}

/// Registers `T`'s schema (and everything it references) with `generator`.
fn register<T: JsonSchema + Resource>(generator: &mut SchemaGenerator) -> KindSchema {
    generator.subschema_for::<T>();
    KindSchema {
        name: T::schema_name().into_owned(),
        group: T::GROUP,
        version: T::VERSION,
        kind: T::KIND,
    }
}

/// Registers the Rust type of a served resource; `None` for a kind without one.
fn register_kind(generator: &mut SchemaGenerator, def: &ResourceDef) -> Option<KindSchema> {
    use k8s_openapi::api::{
        apps, authentication, authorization, coordination, core, discovery, events, rbac, storage,
    };
    let g = generator;
    Some(match (def.group, def.kind) {
        ("", "Namespace") => register::<core::v1::Namespace>(g),
        ("", "Node") => register::<core::v1::Node>(g),
        ("", "Pod") => register::<core::v1::Pod>(g),
        ("", "Service") => register::<core::v1::Service>(g),
        ("", "Endpoints") => register::<core::v1::Endpoints>(g),
        ("", "Event") => register::<core::v1::Event>(g),
        ("", "ConfigMap") => register::<core::v1::ConfigMap>(g),
        ("", "Secret") => register::<core::v1::Secret>(g),
        ("", "ServiceAccount") => register::<core::v1::ServiceAccount>(g),
        ("", "PersistentVolumeClaim") => register::<core::v1::PersistentVolumeClaim>(g),
        ("", "PersistentVolume") => register::<core::v1::PersistentVolume>(g),
        ("apps", "StatefulSet") => register::<apps::v1::StatefulSet>(g),
        ("apps", "ControllerRevision") => register::<apps::v1::ControllerRevision>(g),
        ("discovery.k8s.io", "EndpointSlice") => register::<discovery::v1::EndpointSlice>(g),
        ("events.k8s.io", "Event") => register::<events::v1::Event>(g),
        ("storage.k8s.io", "StorageClass") => register::<storage::v1::StorageClass>(g),
        ("coordination.k8s.io", "Lease") => register::<coordination::v1::Lease>(g),
        ("rbac.authorization.k8s.io", "Role") => register::<rbac::v1::Role>(g),
        ("rbac.authorization.k8s.io", "ClusterRole") => register::<rbac::v1::ClusterRole>(g),
        ("rbac.authorization.k8s.io", "RoleBinding") => register::<rbac::v1::RoleBinding>(g),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            register::<rbac::v1::ClusterRoleBinding>(g)
        }
        ("authentication.k8s.io", "TokenReview") => register::<authentication::v1::TokenReview>(g),
        ("authentication.k8s.io", "SelfSubjectReview") => {
            register::<authentication::v1::SelfSubjectReview>(g)
        }
        ("authorization.k8s.io", "LocalSubjectAccessReview") => {
            register::<authorization::v1::LocalSubjectAccessReview>(g)
        }
        ("authorization.k8s.io", "SelfSubjectAccessReview") => {
            register::<authorization::v1::SelfSubjectAccessReview>(g)
        }
        ("authorization.k8s.io", "SelfSubjectRulesReview") => {
            register::<authorization::v1::SelfSubjectRulesReview>(g)
        }
        ("authorization.k8s.io", "SubjectAccessReview") => {
            register::<authorization::v1::SubjectAccessReview>(g)
        }
        _ => return None,
    })
}

/// The OpenAPI v3 document of one group version: its resources' operations and the schemas
/// of their kinds, with every schema they reference.
fn group_version_document(group: &str, version: &str) -> Value {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let mut paths = Map::new();
    let mut kinds = Vec::new();
    for def in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let Some(kind) = register_kind(&mut generator, def) else {
            tracing::warn!(kind = def.kind, "no schema for a served kind");
            continue;
        };
        add_operations(&mut paths, def, &kind.name);
        if !kinds.iter().any(|k: &KindSchema| k.name == kind.name) {
            kinds.push(kind);
        }
    }
    let mut schemas = generator.take_definitions(true);
    for kind in &kinds {
        if let Some(Value::Object(schema)) = schemas.get_mut(&kind.name) {
            schema.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([{"group": kind.group, "kind": kind.kind, "version": kind.version}]),
            );
            // The Rust types require metadata; the API does not.
            if let Some(Value::Array(required)) = schema.get_mut("required") {
                required.retain(|f| f != "metadata");
                if required.is_empty() {
                    schema.remove("required");
                }
            }
        }
        tag_merge_fields(&mut schemas, &kind.name, kind.kind);
    }
    schemas.insert(
        PATCH_SCHEMA.into(),
        json!({"type": "object", "description": "The body of a PATCH request, in the format its content type names."}),
    );
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v1.{}.0", super::discovery::KUBE_MINOR)},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

/// The schema name a property (or, for a list, its elements) refers to.
fn referenced_schema(property: &Value) -> Option<&str> {
    let target = property.get("items").unwrap_or(property);
    target
        .get("$ref")
        .or_else(|| target.pointer("/allOf/0/$ref"))
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix(SCHEMA_REF_PREFIX))
}

/// Puts `x-kubernetes-patch-strategy` and `x-kubernetes-patch-merge-key` on every property the
/// strategic-merge-patch tables merge element-wise, starting from the schema `root` of `kind`.
fn tag_merge_fields(schemas: &mut Map<String, Value>, root: &str, kind: &str) {
    'fields: for field in merge_tagged_fields(kind) {
        let Some((last, parents)) = field.path.split_last() else {
            continue;
        };
        let mut owner = root.to_string();
        for segment in parents {
            let next = schemas
                .get(&owner)
                .and_then(|s| s.get("properties"))
                .and_then(|p| p.get(*segment))
                .and_then(referenced_schema);
            match next {
                Some(next) => owner = next.to_string(),
                None => {
                    tracing::warn!(
                        kind,
                        field = field.path.join("."),
                        "merge field not in the schema"
                    );
                    continue 'fields;
                }
            }
        }
        let property = schemas
            .get_mut(&owner)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(*last))
            .and_then(Value::as_object_mut);
        let Some(property) = property else {
            tracing::warn!(
                kind,
                field = field.path.join("."),
                "merge field not in the schema"
            );
            continue;
        };
        let strategy = if field.retain_keys {
            "merge,retainKeys"
        } else {
            "merge"
        };
        property.insert("x-kubernetes-patch-strategy".into(), strategy.into());
        if !field.merge_key.is_empty() {
            property.insert(
                "x-kubernetes-patch-merge-key".into(),
                field.merge_key.into(),
            );
        }
    }
}

/// Query parameters, all strings.
fn query_params(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|n| json!({"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": true}}))
        .collect()
}

/// Adds the operations of `def` on its collection and item paths.
fn add_operations(paths: &mut Map<String, Value>, def: &ResourceDef, schema: &str) {
    let gvk = json!({"group": def.group, "version": def.version, "kind": def.kind});
    let prefix = gv_path(def.group, def.version);
    let base = if def.namespaced {
        format!("/{prefix}/namespaces/{{namespace}}/{}", def.plural)
    } else {
        format!("/{prefix}/{}", def.plural)
    };
    let body_ref = json!({"$ref": format!("{SCHEMA_REF_PREFIX}{schema}")});
    let object_content = json!({"application/json": {"schema": body_ref}});
    let responses = json!({"200": {"description": "OK", "content": object_content}});
    let op = |action: &str, verb: &str, params: &[&str], body: Option<Value>| {
        let mut op = json!({
            "operationId": format!("{verb}{}", def.kind),
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
            "parameters": query_params(params),
            "responses": responses,
        });
        if let Some(content) = body {
            op["requestBody"] = json!({"content": content, "required": true});
        }
        op
    };
    let write = ["dryRun", "fieldManager", "fieldValidation", "pretty"];
    let create = op("post", "create", &write, Some(object_content.clone()));
    if def.shape == Shape::Review {
        paths.insert(base, json!({"post": create}));
        return;
    }
    let patch_schema = json!({"schema": {"$ref": format!("{SCHEMA_REF_PREFIX}{PATCH_SCHEMA}")}});
    let patch_content = json!({
        "application/json-patch+json": patch_schema,
        "application/merge-patch+json": patch_schema,
        "application/strategic-merge-patch+json": patch_schema,
        "application/apply-patch+yaml": patch_schema,
    });
    let list = [
        "labelSelector",
        "fieldSelector",
        "limit",
        "continue",
        "watch",
        "resourceVersion",
    ];
    paths.insert(
        base.clone(),
        json!({"get": op("list", "list", &list, None), "post": create}),
    );
    let item = json!({
        "get": op("get", "read", &["pretty"], None),
        "put": op("put", "replace", &write, Some(object_content.clone())),
        "patch": op("patch", "patch", &["dryRun", "fieldManager", "fieldValidation", "force", "pretty"], Some(patch_content.clone())),
        "delete": op("delete", "delete", &["dryRun", "gracePeriodSeconds", "propagationPolicy"], None),
    });
    paths.insert(format!("{base}/{{name}}"), item);
    if def.has_status() {
        paths.insert(
            format!("{base}/{{name}}/status"),
            json!({
                "get": op("get", "read", &["pretty"], None),
                "put": op("put", "replace", &write, Some(object_content)),
                "patch": op("patch", "patch", &["dryRun", "fieldManager", "fieldValidation", "force", "pretty"], Some(patch_content)),
            }),
        );
    }
}

/// `/openapi/v2`: a gnostic `openapi_v2.Document` carrying only `swagger` and `info`. kubectl
/// falls back to it for client-side validation (always for `kind: List` files); with no
/// definitions it validates nothing itself, and the server's strict field validation answers.
fn v2_document() -> Vec<u8> {
    use prost::Message;
    /// gnostic `openapi_v2.Info` (the two fields used).
    #[derive(Clone, PartialEq, Message)]
    struct Info {
        /// Field 1: title.
        #[prost(string, tag = "1")]
        title: String,
        /// Field 2: version.
        #[prost(string, tag = "2")]
        version: String,
    }
    /// gnostic `openapi_v2.Document` (the two fields used).
    #[derive(Clone, PartialEq, Message)]
    struct Document {
        /// Field 1: the Swagger version.
        #[prost(string, tag = "1")]
        swagger: String,
        /// Field 2: info.
        #[prost(message, optional, tag = "2")]
        info: Option<Info>,
    }
    Document {
        swagger: "2.0".into(),
        info: Some(Info {
            title: "Kubernetes".into(),
            version: format!("v1.{}.0", super::discovery::KUBE_MINOR),
        }),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schemas(gv: &str) -> Value {
        let doc: Value = serde_json::from_slice(&documents().group_versions[gv].bytes).unwrap();
        doc["components"]["schemas"].clone()
    }

    #[test]
    fn every_served_kind_has_a_schema_with_its_gvk() {
        let mut generator = SchemaSettings::openapi3().into_generator();
        for def in RESOURCES {
            let kind = register_kind(&mut generator, def)
                .unwrap_or_else(|| panic!("{} has no schema", def.kind));
            assert_eq!(
                (kind.group, kind.version, kind.kind),
                (def.group, def.version, def.kind)
            );
            let schema = &schemas(&gv_path(def.group, def.version))[&kind.name];
            assert_eq!(
                schema["x-kubernetes-group-version-kind"],
                json!([{"group": def.group, "kind": def.kind, "version": def.version}]),
                "{}",
                kind.name
            );
        }
    }

    #[test]
    fn every_merge_field_of_the_patch_tables_is_tagged() {
        let mut generator = SchemaSettings::openapi3().into_generator();
        for def in RESOURCES {
            let kind = register_kind(&mut generator, def).unwrap();
            let schemas = schemas(&gv_path(def.group, def.version));
            for field in merge_tagged_fields(def.kind) {
                let mut owner = kind.name.clone();
                let (last, parents) = field.path.split_last().unwrap();
                for segment in parents {
                    owner = referenced_schema(&schemas[&owner]["properties"][*segment])
                        .unwrap_or_else(|| panic!("{}: {segment}", def.kind))
                        .to_string();
                }
                let property = &schemas[&owner]["properties"][*last];
                assert_eq!(
                    property["x-kubernetes-patch-strategy"],
                    if field.retain_keys {
                        "merge,retainKeys"
                    } else {
                        "merge"
                    },
                    "{owner}.{last}"
                );
                if !field.merge_key.is_empty() {
                    assert_eq!(property["x-kubernetes-patch-merge-key"], field.merge_key);
                }
            }
        }
        let containers =
            &schemas("apis/apps/v1")["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        let volumes = &schemas("api/v1")["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"];
        assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
    }

    #[test]
    fn index_links_each_document_by_the_digest_of_its_bytes() {
        let docs = documents();
        let index: Value = serde_json::from_slice(&docs.index.bytes).unwrap();
        for (gv, doc) in &docs.group_versions {
            let expected = Published::new(doc.bytes.to_vec()).hash;
            assert_eq!(expected.len(), 128);
            assert_eq!(
                index["paths"][gv]["serverRelativeURL"],
                format!("/openapi/v3/{gv}?hash={expected}")
            );
        }
        let apps = &docs.group_versions["apis/apps/v1"];
        let stale = respond("/openapi/v3/apis/apps/v1", Some("0"), None).unwrap();
        assert_eq!(stale.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(
            stale.headers()[header::LOCATION],
            format!("/openapi/v3/apis/apps/v1?hash={}", apps.hash)
        );
        let current = respond("/openapi/v3/apis/apps/v1", Some(&apps.hash), None).unwrap();
        assert_eq!(current.status(), StatusCode::OK);
        assert_eq!(
            current.headers()[header::CACHE_CONTROL],
            "public, immutable"
        );
        let etag = format!("\"{}\"", docs.index.hash);
        let index = respond("/openapi/v3", None, None).unwrap();
        assert_eq!(index.headers()[header::ETAG], etag.as_str());
        assert!(index.headers().get(header::CACHE_CONTROL).is_none());
        let revalidated = respond("/openapi/v3", None, Some(&etag)).unwrap();
        assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    }
}
