//! The resource verbs: get, list, create, update, patch, delete and deletecollection, plus the
//! status and scale subresources. Every write runs as one atomic store mutation, so
//! preconditions, defaulting and validation see exactly the object they replace.

use std::sync::Arc;

use serde_json::{Value, json};

use super::Request;
use super::meta::{self, meta_mut, meta_str};
use super::registry::{ResourceDef, Shape};
use super::strategy::{self, FieldValidation};
use crate::machinery::patch::{self, PatchType};
use crate::machinery::status::Status;
use crate::store::{Mutation, ObjectKey, Outcome, Store};

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The main resource: everything but the status (for resources with a status subresource).
    Main,
    /// `/status`: only the status.
    Status,
}

/// The outcome of a write, with the warnings to send back.
pub struct Written {
    /// The object as stored (or as it would be, for dry runs).
    pub object: Value,
    /// Whether the write created the object.
    pub created: bool,
    /// `Warning` header texts.
    pub warnings: Vec<String>,
}

/// The store key of an object.
pub fn key(def: &ResourceDef, namespace: Option<&str>, name: &str) -> ObjectKey {
    ObjectKey {
        resource: Arc::from(def.qualified().as_str()),
        namespace: if def.namespaced {
            namespace.unwrap_or("").to_string()
        } else {
            String::new()
        },
        name: name.to_string(),
    }
}

/// GET one object.
pub fn get(store: &Store, def: &ResourceDef, req: &Request) -> Result<Value, Status> {
    let name = req.name()?;
    store
        .get(&key(def, req.namespace(), name))
        .map(|v| (*v).clone())
        .ok_or_else(|| Status::not_found(def.plural, def.group, name))
}

/// The objects a list or watch selects, with the store's resourceVersion.
pub fn select(
    store: &Store,
    def: &ResourceDef,
    req: &Request,
) -> Result<(Vec<Arc<Value>>, u64), Status> {
    let (labels, fields) = req.query.selectors(def)?;
    let snapshot = store.list(&def.qualified(), req.namespace());
    let items = snapshot
        .items
        .into_iter()
        .filter(|o| labels.matches(o.pointer("/metadata/labels")) && fields.matches(o))
        .collect();
    Ok((items, snapshot.rv))
}

/// LIST: a `<Kind>List` with pagination by `limit` and `continue`.
pub fn list(
    store: &Store,
    def: &ResourceDef,
    req: &Request,
) -> Result<(Vec<Arc<Value>>, Value), Status> {
    let (mut items, rv) = select(store, def, req)?;
    if let Some(token) = req.query.get("continue").filter(|s| !s.is_empty()) {
        let start = decode_continue(token)?;
        items.retain(|o| list_position(o) > start);
    }
    let mut list_meta = json!({"resourceVersion": rv.to_string()});
    if let Some(limit) = req
        .query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        && items.len() > limit
    {
        let remaining = items.len() - limit;
        items.truncate(limit);
        if let Some(last) = items.last() {
            list_meta["continue"] = json!(encode_continue(&list_position(last)));
            list_meta["remainingItemCount"] = json!(remaining);
        }
    }
    Ok((items, list_meta))
}

fn list_position(o: &Value) -> (String, String) {
    (
        meta_str(o, "namespace").unwrap_or("").to_string(),
        meta_str(o, "name").unwrap_or("").to_string(),
    )
}

fn encode_continue(pos: &(String, String)) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}/{}", pos.0, pos.1))
}

fn decode_continue(token: &str) -> Result<(String, String), Status> {
    use base64::Engine;
    let bad = || Status::bad_request("continue key is not valid: illegal base64 data");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let s = String::from_utf8(raw).map_err(|_| bad())?;
    let (ns, name) = s.split_once('/').ok_or_else(bad)?;
    Ok((ns.to_string(), name.to_string()))
}

/// Checks that the body's apiVersion and kind (if set) are this resource's, and sets them.
fn check_envelope(
    def: &ResourceDef,
    obj: &mut Value,
    expect_kind: &str,
    api_version: &str,
) -> Result<(), Status> {
    if !obj.is_object() {
        return Err(Status::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    if let Some(v) = obj.get("apiVersion").and_then(Value::as_str)
        && v != api_version
    {
        return Err(Status::bad_request(format!(
            "the API version in the data ({v}) does not match the expected API version ({api_version})"
        )));
    }
    if let Some(k) = obj.get("kind").and_then(Value::as_str)
        && k != expect_kind
    {
        return Err(Status::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: the object kind {k:?} does not match the expected kind {expect_kind:?}",
            def.kind, def.version, def.kind
        )));
    }
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(expect_kind);
    Ok(())
}

/// Checks the namespace in the body against the path's, and fills it in.
fn check_namespace(
    def: &ResourceDef,
    obj: &mut Value,
    path_ns: Option<&str>,
) -> Result<(), Status> {
    let m = meta_mut(obj);
    if !def.namespaced {
        m.remove("namespace");
        return Ok(());
    }
    let ns = path_ns.unwrap_or("");
    match m.get("namespace").and_then(Value::as_str) {
        Some(given) if !given.is_empty() && given != ns => Err(Status::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => {
            m.insert("namespace".into(), json!(ns));
            Ok(())
        }
    }
}

/// Refuses writes into a namespace that does not exist or is being deleted.
fn check_namespace_open(store: &Store, def: &ResourceDef, ns: Option<&str>) -> Result<(), Status> {
    if !def.namespaced {
        return Ok(());
    }
    let ns = ns.unwrap_or("");
    let ns_def = super::registry::find("", "v1", "namespaces")
        .ok_or_else(|| Status::internal("no namespaces"))?;
    match store.get(&key(ns_def, None, ns)) {
        None => Err(Status::not_found("namespaces", "", ns)),
        Some(n) if meta::is_terminating(&n) => Err(Status::forbidden(
            def.plural,
            def.group,
            "",
            format!(
                "{} is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                def.qualified()
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// What a freshly created object's status starts as.
fn initial_status(def: &ResourceDef, obj: &mut Value) {
    let status = match def.shape {
        Shape::Pod => json!({"phase": "Pending"}),
        Shape::StatefulSet => json!({"replicas": 0, "availableReplicas": 0}),
        Shape::PersistentVolumeClaim | Shape::PersistentVolume => json!({"phase": "Pending"}),
        Shape::Service => json!({"loadBalancer": {}}),
        Shape::Namespace => json!({"phase": "Active"}),
        _ => return,
    };
    obj["status"] = status;
}

/// POST: create an object (`generateName`, `dryRun`).
pub async fn create(
    store: &Store,
    def: &'static ResourceDef,
    req: &Request,
    body: Value,
) -> Result<Written, Status> {
    let mut obj = body;
    check_envelope(def, &mut obj, def.kind, &def.api_version())?;
    check_namespace(def, &mut obj, req.namespace())?;
    {
        let m = meta_mut(&mut obj);
        if m.get("resourceVersion")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
        {
            return Err(Status::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let has_name = m
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        if !has_name
            && let Some(g) = m
                .get("generateName")
                .and_then(Value::as_str)
                .filter(|g| !g.is_empty())
        {
            let name = format!("{g}{}", meta::random_suffix());
            m.insert("name".into(), json!(name));
        }
        for f in [
            "uid",
            "selfLink",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
            "resourceVersion",
        ] {
            m.remove(f);
        }
        m.insert("uid".into(), json!(meta::new_uid()));
        m.insert("creationTimestamp".into(), json!(meta::now()));
        if def.generation {
            m.insert("generation".into(), json!(1));
        } else {
            m.remove("generation");
        }
    }
    initial_status(def, &mut obj);
    let name = meta_str(&obj, "name").unwrap_or("").to_string();
    let fields = req.query.field_validation()?;
    let (obj, warnings) = strategy::normalize(def, obj, None, fields)?;
    if def.plural != "namespaces" {
        check_namespace_open(store, def, req.namespace())?;
    }
    let k = key(def, req.namespace(), &name);
    let (plural, group) = (def.plural, def.group);
    let f: crate::store::MutateFn = Box::new(move |cur| match cur {
        Some(_) => Err(Status::already_exists(plural, group, &name)),
        None => Ok(Mutation::Put(obj)),
    });
    let outcome = if req.query.dry_run()? {
        store.dry_run(&k, f)?
    } else {
        store.mutate(k, f).await?
    };
    Ok(Written {
        object: object_of(outcome),
        created: true,
        warnings,
    })
}

fn object_of(outcome: Outcome) -> Value {
    outcome.object.map(|o| (*o).clone()).unwrap_or(Value::Null)
}

/// Builds the object an update stores from the current one and the incoming one, then
/// normalizes it; `Unchanged` when nothing differs.
fn prepare_update(
    def: &ResourceDef,
    part: Part,
    current: &Value,
    mut incoming: Value,
    fields: FieldValidation,
) -> Result<(Mutation, Vec<String>), Status> {
    let name = meta_str(current, "name").unwrap_or("").to_string();
    if let Some(rv) = meta_str(&incoming, "resourceVersion").filter(|s| !s.is_empty())
        && rv != meta_str(current, "resourceVersion").unwrap_or("")
    {
        return Err(Status::conflict(
            def.plural,
            def.group,
            &name,
            Status::MODIFIED,
        ));
    }
    let mut next = match part {
        Part::Status => {
            let mut next = current.clone();
            next["status"] = incoming.get("status").cloned().unwrap_or(Value::Null);
            next
        }
        Part::Main => {
            if def.has_status() {
                incoming["status"] = current.get("status").cloned().unwrap_or(Value::Null);
            }
            let cur_meta = current.get("metadata").cloned().unwrap_or(Value::Null);
            let m = meta_mut(&mut incoming);
            for f in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "namespace",
            ] {
                match cur_meta.get(f) {
                    Some(v) => m.insert(f.into(), v.clone()),
                    None => m.remove(f),
                };
            }
            m.remove("managedFields");
            // Finalizers may only be removed, not added, once deletion has started.
            incoming
        }
    };
    if let Some(Value::Object(s)) = next.get("status")
        && s.is_empty()
        && current.get("status").is_none()
    {
        next.as_object_mut().map(|o| o.remove("status"));
    }
    let (mut next, warnings) = strategy::normalize(def, next, Some(current), fields)?;
    meta_mut(&mut next).insert(
        "resourceVersion".into(),
        json!(meta_str(current, "resourceVersion").unwrap_or("")),
    );
    if def.generation && meta::spec_part(&next) != meta::spec_part(current) {
        let generation = current
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            + 1;
        meta_mut(&mut next).insert("generation".into(), json!(generation));
    }
    if meta::same_object(&next, current) {
        return Ok((Mutation::Unchanged, warnings));
    }
    // As kube-apiserver's ShouldDeleteDuringUpdate: an update removes a terminating object only
    // when no finalizer is left and its grace period is over (a pod's node still updates the
    // status of a pod that terminates gracefully).
    if meta::is_terminating(current)
        && meta::finalizers(&next).is_empty()
        && !has_spec_finalizers(def, &next)
        && current
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            == 0
    {
        return Ok((Mutation::Delete, warnings));
    }
    Ok((Mutation::Put(next), warnings))
}

/// Whether a namespace still has `spec.finalizers` (the namespace controller's `kubernetes`):
/// a deleted namespace stays Terminating until they are removed through `/finalize`.
fn has_spec_finalizers(def: &ResourceDef, obj: &Value) -> bool {
    def.shape == Shape::Namespace
        && obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
}

/// Runs a read-modify-write of one object inside the store's writer.
async fn modify(
    store: &Store,
    def: &'static ResourceDef,
    req: &Request,
    part: Part,
    change: impl FnOnce(&Value) -> Result<Value, Status> + Send + 'static,
    guard: Option<Guard>,
) -> Result<Written, Status> {
    let name = req.name()?.to_string();
    let k = key(def, req.namespace(), &name);
    let fields = req.query.field_validation()?;
    let warnings = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let w = warnings.clone();
    let f: crate::store::MutateFn = Box::new(move |cur| {
        let cur = cur.ok_or_else(|| Status::not_found(def.plural, def.group, &name))?;
        let incoming = change(cur)?;
        if let Some(g) = &guard {
            g(&incoming)?;
        }
        let (m, warns) = prepare_update(def, part, cur, incoming, fields)?;
        *w.lock() = warns;
        Ok(m)
    });
    let outcome = if req.query.dry_run()? {
        store.dry_run(&k, f)?
    } else {
        store.mutate(k, f).await?
    };
    let warnings = std::mem::take(&mut *warnings.lock());
    Ok(Written {
        object: object_of(outcome),
        created: false,
        warnings,
    })
}

/// A check of the object a write is about to store, run inside the store's writer (so that
/// what was checked beforehand is what gets stored).
pub type Guard = Box<dyn Fn(&Value) -> Result<(), Status> + Send + 'static>;

/// PUT: replace an object (or its status); `guard`, if any, checks the object stored.
pub async fn update(
    store: &Store,
    def: &'static ResourceDef,
    req: &Request,
    part: Part,
    body: Value,
    guard: Option<Guard>,
) -> Result<Written, Status> {
    let mut obj = body;
    check_envelope(def, &mut obj, def.kind, &def.api_version())?;
    check_namespace(def, &mut obj, req.namespace())?;
    let name = req.name()?;
    match meta_str(&obj, "name") {
        Some(n) if n != name => {
            return Err(Status::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        None => {
            meta_mut(&mut obj).insert("name".into(), json!(name));
        }
        _ => {}
    }
    modify(store, def, req, part, move |_| Ok(obj), guard).await
}

/// PATCH: apply a patch to an object (or its status); `guard`, if any, checks the object
/// stored.
pub async fn patch(
    store: &Store,
    def: &'static ResourceDef,
    req: &Request,
    part: Part,
    patch_type: PatchType,
    body: &[u8],
    guard: Option<Guard>,
) -> Result<Written, Status> {
    let p = patch::parse_body(patch_type, body)?;
    let kind = def.kind;
    modify(
        store,
        def,
        req,
        part,
        move |cur| {
            let mut patched = patch::apply(patch_type, cur, &p, kind)?;
            // A patch that does not name a resourceVersion applies to whatever is current.
            if p.pointer("/metadata/resourceVersion").is_none() {
                meta_mut(&mut patched).remove("resourceVersion");
            }
            Ok(patched)
        },
        guard,
    )
    .await
}

/// `DeleteOptions` from the body and the query.
#[derive(Debug, Default, Clone)]
pub struct DeleteOptions {
    /// `gracePeriodSeconds`.
    pub grace: Option<i64>,
    /// `propagationPolicy`: Orphan, Background or Foreground.
    pub propagation: Option<String>,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
}

impl DeleteOptions {
    /// Reads the options from a (possibly empty) body and the query.
    pub fn from_request(req: &Request, body: &[u8]) -> Result<Self, Status> {
        let mut o = DeleteOptions::default();
        if !body.iter().all(u8::is_ascii_whitespace) {
            let v: Value = serde_json::from_slice(body)
                .map_err(|e| Status::bad_request(format!("error decoding DeleteOptions: {e}")))?;
            o.grace = v.get("gracePeriodSeconds").and_then(Value::as_i64);
            o.propagation = v
                .get("propagationPolicy")
                .and_then(Value::as_str)
                .map(String::from);
            if v.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
                o.propagation.get_or_insert_with(|| "Orphan".into());
            }
            o.uid = v
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(String::from);
            o.resource_version = v
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(String::from);
        }
        if let Some(g) = req.query.get("gracePeriodSeconds") {
            o.grace =
                Some(g.parse().map_err(|_| {
                    Status::bad_request(format!("invalid gracePeriodSeconds: {g}"))
                })?);
        }
        if let Some(p) = req.query.get("propagationPolicy") {
            o.propagation = Some(p.to_string());
        }
        if let Some(p) = &o.propagation
            && !matches!(p.as_str(), "Orphan" | "Background" | "Foreground")
        {
            return Err(Status::invalid(
                "DeleteOptions",
                "",
                "",
                vec![crate::machinery::status::FieldError::not_supported(
                    "propagationPolicy",
                    &format!("\"{p}\""),
                    &["Foreground", "Background", "Orphan", "nil"],
                )],
            ));
        }
        Ok(o)
    }
}

/// Decides what a delete does to `cur`: remove it, or mark it for graceful or finalizer-driven deletion.
fn delete_decision(
    def: &ResourceDef,
    cur: &Value,
    opts: &DeleteOptions,
) -> Result<Mutation, Status> {
    let name = meta_str(cur, "name").unwrap_or("");
    if let Some(uid) = &opts.uid
        && Some(uid.as_str()) != meta_str(cur, "uid")
    {
        return Err(Status::conflict(
            def.plural,
            def.group,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta_str(cur, "uid").unwrap_or("")
            ),
        ));
    }
    if let Some(rv) = &opts.resource_version
        && Some(rv.as_str()) != meta_str(cur, "resourceVersion")
    {
        return Err(Status::conflict(
            def.plural,
            def.group,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                meta_str(cur, "resourceVersion").unwrap_or("")
            ),
        ));
    }
    let mut next = cur.clone();
    let mut finalizers = meta::finalizers(cur);
    match opts.propagation.as_deref() {
        Some("Orphan") if !finalizers.iter().any(|f| f == "orphan") => {
            finalizers.push("orphan".into())
        }
        Some("Foreground") if !finalizers.iter().any(|f| f == "foregroundDeletion") => {
            finalizers.push("foregroundDeletion".into())
        }
        _ => {}
    }
    // A pod on a node is deleted gracefully: its node stops it, then removes the object.
    let graceful_pod = def.shape == Shape::Pod
        && cur
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty())
        && !matches!(
            cur.pointer("/status/phase").and_then(Value::as_str),
            Some("Succeeded" | "Failed")
        );
    let grace = if graceful_pod {
        let spec_grace = cur
            .pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30);
        let g = opts.grace.unwrap_or(spec_grace).max(0);
        let current = cur
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64);
        Some(current.map_or(g, |c| c.min(g)))
    } else {
        None
    };
    if finalizers.is_empty() && grace.is_none_or(|g| g == 0) && !has_spec_finalizers(def, cur) {
        return Ok(Mutation::Delete);
    }
    let already = meta::is_terminating(cur);
    let m = meta_mut(&mut next);
    m.insert("finalizers".into(), json!(finalizers));
    if let Some(g) = grace {
        m.insert("deletionGracePeriodSeconds".into(), json!(g));
        if !already
            || cur
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                != Some(g)
        {
            m.insert("deletionTimestamp".into(), json!(meta::now_plus(g)));
        }
    } else if !already {
        m.insert("deletionTimestamp".into(), json!(meta::now()));
        m.insert("deletionGracePeriodSeconds".into(), json!(0));
    }
    if def.shape == Shape::Namespace {
        next["status"]["phase"] = json!("Terminating");
    }
    if meta::same_object(&next, cur) {
        Ok(Mutation::Unchanged)
    } else {
        Ok(Mutation::Put(next))
    }
}

/// DELETE one object. Returns the object (terminating or as last stored).
pub async fn delete(
    store: &Store,
    def: &'static ResourceDef,
    req: &Request,
    name: &str,
    opts: DeleteOptions,
) -> Result<Value, Status> {
    let k = key(def, req.namespace(), name);
    let n = name.to_string();
    let f: crate::store::MutateFn = Box::new(move |cur| {
        let cur = cur.ok_or_else(|| Status::not_found(def.plural, def.group, &n))?;
        delete_decision(def, cur, &opts)
    });
    let outcome = if req.query.dry_run()? {
        store.dry_run(&k, f)?
    } else {
        store.mutate(k, f).await?
    };
    Ok(object_of(outcome))
}

/// DELETE a collection: every selected object, one by one.
pub async fn delete_collection(
    store: &Store,
    def: &'static ResourceDef,
    req: &Request,
    opts: DeleteOptions,
) -> Result<Vec<Value>, Status> {
    let (items, _) = select(store, def, req)?;
    let mut out = Vec::new();
    for item in items {
        let name = meta_str(&item, "name").unwrap_or("").to_string();
        match delete(store, def, req, &name, opts.clone()).await {
            Ok(v) => out.push(v),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The autoscaling/v1 Scale view of a StatefulSet.
pub fn scale_of(obj: &Value) -> Value {
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let m = obj.get("metadata").cloned().unwrap_or(Value::Null);
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": m.get("name"), "namespace": m.get("namespace"), "uid": m.get("uid"),
            "resourceVersion": m.get("resourceVersion"), "creationTimestamp": m.get("creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": selector},
    })
}

/// PUT or PATCH of `/scale`: changes `spec.replicas` through the Scale view.
pub async fn write_scale(
    store: &Store,
    def: &'static ResourceDef,
    req: &Request,
    patch_type: Option<PatchType>,
    content_type: &str,
    body: &[u8],
) -> Result<Value, Status> {
    let incoming: Value = match patch_type {
        None => super::parse_json(content_type, body)?,
        Some(t) => patch::parse_body(t, body)?,
    };
    let written = modify(
        store,
        def,
        req,
        Part::Main,
        move |cur| {
            let scale = match patch_type {
                None => incoming,
                Some(t) => patch::apply(t, &scale_of(cur), &incoming, "Scale")?,
            };
            let replicas = scale
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if replicas < 0 {
                return Err(Status::invalid(
                    "Scale",
                    "autoscaling",
                    meta_str(cur, "name").unwrap_or(""),
                    vec![crate::machinery::status::FieldError::invalid(
                        "spec.replicas",
                        &replicas.to_string(),
                        "must be greater than or equal to 0",
                    )],
                ));
            }
            if let Some(rv) = scale
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                && rv != meta_str(cur, "resourceVersion").unwrap_or("")
            {
                return Err(Status::conflict(
                    "statefulsets",
                    "apps",
                    meta_str(cur, "name").unwrap_or(""),
                    Status::MODIFIED,
                ));
            }
            let mut next = cur.clone();
            next["spec"]["replicas"] = json!(replicas);
            meta_mut(&mut next).remove("resourceVersion");
            Ok(next)
        },
        None,
    )
    .await?;
    Ok(scale_of(&written.object))
}

/// POST `pods/{name}/binding`: assigns the pod to a node, once.
pub async fn bind(
    store: &Store,
    def: &'static ResourceDef,
    req: &Request,
    body: Value,
) -> Result<(), Status> {
    let target = body
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if target.is_empty() {
        return Err(Status::invalid(
            "Binding",
            "",
            req.name()?,
            vec![crate::machinery::status::FieldError::required(
                "target.name",
                "",
            )],
        ));
    }
    let name = req.name()?.to_string();
    let k = key(def, req.namespace(), &name);
    store
        .mutate(k, Box::new(move |cur| {
            let cur = cur.ok_or_else(|| Status::not_found("pods", "", &name))?;
            if meta::is_terminating(cur) {
                return Err(Status::conflict("pods", "", &name, "pod is being deleted, cannot be assigned to a host"));
            }
            match cur.pointer("/spec/nodeName").and_then(Value::as_str) {
                Some(n) if !n.is_empty() => Err(Status::conflict("pods", "", &name, &format!("pod {name} is already assigned to node \"{n}\""))),
                _ => {
                    let mut next = cur.clone();
                    next["spec"]["nodeName"] = json!(target);
                    let conds = next["status"]["conditions"].as_array().cloned().unwrap_or_default();
                    let mut conds: Vec<Value> = conds.into_iter().filter(|c| c["type"] != "PodScheduled").collect();
                    conds.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": meta::now()}));
                    next["status"]["conditions"] = json!(conds);
                    Ok(Mutation::Put(next))
                }
            }
        }))
        .await?;
    Ok(())
}
