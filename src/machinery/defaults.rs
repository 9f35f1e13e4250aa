//! Defaulting as kube-apiserver does it on every decode (`pkg/apis/core/v1/defaults.go`,
//! `pkg/apis/apps/v1/defaults.go`, `pkg/apis/discovery/v1/defaults.go`, `+default` markers),
//! plus the few fields the registry strategies and the v1 conversion fill in before an
//! object is validated and stored.
//!
//! What is deliberately *not* written: `spec.serviceAccountName: default` and the
//! `kube-api-access-*` token volume of pods come from the `ServiceAccount` admission plugin,
//! not from kube-apiserver's defaulting; a server without admission plugins leaves both
//! unset (only the deprecated `serviceAccount` alias is mirrored, by the v1 conversion).
//! ClusterIP and NodePort allocation, `metadata.generation`, `uid` and timestamps are the
//! registry's job and happen elsewhere.

use k8s_openapi::api::apps::v1::{
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, Endpoints, EnvVar, EphemeralContainer, HTTPGetAction, Lifecycle,
    Namespace, NamespaceSpec, NamespaceStatus, Node, PersistentVolume, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimStatus, PersistentVolumeStatus, Pod,
    PodSecurityContext, PodSpec, PodStatus, PodTemplateSpec, Probe, ResourceRequirements, Service,
    ServiceSpec, ServiceStatus, Volume,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::machinery::quantity;

/// `DefaultTerminationGracePeriodSeconds`.
const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;
/// Default mode of secret, configMap, downwardAPI and projected volume files (0644).
const DEFAULT_VOLUME_FILE_MODE: i32 = 0o644;
/// `DefaultClientIPServiceAffinitySeconds` (3 hours).
const DEFAULT_CLIENT_IP_AFFINITY_SECONDS: i32 = 10800;
/// Label every namespace carries with its own name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

fn set_if_none<T>(slot: &mut Option<T>, value: T) {
    if slot.is_none() {
        *slot = Some(value);
    }
}

fn set_if_empty(slot: &mut Option<String>, value: &str) {
    if slot.as_deref().is_none_or(str::is_empty) {
        *slot = Some(value.to_string());
    }
}

/// `SetDefaults_StatefulSet` (MaxUnavailableStatefulSet on, as in v1.35) plus the pod
/// template and claim template defaults: replicas 1, `OrderedReady`,
/// `RollingUpdate{partition: 0, maxUnavailable: 1}` when the type was empty, revision
/// history 10, retention policy `Retain`/`Retain`.
pub fn default_statefulset(set: &mut StatefulSet) {
    let spec = &mut set.spec;
    set_if_empty(&mut spec.pod_management_policy, "OrderedReady");
    let strategy = spec
        .update_strategy
        .get_or_insert_with(StatefulSetUpdateStrategy::default);
    if strategy.type_.as_deref().is_none_or(str::is_empty) {
        strategy.type_ = Some("RollingUpdate".to_string());
        set_if_none(
            &mut strategy.rolling_update,
            RollingUpdateStatefulSetStrategy::default(),
        );
    }
    if strategy.type_.as_deref() == Some("RollingUpdate")
        && let Some(ru) = strategy.rolling_update.as_mut()
    {
        set_if_none(&mut ru.partition, 0);
        set_if_none(&mut ru.max_unavailable, IntOrString::Int(1));
    }
    let policy = spec
        .persistent_volume_claim_retention_policy
        .get_or_insert_with(StatefulSetPersistentVolumeClaimRetentionPolicy::default);
    set_if_empty(&mut policy.when_deleted, "Retain");
    set_if_empty(&mut policy.when_scaled, "Retain");
    set_if_none(&mut spec.replicas, 1);
    set_if_none(&mut spec.revision_history_limit, 10);
    default_pod_template_spec(&mut spec.template);
    for claim in spec.volume_claim_templates.iter_mut().flatten() {
        default_pvc(claim);
    }
}

/// Drops `apiVersion` and `kind` from the claims embedded in a StatefulSet's
/// `volumeClaimTemplates`. The Rust types write both for every resource type; kube-apiserver
/// keeps no type metadata for embedded objects, so a re-applied manifest matches what is stored.
pub fn drop_embedded_type_meta(set: &mut serde_json::Value) {
    let templates = set
        .pointer_mut("/spec/volumeClaimTemplates")
        .and_then(serde_json::Value::as_array_mut);
    for claim in templates.into_iter().flatten() {
        if let Some(claim) = claim.as_object_mut() {
            claim.remove("apiVersion");
            claim.remove("kind");
        }
    }
}

/// Defaults of a pod template (`SetDefaults_PodSpec` and the nested container, volume and
/// probe defaults); the Pod-only ones (`enableServiceLinks`, requests from limits) are not
/// applied to templates, as upstream.
pub fn default_pod_template_spec(template: &mut PodTemplateSpec) {
    default_pod_spec(template.spec.get_or_insert_with(PodSpec::default));
}

/// `SetDefaults_PodSpec` and everything nested in a pod spec: `restartPolicy: Always`,
/// `terminationGracePeriodSeconds: 30`, `dnsPolicy: ClusterFirst`,
/// `schedulerName: default-scheduler`, `securityContext: {}`; per container
/// `terminationMessagePath`, `terminationMessagePolicy: File`, `imagePullPolicy`
/// (`Always` for `:latest` or no tag, else `IfNotPresent`), `resources: {}`, port protocol
/// `TCP`, probe timings (1s timeout, 10s period, thresholds 1/3), `httpGet` path `/` and
/// scheme `HTTP`, `fieldRef.apiVersion: v1`; volume sources and file modes. Also mirrors
/// `serviceAccountName` into the deprecated `serviceAccount` (v1 conversion).
pub fn default_pod_spec(spec: &mut PodSpec) {
    set_if_empty(&mut spec.dns_policy, "ClusterFirst");
    set_if_empty(&mut spec.restart_policy, "Always");
    set_if_none(&mut spec.security_context, PodSecurityContext::default());
    set_if_none(
        &mut spec.termination_grace_period_seconds,
        DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS,
    );
    set_if_empty(&mut spec.scheduler_name, "default-scheduler");
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        default_container(c);
    }
    for c in spec.ephemeral_containers.iter_mut().flatten() {
        default_ephemeral_container(c);
    }
    for v in spec.volumes.iter_mut().flatten() {
        default_volume(v);
    }
    let account = spec
        .service_account_name
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| spec.service_account.clone().filter(|s| !s.is_empty()));
    spec.service_account_name.clone_from(&account);
    spec.service_account = account;
}

/// `SetDefaults_Container` and the defaults of its ports, probes, lifecycle and env.
fn default_container(c: &mut Container) {
    if c.image_pull_policy.as_deref().is_none_or(str::is_empty) {
        c.image_pull_policy =
            Some(default_pull_policy(c.image.as_deref().unwrap_or("")).to_string());
    }
    set_if_empty(&mut c.termination_message_path, "/dev/termination-log");
    set_if_empty(&mut c.termination_message_policy, "File");
    set_if_none(&mut c.resources, ResourceRequirements::default());
    default_ports(c.ports.as_mut());
    for p in [
        &mut c.liveness_probe,
        &mut c.readiness_probe,
        &mut c.startup_probe,
    ]
    .into_iter()
    .flatten()
    {
        default_probe(p);
    }
    if let Some(l) = c.lifecycle.as_mut() {
        default_lifecycle(l);
    }
    default_env(c.env.as_mut());
}

/// `SetDefaults_EphemeralContainer` (same as a container).
fn default_ephemeral_container(c: &mut EphemeralContainer) {
    if c.image_pull_policy.as_deref().is_none_or(str::is_empty) {
        c.image_pull_policy =
            Some(default_pull_policy(c.image.as_deref().unwrap_or("")).to_string());
    }
    set_if_empty(&mut c.termination_message_path, "/dev/termination-log");
    set_if_empty(&mut c.termination_message_policy, "File");
    set_if_none(&mut c.resources, ResourceRequirements::default());
    default_ports(c.ports.as_mut());
    default_env(c.env.as_mut());
}

/// `Always` when the image has the `latest` tag or neither tag nor digest, else
/// `IfNotPresent` (also for an empty image, which does not parse upstream).
pub fn default_pull_policy(image: &str) -> &'static str {
    if image.is_empty() {
        return "IfNotPresent";
    }
    let (name, digest) = match image.split_once('@') {
        Some((name, _)) => (name, true),
        None => (image, false),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.split_once(':').map(|(_, tag)| tag) {
        Some("latest") => "Always",
        Some(_) => "IfNotPresent",
        None if digest => "IfNotPresent",
        None => "Always",
    }
}

fn default_ports(ports: Option<&mut Vec<ContainerPort>>) {
    for p in ports.into_iter().flatten() {
        set_if_empty(&mut p.protocol, "TCP");
    }
}

/// `SetDefaults_Probe` and the nested `httpGet` defaults.
fn default_probe(p: &mut Probe) {
    for (slot, value) in [
        (&mut p.timeout_seconds, 1),
        (&mut p.period_seconds, 10),
        (&mut p.success_threshold, 1),
        (&mut p.failure_threshold, 3),
    ] {
        if slot.is_none_or(|v| v == 0) {
            *slot = Some(value);
        }
    }
    if let Some(h) = p.http_get.as_mut() {
        default_http_get(h);
    }
}

fn default_lifecycle(l: &mut Lifecycle) {
    for h in [&mut l.post_start, &mut l.pre_stop].into_iter().flatten() {
        if let Some(g) = h.http_get.as_mut() {
            default_http_get(g);
        }
    }
}

/// `SetDefaults_HTTPGetAction`: path `/`, scheme `HTTP`.
fn default_http_get(h: &mut HTTPGetAction) {
    set_if_empty(&mut h.path, "/");
    set_if_empty(&mut h.scheme, "HTTP");
}

fn default_env(env: Option<&mut Vec<EnvVar>>) {
    for e in env.into_iter().flatten() {
        if let Some(src) = e.value_from.as_mut() {
            if let Some(f) = src.field_ref.as_mut() {
                set_if_empty(&mut f.api_version, "v1");
            }
            if let Some(r) = src.resource_field_ref.as_mut() {
                set_if_none(&mut r.divisor, Quantity("0".to_string()));
            }
        }
    }
}

/// `SetDefaults_Volume` and the nested volume-source defaults.
fn default_volume(v: &mut Volume) {
    let has_source = serde_json::to_value(&*v)
        .ok()
        .and_then(|j| j.as_object().map(|m| m.keys().any(|k| k != "name")))
        .unwrap_or(true);
    if !has_source {
        v.empty_dir = Some(Default::default());
    }
    if let Some(s) = v.secret.as_mut() {
        set_if_none(&mut s.default_mode, DEFAULT_VOLUME_FILE_MODE);
    }
    if let Some(c) = v.config_map.as_mut() {
        set_if_none(&mut c.default_mode, DEFAULT_VOLUME_FILE_MODE);
    }
    if let Some(d) = v.downward_api.as_mut() {
        set_if_none(&mut d.default_mode, DEFAULT_VOLUME_FILE_MODE);
        for item in d.items.iter_mut().flatten() {
            if let Some(f) = item.field_ref.as_mut() {
                set_if_empty(&mut f.api_version, "v1");
            }
            if let Some(r) = item.resource_field_ref.as_mut() {
                set_if_none(&mut r.divisor, Quantity("0".to_string()));
            }
        }
    }
    if let Some(p) = v.projected.as_mut() {
        set_if_none(&mut p.default_mode, DEFAULT_VOLUME_FILE_MODE);
        for source in p.sources.iter_mut().flatten() {
            if let Some(t) = source.service_account_token.as_mut() {
                set_if_none(&mut t.expiration_seconds, 3600);
            }
            for item in source
                .downward_api
                .iter_mut()
                .flat_map(|d| d.items.iter_mut().flatten())
            {
                if let Some(f) = item.field_ref.as_mut() {
                    set_if_empty(&mut f.api_version, "v1");
                }
            }
        }
    }
    if let Some(h) = v.host_path.as_mut() {
        set_if_none(&mut h.type_, String::new());
    }
    if let Some(t) = v
        .ephemeral
        .as_mut()
        .and_then(|e| e.volume_claim_template.as_mut())
    {
        default_pvc_spec(&mut t.spec);
    }
}

/// `SetDefaults_Pod` on top of the pod spec defaults, the v1 conversion's
/// negative-grace-period fix, and what the pod strategy's `PrepareForCreate` writes:
/// `enableServiceLinks: true`, requests defaulted from limits, host ports for
/// `hostNetwork` pods, `status.phase: Pending` and `status.qosClass`.
///
/// The status is only filled where empty; on update the caller keeps the stored status.
pub fn default_pod(pod: &mut Pod) {
    let spec = pod.spec.get_or_insert_with(PodSpec::default);
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        let res = c
            .resources
            .get_or_insert_with(ResourceRequirements::default);
        if let Some(limits) = res.limits.clone() {
            let requests = res.requests.get_or_insert_with(Default::default);
            for (k, v) in limits {
                requests.entry(k).or_insert(v);
            }
        }
    }
    set_if_none(&mut spec.enable_service_links, true);
    if spec.host_network == Some(true) {
        for c in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            for p in c.ports.iter_mut().flatten() {
                if p.host_port.is_none_or(|h| h == 0) {
                    p.host_port = Some(p.container_port);
                }
            }
        }
    }
    if spec.termination_grace_period_seconds.is_some_and(|g| g < 0) {
        spec.termination_grace_period_seconds = Some(1);
    }
    default_pod_spec(spec);
    let qos = pod_qos_class(spec);
    let status = pod.status.get_or_insert_with(PodStatus::default);
    set_if_empty(&mut status.phase, "Pending");
    set_if_empty(&mut status.qos_class, qos);
}

/// `ComputePodQOS`: `Guaranteed` when every container (or the pod-level resources) sets
/// equal, non-zero CPU and memory requests and limits, `BestEffort` when no CPU or memory
/// request or limit is set anywhere, `Burstable` otherwise.
pub fn pod_qos_class(spec: &PodSpec) -> &'static str {
    const QOS_RESOURCES: [&str; 2] = ["cpu", "memory"];
    let mut requests: std::collections::BTreeMap<&'static str, i128> = Default::default();
    let mut limits: std::collections::BTreeMap<&'static str, i128> = Default::default();
    let mut guaranteed = true;
    fn add(
        into: &mut std::collections::BTreeMap<&'static str, i128>,
        name: &str,
        q: &Quantity,
    ) -> bool {
        let Some(&name) = QOS_RESOURCES.iter().find(|r| **r == name) else {
            return false;
        };
        match quantity::parse_nanos(&q.0) {
            Some(n) if n > 0 => {
                *into.entry(name).or_insert(0) += n;
                true
            }
            _ => false,
        }
    }
    let pod_level = spec
        .resources
        .as_ref()
        .filter(|r| r.requests.is_some() || r.limits.is_some());
    let sources: Vec<&ResourceRequirements> = match pod_level {
        Some(r) => vec![r],
        None => spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .filter_map(|c| c.resources.as_ref())
            .collect(),
    };
    let container_count = spec.containers.len() + spec.init_containers.as_ref().map_or(0, Vec::len);
    if pod_level.is_none() && sources.len() < container_count {
        guaranteed = false;
    }
    for r in sources {
        for (k, q) in r.requests.iter().flatten() {
            add(&mut requests, k, q);
        }
        let mut found = Vec::new();
        for (k, q) in r.limits.iter().flatten() {
            if add(&mut limits, k, q) {
                found.push(k.as_str());
            }
        }
        if !QOS_RESOURCES.iter().all(|r| found.contains(r)) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed
        && requests.iter().all(|(k, v)| limits.get(k) == Some(v))
        && requests.len() == limits.len()
    {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// `SetDefaults_Service` plus what the registry writes before validation: `type: ClusterIP`,
/// `sessionAffinity: None` (ClientIP gets a 10800s timeout), port protocol `TCP` and
/// `targetPort` = `port`, `externalTrafficPolicy: Cluster` for externally reachable types,
/// `internalTrafficPolicy: Cluster`, `allocateLoadBalancerNodePorts: true` for
/// LoadBalancers, `clusterIP`/`clusterIPs` kept in sync, and the IP family fields of a
/// single-stack IPv4 cluster (`SingleStack` + `[IPv4]`; `RequireDualStack` for headless
/// services without a selector).
pub fn default_service(svc: &mut Service) {
    let spec = svc.spec.get_or_insert_with(ServiceSpec::default);
    set_if_empty(&mut spec.session_affinity, "None");
    match spec.session_affinity.as_deref() {
        Some("None") => spec.session_affinity_config = None,
        Some("ClientIP") => {
            let has_timeout = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .is_some_and(|c| c.timeout_seconds.is_some());
            if !has_timeout {
                spec.session_affinity_config =
                    Some(k8s_openapi::api::core::v1::SessionAffinityConfig {
                        client_ip: Some(k8s_openapi::api::core::v1::ClientIPConfig {
                            timeout_seconds: Some(DEFAULT_CLIENT_IP_AFFINITY_SECONDS),
                        }),
                    });
            }
        }
        _ => {}
    }
    set_if_empty(&mut spec.type_, "ClusterIP");
    for p in spec.ports.iter_mut().flatten() {
        set_if_empty(&mut p.protocol, "TCP");
        let unset = match &p.target_port {
            None => true,
            Some(IntOrString::Int(0)) => true,
            Some(IntOrString::String(s)) => s.is_empty(),
            Some(IntOrString::Int(_)) => false,
        };
        if unset {
            p.target_port = Some(IntOrString::Int(p.port));
        }
    }
    let type_ = spec.type_.clone().unwrap_or_default();
    let externally_accessible = type_ == "LoadBalancer"
        || type_ == "NodePort"
        || (type_ == "ClusterIP"
            && spec
                .external_ips
                .as_ref()
                .is_some_and(|ips| !ips.is_empty()));
    if externally_accessible {
        set_if_empty(&mut spec.external_traffic_policy, "Cluster");
    }
    if matches!(type_.as_str(), "NodePort" | "LoadBalancer" | "ClusterIP") {
        set_if_empty(&mut spec.internal_traffic_policy, "Cluster");
    }
    if type_ == "LoadBalancer" {
        set_if_none(&mut spec.allocate_load_balancer_node_ports, true);
    }
    if type_ != "ExternalName" {
        let cluster_ip = spec.cluster_ip.clone().unwrap_or_default();
        let cluster_ips = spec.cluster_ips.clone().unwrap_or_default();
        if !cluster_ip.is_empty() && cluster_ips.is_empty() {
            spec.cluster_ips = Some(vec![cluster_ip]);
        } else if cluster_ip.is_empty()
            && let Some(first) = cluster_ips.first()
        {
            spec.cluster_ip = Some(first.clone());
        }
        let headless = spec.cluster_ip.as_deref() == Some("None");
        let selectorless = spec.selector.as_ref().is_none_or(|s| s.is_empty());
        if headless && selectorless {
            set_if_empty(&mut spec.ip_family_policy, "RequireDualStack");
        } else {
            set_if_empty(&mut spec.ip_family_policy, "SingleStack");
        }
        if spec.ip_families.as_ref().is_none_or(Vec::is_empty) {
            spec.ip_families = Some(vec!["IPv4".to_string()]);
        }
    }
    let status = svc.status.get_or_insert_with(ServiceStatus::default);
    set_if_none(&mut status.load_balancer, Default::default());
}

/// `SetDefaults_PersistentVolumeClaim(Spec)`: `volumeMode: Filesystem`, `status.phase: Pending`.
pub fn default_pvc(pvc: &mut PersistentVolumeClaim) {
    default_pvc_spec(
        pvc.spec
            .get_or_insert_with(PersistentVolumeClaimSpec::default),
    );
    let status = pvc
        .status
        .get_or_insert_with(PersistentVolumeClaimStatus::default);
    set_if_empty(&mut status.phase, "Pending");
}

fn default_pvc_spec(spec: &mut PersistentVolumeClaimSpec) {
    set_if_empty(&mut spec.volume_mode, "Filesystem");
}

/// `SetDefaults_PersistentVolume`: `persistentVolumeReclaimPolicy: Retain`,
/// `volumeMode: Filesystem`, `status.phase: Pending`.
pub fn default_pv(pv: &mut PersistentVolume) {
    let spec = pv.spec.get_or_insert_with(Default::default);
    set_if_empty(&mut spec.persistent_volume_reclaim_policy, "Retain");
    set_if_empty(&mut spec.volume_mode, "Filesystem");
    if let Some(h) = spec.host_path.as_mut() {
        set_if_none(&mut h.type_, String::new());
    }
    let status = pv
        .status
        .get_or_insert_with(PersistentVolumeStatus::default);
    set_if_empty(&mut status.phase, "Pending");
}

/// `SetDefaults_Namespace` / `SetDefaults_NamespaceStatus`: the
/// `kubernetes.io/metadata.name` label (always equal to the name) and `status.phase: Active`.
pub fn default_namespace(ns: &mut Namespace) {
    if let Some(name) = ns.metadata.name.clone().filter(|n| !n.is_empty()) {
        ns.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(NAMESPACE_NAME_LABEL.to_string(), name);
    }
    let status = ns.status.get_or_insert_with(NamespaceStatus::default);
    set_if_empty(&mut status.phase, "Active");
}

/// The namespace strategy's `PrepareForCreate`: status `Active` and the `kubernetes`
/// finalizer appended to `spec.finalizers` (create only; the finalizer is removed through
/// the `/finalize` subresource during deletion).
pub fn prepare_namespace_for_create(ns: &mut Namespace) {
    ns.status = Some(NamespaceStatus {
        phase: Some("Active".to_string()),
        ..Default::default()
    });
    let finalizers = ns
        .spec
        .get_or_insert_with(NamespaceSpec::default)
        .finalizers
        .get_or_insert_with(Vec::new);
    if !finalizers.iter().any(|f| f == "kubernetes") {
        finalizers.push("kubernetes".to_string());
    }
}

/// `SetDefaults_Endpoints`: port protocol `TCP`.
pub fn default_endpoints(ep: &mut Endpoints) {
    for subset in ep.subsets.iter_mut().flatten() {
        for p in subset.ports.iter_mut().flatten() {
            set_if_empty(&mut p.protocol, "TCP");
        }
    }
}

/// `SetDefaults_EndpointPort` (discovery/v1): port name `""` and protocol `TCP`.
pub fn default_endpointslice(slice: &mut EndpointSlice) {
    for p in slice.ports.iter_mut().flatten() {
        set_if_none(&mut p.name, String::new());
        set_if_empty(&mut p.protocol, "TCP");
    }
}

/// `SetDefaults_NodeStatus`: `allocatable` copied from `capacity` when absent.
pub fn default_node(node: &mut Node) {
    if let Some(status) = node.status.as_mut()
        && status.allocatable.is_none()
    {
        status.allocatable.clone_from(&status.capacity);
    }
}

/// `SetDefaults_StorageClass` (storage/v1): `reclaimPolicy: Delete`,
/// `volumeBindingMode: Immediate`.
pub fn default_storage_class(sc: &mut StorageClass) {
    set_if_empty(&mut sc.reclaim_policy, "Delete");
    set_if_empty(&mut sc.volume_binding_mode, "Immediate");
}

/// What `rest.BeforeUpdate` does to an update's metadata before validation: the stored
/// `generation`, `uid` (when absent) and `creationTimestamp` are kept, and a set
/// `deletionTimestamp`/`deletionGracePeriodSeconds` cannot be removed or changed.
/// (`generation` is bumped afterwards by the caller when the spec changed.)
pub fn prepare_object_meta_for_update(new: &mut ObjectMeta, old: &ObjectMeta) {
    new.generation = old.generation;
    if new.uid.as_deref().is_none_or(str::is_empty) {
        new.uid.clone_from(&old.uid);
    }
    if old.creation_timestamp.is_some() {
        new.creation_timestamp.clone_from(&old.creation_timestamp);
    }
    if old.deletion_timestamp.is_some() {
        new.deletion_timestamp.clone_from(&old.deletion_timestamp);
    }
    if old.deletion_grace_period_seconds.is_some() && new.deletion_grace_period_seconds.is_none() {
        new.deletion_grace_period_seconds = old.deletion_grace_period_seconds;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pod_from(v: Value) -> Pod {
        serde_json::from_value(v).expect("pod json")
    }

    #[test]
    fn statefulset_defaults_match_upstream() {
        let mut set: StatefulSet = serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "serviceName": "web",
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]
            }
        }))
        .expect("sts json");
        default_statefulset(&mut set);
        let spec = serde_json::to_value(&set.spec).expect("json");
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            spec["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 1}})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(
            spec["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(
            spec["volumeClaimTemplates"][0]["spec"]["volumeMode"],
            "Filesystem"
        );
        assert_eq!(
            spec["volumeClaimTemplates"][0]["status"]["phase"],
            "Pending"
        );
        let tpl = &spec["template"]["spec"];
        assert_eq!(tpl["restartPolicy"], "Always");
        assert_eq!(tpl["dnsPolicy"], "ClusterFirst");
        assert_eq!(tpl["schedulerName"], "default-scheduler");
        assert_eq!(tpl["terminationGracePeriodSeconds"], 30);
        assert_eq!(tpl["securityContext"], json!({}));
        assert!(
            tpl.get("enableServiceLinks").is_none(),
            "Pod-only default must not reach templates"
        );
        assert_eq!(tpl["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(
            tpl["containers"][0]["terminationMessagePath"],
            "/dev/termination-log"
        );
        assert_eq!(tpl["containers"][0]["terminationMessagePolicy"], "File");
    }

    #[test]
    fn explicit_rolling_update_type_keeps_nil_rolling_update() {
        let mut set = StatefulSet::default();
        set.spec.update_strategy = Some(StatefulSetUpdateStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: None,
        });
        default_statefulset(&mut set);
        let strategy = set.spec.update_strategy.expect("strategy");
        assert!(strategy.rolling_update.is_none());
    }

    #[test]
    fn pull_policy_table() {
        let cases = [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.27", "IfNotPresent"),
            ("registry:5000/team/app", "Always"),
            ("registry:5000/team/app:v1", "IfNotPresent"),
            ("nginx@sha256:abcd", "IfNotPresent"),
            ("nginx:latest@sha256:abcd", "Always"),
            ("", "IfNotPresent"),
        ];
        for (image, want) in cases {
            assert_eq!(default_pull_policy(image), want, "image {image:?}");
        }
    }

    #[test]
    fn pod_defaults_and_status() {
        let mut pod = pod_from(json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {
                "serviceAccountName": "builder",
                "containers": [{
                    "name": "c", "image": "busybox:1.36",
                    "ports": [{"containerPort": 80}],
                    "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                    "readinessProbe": {"httpGet": {"port": 80}},
                    "livenessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 5}
                }],
                "volumes": [{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "cfg"}}]
            }
        }));
        default_pod(&mut pod);
        let v = serde_json::to_value(&pod).expect("json");
        let c = &v["spec"]["containers"][0];
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(
            c["readinessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(c["livenessProbe"]["periodSeconds"], 5);
        assert_eq!(c["resources"], json!({}));
        assert_eq!(v["spec"]["volumes"][0]["emptyDir"], json!({}));
        assert_eq!(v["spec"]["volumes"][1]["configMap"]["defaultMode"], 420);
        assert_eq!(v["spec"]["enableServiceLinks"], true);
        assert_eq!(v["spec"]["serviceAccount"], "builder");
        assert_eq!(
            v["status"],
            json!({"phase": "Pending", "qosClass": "BestEffort"})
        );
    }

    #[test]
    fn pod_without_service_account_gets_none_without_admission() {
        let mut pod = pod_from(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
        );
        default_pod(&mut pod);
        let spec = pod.spec.expect("spec");
        assert_eq!(spec.service_account_name, None);
        assert_eq!(spec.service_account, None);
    }

    #[test]
    fn qos_class_table() {
        let res = |req: Value, lim: Value| json!({"requests": req, "limits": lim});
        let cases = [
            (json!([{"name": "a", "image": "x"}]), "BestEffort"),
            (
                json!([{"name": "a", "image": "x", "resources": res(json!({"cpu": "1", "memory": "1Gi"}), json!({"cpu": "1", "memory": "1Gi"}))}]),
                "Guaranteed",
            ),
            (
                json!([{"name": "a", "image": "x", "resources": res(json!({"cpu": "1000m", "memory": "1024Mi"}), json!({"cpu": "1", "memory": "1Gi"}))}]),
                "Guaranteed",
            ),
            (
                json!([{"name": "a", "image": "x", "resources": {"requests": {"cpu": "100m"}}}]),
                "Burstable",
            ),
            (
                json!([{"name": "a", "image": "x", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]),
                "Guaranteed",
            ),
            (
                json!([{"name": "a", "image": "x", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}, {"name": "b", "image": "x"}]),
                "Burstable",
            ),
            (
                json!([{"name": "a", "image": "x", "resources": {"requests": {"nvidia.com/gpu": "1"}}}]),
                "BestEffort",
            ),
        ];
        for (containers, want) in cases {
            let mut pod =
                pod_from(json!({"metadata": {"name": "p"}, "spec": {"containers": containers}}));
            default_pod(&mut pod);
            let got = pod.status.and_then(|s| s.qos_class).unwrap_or_default();
            assert_eq!(got, want, "containers {containers}");
        }
    }

    #[test]
    fn negative_grace_period_becomes_one_for_pods() {
        let mut pod = pod_from(
            json!({"metadata": {"name": "p"}, "spec": {"terminationGracePeriodSeconds": -5, "containers": [{"name": "c", "image": "x"}]}}),
        );
        default_pod(&mut pod);
        assert_eq!(
            pod.spec.and_then(|s| s.termination_grace_period_seconds),
            Some(1)
        );
    }

    #[test]
    fn host_network_pods_get_host_ports() {
        let mut pod = pod_from(
            json!({"metadata": {"name": "p"}, "spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 8080}]}]}}),
        );
        default_pod(&mut pod);
        let port = pod
            .spec
            .and_then(|s| s.containers[0].ports.clone())
            .expect("ports");
        assert_eq!(port[0].host_port, Some(8080));
    }

    #[test]
    fn service_defaults() {
        let mut svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "s"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}, {"port": 443, "targetPort": "https", "name": "https"}]}
        }))
        .expect("svc json");
        default_service(&mut svc);
        let v = serde_json::to_value(&svc).expect("json");
        let spec = &v["spec"];
        assert_eq!(spec["type"], "ClusterIP");
        assert_eq!(spec["sessionAffinity"], "None");
        assert_eq!(
            spec["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80})
        );
        assert_eq!(spec["ports"][1]["targetPort"], "https");
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
        assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
        assert!(spec.get("externalTrafficPolicy").is_none());
        assert_eq!(v["status"], json!({"loadBalancer": {}}));
    }

    #[test]
    fn service_defaults_by_type() {
        let mut lb: Service = serde_json::from_value(json!({"metadata": {"name": "s"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})).expect("json");
        default_service(&mut lb);
        let spec = lb.spec.expect("spec");
        assert_eq!(spec.external_traffic_policy.as_deref(), Some("Cluster"));
        assert_eq!(spec.allocate_load_balancer_node_ports, Some(true));
        let mut headless: Service = serde_json::from_value(
            json!({"metadata": {"name": "h"}, "spec": {"clusterIP": "None"}}),
        )
        .expect("json");
        default_service(&mut headless);
        let spec = headless.spec.expect("spec");
        assert_eq!(spec.cluster_ips, Some(vec!["None".to_string()]));
        assert_eq!(spec.ip_family_policy.as_deref(), Some("RequireDualStack"));
        let mut ext: Service = serde_json::from_value(json!({"metadata": {"name": "e"}, "spec": {"type": "ExternalName", "externalName": "example.com"}})).expect("json");
        default_service(&mut ext);
        let spec = ext.spec.expect("spec");
        assert_eq!(spec.ip_families, None);
        assert_eq!(spec.internal_traffic_policy, None);
    }

    #[test]
    fn storage_defaults() {
        let mut pvc = PersistentVolumeClaim::default();
        default_pvc(&mut pvc);
        assert_eq!(
            pvc.spec.and_then(|s| s.volume_mode).as_deref(),
            Some("Filesystem")
        );
        assert_eq!(pvc.status.and_then(|s| s.phase).as_deref(), Some("Pending"));
        let mut pv = PersistentVolume::default();
        default_pv(&mut pv);
        let spec = pv.spec.expect("spec");
        assert_eq!(
            spec.persistent_volume_reclaim_policy.as_deref(),
            Some("Retain")
        );
        assert_eq!(spec.volume_mode.as_deref(), Some("Filesystem"));
        assert_eq!(pv.status.and_then(|s| s.phase).as_deref(), Some("Pending"));
        let mut sc = StorageClass::default();
        default_storage_class(&mut sc);
        assert_eq!(
            (
                sc.reclaim_policy.as_deref(),
                sc.volume_binding_mode.as_deref()
            ),
            (Some("Delete"), Some("Immediate"))
        );
    }

    #[test]
    fn namespace_defaults() {
        let mut ns = Namespace::default();
        ns.metadata.name = Some("team-a".into());
        ns.metadata.labels = Some([(NAMESPACE_NAME_LABEL.to_string(), "wrong".to_string())].into());
        default_namespace(&mut ns);
        assert_eq!(
            ns.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(NAMESPACE_NAME_LABEL))
                .map(String::as_str),
            Some("team-a")
        );
        assert_eq!(
            ns.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Active")
        );
        prepare_namespace_for_create(&mut ns);
        prepare_namespace_for_create(&mut ns);
        assert_eq!(
            ns.spec.and_then(|s| s.finalizers),
            Some(vec!["kubernetes".to_string()])
        );
    }

    #[test]
    fn update_metadata_keeps_server_fields() {
        let old: ObjectMeta = serde_json::from_value(json!({
            "name": "a", "uid": "u1", "generation": 3, "creationTimestamp": "2024-01-01T00:00:00Z",
            "deletionTimestamp": "2024-01-02T00:00:00Z", "deletionGracePeriodSeconds": 30
        }))
        .expect("meta json");
        let mut new = ObjectMeta {
            name: Some("a".into()),
            generation: Some(1),
            ..Default::default()
        };
        prepare_object_meta_for_update(&mut new, &old);
        assert_eq!(new, old);
    }

    #[test]
    fn endpoint_and_node_defaults() {
        let mut slice: EndpointSlice = serde_json::from_value(json!({"metadata": {"name": "s"}, "addressType": "IPv4", "endpoints": [], "ports": [{"port": 80}]})).expect("json");
        default_endpointslice(&mut slice);
        let port = &slice.ports.expect("ports")[0];
        assert_eq!(
            (port.name.as_deref(), port.protocol.as_deref()),
            (Some(""), Some("TCP"))
        );
        let mut ep: Endpoints = serde_json::from_value(json!({"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]})).expect("json");
        default_endpoints(&mut ep);
        assert_eq!(
            ep.subsets.expect("subsets")[0]
                .ports
                .as_ref()
                .expect("ports")[0]
                .protocol
                .as_deref(),
            Some("TCP")
        );
        let mut node: Node = serde_json::from_value(
            json!({"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "4"}}}),
        )
        .expect("json");
        default_node(&mut node);
        assert_eq!(
            node.status
                .and_then(|s| s.allocatable)
                .and_then(|a| a.get("cpu").cloned()),
            Some(Quantity("4".into()))
        );
    }
}
