//! Server-side `meta.k8s.io/v1` Table output, the form `kubectl get` asks for.
//!
//! Mirrors kube-apiserver: the column definitions and cell logic of
//! `pkg/printers/internalversion/printers.go` (always generated with `Wide: true`, as the
//! server does, so `-o wide` columns carry `priority: 1`), the default convertor of
//! `k8s.io/apiserver/pkg/registry/rest/table.go` for every other resource, and the
//! `includeObject` handling of `handlers/response.go` (`asTable`).
//!
//! The printers read the internal (defaulted, converted) object, so the few v1 defaults
//! and conversions they depend on are applied here when a stored object lacks them
//! (service type and protocol, secret type, PV/PVC phase and volume mode, pod phase,
//! namespace phase, statefulset replicas, `podIP`/`clusterIP` singular fallbacks,
//! `events.k8s.io/v1` field names).

mod columns;
mod printers;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::machinery::quantity::canonical as canonical_quantity;
use columns::*;
use printers::*;

/// What each row carries in `object` (`?includeObject=None|Metadata|Object`; the default is Metadata).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IncludeObject {
    /// `object: null`.
    None,
    /// A `meta.k8s.io/v1` `PartialObjectMetadata` with the object's metadata.
    #[default]
    Metadata,
    /// The full stored object.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query value (`""` means the default, Metadata); `None` for
    /// an unrecognised value, which upstream answers with 400 `unrecognized includeObject value: %q`.
    pub fn parse(value: &str) -> Option<IncludeObject> {
        match value {
            "" | "Metadata" => Some(IncludeObject::Metadata),
            "None" => Some(IncludeObject::None),
            "Object" => Some(IncludeObject::Object),
            _ => None,
        }
    }
}

/// Builds a `meta.k8s.io/v1` Table for `resource` (plural, e.g. "pods", "statefulsets") from `items`.
/// `now` is the current time (for AGE columns); `list_meta` is the list's metadata (resourceVersion, continue),
/// copied to the Table's `metadata` (for a single object upstream uses the object's resourceVersion).
pub fn to_table(
    resource: &str,
    items: &[&Value],
    include: IncludeObject,
    list_meta: Value,
    now: Timestamp,
) -> Value {
    let printer = printer_for(resource);
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let row = (printer.print)(item, now);
            let mut out = Map::new();
            out.insert("cells".into(), Value::Array(row.cells));
            if let Some(conditions) = row.conditions {
                out.insert("conditions".into(), conditions);
            }
            out.insert("object".into(), row_object(item, include));
            Value::Object(out)
        })
        .collect();
    let metadata = match list_meta {
        Value::Object(m) => Value::Object(m),
        _ => Value::Object(Map::new()),
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": printer.columns.iter().map(Column::to_json).collect::<Vec<_>>(),
        "rows": rows,
    })
}

/// `duration.HumanDuration` of k8s.io/apimachinery: ~2-3 significant figures of a duration
/// given in whole seconds (truncated toward zero, as Go's `int(d.Seconds())`).
pub fn human_duration(d_seconds: i64) -> String {
    let seconds = d_seconds;
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        format!("{hours}h{m}m")
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        format!("{}d{h}h", hours / 24)
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        format!("{}y{dy}d", hours / 24 / 365)
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

// ---------------------------------------------------------------------------------------------
// Table plumbing
// ---------------------------------------------------------------------------------------------

/// One `TableColumnDefinition`.
struct Column {
    name: &'static str,
    kind: &'static str,
    format: &'static str,
    description: &'static str,
    priority: i32,
}

impl Column {
    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.kind,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// A priority-0 column of type `kind`.
const fn col(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind,
        format: "",
        description,
        priority: 0,
    }
}

/// A priority-1 (`-o wide`) string column.
const fn wide(name: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind: "string",
        format: "",
        description,
        priority: 1,
    }
}

/// The `Name` column every printer starts with.
const NAME: Column = Column {
    name: "Name",
    kind: "string",
    format: "name",
    description: D_NAME,
    priority: 0,
};

/// The `Age` column.
const AGE: Column = col("Age", "string", D_CREATED);

/// Cells (and optional row conditions) of one row.
struct Row {
    cells: Vec<Value>,
    conditions: Option<Value>,
}

impl Row {
    fn new(cells: Vec<Value>) -> Row {
        Row {
            cells,
            conditions: None,
        }
    }
}

/// Fills one row's cells from a stored object.
type PrintFn = fn(&Value, Timestamp) -> Row;

/// Columns plus the function filling one row.
struct Printer {
    columns: &'static [Column],
    print: PrintFn,
}

fn printer_for(resource: &str) -> Printer {
    let (columns, print): (&'static [Column], PrintFn) = match resource {
        "pods" => (POD_COLUMNS, print_pod),
        "statefulsets" => (STATEFULSET_COLUMNS, print_statefulset),
        "services" => (SERVICE_COLUMNS, print_service),
        "endpoints" => (ENDPOINTS_COLUMNS, print_endpoints),
        "endpointslices" => (ENDPOINTSLICE_COLUMNS, print_endpointslice),
        "events" => (EVENT_COLUMNS, print_event),
        "namespaces" => (NAMESPACE_COLUMNS, print_namespace),
        "nodes" => (NODE_COLUMNS, print_node),
        "persistentvolumeclaims" => (PVC_COLUMNS, print_pvc),
        "persistentvolumes" => (PV_COLUMNS, print_pv),
        "storageclasses" => (STORAGECLASS_COLUMNS, print_storageclass),
        "configmaps" => (CONFIGMAP_COLUMNS, print_configmap),
        "controllerrevisions" => (CONTROLLERREVISION_COLUMNS, print_controllerrevision),
        "serviceaccounts" => (SERVICEACCOUNT_COLUMNS, print_serviceaccount),
        "secrets" => (SECRET_COLUMNS, print_secret),
        "rolebindings" => (ROLEBINDING_COLUMNS, print_rolebinding),
        "clusterrolebindings" => (CLUSTERROLEBINDING_COLUMNS, print_rolebinding),
        "leases" => (LEASE_COLUMNS, print_lease),
        _ => (DEFAULT_COLUMNS, print_default),
    };
    Printer { columns, print }
}

/// The row's `object` per `includeObject` (`asTable` in handlers/response.go).
fn row_object(item: &Value, include: IncludeObject) -> Value {
    match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Object => item.clone(),
        IncludeObject::Metadata => {
            let metadata = match item.get("metadata") {
                Some(m @ Value::Object(_)) => m.clone(),
                _ => Value::Object(Map::new()),
            };
            json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": metadata,
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON access helpers (absent and `null` are the same, as for a Go nil pointer / zero value)
// ---------------------------------------------------------------------------------------------

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(v, |v, key| v.get(*key))
        .filter(|v| !v.is_null())
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    at(v, path).and_then(Value::as_str).unwrap_or("")
}

fn int_at(v: &Value, path: &[&str]) -> i64 {
    at(v, path).and_then(Value::as_i64).unwrap_or(0)
}

fn bool_at(v: &Value, path: &[&str]) -> bool {
    at(v, path).and_then(Value::as_bool).unwrap_or(false)
}

fn list_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn map_len(v: &Value, path: &[&str]) -> usize {
    at(v, path).and_then(Value::as_object).map_or(0, Map::len)
}

fn name(obj: &Value) -> &str {
    str_at(obj, &["metadata", "name"])
}

fn is_deleting(obj: &Value) -> bool {
    at(obj, &["metadata", "deletionTimestamp"]).is_some()
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    at(obj, &["metadata", "annotations", key]).and_then(Value::as_str)
}

fn or_default<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.is_empty() { default } else { value }
}

fn s(value: impl Into<String>) -> Value {
    Value::String(value.into())
}

// ---------------------------------------------------------------------------------------------
// Time helpers
// ---------------------------------------------------------------------------------------------

/// Unix seconds of Go's zero `time.Time` (0001-01-01T00:00:00Z), which `IsZero` treats as unset.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// Parses an RFC 3339 `metav1.Time`/`MicroTime`; `None` when absent, unparsable or Go's zero time.
fn parse_time(v: Option<&Value>) -> Option<Timestamp> {
    let t: Timestamp = v?.as_str()?.parse().ok()?;
    if t.as_second() == GO_ZERO_TIME_SECONDS && t.subsec_nanosecond() == 0 {
        return None;
    }
    Some(t)
}

/// `duration.HumanDuration(now - t)`.
fn since(now: Timestamp, t: Timestamp) -> String {
    let secs = (now.as_nanosecond() - t.as_nanosecond()) / 1_000_000_000;
    human_duration(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// `translateTimestampSince`: `<unknown>` for a missing timestamp.
fn translate_since(now: Timestamp, v: Option<&Value>) -> String {
    parse_time(v).map_or_else(|| "<unknown>".to_string(), |t| since(now, t))
}

fn age(obj: &Value, now: Timestamp) -> Value {
    s(translate_since(
        now,
        at(obj, &["metadata", "creationTimestamp"]),
    ))
}

/// Keeps the later of `current` and `candidate` (`lastRestartDate.Before(&terminatedDate)`).
fn keep_latest(current: &mut Option<Timestamp>, candidate: Option<Timestamp>) {
    if let Some(c) = candidate
        && current.is_none_or(|cur| cur < c)
    {
        *current = Some(c);
    }
}

// ---------------------------------------------------------------------------------------------
// Shared formatting helpers
// ---------------------------------------------------------------------------------------------

/// `labels.FormatLabels`: sorted `k=v` pairs joined by commas, `<none>` when empty.
fn format_labels(v: Option<&Value>) -> String {
    let mut pairs: Vec<String> = v
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    if pairs.is_empty() {
        "<none>".into()
    } else {
        pairs.join(",")
    }
}

/// `layoutContainerCells`: container names and images, comma separated.
fn container_cells(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

/// `listWithMoreString`.
fn list_with_more(list: &[String], more: bool, count: usize, max: usize) -> String {
    let ret = list.join(",");
    if more {
        return format!("{ret} + {} more...", count.saturating_sub(max));
    }
    if ret.is_empty() {
        "<unset>".into()
    } else {
        ret
    }
}

/// `net.JoinHostPort`.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `helper.GetAccessModesAsString`: deduplicated, in the fixed order RWO, ROX, RWX, RWOP.
fn access_modes(modes: &[Value]) -> String {
    let has = |mode: &str| modes.iter().any(|m| m.as_str() == Some(mode));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| has(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// The beta storage class annotation the PV/PVC class helpers prefer.
const BETA_STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

#[cfg(test)]
mod tests;
