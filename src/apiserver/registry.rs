//! The resources the embedded API server serves, and what each one needs.

/// Which object shape a resource stores: picks defaulting, validation and printing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// core/v1 Pod.
    Pod,
    /// core/v1 Service.
    Service,
    /// core/v1 Endpoints.
    Endpoints,
    /// core/v1 Namespace.
    Namespace,
    /// core/v1 Node.
    Node,
    /// core/v1 PersistentVolumeClaim.
    PersistentVolumeClaim,
    /// core/v1 PersistentVolume.
    PersistentVolume,
    /// core/v1 ConfigMap.
    ConfigMap,
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// discovery.k8s.io/v1 EndpointSlice.
    EndpointSlice,
    /// storage.k8s.io/v1 StorageClass.
    StorageClass,
    /// Stored as given after metadata checks (events, revisions, RBAC objects, …).
    Plain,
    /// Never stored: a create-only review (TokenReview, SubjectAccessReview, …) answered by
    /// [`super::authapis`].
    Review,
}

/// A subresource a resource offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    /// `/status`: writes only the status.
    Status,
    /// `/scale`: autoscaling/v1 Scale over `spec.replicas`.
    Scale,
    /// `/binding` (pods): assigns a node.
    Binding,
    /// `/log` (pods): container logs from the node.
    Log,
    /// `/finalize` (namespaces): writes `spec.finalizers`.
    Finalize,
    /// `/proxy`: served by the gateway in front of the API server.
    Proxy,
    /// `/token` (serviceaccounts): TokenRequest.
    Token,
    /// `/exec` (pods): a command in a container, streamed from the node.
    Exec,
    /// `/attach` (pods): a running container's standard streams, from the node.
    Attach,
    /// `/portforward` (pods): TCP connections to the pod's ports, through the node.
    PortForward,
}

impl Sub {
    /// The subresource's path segment.
    pub fn name(self) -> &'static str {
        match self {
            Sub::Status => "status",
            Sub::Scale => "scale",
            Sub::Binding => "binding",
            Sub::Log => "log",
            Sub::Finalize => "finalize",
            Sub::Proxy => "proxy",
            Sub::Token => "token",
            Sub::Exec => "exec",
            Sub::Attach => "attach",
            Sub::PortForward => "portforward",
        }
    }

    /// The kind of the subresource's object, and its verbs, as discovery reports them.
    pub fn discovery(self, kind: &'static str) -> (&'static str, &'static [&'static str]) {
        match self {
            Sub::Status | Sub::Finalize => (kind, &["get", "patch", "update"]),
            Sub::Scale => ("Scale", &["get", "patch", "update"]),
            Sub::Binding => ("Binding", &["create"]),
            Sub::Log => ("Pod", &["get"]),
            Sub::Proxy => (
                "PodProxyOptions",
                &["create", "delete", "get", "patch", "update"],
            ),
            Sub::Token => ("TokenRequest", &["create"]),
            Sub::Exec => ("PodExecOptions", &["create", "get"]),
            Sub::Attach => ("PodAttachOptions", &["create", "get"]),
            Sub::PortForward => ("PodPortForwardOptions", &["create", "get"]),
        }
    }
}

/// One served resource.
#[derive(Debug)]
pub struct ResourceDef {
    /// API group ("" for core).
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// Plural name (the path segment).
    pub plural: &'static str,
    /// Singular name.
    pub singular: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// kubectl short names.
    pub short_names: &'static [&'static str],
    /// Categories (`all`).
    pub categories: &'static [&'static str],
    /// Subresources offered.
    pub subresources: &'static [Sub],
    /// Object shape for defaulting, validation and printing.
    pub shape: Shape,
    /// Whether `metadata.generation` tracks spec changes.
    pub generation: bool,
}

impl ResourceDef {
    /// The `apiVersion` of this resource's objects.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The store key prefix and `GroupResource` string: `pods`, `statefulsets.apps`.
    pub fn qualified(&self) -> String {
        crate::machinery::status::qualified(self.plural, self.group)
    }

    /// Whether the resource has a status subresource (spec and status are written apart).
    pub fn has_status(&self) -> bool {
        self.subresources.contains(&Sub::Status)
    }

    /// Whether `sub` is offered.
    pub fn offers(&self, sub: &str) -> bool {
        self.subresources.iter().any(|s| s.name() == sub)
    }

    /// The verbs the resource supports, as discovery reports them.
    pub fn verbs(&self) -> &'static [&'static str] {
        if self.shape == Shape::Review {
            &["create"]
        } else {
            VERBS
        }
    }
}

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// The verbs every served resource supports.
pub fn verbs() -> &'static [&'static str] {
    VERBS
}

macro_rules! def {
    ($group:expr, $version:expr, $plural:expr, $singular:expr, $kind:expr, $namespaced:expr,
     $short:expr, $cats:expr, $subs:expr, $shape:expr, $generation:expr) => {
        ResourceDef {
            group: $group,
            version: $version,
            plural: $plural,
            singular: $singular,
            kind: $kind,
            namespaced: $namespaced,
            short_names: $short,
            categories: $cats,
            subresources: $subs,
            shape: $shape,
            generation: $generation,
        }
    };
}

use Shape::*;
use Sub::*;

/// Every served resource.
pub static RESOURCES: &[ResourceDef] = &[
    def!(
        "",
        "v1",
        "namespaces",
        "namespace",
        "Namespace",
        false,
        &["ns"],
        &[],
        &[Status, Finalize],
        Namespace,
        false
    ),
    def!(
        "",
        "v1",
        "nodes",
        "node",
        "Node",
        false,
        &["no"],
        &[],
        &[Status, Proxy],
        Node,
        false
    ),
    def!(
        "",
        "v1",
        "pods",
        "pod",
        "Pod",
        true,
        &["po"],
        &["all"],
        &[Status, Binding, Log, Proxy, Exec, Attach, PortForward],
        Pod,
        true
    ),
    def!(
        "",
        "v1",
        "services",
        "service",
        "Service",
        true,
        &["svc"],
        &["all"],
        &[Status, Proxy],
        Service,
        false
    ),
    def!(
        "",
        "v1",
        "endpoints",
        "endpoints",
        "Endpoints",
        true,
        &["ep"],
        &[],
        &[],
        Endpoints,
        false
    ),
    def!(
        "",
        "v1",
        "events",
        "event",
        "Event",
        true,
        &["ev"],
        &[],
        &[],
        Plain,
        false
    ),
    def!(
        "",
        "v1",
        "configmaps",
        "configmap",
        "ConfigMap",
        true,
        &["cm"],
        &[],
        &[],
        ConfigMap,
        false
    ),
    def!(
        "",
        "v1",
        "secrets",
        "secret",
        "Secret",
        true,
        &[],
        &[],
        &[],
        Plain,
        false
    ),
    def!(
        "",
        "v1",
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        true,
        &["sa"],
        &[],
        &[Token],
        Plain,
        false
    ),
    def!(
        "",
        "v1",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        true,
        &["pvc"],
        &[],
        &[Status],
        PersistentVolumeClaim,
        false
    ),
    def!(
        "",
        "v1",
        "persistentvolumes",
        "persistentvolume",
        "PersistentVolume",
        false,
        &["pv"],
        &[],
        &[Status],
        PersistentVolume,
        false
    ),
    def!(
        "apps",
        "v1",
        "statefulsets",
        "statefulset",
        "StatefulSet",
        true,
        &["sts"],
        &["all"],
        &[Status, Scale],
        StatefulSet,
        true
    ),
    def!(
        "apps",
        "v1",
        "controllerrevisions",
        "controllerrevision",
        "ControllerRevision",
        true,
        &[],
        &[],
        &[],
        Plain,
        false
    ),
    def!(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "endpointslice",
        "EndpointSlice",
        true,
        &[],
        &[],
        &[],
        EndpointSlice,
        false
    ),
    def!(
        "events.k8s.io",
        "v1",
        "events",
        "event",
        "Event",
        true,
        &["ev"],
        &[],
        &[],
        Plain,
        false
    ),
    def!(
        "storage.k8s.io",
        "v1",
        "storageclasses",
        "storageclass",
        "StorageClass",
        false,
        &["sc"],
        &[],
        &[],
        StorageClass,
        false
    ),
    def!(
        "coordination.k8s.io",
        "v1",
        "leases",
        "lease",
        "Lease",
        true,
        &[],
        &[],
        &[],
        Plain,
        false
    ),
    def!(
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "role",
        "Role",
        true,
        &[],
        &[],
        &[],
        Plain,
        false
    ),
    def!(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "clusterrole",
        "ClusterRole",
        false,
        &[],
        &[],
        &[],
        Plain,
        false
    ),
    def!(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "rolebinding",
        "RoleBinding",
        true,
        &[],
        &[],
        &[],
        Plain,
        false
    ),
    def!(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "clusterrolebinding",
        "ClusterRoleBinding",
        false,
        &[],
        &[],
        &[],
        Plain,
        false
    ),
    def!(
        "authentication.k8s.io",
        "v1",
        "tokenreviews",
        "tokenreview",
        "TokenReview",
        false,
        &[],
        &[],
        &[],
        Review,
        false
    ),
    def!(
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "selfsubjectreview",
        "SelfSubjectReview",
        false,
        &[],
        &[],
        &[],
        Review,
        false
    ),
    def!(
        "authorization.k8s.io",
        "v1",
        "localsubjectaccessreviews",
        "localsubjectaccessreview",
        "LocalSubjectAccessReview",
        true,
        &[],
        &[],
        &[],
        Review,
        false
    ),
    def!(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        "SelfSubjectAccessReview",
        false,
        &[],
        &[],
        &[],
        Review,
        false
    ),
    def!(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "selfsubjectrulesreview",
        "SelfSubjectRulesReview",
        false,
        &[],
        &[],
        &[],
        Review,
        false
    ),
    def!(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "subjectaccessreview",
        "SubjectAccessReview",
        false,
        &[],
        &[],
        &[],
        Review,
        false
    ),
];

/// The served resource at `group/version/plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The served group/versions, core first, in discovery order.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}
