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

use jiff::Timestamp;
use serde_json::{Map, Value, json};

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
// Column descriptions (the SwaggerDoc strings upstream references)
// ---------------------------------------------------------------------------------------------

const D_NAME: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const D_CREATED: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const D_CONTAINERS: &str = "Names of each container in the template.";
const D_IMAGES: &str = "Images referenced by each container in the template.";

const POD_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Ready",
        "string",
        "The aggregate readiness state of this pod for accepting traffic.",
    ),
    col(
        "Status",
        "string",
        "The aggregate status of the containers in this pod.",
    ),
    col(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE,
    wide(
        "IP",
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
    ),
    wide(
        "Node",
        "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
    ),
    wide(
        "Nominated Node",
        "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.",
    ),
    wide(
        "Readiness Gates",
        "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
    ),
];

const STATEFULSET_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    AGE,
    wide("Containers", D_CONTAINERS),
    wide("Images", D_IMAGES),
];

const SERVICE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Type",
        "string",
        "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types",
    ),
    col(
        "Cluster-IP",
        "string",
        "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies",
    ),
    col(
        "External-IP",
        "string",
        "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.",
    ),
    col(
        "Port(s)",
        "string",
        "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies",
    ),
    AGE,
    wide(
        "Selector",
        "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/",
    ),
];

const ENDPOINTS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Endpoints",
        "string",
        "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service.",
    ),
    AGE,
];

const ENDPOINTSLICE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "AddressType",
        "string",
        "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name.",
    ),
    col(
        "Ports",
        "string",
        "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined with a nil port value, it indicates \"all ports\". Each slice may include a maximum of 100 ports.",
    ),
    col(
        "Endpoints",
        "string",
        "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.",
    ),
    AGE,
];

const EVENT_COLUMNS: &[Column] = &[
    col(
        "Last Seen",
        "string",
        "The time at which the most recent occurrence of this event was recorded.",
    ),
    col(
        "Type",
        "string",
        "Type of this event (Normal, Warning), new types could be added in the future",
    ),
    col(
        "Reason",
        "string",
        "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
    ),
    col("Object", "string", "The object that this event is about."),
    wide(
        "Subobject",
        "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.",
    ),
    wide(
        "Source",
        "The component reporting this event. Should be a short machine understandable string.",
    ),
    col(
        "Message",
        "string",
        "A human-readable description of the status of this operation.",
    ),
    wide(
        "First Seen",
        "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
    ),
    wide("Count", "The number of times this event has occurred."),
    Column {
        name: "Name",
        kind: "string",
        format: "name",
        description: D_NAME,
        priority: 1,
    },
];

const NAMESPACE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the namespace"),
    AGE,
];

const D_NODE_ADDRESSES: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";

const NODE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the node"),
    col("Roles", "string", "The roles of the node"),
    AGE,
    col("Version", "string", "Kubelet Version reported by the node."),
    wide("Internal-IP", D_NODE_ADDRESSES),
    wide("External-IP", D_NODE_ADDRESSES),
    wide(
        "OS-Image",
        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
    ),
    wide(
        "Kernel-Version",
        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
    ),
    wide(
        "Container-Runtime",
        "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
    ),
];

const PV_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Capacity",
        "string",
        "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity",
    ),
    col(
        "Access Modes",
        "string",
        "accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes",
    ),
    col(
        "Reclaim Policy",
        "string",
        "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming",
    ),
    col(
        "Status",
        "string",
        "phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase",
    ),
    col(
        "Claim",
        "string",
        "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding",
    ),
    col("StorageClass", "string", "StorageClass of the pv"),
    col(
        "VolumeAttributesClass",
        "string",
        "VolumeAttributesClass of the pv",
    ),
    col(
        "Reason",
        "string",
        "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.",
    ),
    AGE,
    wide(
        "VolumeMode",
        "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.",
    ),
];

const PVC_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Status",
        "string",
        "phase represents the current phase of PersistentVolumeClaim.",
    ),
    col(
        "Volume",
        "string",
        "volumeName is the binding reference to the PersistentVolume backing this claim.",
    ),
    col(
        "Capacity",
        "string",
        "capacity represents the actual resources of the underlying volume.",
    ),
    col(
        "Access Modes",
        "string",
        "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1",
    ),
    col("StorageClass", "string", "StorageClass of the pvc"),
    col(
        "VolumeAttributesClass",
        "string",
        "VolumeAttributesClass of the pvc",
    ),
    AGE,
    wide(
        "VolumeMode",
        "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.",
    ),
];

const STORAGECLASS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Provisioner",
        "string",
        "provisioner indicates the type of the provisioner.",
    ),
    col(
        "ReclaimPolicy",
        "string",
        "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.",
    ),
    col(
        "VolumeBindingMode",
        "string",
        "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature.",
    ),
    col(
        "AllowVolumeExpansion",
        "string",
        "allowVolumeExpansion shows whether the storage class allow volume expand.",
    ),
    AGE,
];

const CONFIGMAP_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Data",
        "string",
        "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
    ),
    AGE,
];

const CONTROLLERREVISION_COLUMNS: &[Column] = &[
    NAME,
    col("Controller", "string", "Controller of the object"),
    col(
        "Revision",
        "string",
        "Revision indicates the revision of the state represented by Data.",
    ),
    AGE,
];

const SERVICEACCOUNT_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Secrets",
        "string",
        "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret",
    ),
    AGE,
];

const SECRET_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Type",
        "string",
        "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
    ),
    col(
        "Data",
        "string",
        "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
    ),
    AGE,
];

const ROLEBINDING_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Role",
        "string",
        "roleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.",
    ),
    AGE,
    wide("Users", "Users in the roleBinding"),
    wide("Groups", "Groups in the roleBinding"),
    wide("ServiceAccounts", "ServiceAccounts in the roleBinding"),
];

const CLUSTERROLEBINDING_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Role",
        "string",
        "roleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.",
    ),
    AGE,
    wide("Users", "Users in the clusterRoleBinding"),
    wide("Groups", "Groups in the clusterRoleBinding"),
    wide(
        "ServiceAccounts",
        "ServiceAccounts in the clusterRoleBinding",
    ),
];

const LEASE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Holder",
        "string",
        "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.",
    ),
    AGE,
];

/// `rest.defaultTableConvertor` (upstream: type "date", no format).
const DEFAULT_COLUMNS: &[Column] = &[NAME, col("Created At", "date", D_CREATED)];

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

// ---------------------------------------------------------------------------------------------
// Printers
// ---------------------------------------------------------------------------------------------

fn print_default(obj: &Value, _now: Timestamp) -> Row {
    let created = parse_time(at(obj, &["metadata", "creationTimestamp"])).map_or_else(
        || "0001-01-01T00:00:00Z".to_string(),
        |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    Row::new(vec![s(name(obj)), s(created)])
}

fn condition_status<'a>(conditions: &'a [Value], kind: &str) -> Option<&'a str> {
    conditions
        .iter()
        .find(|c| str_at(c, &["type"]) == kind)
        .map(|c| str_at(c, &["status"]))
}

fn is_restartable_init_container(container: Option<&Value>) -> bool {
    container.is_some_and(|c| str_at(c, &["restartPolicy"]) == "Always")
}

fn print_pod(pod: &Value, now: Timestamp) -> Row {
    let init_specs = list_at(pod, &["spec", "initContainers"]);
    let conditions = list_at(pod, &["status", "conditions"]);
    // The pod strategy sets phase Pending on create.
    let phase = or_default(str_at(pod, &["status", "phase"]), "Pending");
    let status_reason = str_at(pod, &["status", "reason"]);

    let mut restarts: i64 = 0;
    let mut restartable_restarts: i64 = 0;
    let mut total = list_at(pod, &["spec", "containers"]).len();
    let mut ready = 0usize;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_restartable_restart: Option<Timestamp> = None;
    let mut reason = or_default(status_reason, phase).to_string();

    if conditions.iter().any(|c| {
        str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated"
    }) {
        reason = "SchedulingGated".into();
    }

    let row_conditions = match phase {
        "Succeeded" => Some(json!([{
            "type": "Completed", "status": "True", "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }])),
        "Failed" => Some(json!([{
            "type": "Completed", "status": "True", "reason": "Failed",
            "message": "The pod failed.",
        }])),
        _ => None,
    };

    let init_spec = |container_name: &str| {
        init_specs
            .iter()
            .rev()
            .find(|c| str_at(c, &["name"]) == container_name)
    };
    total += init_specs
        .iter()
        .filter(|c| is_restartable_init_container(Some(c)))
        .count();

    let mut initializing = false;
    for (i, cs) in list_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let restart_count = int_at(cs, &["restartCount"]);
        let finished = parse_time(at(cs, &["lastState", "terminated", "finishedAt"]));
        restarts += restart_count;
        keep_latest(&mut last_restart, finished);
        let restartable = is_restartable_init_container(init_spec(str_at(cs, &["name"])));
        if restartable {
            restartable_restarts += restart_count;
            keep_latest(&mut last_restartable_restart, finished);
        }
        let terminated = at(cs, &["state", "terminated"]);
        let waiting_reason = at(cs, &["state", "waiting"]).map(|w| str_at(w, &["reason"]));
        if let Some(t) = terminated
            && int_at(t, &["exitCode"]) == 0
        {
            continue;
        }
        if restartable && bool_at(cs, &["started"]) {
            if bool_at(cs, &["ready"]) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            let terminated_reason = str_at(t, &["reason"]);
            reason = if !terminated_reason.is_empty() {
                format!("Init:{terminated_reason}")
            } else if int_at(t, &["signal"]) != 0 {
                format!("Init:Signal:{}", int_at(t, &["signal"]))
            } else {
                format!("Init:ExitCode:{}", int_at(t, &["exitCode"]))
            };
        } else if let Some(w) = waiting_reason
            && !w.is_empty()
            && w != "PodInitializing"
        {
            reason = format!("Init:{w}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    if !initializing || condition_status(conditions, "Initialized") == Some("True") {
        restarts = restartable_restarts;
        last_restart = last_restartable_restart;
        let mut has_running = false;
        for cs in list_at(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += int_at(cs, &["restartCount"]);
            keep_latest(
                &mut last_restart,
                parse_time(at(cs, &["lastState", "terminated", "finishedAt"])),
            );
            let waiting_reason = at(cs, &["state", "waiting"]).map(|w| str_at(w, &["reason"]));
            let terminated = at(cs, &["state", "terminated"]);
            if let Some(w) = waiting_reason
                && !w.is_empty()
            {
                reason = w.to_string();
            } else if let Some(t) = terminated {
                let terminated_reason = str_at(t, &["reason"]);
                reason = if !terminated_reason.is_empty() {
                    terminated_reason.to_string()
                } else if int_at(t, &["signal"]) != 0 {
                    format!("Signal:{}", int_at(t, &["signal"]))
                } else {
                    format!("ExitCode:{}", int_at(t, &["exitCode"]))
                };
            } else if bool_at(cs, &["ready"]) && at(cs, &["state", "running"]).is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_status(conditions, "Ready") == Some("True") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    if is_deleting(pod) && status_reason == "NodeLost" {
        reason = "Unknown".into();
    } else if is_deleting(pod) && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".into();
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(now, t)),
        _ => restarts.to_string(),
    };

    // v1 -> internal conversion fills podIPs from the singular podIP.
    let pod_ip = list_at(pod, &["status", "podIPs"])
        .first()
        .map(|ip| str_at(ip, &["ip"]))
        .unwrap_or_else(|| str_at(pod, &["status", "podIP"]));
    let gates = list_at(pod, &["spec", "readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_conditions = gates
            .iter()
            .filter(|g| condition_status(conditions, str_at(g, &["conditionType"])) == Some("True"))
            .count();
        format!("{true_conditions}/{}", gates.len())
    };

    Row {
        cells: vec![
            s(name(pod)),
            s(format!("{ready}/{total}")),
            s(reason),
            s(restarts_cell),
            age(pod, now),
            s(or_default(pod_ip, "<none>")),
            s(or_default(str_at(pod, &["spec", "nodeName"]), "<none>")),
            s(or_default(
                str_at(pod, &["status", "nominatedNodeName"]),
                "<none>",
            )),
            s(readiness_gates),
        ],
        conditions: row_conditions,
    }
}

fn print_statefulset(obj: &Value, now: Timestamp) -> Row {
    // spec.replicas defaults to 1.
    let desired = at(obj, &["spec", "replicas"])
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let ready = int_at(obj, &["status", "readyReplicas"]);
    let (names, images) =
        container_cells(list_at(obj, &["spec", "template", "spec", "containers"]));
    Row::new(vec![
        s(name(obj)),
        s(format!("{ready}/{desired}")),
        age(obj, now),
        s(names),
        s(images),
    ])
}

/// `loadBalancerStatusStringer` with `wide` (the server always prints wide): sorted unique IPs/hostnames.
fn load_balancer_ingress(obj: &Value) -> String {
    let mut result: Vec<&str> = list_at(obj, &["status", "loadBalancer", "ingress"])
        .iter()
        .map(|i| or_default(str_at(i, &["ip"]), str_at(i, &["hostname"])))
        .filter(|v| !v.is_empty())
        .collect();
    result.sort_unstable();
    result.dedup();
    result.join(",")
}

fn service_external_ip(svc: &Value, svc_type: &str) -> String {
    let external: Vec<&str> = list_at(svc, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match svc_type {
        "ClusterIP" | "NodePort" => {
            if external.is_empty() {
                "<none>".into()
            } else {
                external.join(",")
            }
        }
        "LoadBalancer" => {
            let lb = load_balancer_ingress(svc);
            if !external.is_empty() {
                let mut results: Vec<&str> = Vec::new();
                if !lb.is_empty() {
                    results.extend(lb.split(','));
                }
                results.extend(external.iter().copied());
                return results.join(",");
            }
            if lb.is_empty() {
                "<pending>".into()
            } else {
                lb
            }
        }
        "ExternalName" => str_at(svc, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".into(),
    }
}

fn service_ports(svc: &Value) -> String {
    let pieces: Vec<String> = list_at(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = int_at(p, &["port"]);
            let protocol = or_default(str_at(p, &["protocol"]), "TCP");
            let node_port = int_at(p, &["nodePort"]);
            if node_port > 0 {
                format!("{port}:{node_port}/{protocol}")
            } else {
                format!("{port}/{protocol}")
            }
        })
        .collect();
    if pieces.is_empty() {
        "<none>".into()
    } else {
        pieces.join(",")
    }
}

fn print_service(svc: &Value, now: Timestamp) -> Row {
    let svc_type = or_default(str_at(svc, &["spec", "type"]), "ClusterIP");
    let cluster_ip = list_at(svc, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .unwrap_or_else(|| str_at(svc, &["spec", "clusterIP"]));
    Row::new(vec![
        s(name(svc)),
        s(svc_type),
        s(or_default(cluster_ip, "<none>")),
        s(service_external_ip(svc, svc_type)),
        s(service_ports(svc)),
        age(svc, now),
        s(format_labels(at(svc, &["spec", "selector"]))),
    ])
}

/// `formatEndpoints` with all ports: the first three `ip:port` pairs, then `+ N more...`.
fn format_endpoints(obj: &Value) -> String {
    let subsets = list_at(obj, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".into();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for subset in subsets {
        let addresses = list_at(subset, &["addresses"]);
        let ports = list_at(subset, &["ports"]);
        if ports.is_empty() {
            count += addresses.len();
            for address in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(str_at(address, &["ip"]).to_string());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for address in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(join_host_port(
                    str_at(address, &["ip"]),
                    int_at(port, &["port"]),
                ));
            }
        }
    }
    let ret = list.join(",");
    if more {
        return format!("{ret} + {} more...", count.saturating_sub(MAX));
    }
    ret
}

fn print_endpoints(obj: &Value, now: Timestamp) -> Row {
    Row::new(vec![s(name(obj)), s(format_endpoints(obj)), age(obj, now)])
}

fn print_endpointslice(obj: &Value, now: Timestamp) -> Row {
    const MAX: usize = 3;
    let ports = list_at(obj, &["ports"]);
    let port_list: Vec<String> = ports
        .iter()
        .take(MAX)
        .map(|p| {
            if let Some(port) = at(p, &["port"]).and_then(Value::as_i64) {
                port.to_string()
            } else if let Some(port_name) = at(p, &["name"]) {
                port_name.as_str().unwrap_or("").to_string()
            } else {
                "*".to_string()
            }
        })
        .collect();
    let ports_cell = list_with_more(&port_list, ports.len() > MAX, ports.len(), MAX);

    let addresses: Vec<&str> = list_at(obj, &["endpoints"])
        .iter()
        .flat_map(|e| list_at(e, &["addresses"]))
        .map(|a| a.as_str().unwrap_or(""))
        .collect();
    let address_list: Vec<String> = addresses.iter().take(MAX).map(|a| a.to_string()).collect();
    let endpoints_cell = list_with_more(&address_list, addresses.len() > MAX, addresses.len(), MAX);

    Row::new(vec![
        s(name(obj)),
        s(str_at(obj, &["addressType"])),
        s(ports_cell),
        s(endpoints_cell),
        age(obj, now),
    ])
}

/// The fields the event printer reads, from either core/v1 or events.k8s.io/v1 JSON
/// (the latter converted as `Convert_v1_Event_To_core_Event` does).
struct EventFields<'a> {
    involved: Option<&'a Value>,
    message: &'a str,
    first_timestamp: Option<&'a Value>,
    last_timestamp: Option<&'a Value>,
    count: i64,
    source_component: &'a str,
    source_host: &'a str,
    reporting_controller: &'a str,
}

impl<'a> EventFields<'a> {
    fn of(event: &'a Value) -> EventFields<'a> {
        let events_api = str_at(event, &["apiVersion"]).starts_with("events.k8s.io/")
            || (at(event, &["involvedObject"]).is_none() && at(event, &["regarding"]).is_some());
        if events_api {
            EventFields {
                involved: at(event, &["regarding"]),
                message: str_at(event, &["note"]),
                first_timestamp: at(event, &["deprecatedFirstTimestamp"]),
                last_timestamp: at(event, &["deprecatedLastTimestamp"]),
                count: int_at(event, &["deprecatedCount"]),
                source_component: str_at(event, &["deprecatedSource", "component"]),
                source_host: str_at(event, &["deprecatedSource", "host"]),
                reporting_controller: str_at(event, &["reportingController"]),
            }
        } else {
            EventFields {
                involved: at(event, &["involvedObject"]),
                message: str_at(event, &["message"]),
                first_timestamp: at(event, &["firstTimestamp"]),
                last_timestamp: at(event, &["lastTimestamp"]),
                count: int_at(event, &["count"]),
                source_component: str_at(event, &["source", "component"]),
                source_host: str_at(event, &["source", "host"]),
                reporting_controller: str_at(event, &["reportingComponent"]),
            }
        }
    }
}

fn print_event(event: &Value, now: Timestamp) -> Row {
    let f = EventFields::of(event);
    let first = match parse_time(f.first_timestamp) {
        Some(t) => since(now, t),
        None => translate_since(now, at(event, &["eventTime"])),
    };
    let mut last = match parse_time(f.last_timestamp) {
        Some(t) => since(now, t),
        None => first.clone(),
    };
    let mut count = f.count;
    if let Some(series) = at(event, &["series"]) {
        last = translate_since(now, at(series, &["lastObservedTime"]));
        count = int_at(series, &["count"]);
    } else if count == 0 {
        count = 1;
    }
    let (kind, involved_name, field_path) = match f.involved {
        Some(o) => (
            str_at(o, &["kind"]),
            str_at(o, &["name"]),
            str_at(o, &["fieldPath"]),
        ),
        None => ("", "", ""),
    };
    let target = if involved_name.is_empty() {
        kind.to_lowercase()
    } else {
        format!("{}/{involved_name}", kind.to_lowercase())
    };
    let component = or_default(f.source_component, f.reporting_controller);
    let instance = or_default(f.source_host, str_at(event, &["reportingInstance"]));
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    Row::new(vec![
        s(last),
        s(str_at(event, &["type"])),
        s(str_at(event, &["reason"])),
        s(target),
        s(field_path),
        s(source),
        s(f.message.trim()),
        s(first),
        Value::from(count),
        s(name(event)),
    ])
}

fn print_namespace(obj: &Value, now: Timestamp) -> Row {
    // SetDefaults_NamespaceStatus: phase Active.
    let phase = or_default(str_at(obj, &["status", "phase"]), "Active");
    Row::new(vec![s(name(obj)), s(phase), age(obj, now)])
}

fn node_address<'a>(node: &'a Value, kind: &str) -> &'a str {
    list_at(node, &["status", "addresses"])
        .iter()
        .find(|a| str_at(a, &["type"]) == kind)
        .map_or("<none>", |a| str_at(a, &["address"]))
}

/// `findNodeRoles`: `node-role.kubernetes.io/<role>` keys and `kubernetes.io/role` values, sorted.
fn node_roles(node: &Value) -> String {
    let mut roles: Vec<&str> = at(node, &["metadata", "labels"])
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| {
                    if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                        (!role.is_empty()).then_some(role)
                    } else if k == "kubernetes.io/role" {
                        v.as_str().filter(|v| !v.is_empty())
                    } else {
                        None
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    roles.sort_unstable();
    roles.dedup();
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.join(",")
    }
}

fn print_node(node: &Value, now: Timestamp) -> Row {
    let ready = list_at(node, &["status", "conditions"])
        .iter()
        .rev()
        .find(|c| str_at(c, &["type"]) == "Ready");
    let mut status = vec![match ready {
        Some(c) if str_at(c, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if bool_at(node, &["spec", "unschedulable"]) {
        status.push("SchedulingDisabled");
    }
    let info = |key: &str| or_default(str_at(node, &["status", "nodeInfo", key]), "<unknown>");
    Row::new(vec![
        s(name(node)),
        s(status.join(",")),
        s(node_roles(node)),
        age(node, now),
        s(str_at(node, &["status", "nodeInfo", "kubeletVersion"])),
        s(node_address(node, "InternalIP")),
        s(node_address(node, "ExternalIP")),
        s(info("osImage")),
        s(info("kernelVersion")),
        s(info("containerRuntimeVersion")),
    ])
}

/// `Quantity.String()` of a resource map entry; a missing quantity is the zero quantity "0".
fn quantity_at(obj: &Value, path: &[&str]) -> String {
    at(obj, path)
        .map(|q| match q {
            Value::String(text) => canonical_quantity(text),
            Value::Number(n) => canonical_quantity(&n.to_string()),
            _ => "0".to_string(),
        })
        .unwrap_or_else(|| "0".to_string())
}

fn print_pv(pv: &Value, now: Timestamp) -> Row {
    let claim = at(pv, &["spec", "claimRef"]).map_or(String::new(), |c| {
        format!("{}/{}", str_at(c, &["namespace"]), str_at(c, &["name"]))
    });
    // SetDefaults_PersistentVolume: reclaim policy Retain, phase Pending, volume mode Filesystem.
    let reclaim = or_default(
        str_at(pv, &["spec", "persistentVolumeReclaimPolicy"]),
        "Retain",
    );
    let mut phase = or_default(str_at(pv, &["status", "phase"]), "Pending");
    if is_deleting(pv) {
        phase = "Terminating";
    }
    let class = annotation(pv, BETA_STORAGE_CLASS_ANNOTATION)
        .unwrap_or_else(|| str_at(pv, &["spec", "storageClassName"]));
    let attributes_class = at(pv, &["spec", "volumeAttributesClassName"])
        .and_then(Value::as_str)
        .unwrap_or("<unset>");
    Row::new(vec![
        s(name(pv)),
        s(quantity_at(pv, &["spec", "capacity", "storage"])),
        s(access_modes(list_at(pv, &["spec", "accessModes"]))),
        s(reclaim),
        s(phase),
        s(claim),
        s(class),
        s(attributes_class),
        s(str_at(pv, &["status", "reason"])),
        age(pv, now),
        s(or_default(
            str_at(pv, &["spec", "volumeMode"]),
            "Filesystem",
        )),
    ])
}

fn print_pvc(pvc: &Value, now: Timestamp) -> Row {
    // SetDefaults_PersistentVolumeClaim: phase Pending, volume mode Filesystem.
    let mut phase = or_default(str_at(pvc, &["status", "phase"]), "Pending");
    if is_deleting(pvc) {
        phase = "Terminating";
    }
    let volume = str_at(pvc, &["spec", "volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity_at(pvc, &["status", "capacity", "storage"]),
            access_modes(list_at(pvc, &["status", "accessModes"])),
        )
    };
    let class = annotation(pvc, BETA_STORAGE_CLASS_ANNOTATION).unwrap_or_else(|| {
        at(pvc, &["spec", "storageClassName"])
            .and_then(Value::as_str)
            .unwrap_or("")
    });
    let attributes_class = at(pvc, &["spec", "volumeAttributesClassName"])
        .and_then(Value::as_str)
        .unwrap_or("<unset>");
    Row::new(vec![
        s(name(pvc)),
        s(phase),
        s(volume),
        s(capacity),
        s(modes),
        s(class),
        s(attributes_class),
        age(pvc, now),
        s(or_default(
            str_at(pvc, &["spec", "volumeMode"]),
            "Filesystem",
        )),
    ])
}

fn print_storageclass(sc: &Value, now: Timestamp) -> Row {
    let is_default = [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|key| annotation(sc, key) == Some("true"));
    let mut display = name(sc).to_string();
    if is_default {
        display.push_str(" (default)");
    }
    Row::new(vec![
        s(display),
        s(str_at(sc, &["provisioner"])),
        s(or_default(str_at(sc, &["reclaimPolicy"]), "Delete")),
        s(or_default(str_at(sc, &["volumeBindingMode"]), "Immediate")),
        Value::Bool(bool_at(sc, &["allowVolumeExpansion"])),
        age(sc, now),
    ])
}

fn print_configmap(obj: &Value, now: Timestamp) -> Row {
    let data = map_len(obj, &["data"]) + map_len(obj, &["binaryData"]);
    Row::new(vec![s(name(obj)), Value::from(data), age(obj, now)])
}

/// `formatResourceName(gvk.GroupKind(), name, true)` for the controlling owner reference.
fn controller_name(obj: &Value) -> String {
    let Some(owner) = list_at(obj, &["metadata", "ownerReferences"])
        .iter()
        .find(|o| bool_at(o, &["controller"]))
    else {
        return "<none>".into();
    };
    let owner_name = str_at(owner, &["name"]);
    let api_version = str_at(owner, &["apiVersion"]);
    let group = match api_version.matches('/').count() {
        0 => "",
        1 if api_version == "/" => "",
        1 => api_version.split('/').next().unwrap_or(""),
        // Upstream fails the request on a malformed apiVersion; show the bare name instead.
        _ => return owner_name.to_string(),
    };
    let kind = str_at(owner, &["kind"]);
    if group.is_empty() && kind.is_empty() {
        return owner_name.to_string();
    }
    let group_kind = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    format!("{}/{owner_name}", group_kind.to_lowercase())
}

fn print_controllerrevision(obj: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        s(name(obj)),
        s(controller_name(obj)),
        Value::from(int_at(obj, &["revision"])),
        age(obj, now),
    ])
}

fn print_serviceaccount(obj: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        s(name(obj)),
        Value::from(list_at(obj, &["secrets"]).len()),
        age(obj, now),
    ])
}

fn print_secret(obj: &Value, now: Timestamp) -> Row {
    // SetDefaults_Secret: type Opaque.
    Row::new(vec![
        s(name(obj)),
        s(or_default(str_at(obj, &["type"]), "Opaque")),
        Value::from(map_len(obj, &["data"])),
        age(obj, now),
    ])
}

/// Shared by rolebindings and clusterrolebindings (`rbac.SubjectsStrings`, joined by ", ").
fn print_rolebinding(obj: &Value, now: Timestamp) -> Row {
    let role = format!(
        "{}/{}",
        str_at(obj, &["roleRef", "kind"]),
        str_at(obj, &["roleRef", "name"])
    );
    let (mut users, mut groups, mut service_accounts) = (Vec::new(), Vec::new(), Vec::new());
    for subject in list_at(obj, &["subjects"]) {
        let subject_name = str_at(subject, &["name"]);
        match str_at(subject, &["kind"]) {
            "ServiceAccount" => service_accounts.push(format!(
                "{}/{subject_name}",
                str_at(subject, &["namespace"])
            )),
            "User" => users.push(subject_name.to_string()),
            "Group" => groups.push(subject_name.to_string()),
            _ => {}
        }
    }
    Row::new(vec![
        s(name(obj)),
        s(role),
        age(obj, now),
        s(users.join(", ")),
        s(groups.join(", ")),
        s(service_accounts.join(", ")),
    ])
}

fn print_lease(obj: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        s(name(obj)),
        s(str_at(obj, &["spec", "holderIdentity"])),
        age(obj, now),
    ])
}

// ---------------------------------------------------------------------------------------------
// resource.Quantity canonical form (Quantity.String())
// ---------------------------------------------------------------------------------------------

/// How a quantity was written, which decides how it is printed back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum QuantityFormat {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

/// The canonical `Quantity.String()` of `text` (`1024Mi` → `1Gi`, `1.5G` → `1500M`, `0.5` → `500m`);
/// unparsable or out-of-range input is returned unchanged.
fn canonical_quantity(text: &str) -> String {
    parse_and_canonicalize(text.trim()).unwrap_or_else(|| text.to_string())
}

fn decimal_suffix(exponent: i32) -> Option<&'static str> {
    Some(match exponent {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => return None,
    })
}

fn binary_suffix(power: u32) -> Option<&'static str> {
    ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
        .get(power as usize)
        .copied()
}

/// Suffix → (decimal exponent, binary power of 1024, format).
fn interpret_suffix(suffix: &str) -> Option<(i32, u32, QuantityFormat)> {
    let decimal = |e| Some((e, 0, QuantityFormat::DecimalSi));
    let binary = |p| Some((0, p, QuantityFormat::BinarySi));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        _ => {
            let exponent = suffix
                .strip_prefix('e')
                .or_else(|| suffix.strip_prefix('E'))?;
            let exponent: i32 = exponent.parse().ok()?;
            Some((exponent, 0, QuantityFormat::DecimalExponent))
        }
    }
}

fn pow10(exponent: u32) -> Option<i128> {
    10i128.checked_pow(exponent)
}

fn parse_and_canonicalize(text: &str) -> Option<String> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return None;
    }
    let (exponent, binary_power, format) = interpret_suffix(suffix)?;

    // value = mantissa * 10^exponent10 (exactly).
    let digits = format!("{whole}{fraction}");
    let mut mantissa: i128 = digits.parse().ok()?;
    let fraction_len = i32::try_from(fraction.len()).ok()?;
    let mut exponent10 = exponent.checked_sub(fraction_len)?;
    if binary_power > 0 {
        mantissa = mantissa.checked_mul(1i128.checked_shl(10 * binary_power)?)?;
    }
    if mantissa == 0 {
        return Some("0".into());
    }
    // Round up (away from zero) to nano precision.
    if exponent10 < -9 {
        let divisor = pow10(u32::try_from(-9 - exponent10).ok()?)?;
        mantissa = mantissa / divisor + i128::from(mantissa % divisor != 0);
        exponent10 = -9;
    }
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exponent10 += 1;
    }
    let sign = if negative { "-" } else { "" };

    // BinarySI prints in powers of 1024 only for integers with magnitude >= 1024.
    let integer_value = if exponent10 >= 0 {
        pow10(u32::try_from(exponent10).ok()?).and_then(|p| mantissa.checked_mul(p))
    } else {
        None
    };
    if format == QuantityFormat::BinarySi
        && let Some(mut value) = integer_value
        && value >= 1024
    {
        let mut power = 0u32;
        while value % 1024 == 0 && power < 6 {
            value /= 1024;
            power += 1;
        }
        return Some(format!("{sign}{value}{}", binary_suffix(power)?));
    }

    // Decimal: exponent rounded down to a multiple of three.
    let adjust = exponent10.rem_euclid(3);
    mantissa = mantissa.checked_mul(pow10(u32::try_from(adjust).ok()?)?)?;
    exponent10 -= adjust;
    let suffix = match format {
        QuantityFormat::DecimalExponent if exponent10 == 0 => String::new(),
        QuantityFormat::DecimalExponent => format!("e{exponent10}"),
        _ => decimal_suffix(exponent10)?.to_string(),
    };
    Some(format!("{sign}{mantissa}{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z"
            .parse()
            .expect("valid test timestamp")
    }

    /// An RFC 3339 timestamp `secs` seconds before `now()`.
    fn ago(secs: i64) -> String {
        let t = Timestamp::from_second(now().as_second() - secs).expect("in range");
        t.to_string()
    }

    fn cells(resource: &str, obj: &Value) -> Vec<Value> {
        let table = to_table(resource, &[obj], IncludeObject::None, json!({}), now());
        table["rows"][0]["cells"]
            .as_array()
            .expect("cells array")
            .clone()
    }

    fn column_names(resource: &str) -> Vec<(String, i64)> {
        let table = to_table(resource, &[], IncludeObject::None, json!({}), now());
        table["columnDefinitions"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().expect("name").to_string(),
                    c["priority"].as_i64().expect("priority"),
                )
            })
            .collect()
    }

    #[test]
    fn human_duration_table() {
        let cases: &[(i64, &str)] = &[
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (1, "1s"),
            (70, "70s"),
            (119, "119s"),
            (120, "2m"),
            (121, "2m1s"),
            (190, "3m10s"),
            (599, "9m59s"),
            (600, "10m"),
            (601, "10m"),
            (70 * 60, "70m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60, "3h1m"),
            (8 * 3600 - 1, "7h59m"),
            (8 * 3600, "8h"),
            (8 * 3600 + 59 * 60, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (49 * 3600, "2d1h"),
            (8 * 24 * 3600 - 1, "7d23h"),
            (8 * 24 * 3600, "8d"),
            ((8 * 24 + 2) * 3600, "8d"),
            (367 * 24 * 3600, "367d"),
            (2 * 365 * 24 * 3600 - 1, "729d"),
            (2 * 365 * 24 * 3600, "2y"),
            ((365 * 2 * 24 + 25) * 3600, "2y1d"),
            (8 * 365 * 24 * 3600 - 1, "7y364d"),
            (8 * 365 * 24 * 3600, "8y"),
            (9 * 365 * 24 * 3600, "9y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(*secs), *want, "human_duration({secs})");
        }
    }

    #[test]
    fn subsecond_age_truncates_toward_zero() {
        let created =
            json!({"metadata": {"name": "a", "creationTimestamp": "2024-05-01T12:00:01.500000Z"}});
        // now - created = -1.5s → int(-1.5) = -1 → "0s" (Go), not "<invalid>".
        assert_eq!(cells("configmaps", &created)[2], json!("0s"));
        let future =
            json!({"metadata": {"name": "a", "creationTimestamp": "2024-05-01T12:00:03Z"}});
        assert_eq!(cells("configmaps", &future)[2], json!("<invalid>"));
        let missing = json!({"metadata": {"name": "a"}});
        assert_eq!(cells("configmaps", &missing)[2], json!("<unknown>"));
    }

    #[test]
    fn table_envelope_and_include_object() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-0", "namespace": "default", "resourceVersion": "42",
                         "creationTimestamp": ago(60), "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            "status": {"phase": "Pending"}
        });
        let meta = json!({"resourceVersion": "100", "continue": "abc"});
        let t = to_table(
            "pods",
            &[&pod],
            IncludeObject::Metadata,
            meta.clone(),
            now(),
        );
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(t["metadata"], meta);
        assert_eq!(t["columnDefinitions"].as_array().map(Vec::len), Some(9));
        assert_eq!(
            t["columnDefinitions"][0],
            json!({"name": "Name", "type": "string", "format": "name", "description": D_NAME, "priority": 0})
        );
        let object = &t["rows"][0]["object"];
        assert_eq!(object["kind"], "PartialObjectMetadata");
        assert_eq!(object["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(object["metadata"], pod["metadata"]);
        assert!(object.get("spec").is_none());

        let t = to_table("pods", &[&pod], IncludeObject::Object, Value::Null, now());
        assert_eq!(t["rows"][0]["object"], pod);
        assert_eq!(t["metadata"], json!({}));
        let t = to_table("pods", &[&pod], IncludeObject::None, json!({}), now());
        assert_eq!(t["rows"][0]["object"], Value::Null);
        assert!(t["rows"][0].get("conditions").is_none());

        let empty = to_table("pods", &[], IncludeObject::Metadata, json!({}), now());
        assert_eq!(empty["rows"], json!([]));
    }

    #[test]
    fn include_object_parse() {
        assert_eq!(IncludeObject::parse(""), Some(IncludeObject::Metadata));
        assert_eq!(
            IncludeObject::parse("Metadata"),
            Some(IncludeObject::Metadata)
        );
        assert_eq!(IncludeObject::parse("None"), Some(IncludeObject::None));
        assert_eq!(IncludeObject::parse("Object"), Some(IncludeObject::Object));
        assert_eq!(IncludeObject::parse("object"), None);
    }

    fn pod(spec: Value, status: Value) -> Value {
        json!({
            "metadata": {"name": "p", "creationTimestamp": ago(3600)},
            "spec": spec,
            "status": status,
        })
    }

    /// (READY, STATUS, RESTARTS) of a pod.
    fn pod_summary(p: &Value) -> (String, String, String) {
        let c = cells("pods", p);
        let text = |i: usize| c[i].as_str().expect("string cell").to_string();
        (text(1), text(2), text(3))
    }

    fn running(ready: bool) -> Value {
        json!({"name": "app", "ready": ready, "restartCount": 0,
               "state": {"running": {"startedAt": ago(100)}}})
    }

    #[test]
    fn pod_status_cases() {
        let one = json!({"containers": [{"name": "app", "image": "nginx"}]});
        let two_init = json!({
            "initContainers": [{"name": "init-a", "image": "busybox"}, {"name": "init-b", "image": "busybox"}],
            "containers": [{"name": "app", "image": "nginx"}]
        });
        let cases: Vec<(&str, Value, (&str, &str, &str))> = vec![
            (
                "running and ready",
                pod(
                    one.clone(),
                    json!({"phase": "Running", "containerStatuses": [running(true)]}),
                ),
                ("1/1", "Running", "0"),
            ),
            (
                "running not ready",
                pod(
                    one.clone(),
                    json!({"phase": "Running", "containerStatuses": [running(false)]}),
                ),
                ("0/1", "Running", "0"),
            ),
            (
                "pending without status",
                pod(one.clone(), json!({})),
                ("0/1", "Pending", "0"),
            ),
            (
                "container creating",
                pod(
                    one.clone(),
                    json!({"phase": "Pending", "containerStatuses": [
                    {"name": "app", "ready": false, "restartCount": 0,
                     "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
                ),
                ("0/1", "ContainerCreating", "0"),
            ),
            (
                "crash loop with last restart",
                pod(
                    one.clone(),
                    json!({"phase": "Running", "containerStatuses": [
                    {"name": "app", "ready": false, "restartCount": 5,
                     "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                     "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(42)}}}]}),
                ),
                ("0/1", "CrashLoopBackOff", "5 (42s ago)"),
            ),
            (
                "restarts without termination time",
                pod(
                    one.clone(),
                    json!({"phase": "Running", "containerStatuses": [
                    {"name": "app", "ready": true, "restartCount": 2,
                     "state": {"running": {"startedAt": ago(10)}}}]}),
                ),
                ("1/1", "Running", "2"),
            ),
            (
                "completed",
                pod(
                    one.clone(),
                    json!({"phase": "Succeeded", "containerStatuses": [
                    {"name": "app", "ready": false, "restartCount": 0,
                     "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
                ),
                ("0/1", "Completed", "0"),
            ),
            (
                "terminated without reason, exit code",
                pod(
                    one.clone(),
                    json!({"phase": "Failed", "containerStatuses": [
                    {"name": "app", "ready": false, "restartCount": 0,
                     "state": {"terminated": {"exitCode": 137}}}]}),
                ),
                ("0/1", "ExitCode:137", "0"),
            ),
            (
                "terminated without reason, signal",
                pod(
                    one.clone(),
                    json!({"phase": "Failed", "containerStatuses": [
                    {"name": "app", "ready": false, "restartCount": 0,
                     "state": {"terminated": {"exitCode": 0, "signal": 9}}}]}),
                ),
                ("0/1", "Signal:9", "0"),
            ),
            (
                "completed container next to a running one, pod not ready",
                pod(
                    json!({"containers": [{"name": "job"}, {"name": "app"}]}),
                    json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                           "containerStatuses": [
                        {"name": "job", "ready": false, "restartCount": 0,
                         "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        running(true)]}),
                ),
                ("1/2", "NotReady", "0"),
            ),
            (
                "completed container next to a running one, pod ready",
                pod(
                    json!({"containers": [{"name": "job"}, {"name": "app"}]}),
                    json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                           "containerStatuses": [
                        {"name": "job", "ready": false, "restartCount": 0,
                         "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        running(true)]}),
                ),
                ("1/2", "Running", "0"),
            ),
            (
                "first init container running",
                pod(
                    two_init.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                    {"name": "init-a", "ready": false, "restartCount": 0, "state": {"running": {}}},
                    {"name": "init-b", "ready": false, "restartCount": 0,
                     "state": {"waiting": {"reason": "PodInitializing"}}}]}),
                ),
                ("0/1", "Init:0/2", "0"),
            ),
            (
                "second init container pending",
                pod(
                    two_init.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                    {"name": "init-a", "ready": true, "restartCount": 0,
                     "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    {"name": "init-b", "ready": false, "restartCount": 0,
                     "state": {"waiting": {"reason": "PodInitializing"}}}]}),
                ),
                ("0/1", "Init:1/2", "0"),
            ),
            (
                "init crash loop",
                pod(
                    two_init.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                    {"name": "init-a", "ready": false, "restartCount": 3,
                     "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                     "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(5)}}}],
                    "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                     "state": {"waiting": {"reason": "PodInitializing"}}}]}),
                ),
                ("0/1", "Init:CrashLoopBackOff", "3 (5s ago)"),
            ),
            (
                "init error",
                pod(
                    two_init.clone(),
                    json!({"phase": "Failed", "initContainerStatuses": [
                    {"name": "init-a", "ready": false, "restartCount": 0,
                     "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]}),
                ),
                ("0/1", "Init:Error", "0"),
            ),
            (
                "init exit code without reason",
                pod(
                    two_init.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                    {"name": "init-a", "ready": false, "restartCount": 0,
                     "state": {"terminated": {"exitCode": 3}}}]}),
                ),
                ("0/1", "Init:ExitCode:3", "0"),
            ),
            (
                "init signal without reason",
                pod(
                    two_init.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                    {"name": "init-a", "ready": false, "restartCount": 0,
                     "state": {"terminated": {"exitCode": 1, "signal": 15}}}]}),
                ),
                ("0/1", "Init:Signal:15", "0"),
            ),
            (
                "evicted",
                pod(
                    one.clone(),
                    json!({"phase": "Failed", "reason": "Evicted", "message": "low on memory"}),
                ),
                ("0/1", "Evicted", "0"),
            ),
            (
                "scheduling gated",
                pod(
                    one.clone(),
                    json!({"phase": "Pending", "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
                ),
                ("0/1", "SchedulingGated", "0"),
            ),
            (
                "sidecar counts as a container",
                pod(
                    json!({"initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
                           "containers": [{"name": "app"}]}),
                    json!({"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
                           "initContainerStatuses": [{"name": "proxy", "ready": true, "started": true,
                             "restartCount": 1, "state": {"running": {}},
                             "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(300)}}}],
                           "containerStatuses": [running(true)]}),
                ),
                ("2/2", "Running", "1 (5m ago)"),
            ),
        ];
        for (label, p, (ready, status, restarts)) in cases {
            let (r, st, rs) = pod_summary(&p);
            assert_eq!(
                (r.as_str(), st.as_str(), rs.as_str()),
                (ready, status, restarts),
                "{label}"
            );
        }
    }

    #[test]
    fn pod_terminating_and_unknown() {
        let mut p = pod(
            json!({"containers": [{"name": "app"}]}),
            json!({"phase": "Running", "containerStatuses": [running(true)]}),
        );
        p["metadata"]["deletionTimestamp"] = json!(ago(1));
        assert_eq!(pod_summary(&p).1, "Terminating");
        p["status"]["reason"] = json!("NodeLost");
        assert_eq!(pod_summary(&p).1, "Unknown");
        // A terminal pod being deleted keeps its status.
        let mut done = pod(
            json!({"containers": [{"name": "app"}]}),
            json!({"phase": "Succeeded",
            "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
        );
        done["metadata"]["deletionTimestamp"] = json!(ago(1));
        assert_eq!(pod_summary(&done).1, "Completed");
    }

    #[test]
    fn pod_wide_cells_and_row_conditions() {
        let p = json!({
            "metadata": {"name": "web-1", "creationTimestamp": ago(49 * 3600)},
            "spec": {"nodeName": "node-a", "containers": [{"name": "app"}],
                     "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.7"}, {"ip": "fd00::7"}],
                       "conditions": [{"type": "example.com/lb", "status": "True"}, {"type": "example.com/dns", "status": "False"}],
                       "containerStatuses": [running(true)]}
        });
        assert_eq!(
            cells("pods", &p),
            vec![
                json!("web-1"),
                json!("1/1"),
                json!("Running"),
                json!("0"),
                json!("2d1h"),
                json!("10.0.0.7"),
                json!("node-a"),
                json!("<none>"),
                json!("1/2")
            ]
        );
        let legacy = json!({"metadata": {"name": "x"}, "spec": {"containers": []},
                            "status": {"phase": "Running", "podIP": "10.0.0.9"}});
        let c = cells("pods", &legacy);
        assert_eq!(
            (c[5].clone(), c[6].clone(), c[8].clone()),
            (json!("10.0.0.9"), json!("<none>"), json!("<none>"))
        );

        let done = pod(
            json!({"containers": [{"name": "app"}]}),
            json!({"phase": "Succeeded"}),
        );
        let t = to_table("pods", &[&done], IncludeObject::None, json!({}), now());
        assert_eq!(
            t["rows"][0]["conditions"],
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded",
                    "message": "The pod has completed successfully."}])
        );
        let failed = pod(
            json!({"containers": [{"name": "app"}]}),
            json!({"phase": "Failed"}),
        );
        let t = to_table("pods", &[&failed], IncludeObject::None, json!({}), now());
        assert_eq!(t["rows"][0]["conditions"][0]["message"], "The pod failed.");
    }

    #[test]
    fn statefulset_cells() {
        let sts = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(600)},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [
                {"name": "nginx", "image": "nginx:1.27"}, {"name": "sidecar", "image": "busybox"}]}}},
            "status": {"replicas": 3, "readyReplicas": 2}
        });
        assert_eq!(
            cells("statefulsets", &sts),
            vec![
                json!("web"),
                json!("2/3"),
                json!("10m"),
                json!("nginx,sidecar"),
                json!("nginx:1.27,busybox")
            ]
        );
        let defaulted =
            json!({"metadata": {"name": "db"}, "spec": {"template": {"spec": {"containers": []}}}});
        assert_eq!(cells("statefulsets", &defaulted)[1], json!("0/1"));
        assert_eq!(
            column_names("statefulsets"),
            vec![
                ("Name".into(), 0),
                ("Ready".into(), 0),
                ("Age".into(), 0),
                ("Containers".into(), 1),
                ("Images".into(), 1)
            ]
        );
    }

    #[test]
    fn service_cells() {
        let svc = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(7200)},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                               {"name": "dns", "port": 53, "protocol": "UDP"}],
                     "selector": {"app": "web", "tier": "front"}}
        });
        assert_eq!(
            cells("services", &svc),
            vec![
                json!("web"),
                json!("ClusterIP"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80/TCP,53/UDP"),
                json!("120m"),
                json!("app=web,tier=front")
            ]
        );
        let headless = json!({"metadata": {"name": "web-hl"},
            "spec": {"clusterIP": "None", "ports": [{"port": 80}], "selector": {"app": "web"}}});
        let c = cells("services", &headless);
        assert_eq!(
            (c[1].clone(), c[2].clone(), c[4].clone()),
            (json!("ClusterIP"), json!("None"), json!("80/TCP"))
        );

        let node_port = json!({"metadata": {"name": "np"}, "spec": {"type": "NodePort", "clusterIPs": ["10.96.1.1"],
            "externalIPs": ["1.2.3.4"], "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}});
        let c = cells("services", &node_port);
        assert_eq!(
            (c[3].clone(), c[4].clone(), c[6].clone()),
            (json!("1.2.3.4"), json!("80:30080/TCP"), json!("<none>"))
        );

        let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.1.2"], "ports": []},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "a-very-long-hostname.example.com"}]}}});
        let c = cells("services", &lb);
        assert_eq!(
            (c[3].clone(), c[4].clone()),
            (
                json!("203.0.113.9,a-very-long-hostname.example.com"),
                json!("<none>")
            )
        );
        let pending = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer"}});
        assert_eq!(cells("services", &pending)[3], json!("<pending>"));
        let external = json!({"metadata": {"name": "ext"}, "spec": {"type": "ExternalName", "externalName": "db.example.com"}});
        let c = cells("services", &external);
        assert_eq!(
            (c[2].clone(), c[3].clone()),
            (json!("<none>"), json!("db.example.com"))
        );
    }

    #[test]
    fn endpoints_cells() {
        let ep = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(30)},
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                         "ports": [{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}]},
                        {"addresses": [{"ip": "fd00::5"}], "ports": [{"port": 443}]}]
        });
        assert_eq!(
            cells("endpoints", &ep),
            vec![
                json!("web"),
                json!("10.0.0.1:80,10.0.0.2:80,10.0.0.1:9090 + 2 more..."),
                json!("30s")
            ]
        );
        let small = json!({"metadata": {"name": "a"}, "subsets": [{"addresses": [{"ip": "fd00::5"}], "ports": [{"port": 443}]}]});
        assert_eq!(cells("endpoints", &small)[1], json!("[fd00::5]:443"));
        let headless =
            json!({"metadata": {"name": "a"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]});
        assert_eq!(cells("endpoints", &headless)[1], json!("10.0.0.1"));
        let empty = json!({"metadata": {"name": "a"}});
        assert_eq!(cells("endpoints", &empty)[1], json!("<none>"));
        let not_ready = json!({"metadata": {"name": "a"}, "subsets": [{"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]});
        assert_eq!(cells("endpoints", &not_ready)[1], json!(""));
    }

    #[test]
    fn endpointslice_cells() {
        let slice = json!({
            "metadata": {"name": "web-abc12", "creationTimestamp": ago(90)},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]},
                          {"addresses": ["10.0.0.3"]}, {"addresses": ["10.0.0.4"]}]
        });
        assert_eq!(
            cells("endpointslices", &slice),
            vec![
                json!("web-abc12"),
                json!("IPv4"),
                json!("80"),
                json!("10.0.0.1,10.0.0.2,10.0.0.3 + 1 more..."),
                json!("90s")
            ]
        );
        let unset = json!({"metadata": {"name": "s"}, "addressType": "IPv6",
            "ports": [{"name": "grpc"}, {}], "endpoints": []});
        let c = cells("endpointslices", &unset);
        assert_eq!(
            (c[2].clone(), c[3].clone()),
            (json!("grpc,*"), json!("<unset>"))
        );
    }

    #[test]
    fn core_event_cells() {
        let ev = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web-0.17c1", "creationTimestamp": ago(300)},
            "involvedObject": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{nginx}"},
            "reason": "Pulled", "message": "  Successfully pulled image \"nginx\"\n",
            "source": {"component": "kubelet", "host": "node-a"},
            "firstTimestamp": ago(300), "lastTimestamp": ago(20), "count": 4, "type": "Normal"
        });
        assert_eq!(
            cells("events", &ev),
            vec![
                json!("20s"),
                json!("Normal"),
                json!("Pulled"),
                json!("pod/web-0"),
                json!("spec.containers{nginx}"),
                json!("kubelet, node-a"),
                json!("Successfully pulled image \"nginx\""),
                json!("5m"),
                json!(4),
                json!("web-0.17c1")
            ]
        );
        let cols = column_names("events");
        assert_eq!(cols[0], ("Last Seen".to_string(), 0));
        assert_eq!(cols[4], ("Subobject".to_string(), 1));
        assert_eq!(cols[9], ("Name".to_string(), 1));
    }

    #[test]
    fn event_series_and_defaults() {
        let ev = json!({
            "metadata": {"name": "e"},
            "involvedObject": {"kind": "StatefulSet"},
            "eventTime": ago(400), "series": {"count": 7, "lastObservedTime": ago(3)},
            "reportingComponent": "statefulset-controller", "reportingInstance": "podgate",
            "type": "Warning", "reason": "FailedCreate", "message": "boom"
        });
        let c = cells("events", &ev);
        assert_eq!(c[0], json!("3s"));
        assert_eq!(c[3], json!("statefulset"));
        assert_eq!(c[5], json!("statefulset-controller, podgate"));
        assert_eq!(c[7], json!("6m40s"));
        assert_eq!(c[8], json!(7));
        let singleton =
            json!({"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p"}});
        let c = cells("events", &singleton);
        assert_eq!(
            (c[0].clone(), c[7].clone(), c[8].clone()),
            (json!("<unknown>"), json!("<unknown>"), json!(1))
        );
    }

    #[test]
    fn events_k8s_io_event_cells() {
        let ev = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "web.1"},
            "eventTime": ago(120), "reportingController": "podgate/statefulset", "reportingInstance": "pg-1",
            "action": "Create", "reason": "SuccessfulCreate", "type": "Normal",
            "regarding": {"kind": "StatefulSet", "name": "web", "namespace": "default"},
            "note": "create Pod web-0 in StatefulSet web successful"
        });
        assert_eq!(
            cells("events", &ev),
            vec![
                json!("2m"),
                json!("Normal"),
                json!("SuccessfulCreate"),
                json!("statefulset/web"),
                json!(""),
                json!("podgate/statefulset, pg-1"),
                json!("create Pod web-0 in StatefulSet web successful"),
                json!("2m"),
                json!(1),
                json!("web.1")
            ]
        );
        let deprecated = json!({
            "apiVersion": "events.k8s.io/v1", "metadata": {"name": "x"},
            "regarding": {"kind": "Pod", "name": "p"}, "note": "n",
            "deprecatedFirstTimestamp": ago(3600), "deprecatedLastTimestamp": ago(60), "deprecatedCount": 9,
            "deprecatedSource": {"component": "kubelet"}
        });
        let c = cells("events", &deprecated);
        assert_eq!(
            (c[0].clone(), c[5].clone(), c[7].clone(), c[8].clone()),
            (json!("60s"), json!("kubelet"), json!("60m"), json!(9))
        );
    }

    #[test]
    fn namespace_cells() {
        let ns = json!({"metadata": {"name": "default", "creationTimestamp": ago(10 * 24 * 3600)}, "status": {"phase": "Active"}});
        assert_eq!(
            cells("namespaces", &ns),
            vec![json!("default"), json!("Active"), json!("10d")]
        );
        let terminating = json!({"metadata": {"name": "old"}, "status": {"phase": "Terminating"}});
        assert_eq!(cells("namespaces", &terminating)[1], json!("Terminating"));
        let bare = json!({"metadata": {"name": "new"}});
        assert_eq!(cells("namespaces", &bare)[1], json!("Active"));
    }

    #[test]
    fn node_cells() {
        let node = json!({
            "metadata": {"name": "node-a", "creationTimestamp": ago(3 * 24 * 3600),
                         "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker",
                                    "node-role.kubernetes.io/": "x", "kubernetes.io/hostname": "node-a"}},
            "spec": {"unschedulable": true},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                "addresses": [{"type": "Hostname", "address": "node-a"}, {"type": "InternalIP", "address": "192.168.1.10"}],
                "nodeInfo": {"kubeletVersion": "v1.35.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                             "kernelVersion": "6.1.0-18-amd64", "containerRuntimeVersion": "containerd://1.7.13"}
            }
        });
        assert_eq!(
            cells("nodes", &node),
            vec![
                json!("node-a"),
                json!("Ready,SchedulingDisabled"),
                json!("control-plane,worker"),
                json!("3d"),
                json!("v1.35.0"),
                json!("192.168.1.10"),
                json!("<none>"),
                json!("Debian GNU/Linux 12 (bookworm)"),
                json!("6.1.0-18-amd64"),
                json!("containerd://1.7.13")
            ]
        );
        let bare = json!({"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
        let c = cells("nodes", &bare);
        assert_eq!(
            (c[1].clone(), c[2].clone(), c[7].clone()),
            (json!("NotReady"), json!("<none>"), json!("<unknown>"))
        );
        let none = json!({"metadata": {"name": "n"}});
        assert_eq!(cells("nodes", &none)[1], json!("Unknown"));
    }

    #[test]
    fn pvc_cells() {
        let bound = json!({
            "metadata": {"name": "data-web-0", "creationTimestamp": ago(5 * 3600)},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                     "storageClassName": "standard", "volumeName": "pvc-1234", "volumeMode": "Filesystem"},
            "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteOnce"],
                       "capacity": {"storage": "1024Mi"}}
        });
        assert_eq!(
            cells("persistentvolumeclaims", &bound),
            vec![
                json!("data-web-0"),
                json!("Bound"),
                json!("pvc-1234"),
                json!("1Gi"),
                json!("RWO,RWOP"),
                json!("standard"),
                json!("<unset>"),
                json!("5h"),
                json!("Filesystem")
            ]
        );
        let pending = json!({"metadata": {"name": "data-web-1",
                                          "annotations": {"volume.beta.kubernetes.io/storage-class": "legacy"}},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                     "storageClassName": "standard", "volumeAttributesClassName": "gold"}});
        assert_eq!(
            cells("persistentvolumeclaims", &pending),
            vec![
                json!("data-web-1"),
                json!("Pending"),
                json!(""),
                json!(""),
                json!(""),
                json!("legacy"),
                json!("gold"),
                json!("<unknown>"),
                json!("Filesystem")
            ]
        );
        let mut deleting = pending.clone();
        deleting["metadata"]["deletionTimestamp"] = json!(ago(1));
        assert_eq!(
            cells("persistentvolumeclaims", &deleting)[1],
            json!("Terminating")
        );
        assert_eq!(
            column_names("persistentvolumeclaims")[8],
            ("VolumeMode".to_string(), 1)
        );
    }

    #[test]
    fn pv_cells() {
        let pv = json!({
            "metadata": {"name": "pvc-1234", "creationTimestamp": ago(5 * 3600)},
            "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadOnlyMany"],
                     "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "standard",
                     "claimRef": {"namespace": "default", "name": "data-web-0"}, "volumeMode": "Block"},
            "status": {"phase": "Bound"}
        });
        assert_eq!(
            cells("persistentvolumes", &pv),
            vec![
                json!("pvc-1234"),
                json!("10Gi"),
                json!("ROX,RWX"),
                json!("Delete"),
                json!("Bound"),
                json!("default/data-web-0"),
                json!("standard"),
                json!("<unset>"),
                json!(""),
                json!("5h"),
                json!("Block")
            ]
        );
        let bare = json!({"metadata": {"name": "v"}, "spec": {}, "status": {"phase": "Failed", "reason": "Recycler"}});
        let c = cells("persistentvolumes", &bare);
        assert_eq!(
            (
                c[1].clone(),
                c[3].clone(),
                c[4].clone(),
                c[5].clone(),
                c[8].clone(),
                c[10].clone()
            ),
            (
                json!("0"),
                json!("Retain"),
                json!("Failed"),
                json!(""),
                json!("Recycler"),
                json!("Filesystem")
            )
        );
    }

    #[test]
    fn storageclass_cells() {
        let sc = json!({
            "metadata": {"name": "standard", "creationTimestamp": ago(100),
                         "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "podgate.io/local", "reclaimPolicy": "Retain",
            "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": true
        });
        assert_eq!(
            cells("storageclasses", &sc),
            vec![
                json!("standard (default)"),
                json!("podgate.io/local"),
                json!("Retain"),
                json!("WaitForFirstConsumer"),
                json!(true),
                json!("100s")
            ]
        );
        let bare = json!({"metadata": {"name": "slow", "annotations": {"storageclass.beta.kubernetes.io/is-default-class": "false"}},
                          "provisioner": "x"});
        assert_eq!(
            cells("storageclasses", &bare)[..5],
            [
                json!("slow"),
                json!("x"),
                json!("Delete"),
                json!("Immediate"),
                json!(false)
            ]
        );
    }

    #[test]
    fn small_resources_cells() {
        let cm = json!({"metadata": {"name": "kube-root-ca.crt", "creationTimestamp": ago(86400)},
                        "data": {"ca.crt": "x"}, "binaryData": {"blob": "AA=="}});
        assert_eq!(
            cells("configmaps", &cm),
            vec![json!("kube-root-ca.crt"), json!(2), json!("24h")]
        );

        let sa = json!({"metadata": {"name": "default", "creationTimestamp": ago(86400)}, "secrets": [{"name": "t"}]});
        assert_eq!(
            cells("serviceaccounts", &sa),
            vec![json!("default"), json!(1), json!("24h")]
        );
        let sa0 = json!({"metadata": {"name": "builder"}});
        assert_eq!(cells("serviceaccounts", &sa0)[1], json!(0));

        let secret = json!({"metadata": {"name": "tls", "creationTimestamp": ago(60)}, "type": "kubernetes.io/tls",
                            "data": {"tls.crt": "x", "tls.key": "y"}});
        assert_eq!(
            cells("secrets", &secret),
            vec![
                json!("tls"),
                json!("kubernetes.io/tls"),
                json!(2),
                json!("60s")
            ]
        );
        let opaque = json!({"metadata": {"name": "s"}});
        assert_eq!(cells("secrets", &opaque)[1..3], [json!("Opaque"), json!(0)]);

        let lease = json!({"metadata": {"name": "podgate-leader", "creationTimestamp": ago(60)},
                           "spec": {"holderIdentity": "pg-1_abc", "leaseDurationSeconds": 15}});
        assert_eq!(
            cells("leases", &lease),
            vec![json!("podgate-leader"), json!("pg-1_abc"), json!("60s")]
        );
        let free = json!({"metadata": {"name": "l"}, "spec": {}});
        assert_eq!(cells("leases", &free)[1], json!(""));
    }

    #[test]
    fn controllerrevision_cells() {
        let cr = json!({
            "metadata": {"name": "web-7d9c8b6f5", "creationTimestamp": ago(600),
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "other"},
                                             {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": true}]},
            "revision": 2, "data": {}
        });
        assert_eq!(
            cells("controllerrevisions", &cr),
            vec![
                json!("web-7d9c8b6f5"),
                json!("statefulset.apps/web"),
                json!(2),
                json!("10m")
            ]
        );
        let core = json!({"metadata": {"name": "r", "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p", "controller": true}]}, "revision": 1});
        assert_eq!(cells("controllerrevisions", &core)[1], json!("pod/p"));
        let orphan = json!({"metadata": {"name": "r"}, "revision": 1});
        assert_eq!(cells("controllerrevisions", &orphan)[1], json!("<none>"));
    }

    #[test]
    fn rolebinding_cells() {
        let rb = json!({
            "metadata": {"name": "podgate-admin", "creationTimestamp": ago(600)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                         {"kind": "Group", "name": "devs"},
                         {"kind": "ServiceAccount", "name": "builder", "namespace": "ci"}]
        });
        let want = vec![
            json!("podgate-admin"),
            json!("ClusterRole/admin"),
            json!("10m"),
            json!("alice, bob"),
            json!("devs"),
            json!("ci/builder"),
        ];
        assert_eq!(cells("rolebindings", &rb), want);
        assert_eq!(cells("clusterrolebindings", &rb), want);
        let rb_cols = to_table("rolebindings", &[], IncludeObject::None, json!({}), now());
        let crb_cols = to_table(
            "clusterrolebindings",
            &[],
            IncludeObject::None,
            json!({}),
            now(),
        );
        assert_eq!(
            rb_cols["columnDefinitions"][3]["description"],
            "Users in the roleBinding"
        );
        assert_eq!(
            crb_cols["columnDefinitions"][3]["description"],
            "Users in the clusterRoleBinding"
        );
    }

    #[test]
    fn default_table_for_roles_and_unknown_resources() {
        let role = json!({"metadata": {"name": "pod-reader", "creationTimestamp": "2024-04-30T08:15:00Z"}, "rules": []});
        assert_eq!(
            cells("roles", &role),
            vec![json!("pod-reader"), json!("2024-04-30T08:15:00Z")]
        );
        let micro = json!({"metadata": {"name": "cr", "creationTimestamp": "2024-04-30T10:15:00.123+02:00"}});
        assert_eq!(
            cells("clusterroles", &micro),
            vec![json!("cr"), json!("2024-04-30T08:15:00Z")]
        );
        let missing = json!({"metadata": {"name": "x"}});
        assert_eq!(
            cells("widgets", &missing),
            vec![json!("x"), json!("0001-01-01T00:00:00Z")]
        );
        let t = to_table("clusterroles", &[], IncludeObject::None, json!({}), now());
        assert_eq!(
            t["columnDefinitions"][1],
            json!({"name": "Created At", "type": "date", "format": "", "description": D_CREATED, "priority": 0})
        );
    }

    #[test]
    fn column_sets_per_resource() {
        let names = |r: &str| {
            column_names(r)
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>()
                .join("|")
        };
        let cases = [
            (
                "pods",
                "Name|Ready|Status|Restarts|Age|IP|Node|Nominated Node|Readiness Gates",
            ),
            (
                "services",
                "Name|Type|Cluster-IP|External-IP|Port(s)|Age|Selector",
            ),
            ("endpoints", "Name|Endpoints|Age"),
            ("endpointslices", "Name|AddressType|Ports|Endpoints|Age"),
            (
                "events",
                "Last Seen|Type|Reason|Object|Subobject|Source|Message|First Seen|Count|Name",
            ),
            ("namespaces", "Name|Status|Age"),
            (
                "nodes",
                "Name|Status|Roles|Age|Version|Internal-IP|External-IP|OS-Image|Kernel-Version|Container-Runtime",
            ),
            (
                "persistentvolumeclaims",
                "Name|Status|Volume|Capacity|Access Modes|StorageClass|VolumeAttributesClass|Age|VolumeMode",
            ),
            (
                "persistentvolumes",
                "Name|Capacity|Access Modes|Reclaim Policy|Status|Claim|StorageClass|VolumeAttributesClass|Reason|Age|VolumeMode",
            ),
            (
                "storageclasses",
                "Name|Provisioner|ReclaimPolicy|VolumeBindingMode|AllowVolumeExpansion|Age",
            ),
            ("configmaps", "Name|Data|Age"),
            ("controllerrevisions", "Name|Controller|Revision|Age"),
            ("serviceaccounts", "Name|Secrets|Age"),
            ("secrets", "Name|Type|Data|Age"),
            ("rolebindings", "Name|Role|Age|Users|Groups|ServiceAccounts"),
            ("leases", "Name|Holder|Age"),
            ("roles", "Name|Created At"),
        ];
        for (resource, want) in cases {
            assert_eq!(names(resource), want, "{resource}");
        }
        let wide: Vec<String> = column_names("nodes")
            .into_iter()
            .filter(|(_, p)| *p == 1)
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            wide,
            [
                "Internal-IP",
                "External-IP",
                "OS-Image",
                "Kernel-Version",
                "Container-Runtime"
            ]
        );
    }

    #[test]
    fn cell_count_matches_columns() {
        let obj = json!({"metadata": {"name": "x"}});
        for resource in [
            "pods",
            "statefulsets",
            "services",
            "endpoints",
            "endpointslices",
            "events",
            "namespaces",
            "nodes",
            "persistentvolumeclaims",
            "persistentvolumes",
            "storageclasses",
            "configmaps",
            "controllerrevisions",
            "serviceaccounts",
            "secrets",
            "rolebindings",
            "clusterrolebindings",
            "leases",
            "roles",
            "anything",
        ] {
            assert_eq!(
                cells(resource, &obj).len(),
                column_names(resource).len(),
                "{resource}"
            );
        }
    }

    #[test]
    fn quantity_canonical_form() {
        let cases = [
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Gi", "512Mi"),
            ("2048Ki", "2Mi"),
            ("100Ki", "100Ki"),
            ("512", "512"),
            ("1024", "1024"),
            ("10G", "10G"),
            ("1.5G", "1500M"),
            ("1000M", "1G"),
            ("0.5", "500m"),
            ("1000m", "1"),
            ("100m", "100m"),
            ("1e3", "1e3"),
            ("1E3", "1e3"),
            ("1.5e3", "1500"),
            ("0", "0"),
            ("0Gi", "0"),
            ("0.0000000001", "1n"),
            ("-1Gi", "-1Gi"),
            ("1.1Gi", "1181116006400m"),
            ("0.5Ki", "512"),
            ("10k", "10k"),
            ("12E", "12E"),
            ("junk", "junk"),
            ("1Zi", "1Zi"),
        ];
        for (input, want) in cases {
            assert_eq!(canonical_quantity(input), want, "{input}");
        }
    }
}
