//! Strategic merge patch (`application/strategic-merge-patch+json`) as kube-apiserver applies it.
//!
//! This follows the apply half of `k8s.io/apimachinery/pkg/util/strategicpatch` (`mergeMap`,
//! `mergeSlice`, `mergePatchIntoOriginal`, `normalizeElementOrder`): maps merge recursively and
//! `null` deletes a key; lists tagged `patchStrategy:"merge"` in `k8s.io/api` merge element-wise by
//! their `patchMergeKey` (or as ordered set unions for primitive lists); other lists are replaced.
//! The directives `$patch` (`replace`, `delete`, and `delete`/`replace`/`merge` as list elements),
//! `$retainKeys`, `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>` behave as
//! upstream, and no directive key is ever left in the result.
//!
//! The Go code works on `reflect` struct tags; here a small static type graph (see [`Schema`] and
//! the tables under "Patch metadata") carries the same tags for the kinds podgate serves.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::{Map, Value};

type Object = Map<String, Value>;

const DIRECTIVE_MARKER: &str = "$patch";
const DELETE_DIRECTIVE: &str = "delete";
const REPLACE_DIRECTIVE: &str = "replace";
const MERGE_DIRECTIVE: &str = "merge";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

/// Go's `reflect.TypeOf` names, used in upstream's error texts.
const GO_MAP: &str = "map[string]interface {}";
const GO_SLICE: &str = "[]interface {}";

// === Errors ===

/// Errors while applying a strategic merge patch (Display texts like Kubernetes' where it has one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategicPatchError {
    /// The patch body is JSON but not an object (kube-apiserver's decoding error).
    #[error("json: cannot unmarshal {0} into Go value of type map[string]interface {{}}")]
    PatchNotObject(&'static str),
    /// The original object is not a JSON object.
    #[error("invalid JSON document")]
    BadJsonDoc,
    /// A list whose elements are lists.
    #[error("lists of lists are not supported")]
    NoListOfLists,
    /// A malformed `$deleteFromPrimitiveList` directive.
    #[error("invalid patch format of primitive list")]
    BadPatchFormatForPrimitiveList,
    /// A malformed `$retainKeys` directive, or a patch key missing from it.
    #[error("invalid patch format of retainKeys")]
    BadPatchFormatForRetainKeys,
    /// A malformed `$setElementOrder` directive.
    #[error("invalid patch format of setElementOrder list")]
    BadPatchFormatForSetElementOrderList,
    /// A list element lacks the list's merge key.
    #[error("map: {map} does not contain declared merge key: {key}")]
    NoMergeKey {
        /// The element, printed as Go's `%v` does.
        map: String,
        /// The merge key.
        key: String,
    },
    /// A value has the wrong JSON type for its place.
    #[error("expected a {expected}, but received a {actual}")]
    BadArgType {
        /// Go type name expected.
        expected: &'static str,
        /// Go type name received.
        actual: &'static str,
    },
    /// A `$patch` value other than the ones allowed where it appears.
    #[error("unknown patch type: {patch_type} in map: {map}")]
    BadPatchType {
        /// The `$patch` value.
        patch_type: String,
        /// The map holding it, printed as Go's `%v` does.
        map: String,
    },
    /// `{"$patch": "merge"}` as a list element.
    #[error("merging lists cannot yet be specified in the patch")]
    MergeListDirective,
    /// A list mixes element types.
    #[error("list element types are not identical: {0}")]
    MixedElementTypes(String),
    /// A `$setElementOrder` list applied where neither side has elements.
    #[error("no elements in any of the given slices")]
    NoElements,
    /// The patch list's order contradicts its `$setElementOrder` list.
    #[error("the order in patch list:\n{patch}\n doesn't match $setElementOrder list:\n{order}")]
    SetElementOrderMismatch {
        /// The patch list, printed as Go's `%v` does.
        patch: String,
        /// The `$setElementOrder` list, printed as Go's `%v` does.
        order: String,
    },
    /// A merging list holds a non-object element.
    #[error("value for key {0} is not a map.")]
    ElementNotMap(usize),
    /// Objects patched into a merging list of primitives.
    #[error("cannot merge lists without merge key for type string")]
    NoMergeKeyForPrimitives,
}

impl StrategicPatchError {
    /// HTTP status kube-apiserver answers with (`interpretStrategicMergePatchError`):
    /// 400 for malformed patches, 422 for lists of lists, 500 for everything else.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::PatchNotObject(_)
            | Self::BadJsonDoc
            | Self::BadPatchFormatForPrimitiveList
            | Self::BadPatchFormatForRetainKeys
            | Self::BadPatchFormatForSetElementOrderList => 400,
            Self::NoListOfLists => 422,
            _ => 500,
        }
    }
}

type Result<T> = std::result::Result<T, StrategicPatchError>;

// === Entry point ===

/// Applies `patch` to `original` as `kubectl patch --type=strategic` / client-side `kubectl apply` do against
/// kube-apiserver, for an object of `kind` (e.g. "Pod", "StatefulSet").
///
/// A `null` patch leaves the object unchanged (kube-apiserver decodes it to an empty map); any
/// other non-object patch is rejected. Kinds without a table merge maps and replace lists, with
/// `metadata` treated as the `ObjectMeta` every Kubernetes object has.
pub fn strategic_merge_patch(
    original: &Value,
    patch: &Value,
    kind: &str,
) -> std::result::Result<Value, StrategicPatchError> {
    let original = match original {
        Value::Object(map) => map.clone(),
        Value::Null => Object::new(),
        _ => return Err(StrategicPatchError::BadJsonDoc),
    };
    let patch = match patch {
        Value::Object(map) => map.clone(),
        Value::Null => return Ok(Value::Object(original)),
        other => return Err(StrategicPatchError::PatchNotObject(json_type_word(other))),
    };
    merge_map(original, patch, kind_schema(kind)).map(Value::Object)
}

// === Patch metadata ===

/// What upstream reads from a Go struct: the patch metadata of each JSON field.
#[derive(Clone, Copy)]
enum Schema {
    /// No type information: maps merge, lists replace.
    Untyped,
    /// A struct; fields not listed carry no patch metadata.
    Struct(&'static [Field]),
}

/// The `patchStrategy` tag of a field.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Strategy {
    /// No tag: maps merge, lists replace.
    Default,
    /// `patchStrategy:"merge"` (possibly with `retainKeys`, which only matters when diffing).
    Merge,
    /// Atomic raw data (`runtime.RawExtension`): the patch value is taken verbatim.
    Replace,
}

/// Patch metadata of one field: strategy, merge key ("" for none) and the type of its
/// value (of its elements, for lists).
#[derive(Clone, Copy)]
struct PatchMeta {
    strategy: Strategy,
    merge_key: &'static str,
    /// `retainKeys` next to `merge`: clients send `$retainKeys` with each element they change
    /// (the server honours the directive wherever it appears, so only clients read this).
    retain_keys: bool,
    schema: Schema,
}

type Field = (&'static str, PatchMeta);

impl PatchMeta {
    const UNTYPED: Self = Self {
        strategy: Strategy::Default,
        merge_key: "",
        retain_keys: false,
        schema: Schema::Untyped,
    };
}

impl Schema {
    /// The metadata of `key` (upstream's `LookupPatchMetadataFor*`; unknown fields are untyped).
    fn lookup(self, key: &str) -> PatchMeta {
        match self {
            Schema::Struct(fields) => fields
                .iter()
                .find(|(name, _)| *name == key)
                .map_or(PatchMeta::UNTYPED, |(_, meta)| *meta),
            Schema::Untyped => PatchMeta::UNTYPED,
        }
    }
}

/// A struct-typed field without a strategy.
const fn object(fields: &'static [Field]) -> PatchMeta {
    PatchMeta {
        strategy: Strategy::Default,
        merge_key: "",
        retain_keys: false,
        schema: Schema::Struct(fields),
    }
}

/// `patchStrategy:"merge" patchMergeKey:"<key>"` on a list of structs.
const fn merge_by(key: &'static str, elements: &'static [Field]) -> PatchMeta {
    PatchMeta {
        strategy: Strategy::Merge,
        merge_key: key,
        retain_keys: false,
        schema: Schema::Struct(elements),
    }
}

/// `patchStrategy:"merge,retainKeys"` with `patchMergeKey:"<key>"` on a list of structs.
const fn merge_retaining_keys_by(key: &'static str, elements: &'static [Field]) -> PatchMeta {
    PatchMeta {
        retain_keys: true,
        ..merge_by(key, elements)
    }
}

/// `patchStrategy:"merge"` on a list of primitives.
const MERGE_SET: PatchMeta = PatchMeta {
    strategy: Strategy::Merge,
    merge_key: "",
    retain_keys: false,
    schema: Schema::Untyped,
};

/// Raw data replaced as a whole.
const ATOMIC: PatchMeta = PatchMeta {
    strategy: Strategy::Replace,
    merge_key: "",
    retain_keys: false,
    schema: Schema::Untyped,
};

/// Element types with no tagged fields of their own.
const PLAIN: &[Field] = &[];

/// meta/v1 ObjectMeta.
const OBJECT_META: &[Field] = &[
    ("finalizers", MERGE_SET),
    ("ownerReferences", merge_by("uid", PLAIN)),
];

/// core/v1 Container and EphemeralContainer (EphemeralContainerCommon carries the same tags).
const CONTAINER: &[Field] = &[
    ("ports", merge_by("containerPort", PLAIN)),
    ("env", merge_by("name", PLAIN)),
    ("volumeMounts", merge_by("mountPath", PLAIN)),
    ("volumeDevices", merge_by("devicePath", PLAIN)),
];

/// core/v1 PodSpec (`volumes` and `resourceClaims` also retain keys); tolerations,
/// readinessGates and the rest have no strategy.
const POD_SPEC: &[Field] = &[
    ("volumes", merge_retaining_keys_by("name", PLAIN)),
    ("initContainers", merge_by("name", CONTAINER)),
    ("containers", merge_by("name", CONTAINER)),
    ("ephemeralContainers", merge_by("name", CONTAINER)),
    ("imagePullSecrets", merge_by("name", PLAIN)),
    ("hostAliases", merge_by("ip", PLAIN)),
    ("topologySpreadConstraints", merge_by("topologyKey", PLAIN)),
    ("schedulingGates", merge_by("name", PLAIN)),
    ("resourceClaims", merge_retaining_keys_by("name", PLAIN)),
];

/// core/v1 PodStatus (container statuses have no strategy).
const POD_STATUS: &[Field] = &[
    ("conditions", merge_by("type", PLAIN)),
    ("hostIPs", merge_by("ip", PLAIN)),
    ("podIPs", merge_by("ip", PLAIN)),
    ("resourceClaimStatuses", merge_by("name", PLAIN)),
];

/// Any status whose only tagged field is `conditions` merged by `type`.
const CONDITIONS_STATUS: &[Field] = &[("conditions", merge_by("type", PLAIN))];

const POD: &[Field] = &[
    ("metadata", object(OBJECT_META)),
    ("spec", object(POD_SPEC)),
    ("status", object(POD_STATUS)),
];

/// core/v1 PodTemplateSpec.
const POD_TEMPLATE_SPEC: &[Field] = &[
    ("metadata", object(OBJECT_META)),
    ("spec", object(POD_SPEC)),
];

/// apps/v1 StatefulSet (`volumeClaimTemplates` has no strategy).
const STATEFUL_SET: &[Field] = &[
    ("metadata", object(OBJECT_META)),
    ("spec", object(&[("template", object(POD_TEMPLATE_SPEC))])),
    ("status", object(CONDITIONS_STATUS)),
];

/// core/v1 Service: ports merge by `port`, status conditions by `type`.
const SERVICE: &[Field] = &[
    ("metadata", object(OBJECT_META)),
    ("spec", object(&[("ports", merge_by("port", PLAIN))])),
    ("status", object(CONDITIONS_STATUS)),
];

/// core/v1 Node: `spec.podCIDRs` is a merging primitive list; conditions and addresses merge by `type`.
const NODE: &[Field] = &[
    ("metadata", object(OBJECT_META)),
    ("spec", object(&[("podCIDRs", MERGE_SET)])),
    (
        "status",
        object(&[
            ("conditions", merge_by("type", PLAIN)),
            ("addresses", merge_by("type", PLAIN)),
        ]),
    ),
];

/// Namespace and PersistentVolumeClaim: status conditions merge by `type`.
const WITH_STATUS_CONDITIONS: &[Field] = &[
    ("metadata", object(OBJECT_META)),
    ("status", object(CONDITIONS_STATUS)),
];

/// core/v1 ServiceAccount: `secrets` merge by `name` (`imagePullSecrets` is atomic).
const SERVICE_ACCOUNT: &[Field] = &[
    ("metadata", object(OBJECT_META)),
    ("secrets", merge_by("name", PLAIN)),
];

/// apps/v1 ControllerRevision: `data` is a raw extension, replaced as a whole.
const CONTROLLER_REVISION: &[Field] = &[("metadata", object(OBJECT_META)), ("data", ATOMIC)];

/// Every other kind (Endpoints, Event, ConfigMap, PersistentVolume, StorageClass, EndpointSlice,
/// Scale, ...): only ObjectMeta has tagged fields.
const METADATA_ONLY: &[Field] = &[("metadata", object(OBJECT_META))];

/// The root type of `kind`.
fn kind_schema(kind: &str) -> Schema {
    Schema::Struct(match kind {
        "Pod" => POD,
        "StatefulSet" => STATEFUL_SET,
        "Service" => SERVICE,
        "Node" => NODE,
        "Namespace" | "PersistentVolumeClaim" => WITH_STATUS_CONDITIONS,
        "ServiceAccount" => SERVICE_ACCOUNT,
        "ControllerRevision" => CONTROLLER_REVISION,
        _ => METADATA_ONLY,
    })
}

/// One field the patch metadata tables tag with `patchStrategy:"merge"`, as the OpenAPI
/// documents publish it (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MergeTaggedField {
    /// JSON field names from the kind's root; list elements are stepped over implicitly.
    pub(crate) path: Vec<&'static str>,
    /// The merge key of a list of objects; empty for a list of primitives merged as a set.
    pub(crate) merge_key: &'static str,
    /// Whether the strategy is `merge,retainKeys` rather than `merge`.
    pub(crate) retain_keys: bool,
}

/// Every field of `kind` that merges element-wise, read from the same tables
/// [`strategic_merge_patch`] applies, so what clients are told and what the server does agree.
pub(crate) fn merge_tagged_fields(kind: &str) -> Vec<MergeTaggedField> {
    fn walk(schema: Schema, path: &mut Vec<&'static str>, out: &mut Vec<MergeTaggedField>) {
        let Schema::Struct(fields) = schema else {
            return;
        };
        for (name, meta) in fields {
            path.push(name);
            if meta.strategy == Strategy::Merge {
                out.push(MergeTaggedField {
                    path: path.clone(),
                    merge_key: meta.merge_key,
                    retain_keys: meta.retain_keys,
                });
            }
            walk(meta.schema, path, out);
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(kind_schema(kind), &mut Vec::new(), &mut out);
    out
}

// === impl mergeMap ===

/// Merges `patch` into `original` (upstream `mergeMap`).
fn merge_map(mut original: Object, mut patch: Object, schema: Schema) -> Result<Object> {
    if let Some(directive) = patch.get(DIRECTIVE_MARKER) {
        return match directive.as_str() {
            Some(REPLACE_DIRECTIVE) => {
                patch.remove(DIRECTIVE_MARKER);
                Ok(strip_directives(patch))
            }
            Some(DELETE_DIRECTIVE) => Ok(Object::new()),
            _ => Err(StrategicPatchError::BadPatchType {
                patch_type: go_fmt(directive),
                map: go_fmt_map(&patch),
            }),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_set_element_order_lists(&mut original, &mut patch, schema)?;

    // Deletion lists go last, as they do when kubectl sends them next to $setElementOrder.
    let mut deletion_lists = Vec::new();
    for (key, value) in patch {
        if key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
            let field = extract_key(&key, DELETE_FROM_PRIMITIVE_LIST_PREFIX)?;
            deletion_lists.push((field.to_string(), value));
            continue;
        }
        merge_field(&mut original, key, value, schema, false)?;
    }
    for (field, value) in deletion_lists {
        merge_field(&mut original, field, value, schema, true)?;
    }
    Ok(original)
}

/// Merges one patch field into `original` (the body of upstream's `mergeMap` loop).
fn merge_field(
    original: &mut Object,
    key: String,
    value: Value,
    schema: Schema,
    is_delete_list: bool,
) -> Result<()> {
    if value.is_null() {
        original.remove(&key);
        return Ok(());
    }
    let meta = schema.lookup(&key);
    let Some(current) = original.get_mut(&key) else {
        if !is_delete_list && let Some(value) = new_field_value(value, meta) {
            original.insert(key, value);
        }
        return Ok(());
    };
    if ValueKind::of(current) != ValueKind::of(&value) {
        if !is_delete_list {
            match new_field_value(value, meta) {
                Some(value) => *current = value,
                None => {
                    original.remove(&key);
                }
            }
        }
        return Ok(());
    }
    *current = match (std::mem::take(current), value) {
        (Value::Object(current), Value::Object(patch)) => {
            if meta.strategy == Strategy::Replace {
                Value::Object(patch)
            } else {
                Value::Object(merge_map(current, patch, meta.schema)?)
            }
        }
        (Value::Array(current), Value::Array(patch)) => {
            Value::Array(merge_list_field(current, patch, meta, is_delete_list)?)
        }
        (_, scalar) => scalar,
    };
    Ok(())
}

/// A patch value for a field the original lacks (or holds with another type): nulls inside
/// are dropped and directive-marked maps removed, as upstream does; raw data stays verbatim.
fn new_field_value(mut value: Value, meta: PatchMeta) -> Option<Value> {
    if meta.strategy == Strategy::Replace {
        return Some(value);
    }
    discard_nulls(&mut value);
    remove_directives(value)
}

/// Merges two lists by the field's strategy (upstream `mergeSliceHandler`).
fn merge_list_field(
    original: Vec<Value>,
    patch: Vec<Value>,
    meta: PatchMeta,
    is_delete_list: bool,
) -> Result<Vec<Value>> {
    match meta.strategy {
        Strategy::Merge => merge_list(original, patch, meta.merge_key, meta.schema, is_delete_list),
        Strategy::Replace => Ok(patch),
        Strategy::Default => Ok(strip_list_directives(patch)),
    }
}

// === impl directives ===

/// Applies `$retainKeys`: keys missing from the list are cleared from `original`, and every
/// non-null patch key must be listed (upstream `applyRetainKeysDirective`).
fn apply_retain_keys(original: &mut Object, patch: &mut Object) -> Result<()> {
    let Some(retain) = patch.remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(StrategicPatchError::BadPatchFormatForRetainKeys);
    };
    let keep: HashSet<&str> = retain.iter().filter_map(Value::as_str).collect();
    let unlisted = patch.iter().any(|(key, value)| {
        !value.is_null()
            && !key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            && !key.starts_with(SET_ELEMENT_ORDER_PREFIX)
            && !keep.contains(key.as_str())
    });
    if unlisted {
        return Err(StrategicPatchError::BadPatchFormatForRetainKeys);
    }
    original.retain(|key, _| keep.contains(key.as_str()));
    Ok(())
}

/// Applies every `$setElementOrder/<field>` in `patch`: merges the field's list and orders it by
/// the directive, server-only items interleaved by their live position (upstream
/// `mergePatchIntoOriginal`). The merged fields are removed from `patch`.
fn merge_set_element_order_lists(
    original: &mut Object,
    patch: &mut Object,
    schema: Schema,
) -> Result<()> {
    let directives: Vec<String> = patch
        .keys()
        .filter(|key| key.starts_with(SET_ELEMENT_ORDER_PREFIX))
        .cloned()
        .collect();
    for directive in directives {
        let Some(order) = patch.remove(&directive) else {
            continue;
        };
        let order = into_list(order)?;
        let field = extract_key(&directive, SET_ELEMENT_ORDER_PREFIX)?.to_string();
        let original_list = original.get(&field).cloned().map(into_list).transpose()?;
        let patch_list = patch.remove(&field).map(into_list).transpose()?;
        let meta = schema.lookup(&field);
        let merge_key = meta.merge_key;
        validate_patch_with_set_order_list(
            patch_list.as_deref().unwrap_or(&[]),
            &order,
            merge_key,
        )?;

        let server_order = original_list.clone().unwrap_or_default();
        let kind = list_element_kind(&[&server_order, patch_list.as_deref().unwrap_or(&[])]);
        let merged = match (original_list, patch_list) {
            (Some(current), None) => current,
            (None, Some(patch)) => strip_list_directives(patch),
            (Some(current), Some(patch)) => merge_list_field(current, patch, meta, false)?,
            (None, None) => continue,
        };
        let (patch_items, server_only) = partition(merged, &order, merge_key)?;
        let ordered = normalize_element_order(
            patch_items,
            server_only,
            &order,
            &server_order,
            merge_key,
            kind?,
        )?;
        original.insert(field, Value::Array(ordered));
    }
    Ok(())
}

/// Checks that the patch list's items appear in the `$setElementOrder` list in the same relative
/// order (deletions and other directive elements ignored).
fn validate_patch_with_set_order_list(
    patch: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<()> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let mut items = Vec::with_capacity(patch.len());
    for item in patch {
        if !merge_key.is_empty() {
            if !item.is_object() {
                return Err(bad_arg_type(GO_MAP, item));
            }
            if is_delete_element(item) {
                continue;
            }
        }
        items.push(item);
    }
    let (mut patch_index, mut order_index) = (0, 0);
    while let (Some(item), Some(ordered)) = (items.get(patch_index), order.get(order_index)) {
        if item.get(DIRECTIVE_MARKER).is_some() {
            patch_index += 1;
            continue;
        }
        if merge_key_value_equal(item, ordered, merge_key)? {
            patch_index += 1;
        }
        order_index += 1;
    }
    if patch_index < items.len() {
        return Err(StrategicPatchError::SetElementOrderMismatch {
            patch: go_fmt_list(patch),
            order: go_fmt_list(order),
        });
    }
    Ok(())
}

/// Whether two elements have equal merge key values (equal values for primitives).
fn merge_key_value_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool> {
    if merge_key.is_empty() {
        return Ok(ScalarKey::of(left) == ScalarKey::of(right));
    }
    Ok(ScalarKey::of(merge_key_value(left, merge_key)?)
        == ScalarKey::of(merge_key_value(right, merge_key)?))
}

/// The field name after a `$prefix/` directive key.
fn extract_key<'a>(key: &'a str, prefix: &str) -> Result<&'a str> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix => Ok(field),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST_PREFIX => {
            Err(StrategicPatchError::BadPatchFormatForPrimitiveList)
        }
        _ => Err(StrategicPatchError::BadPatchFormatForSetElementOrderList),
    }
}

/// Whether `key` is a directive that only exists in patches.
fn is_directive_key(key: &str) -> bool {
    key == DIRECTIVE_MARKER
        || key == RETAIN_KEYS_DIRECTIVE
        || key.starts_with(SET_ELEMENT_ORDER_PREFIX)
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
}

/// Upstream `removeDirectives`: maps carrying `$patch` are dropped (`None` at the top); in
/// addition, directive keys are stripped so none reaches the stored object.
fn remove_directives(value: Value) -> Option<Value> {
    match value {
        Value::Object(map) => {
            if map.contains_key(DIRECTIVE_MARKER) {
                return None;
            }
            Some(Value::Object(strip_directives(map)))
        }
        Value::Array(list) => Some(Value::Array(strip_list_directives(list))),
        other => Some(other),
    }
}

/// [`remove_directives`] on the values of a map whose own directives are already handled.
fn strip_directives(map: Object) -> Object {
    map.into_iter()
        .filter(|(key, _)| !is_directive_key(key))
        .filter_map(|(key, value)| remove_directives(value).map(|value| (key, value)))
        .collect()
}

/// [`remove_directives`] on every element of a list.
fn strip_list_directives(list: Vec<Value>) -> Vec<Value> {
    list.into_iter().filter_map(remove_directives).collect()
}

/// Upstream `discardNullValuesFromPatch`: drops null-valued keys from maps, recursively.
fn discard_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, value| !value.is_null());
            map.values_mut().for_each(discard_nulls);
        }
        Value::Array(list) => list.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// Whether a list element is `{"$patch": "delete", ...}`.
fn is_delete_element(item: &Value) -> bool {
    item.get(DIRECTIVE_MARKER).and_then(Value::as_str) == Some(DELETE_DIRECTIVE)
}

// === impl mergeSlice ===

/// Merges two lists of a merging field (upstream `mergeSlice`).
fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
    schema: Schema,
    is_delete_list: bool,
) -> Result<Vec<Value>> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = list_element_kind(&[&original, &patch])?;
    let (merged, patch, server_order) = if kind == ValueKind::Map {
        if merge_key.is_empty() {
            return Err(StrategicPatchError::NoMergeKeyForPrimitives);
        }
        let (original, patch) = apply_list_element_directives(original, patch, merge_key)?;
        let merged = merge_list_elements(original.clone(), &patch, merge_key, schema)?;
        (merged, patch, original)
    } else {
        if is_delete_list {
            return Ok(delete_from_list(original, &patch));
        }
        let merged = dedupe(original.iter().chain(&patch).cloned());
        (merged, patch, original)
    };
    let (patch_items, server_only) = partition(merged, &patch, merge_key)?;
    normalize_element_order(
        patch_items,
        server_only,
        &patch,
        &server_order,
        merge_key,
        kind,
    )
}

/// Applies `$patch` list elements: `delete` removes the matching original elements, `replace`
/// makes the other patch elements the whole list, `merge` is refused (upstream
/// `mergeSliceWithSpecialElements`). Returns the original and the patch without them.
fn apply_list_element_directives(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut rest = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.get(DIRECTIVE_MARKER) else {
            rest.push(item);
            continue;
        };
        match directive.as_str() {
            Some(DELETE_DIRECTIVE) => {
                let key = ScalarKey::of(merge_key_value(&item, merge_key)?);
                original.retain(|element| {
                    element.get(merge_key).map(ScalarKey::of).as_ref() != Some(&key)
                });
            }
            Some(REPLACE_DIRECTIVE) => replace = true,
            Some(MERGE_DIRECTIVE) => return Err(StrategicPatchError::MergeListDirective),
            _ => {
                return Err(StrategicPatchError::BadPatchType {
                    patch_type: go_fmt(directive),
                    map: go_fmt(&item),
                });
            }
        }
    }
    if replace {
        return Ok((strip_list_directives(rest), Vec::new()));
    }
    Ok((original, rest))
}

/// Merges each patch element into the original element with the same merge key value, or
/// appends it (upstream `mergeSliceWithoutSpecialElements`).
fn merge_list_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    schema: Schema,
) -> Result<Vec<Value>> {
    for item in patch {
        let key = ScalarKey::of(merge_key_value(item, merge_key)?);
        let found = original
            .iter()
            .position(|element| element.get(merge_key).map(ScalarKey::of).as_ref() == Some(&key));
        let Some(index) = found else {
            original.extend(remove_directives(item.clone()));
            continue;
        };
        // Both are maps here: the element was found by its merge key, the item has one.
        if let (Some(element), Value::Object(patch_map)) = (original.get_mut(index), item)
            && let Value::Object(current) = std::mem::take(element)
        {
            *element = Value::Object(merge_map(current, patch_map.clone(), schema)?);
        }
    }
    Ok(original)
}

/// Removes every element of `current` equal to one in `to_delete` (upstream `deleteFromSlice`).
fn delete_from_list(current: Vec<Value>, to_delete: &[Value]) -> Vec<Value> {
    let to_delete: HashSet<ScalarKey> = to_delete.iter().map(ScalarKey::of).collect();
    current
        .into_iter()
        .filter(|item| !to_delete.contains(&ScalarKey::of(item)))
        .collect()
}

/// Drops repeated values, keeping the first of each.
fn dedupe(items: impl Iterator<Item = Value>) -> Vec<Value> {
    let mut seen = HashSet::new();
    items
        .filter(|item| seen.insert(ScalarKey::of(item)))
        .collect()
}

/// Splits `merged` into the items present in `by` and the server-only rest, keeping order
/// (upstream `partitionPrimitivesByPresentInList` / `partitionMapsByPresentInList`).
fn partition(
    merged: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    if merge_key.is_empty() {
        let present: HashSet<ScalarKey> = by.iter().map(ScalarKey::of).collect();
        return Ok(merged
            .into_iter()
            .partition(|item| present.contains(&ScalarKey::of(item))));
    }
    let mut present = None;
    let (mut in_patch, mut server_only) = (Vec::new(), Vec::new());
    for item in merged {
        let key = ScalarKey::of(merge_key_value(&item, merge_key)?);
        if present.is_none() {
            present = Some(merge_key_values(by, merge_key)?);
        }
        if present
            .as_ref()
            .is_some_and(|present| present.contains(&key))
        {
            in_patch.push(item);
        } else {
            server_only.push(item);
        }
    }
    Ok((in_patch, server_only))
}

/// The merge key values of a list whose elements must all be maps.
fn merge_key_values(list: &[Value], merge_key: &str) -> Result<HashSet<ScalarKey>> {
    let mut values = HashSet::with_capacity(list.len());
    for (index, item) in list.iter().enumerate() {
        let Some(map) = item.as_object() else {
            return Err(StrategicPatchError::ElementNotMap(index));
        };
        if let Some(value) = map.get(merge_key) {
            values.insert(ScalarKey::of(value));
        }
    }
    Ok(values)
}

// === impl element order ===

/// Sorts the patch items by `patch_order` and the server-only items by `server_order`, then
/// interleaves them (upstream `normalizeElementOrder`).
fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: ValueKind,
) -> Result<Vec<Value>> {
    let patch_index = OrderIndex::new(patch_order, merge_key, kind)?;
    let patch_items = normalize_list_order(patch_items, &patch_index)?;
    let server_index = OrderIndex::new(server_order, merge_key, kind)?;
    let server_only = normalize_list_order(server_only, &server_index)?;
    Ok(merge_sorted(server_only, patch_items, &server_index))
}

/// Stable-sorts `items` by their position in `order`, `$patch: delete` elements last (upstream
/// `normalizeSliceOrder`; items missing from `order`, which upstream never produces here, go
/// after the others).
fn normalize_list_order(items: Vec<Value>, order: &OrderIndex) -> Result<Vec<Value>> {
    let (mut items, to_delete): (Vec<Value>, Vec<Value>) = if order.is_map() {
        for item in &items {
            order.key_of_checked(item)?;
        }
        items.into_iter().partition(|item| !is_delete_element(item))
    } else {
        (items, Vec::new())
    };
    items.sort_by_key(|item| order.position(item).unwrap_or(usize::MAX));
    items.extend(to_delete);
    Ok(items)
}

/// Interleaves server-only items (`left`) into the patch items (`right`): a server item goes
/// before the next patch item only when both are in the live list and it came first there
/// (upstream `mergeSortedSlice`).
fn merge_sorted(left: Vec<Value>, right: Vec<Value>, server: &OrderIndex) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut left, mut right) = (VecDeque::from(left), VecDeque::from(right));
    loop {
        let take_left = match (left.front(), right.front()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (server.position(l), server.position(r)),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left {
            left.pop_front()
        } else {
            right.pop_front()
        };
        out.extend(next);
    }
    out
}

/// First position of each merge key value (each value, for primitives) in a list.
struct OrderIndex<'a> {
    merge_key: &'a str,
    maps: bool,
    positions: HashMap<ScalarKey, usize>,
}

impl<'a> OrderIndex<'a> {
    /// Indexes `list`; for lists of maps every element must carry the merge key.
    fn new(list: &[Value], merge_key: &'a str, kind: ValueKind) -> Result<Self> {
        let mut index = Self {
            merge_key,
            maps: kind == ValueKind::Map,
            positions: HashMap::with_capacity(list.len()),
        };
        for (position, item) in list.iter().enumerate() {
            let key = index.key_of_checked(item)?;
            index.positions.entry(key).or_insert(position);
        }
        Ok(index)
    }

    fn is_map(&self) -> bool {
        self.maps
    }

    /// The key `item` is ordered by, erroring as upstream when a map lacks the merge key.
    fn key_of_checked(&self, item: &Value) -> Result<ScalarKey> {
        if self.maps {
            Ok(ScalarKey::of(merge_key_value(item, self.merge_key)?))
        } else {
            Ok(ScalarKey::of(item))
        }
    }

    /// Position of `item` in the indexed list.
    fn position(&self, item: &Value) -> Option<usize> {
        let key = if self.maps {
            ScalarKey::of(item.get(self.merge_key)?)
        } else {
            ScalarKey::of(item)
        };
        self.positions.get(&key).copied()
    }
}

// === Values ===

/// JSON value kinds as Go's decoder types them (integers `int64`, other numbers `float64`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ValueKind {
    Null,
    Bool,
    Int,
    Float,
    String,
    List,
    Map,
}

impl ValueKind {
    fn of(value: &Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(_) => Self::Bool,
            Value::Number(number) if number.is_f64() => Self::Float,
            Value::Number(_) => Self::Int,
            Value::String(_) => Self::String,
            Value::Array(_) => Self::List,
            Value::Object(_) => Self::Map,
        }
    }

    /// Go's `reflect.TypeOf` name.
    fn go_name(self) -> &'static str {
        match self {
            Self::Null => "<nil>",
            Self::Bool => "bool",
            Self::Int => "int64",
            Self::Float => "float64",
            Self::String => "string",
            Self::List => GO_SLICE,
            Self::Map => GO_MAP,
        }
    }
}

/// The common element kind of some lists (upstream `sliceElementType`).
fn list_element_kind(lists: &[&[Value]]) -> Result<ValueKind> {
    let mut kinds = lists.iter().flat_map(|list| list.iter()).map(ValueKind::of);
    let Some(first) = kinds.next() else {
        return Err(StrategicPatchError::NoElements);
    };
    if first == ValueKind::List {
        return Err(StrategicPatchError::NoListOfLists);
    }
    if kinds.any(|kind| kind != first) {
        let lists: Vec<String> = lists.iter().map(|list| go_fmt_list(list)).collect();
        return Err(StrategicPatchError::MixedElementTypes(format!(
            "[{}]",
            lists.join(" ")
        )));
    }
    Ok(first)
}

/// The merge key value of a list element, which must be a map carrying it.
fn merge_key_value<'v>(item: &'v Value, merge_key: &str) -> Result<&'v Value> {
    let Some(map) = item.as_object() else {
        return Err(bad_arg_type(GO_MAP, item));
    };
    map.get(merge_key)
        .ok_or_else(|| StrategicPatchError::NoMergeKey {
            map: go_fmt_map(map),
            key: merge_key.to_string(),
        })
}

/// Takes a list value, or fails as upstream's type assertions do.
fn into_list(value: Value) -> Result<Vec<Value>> {
    match value {
        Value::Array(list) => Ok(list),
        other => Err(bad_arg_type(GO_SLICE, &other)),
    }
}

fn bad_arg_type(expected: &'static str, actual: &Value) -> StrategicPatchError {
    StrategicPatchError::BadArgType {
        expected,
        actual: ValueKind::of(actual).go_name(),
    }
}

/// A hashable identity for comparing values as Go's `==` does on decoded JSON (an int and a
/// float never compare equal; objects and lists compare by their serialisation).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum ScalarKey {
    Null,
    Bool(bool),
    Int(i128),
    Float(u64),
    String(String),
    Composite(String),
}

impl ScalarKey {
    fn of(value: &Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(number) => {
                if let Some(int) = number.as_i64() {
                    Self::Int(i128::from(int))
                } else if let Some(int) = number.as_u64() {
                    Self::Int(i128::from(int))
                } else {
                    let float = number.as_f64().unwrap_or_default();
                    // -0.0 == 0.0 in Go.
                    Self::Float(if float == 0.0 { 0 } else { float.to_bits() })
                }
            }
            Value::String(s) => Self::String(s.clone()),
            other => Self::Composite(other.to_string()),
        }
    }
}

/// The word Go's JSON decoder uses for a value's type in `cannot unmarshal` errors.
fn json_type_word(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

// === Go-style formatting for error texts ===

/// Formats a value as Go's `%v` prints decoded JSON (`map[k:v]`, `[a b]`, `<nil>`).
fn go_fmt(value: &Value) -> String {
    let mut out = String::new();
    write_go(&mut out, value);
    out
}

fn go_fmt_map(map: &Object) -> String {
    let mut out = String::new();
    write_go_map(&mut out, map);
    out
}

fn go_fmt_list(list: &[Value]) -> String {
    let mut out = String::new();
    write_go_list(&mut out, list);
    out
}

fn write_go(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(int), _) => out.push_str(&int.to_string()),
            (None, Some(int)) => out.push_str(&int.to_string()),
            _ => out.push_str(&go_float(number.as_f64().unwrap_or_default())),
        },
        Value::String(s) => out.push_str(s),
        Value::Array(list) => write_go_list(out, list),
        Value::Object(map) => write_go_map(out, map),
    }
}

fn write_go_list(out: &mut String, list: &[Value]) {
    out.push('[');
    for (index, item) in list.iter().enumerate() {
        if index > 0 {
            out.push(' ');
        }
        write_go(out, item);
    }
    out.push(']');
}

fn write_go_map(out: &mut String, map: &Object) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    out.push_str("map[");
    for (index, (key, value)) in entries.into_iter().enumerate() {
        if index > 0 {
            out.push(' ');
        }
        out.push_str(key);
        out.push(':');
        write_go(out, value);
    }
    out.push(']');
}

/// Go's `%v` for a float64: shortest digits, exponent form below 1e-4 and from 1e6 on.
fn go_float(x: f64) -> String {
    if x == 0.0 {
        return "0".to_string();
    }
    let scientific = format!("{x:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return x.to_string();
    };
    let exponent: i32 = exponent.parse().unwrap_or_default();
    if (-4..6).contains(&exponent) {
        return x.to_string();
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    struct Case {
        name: &'static str,
        kind: &'static str,
        original: Value,
        patch: Value,
        want: Value,
    }

    fn case(
        name: &'static str,
        kind: &'static str,
        original: Value,
        patch: Value,
        want: Value,
    ) -> Case {
        Case {
            name,
            kind,
            original,
            patch,
            want,
        }
    }

    /// Fails when a directive key is left anywhere in `value`.
    fn assert_no_directives(name: &str, value: &Value) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    assert!(
                        !is_directive_key(key),
                        "{name}: directive {key} left in result"
                    );
                    assert_no_directives(name, value);
                }
            }
            Value::Array(list) => list
                .iter()
                .for_each(|item| assert_no_directives(name, item)),
            _ => {}
        }
    }

    fn run(cases: Vec<Case>) {
        for case in cases {
            let got = strategic_merge_patch(&case.original, &case.patch, case.kind)
                .unwrap_or_else(|err| panic!("{}: unexpected error: {err}", case.name));
            assert_eq!(got, case.want, "{}", case.name);
            if case.kind != "ControllerRevision" {
                assert_no_directives(case.name, &got);
            }
        }
    }

    fn containers(list: Value) -> Value {
        json!({"spec": {"containers": list}})
    }

    #[test]
    fn maps_scalars_and_plain_lists() {
        run(vec![
            case(
                "kubectl label merges metadata.labels",
                "Pod",
                json!({"metadata": {"name": "p", "labels": {"app": "web", "tier": "db"}}}),
                json!({"metadata": {"labels": {"tier": "cache", "new": "x"}}}),
                json!({"metadata": {"name": "p", "labels": {"app": "web", "tier": "cache", "new": "x"}}}),
            ),
            case(
                "null deletes a key and leaves no null for a missing one",
                "Pod",
                json!({"metadata": {"labels": {"app": "web", "tier": "db"}}}),
                json!({"metadata": {"labels": {"app": null, "missing": null}}}),
                json!({"metadata": {"labels": {"tier": "db"}}}),
            ),
            case(
                "nulls inside a new map are dropped",
                "ConfigMap",
                json!({"metadata": {"name": "c"}}),
                json!({"metadata": {"annotations": {"a": "1", "b": null}}, "data": {"k": null}}),
                json!({"metadata": {"name": "c", "annotations": {"a": "1"}}, "data": {}}),
            ),
            case(
                "kubectl scale style replicas patch; a type change replaces",
                "StatefulSet",
                json!({"spec": {"replicas": 1, "serviceName": "web", "selector": {"matchLabels": {"a": "b"}}}}),
                json!({"spec": {"replicas": 3, "selector": "x"}}),
                json!({"spec": {"replicas": 3, "serviceName": "web", "selector": "x"}}),
            ),
            case(
                "Scale subresource replicas",
                "Scale",
                json!({"spec": {"replicas": 1}, "status": {"replicas": 1}}),
                json!({"spec": {"replicas": 3}}),
                json!({"spec": {"replicas": 3}, "status": {"replicas": 1}}),
            ),
            case(
                "lists without a strategy are replaced whole",
                "Pod",
                json!({"spec": {"tolerations": [{"key": "a"}, {"key": "b"}],
                    "containers": [{"name": "c", "args": ["1", "2"]}]}}),
                json!({"spec": {"tolerations": [{"key": "c"}],
                    "containers": [{"name": "c", "args": ["3"]}]}}),
                json!({"spec": {"tolerations": [{"key": "c"}],
                    "containers": [{"name": "c", "args": ["3"]}]}}),
            ),
            case(
                "Endpoints subsets are replaced",
                "Endpoints",
                json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}),
                json!({"subsets": [{"addresses": [{"ip": "10.0.0.2"}]}]}),
                json!({"subsets": [{"addresses": [{"ip": "10.0.0.2"}]}]}),
            ),
            case(
                "Namespace spec.finalizers has no strategy",
                "Namespace",
                json!({"spec": {"finalizers": ["kubernetes"]}}),
                json!({"spec": {"finalizers": []}}),
                json!({"spec": {"finalizers": []}}),
            ),
            case(
                "other kinds merge maps and replace lists",
                "Widget",
                json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b"}], "m": {"x": 1}}}),
                json!({"spec": {"containers": [{"name": "a", "image": "2"}], "m": {"y": 2}}}),
                json!({"spec": {"containers": [{"name": "a", "image": "2"}], "m": {"x": 1, "y": 2}}}),
            ),
            case(
                "ControllerRevision data is raw and replaced verbatim",
                "ControllerRevision",
                json!({"metadata": {"name": "r"}, "revision": 1,
                    "data": {"spec": {"template": {"$patch": "replace", "spec": {"a": 1}}}}}),
                json!({"revision": 2,
                    "data": {"spec": {"template": {"$patch": "replace", "metadata": {"b": null}}}}}),
                json!({"metadata": {"name": "r"}, "revision": 2,
                    "data": {"spec": {"template": {"$patch": "replace", "metadata": {"b": null}}}}}),
            ),
            case(
                "a null patch changes nothing",
                "Pod",
                json!({"metadata": {"name": "p"}}),
                Value::Null,
                json!({"metadata": {"name": "p"}}),
            ),
        ]);
    }

    #[test]
    fn merging_lists() {
        run(vec![
            case(
                "kubectl set image keeps other containers, ports and env",
                "Pod",
                containers(json!([
                    {"name": "sidecar", "image": "s:1", "ports": [{"containerPort": 9000}]},
                    {"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80, "name": "http"}],
                        "env": [{"name": "A", "value": "1"}]}
                ])),
                containers(json!([{"name": "web", "image": "nginx:2"}])),
                containers(json!([
                    {"name": "sidecar", "image": "s:1", "ports": [{"containerPort": 9000}]},
                    {"name": "web", "image": "nginx:2", "ports": [{"containerPort": 80, "name": "http"}],
                        "env": [{"name": "A", "value": "1"}]}
                ])),
            ),
            case(
                "kubectl set image on a StatefulSet template",
                "StatefulSet",
                json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [
                    {"name": "web", "image": "nginx:1"}, {"name": "log", "image": "busybox"}]}}}}),
                json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "pause"}]}}}}),
                json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [
                    {"name": "web", "image": "pause"}, {"name": "log", "image": "busybox"}]}}}}),
            ),
            case(
                "container ports merge by containerPort",
                "Pod",
                containers(json!([{"name": "web", "ports": [
                    {"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"}]}])),
                containers(
                    json!([{"name": "web", "ports": [{"containerPort": 443, "name": "tls"}]}]),
                ),
                containers(json!([{"name": "web", "ports": [
                    {"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "tls"}]}])),
            ),
            case(
                "env merges by name; new entries go first as upstream orders them",
                "Pod",
                containers(json!([{"name": "web", "env": [
                    {"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}])),
                containers(json!([{"name": "web", "env": [
                    {"name": "C", "value": "3"}, {"name": "A", "value": "10"}]}])),
                containers(json!([{"name": "web", "env": [
                    {"name": "C", "value": "3"}, {"name": "A", "value": "10"}, {"name": "B", "value": "2"}]}])),
            ),
            case(
                "volumeMounts merge by mountPath, volumeDevices by devicePath",
                "Pod",
                containers(json!([{"name": "web",
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "cfg", "mountPath": "/etc/cfg"}],
                    "volumeDevices": [{"name": "raw", "devicePath": "/dev/xvda"}]}])),
                containers(json!([{"name": "web",
                    "volumeMounts": [{"mountPath": "/data", "readOnly": true}],
                    "volumeDevices": [{"name": "raw2", "devicePath": "/dev/xvdb"}]}])),
                containers(json!([{"name": "web",
                    "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": true},
                        {"name": "cfg", "mountPath": "/etc/cfg"}],
                    "volumeDevices": [{"name": "raw2", "devicePath": "/dev/xvdb"},
                        {"name": "raw", "devicePath": "/dev/xvda"}]}])),
            ),
            case(
                "pod status patch updates one condition by type",
                "Pod",
                json!({"status": {"phase": "Pending", "conditions": [
                    {"type": "Initialized", "status": "True"},
                    {"type": "Ready", "status": "False"},
                    {"type": "ContainersReady", "status": "False"},
                    {"type": "PodScheduled", "status": "True"}]}}),
                json!({"status": {"phase": "Running", "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}),
                json!({"status": {"phase": "Running", "conditions": [
                    {"type": "Initialized", "status": "True"},
                    {"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"},
                    {"type": "ContainersReady", "status": "False"},
                    {"type": "PodScheduled", "status": "True"}]}}),
            ),
            case(
                "pod podIPs and hostIPs merge by ip",
                "Pod",
                json!({"status": {"podIPs": [{"ip": "10.0.0.1"}], "hostIPs": [{"ip": "192.168.0.1"}]}}),
                json!({"status": {"podIPs": [{"ip": "fd00::1"}], "hostIPs": [{"ip": "192.168.0.1"}]}}),
                json!({"status": {"podIPs": [{"ip": "fd00::1"}, {"ip": "10.0.0.1"}],
                    "hostIPs": [{"ip": "192.168.0.1"}]}}),
            ),
            case(
                "ownerReferences merge by uid",
                "Pod",
                json!({"metadata": {"ownerReferences": [
                    {"uid": "u1", "name": "a", "controller": true}, {"uid": "u2", "name": "b"}]}}),
                json!({"metadata": {"ownerReferences": [{"uid": "u2", "name": "b2"}]}}),
                json!({"metadata": {"ownerReferences": [
                    {"uid": "u1", "name": "a", "controller": true}, {"uid": "u2", "name": "b2"}]}}),
            ),
            case(
                "finalizers are a set union keeping order",
                "ConfigMap",
                json!({"metadata": {"finalizers": ["a", "b"]}}),
                json!({"metadata": {"finalizers": ["b", "c", "c"]}}),
                json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
            ),
            case(
                "finalizers not in the live list go first, as upstream",
                "PersistentVolumeClaim",
                json!({"metadata": {"finalizers": ["a", "b"]}}),
                json!({"metadata": {"finalizers": ["c"]}}),
                json!({"metadata": {"finalizers": ["c", "a", "b"]}}),
            ),
            case(
                "Service ports merge by port, status conditions by type",
                "Service",
                json!({"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080},
                    {"name": "https", "port": 443}]},
                    "status": {"conditions": [{"type": "A", "status": "False"}, {"type": "B", "status": "True"}]}}),
                json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]},
                    "status": {"conditions": [{"type": "A", "status": "True"}]}}),
                json!({"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 9090},
                    {"name": "https", "port": 443}]},
                    "status": {"conditions": [{"type": "A", "status": "True"}, {"type": "B", "status": "True"}]}}),
            ),
            case(
                "an int and a float merge key never match, as in kube-apiserver",
                "Service",
                json!({"spec": {"ports": [{"name": "a", "port": 80}]}}),
                json!({"spec": {"ports": [{"name": "b", "port": 80.0}]}}),
                json!({"spec": {"ports": [{"name": "b", "port": 80.0}, {"name": "a", "port": 80}]}}),
            ),
            case(
                "Node podCIDRs union, conditions and addresses by type",
                "Node",
                json!({"spec": {"podCIDRs": ["10.0.0.0/24"]}, "status": {
                    "conditions": [{"type": "Ready", "status": "False"}, {"type": "DiskPressure", "status": "False"}],
                    "addresses": [{"type": "InternalIP", "address": "1.2.3.4"}, {"type": "Hostname", "address": "n1"}]}}),
                json!({"spec": {"podCIDRs": ["fd00::/64"]}, "status": {
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "addresses": [{"type": "InternalIP", "address": "5.6.7.8"}]}}),
                json!({"spec": {"podCIDRs": ["fd00::/64", "10.0.0.0/24"]}, "status": {
                    "conditions": [{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "False"}],
                    "addresses": [{"type": "InternalIP", "address": "5.6.7.8"}, {"type": "Hostname", "address": "n1"}]}}),
            ),
            case(
                "Namespace status conditions merge by type",
                "Namespace",
                json!({"status": {"phase": "Active", "conditions": [{"type": "A", "status": "True"}, {"type": "B"}]}}),
                json!({"status": {"conditions": [{"type": "B", "status": "False"}]}}),
                json!({"status": {"phase": "Active",
                    "conditions": [{"type": "A", "status": "True"}, {"type": "B", "status": "False"}]}}),
            ),
            case(
                "PersistentVolumeClaim status conditions merge by type",
                "PersistentVolumeClaim",
                json!({"status": {"conditions": [{"type": "Resizing", "status": "True"}, {"type": "X"}]}}),
                json!({"status": {"conditions": [{"type": "Resizing", "status": "False"}]}}),
                json!({"status": {"conditions": [{"type": "Resizing", "status": "False"}, {"type": "X"}]}}),
            ),
            case(
                "StatefulSet status conditions merge; volumeClaimTemplates replace",
                "StatefulSet",
                json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]},
                    "status": {"conditions": [{"type": "A", "status": "True"}, {"type": "B"}]}}),
                json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "c"}}]},
                    "status": {"conditions": [{"type": "A", "status": "False"}]}}),
                json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "c"}}]},
                    "status": {"conditions": [{"type": "A", "status": "False"}, {"type": "B"}]}}),
            ),
            case(
                "ServiceAccount secrets merge by name",
                "ServiceAccount",
                json!({"secrets": [{"name": "a"}], "imagePullSecrets": [{"name": "x"}]}),
                json!({"secrets": [{"name": "a", "namespace": "ns"}], "imagePullSecrets": [{"name": "y"}]}),
                json!({"secrets": [{"name": "a", "namespace": "ns"}], "imagePullSecrets": [{"name": "y"}]}),
            ),
            case(
                "events.k8s.io Event has no merging lists",
                "Event",
                json!({"metadata": {"name": "e"}, "note": "old", "related": {"name": "x"}}),
                json!({"note": "new", "series": {"count": 2}}),
                json!({"metadata": {"name": "e"}, "note": "new", "related": {"name": "x"}, "series": {"count": 2}}),
            ),
        ]);
    }

    /// Each PodSpec merging list keeps unpatched elements and merges the patched one.
    #[test]
    fn pod_spec_merge_keys() {
        let table = [
            ("volumes", "name"),
            ("initContainers", "name"),
            ("ephemeralContainers", "name"),
            ("imagePullSecrets", "name"),
            ("hostAliases", "ip"),
            ("topologySpreadConstraints", "topologyKey"),
            ("schedulingGates", "name"),
            ("resourceClaims", "name"),
        ];
        for (field, key) in table {
            let original = json!({"spec": {field: [{key: "x", "a": 1}, {key: "y"}]}});
            let patch = json!({"spec": {field: [{key: "x", "b": 2}]}});
            let want = json!({"spec": {field: [{key: "x", "a": 1, "b": 2}, {key: "y"}]}});
            let got = strategic_merge_patch(&original, &patch, "Pod").map_err(|e| e.to_string());
            assert_eq!(got, Ok(want), "{field}");
            let template = |spec: Value| json!({"spec": {"template": spec}});
            let got = strategic_merge_patch(&template(original), &template(patch), "StatefulSet")
                .map_err(|e| e.to_string());
            let want = template(json!({"spec": {field: [{key: "x", "a": 1, "b": 2}, {key: "y"}]}}));
            assert_eq!(got, Ok(want), "template {field}");
        }
    }

    #[test]
    fn directives() {
        run(vec![
            case(
                "$patch: replace on a map",
                "Pod",
                json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
                json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}}),
                json!({"metadata": {"labels": {"c": "3"}}}),
            ),
            case(
                "$patch: delete on a map empties it",
                "Pod",
                json!({"metadata": {"name": "p", "labels": {"a": "1"}}}),
                json!({"metadata": {"labels": {"$patch": "delete"}}}),
                json!({"metadata": {"name": "p", "labels": {}}}),
            ),
            case(
                "$patch: replace at the root",
                "Pod",
                json!({"metadata": {"name": "p", "labels": {"a": "1"}}, "spec": {}}),
                json!({"$patch": "replace", "metadata": {"name": "q",
                    "$setElementOrder/finalizers": ["a"], "finalizers": ["a"]}}),
                json!({"metadata": {"name": "q", "finalizers": ["a"]}}),
            ),
            case(
                "$patch: delete at the root",
                "Pod",
                json!({"metadata": {"name": "p"}}),
                json!({"$patch": "delete"}),
                json!({}),
            ),
            case(
                "$patch: replace on a map the original lacks drops it, as upstream",
                "Pod",
                json!({"metadata": {"name": "p"}}),
                json!({"metadata": {"labels": {"$patch": "replace", "a": "1"}}}),
                json!({"metadata": {"name": "p"}}),
            ),
            case(
                "$patch: delete list element",
                "Pod",
                containers(
                    json!([{"name": "web", "env": [{"name": "A", "value": "1"}, {"name": "B"}]}]),
                ),
                containers(json!([{"name": "web", "env": [{"name": "A", "$patch": "delete"}]}])),
                containers(json!([{"name": "web", "env": [{"name": "B"}]}])),
            ),
            case(
                "$patch: replace list element replaces the list",
                "Pod",
                containers(json!([{"name": "a"}, {"name": "b"}])),
                containers(json!([{"$patch": "replace"}, {"name": "c", "image": "x",
                    "env": [{"name": "Z", "$patch": "delete"}]}])),
                containers(json!([{"name": "c", "image": "x", "env": []}])),
            ),
            case(
                "$retainKeys clears unlisted keys of a volume",
                "Pod",
                json!({"spec": {"volumes": [{"name": "data", "emptyDir": {}}, {"name": "other", "emptyDir": {}}]}}),
                json!({"spec": {"volumes": [{"name": "data", "hostPath": {"path": "/x"},
                    "$retainKeys": ["hostPath", "name"]}]}}),
                json!({"spec": {"volumes": [{"name": "data", "hostPath": {"path": "/x"}},
                    {"name": "other", "emptyDir": {}}]}}),
            ),
            case(
                "$deleteFromPrimitiveList removes finalizers",
                "Pod",
                json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
                json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}),
                json!({"metadata": {"finalizers": ["a", "c"]}}),
            ),
            case(
                "$deleteFromPrimitiveList applies after additions",
                "Pod",
                json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
                json!({"metadata": {"finalizers": ["d"], "$deleteFromPrimitiveList/finalizers": ["a"]}}),
                json!({"metadata": {"finalizers": ["d", "b", "c"]}}),
            ),
            case(
                "$deleteFromPrimitiveList on a missing list adds nothing",
                "Pod",
                json!({"metadata": {"name": "p"}}),
                json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
                json!({"metadata": {"name": "p"}}),
            ),
            case(
                "kubectl apply on a primitive list: order, add and delete",
                "Pod",
                json!({"metadata": {"finalizers": ["a", "b"]}}),
                json!({"metadata": {"$setElementOrder/finalizers": ["c", "a"], "finalizers": ["c"],
                    "$deleteFromPrimitiveList/finalizers": ["b"]}}),
                json!({"metadata": {"finalizers": ["c", "a"]}}),
            ),
            case(
                "$setElementOrder alone reorders",
                "Pod",
                containers(json!([{"name": "a"}, {"name": "b"}, {"name": "c"}])),
                json!({"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}}),
                containers(json!([{"name": "c"}, {"name": "a"}, {"name": "b"}])),
            ),
            case(
                "$setElementOrder interleaves server-only items by their live position",
                "Pod",
                containers(json!([{"name": "a"}, {"name": "b"}, {"name": "c"}])),
                json!({"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
                    "containers": [{"name": "c", "image": "x"}]}}),
                containers(json!([{"name": "b"}, {"name": "c", "image": "x"}, {"name": "a"}])),
            ),
            case(
                "$setElementOrder on a list the original lacks",
                "Pod",
                json!({"spec": {}}),
                json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                    "containers": [{"name": "b"}, {"name": "a", "env": [{"name": "X", "$patch": "delete"}]}]}}),
                containers(json!([{"name": "b"}, {"name": "a", "env": []}])),
            ),
            case(
                "directives in a value the original lacks are removed",
                "Pod",
                json!({"spec": {}}),
                json!({"spec": {"$retainKeys": ["initContainers"], "initContainers": [{"name": "i",
                    "$setElementOrder/env": [{"name": "B"}],
                    "env": [{"name": "A", "$patch": "delete"}, {"name": "B", "value": null}]}]}}),
                json!({"spec": {"initContainers": [{"name": "i", "env": [{"name": "B"}]}]}}),
            ),
            case(
                "kubectl apply removes an env var with $setElementOrder and $patch: delete",
                "StatefulSet",
                json!({"metadata": {"name": "web", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
                    "spec": {"replicas": 2, "template": {"spec": {"containers": [
                        {"name": "web", "image": "nginx", "env": [
                            {"name": "KEEP", "value": "1"}, {"name": "X", "value": "2"}]},
                        {"name": "log", "image": "busybox"}]}}}}),
                json!({"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"new\":1}"}},
                    "spec": {"template": {"spec": {
                        "$setElementOrder/containers": [{"name": "web"}, {"name": "log"}],
                        "containers": [{"$setElementOrder/env": [{"name": "KEEP"}],
                            "env": [{"$patch": "delete", "name": "X"}], "name": "web"}]}}}}),
                json!({"metadata": {"name": "web", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"new\":1}"}},
                    "spec": {"replicas": 2, "template": {"spec": {"containers": [
                        {"name": "web", "image": "nginx", "env": [{"name": "KEEP", "value": "1"}]},
                        {"name": "log", "image": "busybox"}]}}}}),
            ),
        ]);
    }

    #[test]
    fn errors() {
        use StrategicPatchError as E;
        let pod = json!({"metadata": {"name": "p", "labels": {"x": "y"}},
            "spec": {"containers": [{"name": "web", "env": [{"name": "A"}]}]}});
        let table: Vec<(&str, Value, Value, E)> = vec![
            (
                "array patch",
                pod.clone(),
                json!([1]),
                E::PatchNotObject("array"),
            ),
            (
                "string patch",
                pod.clone(),
                json!("x"),
                E::PatchNotObject("string"),
            ),
            (
                "number patch",
                pod.clone(),
                json!(1),
                E::PatchNotObject("number"),
            ),
            (
                "bool patch",
                pod.clone(),
                json!(true),
                E::PatchNotObject("bool"),
            ),
            (
                "original not an object",
                json!([]),
                json!({}),
                E::BadJsonDoc,
            ),
            (
                "element without merge key",
                pod.clone(),
                containers(json!([{"image": "x"}])),
                E::NoMergeKey {
                    map: "map[image:x]".into(),
                    key: "name".into(),
                },
            ),
            (
                "delete element without merge key",
                pod.clone(),
                containers(json!([{"$patch": "delete"}])),
                E::NoMergeKey {
                    map: "map[$patch:delete]".into(),
                    key: "name".into(),
                },
            ),
            (
                "$patch: merge list element",
                pod.clone(),
                containers(json!([{"$patch": "merge"}])),
                E::MergeListDirective,
            ),
            (
                "unknown $patch list element",
                pod.clone(),
                containers(json!([{"name": "a", "$patch": "keep"}])),
                E::BadPatchType {
                    patch_type: "keep".into(),
                    map: "map[$patch:keep name:a]".into(),
                },
            ),
            (
                "unknown $patch on a map",
                json!({"metadata": {"labels": {"x": "y"}}}),
                json!({"metadata": {"labels": {"$patch": "foo", "a": "b"}}}),
                E::BadPatchType {
                    patch_type: "foo".into(),
                    map: "map[$patch:foo a:b]".into(),
                },
            ),
            (
                "$retainKeys not a list",
                pod.clone(),
                json!({"spec": {"$retainKeys": "containers"}}),
                E::BadPatchFormatForRetainKeys,
            ),
            (
                "patch key missing from $retainKeys",
                pod.clone(),
                json!({"spec": {"$retainKeys": ["volumes"], "hostname": "h"}}),
                E::BadPatchFormatForRetainKeys,
            ),
            (
                "$deleteFromPrimitiveList without a field",
                pod.clone(),
                json!({"metadata": {"$deleteFromPrimitiveList": ["a"]}}),
                E::BadPatchFormatForPrimitiveList,
            ),
            (
                "$setElementOrder without a field",
                pod.clone(),
                json!({"spec": {"$setElementOrder": [{"name": "web"}]}}),
                E::BadPatchFormatForSetElementOrderList,
            ),
            (
                "$setElementOrder not a list",
                pod.clone(),
                json!({"spec": {"$setElementOrder/containers": {"name": "web"}}}),
                E::BadArgType {
                    expected: GO_SLICE,
                    actual: GO_MAP,
                },
            ),
            (
                "$setElementOrder contradicting the patch list",
                pod.clone(),
                json!({"spec": {"$setElementOrder/containers": [{"name": "web"}],
                    "containers": [{"name": "other"}]}}),
                E::SetElementOrderMismatch {
                    patch: "[map[name:other]]".into(),
                    order: "[map[name:web]]".into(),
                },
            ),
            (
                "lists of lists",
                json!({"metadata": {"finalizers": []}}),
                json!({"metadata": {"finalizers": [["a"]]}}),
                E::NoListOfLists,
            ),
            (
                "mixed element types",
                json!({"metadata": {"finalizers": ["a"]}}),
                json!({"metadata": {"finalizers": [1]}}),
                E::MixedElementTypes("[[a] [1]]".into()),
            ),
            (
                "objects in a primitive merging list",
                json!({"metadata": {"finalizers": []}}),
                json!({"metadata": {"finalizers": [{"a": 1}]}}),
                E::NoMergeKeyForPrimitives,
            ),
            (
                "primitives in a list merged by key",
                json!({"spec": {"containers": []}}),
                containers(json!(["web"])),
                E::BadArgType {
                    expected: GO_MAP,
                    actual: "string",
                },
            ),
        ];
        for (name, original, patch, want) in table {
            assert_eq!(
                strategic_merge_patch(&original, &patch, "Pod"),
                Err(want),
                "{name}"
            );
        }
    }

    #[test]
    fn error_texts_and_status_codes() {
        let table = [
            (
                StrategicPatchError::PatchNotObject("array"),
                "json: cannot unmarshal array into Go value of type map[string]interface {}",
                400,
            ),
            (
                StrategicPatchError::NoMergeKey {
                    map: "map[image:x]".into(),
                    key: "name".into(),
                },
                "map: map[image:x] does not contain declared merge key: name",
                500,
            ),
            (
                StrategicPatchError::BadPatchFormatForSetElementOrderList,
                "invalid patch format of setElementOrder list",
                400,
            ),
            (
                StrategicPatchError::BadPatchFormatForRetainKeys,
                "invalid patch format of retainKeys",
                400,
            ),
            (
                StrategicPatchError::NoListOfLists,
                "lists of lists are not supported",
                422,
            ),
            (
                StrategicPatchError::MergeListDirective,
                "merging lists cannot yet be specified in the patch",
                500,
            ),
        ];
        for (err, text, code) in table {
            assert_eq!(err.to_string(), text);
            assert_eq!(err.status_code(), code, "{text}");
        }
    }

    #[test]
    fn go_formatting() {
        let table = [
            (json!({"b": [1, "x"], "a": null}), "map[a:<nil> b:[1 x]]"),
            (json!(0.5), "0.5"),
            (json!(123456.0), "123456"),
            (json!(1000000.0), "1e+06"),
            (json!(0.000015), "1.5e-05"),
            (json!(true), "true"),
        ];
        for (value, want) in table {
            assert_eq!(go_fmt(&value), want);
        }
    }

    #[test]
    fn inputs_are_not_modified() {
        let original = containers(json!([{"name": "a", "env": [{"name": "X"}]}]));
        let patch = containers(json!([{"name": "a", "env": [{"name": "X", "$patch": "delete"}]}]));
        let (original_before, patch_before) = (original.clone(), patch.clone());
        let got = strategic_merge_patch(&original, &patch, "Pod");
        assert_eq!(got, Ok(containers(json!([{"name": "a", "env": []}]))));
        assert_eq!((original, patch), (original_before, patch_before));
    }
}
