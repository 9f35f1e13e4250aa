//! Core/v1 objects besides pods: ConfigMap, Secret, Namespace, ServiceAccount, Service, Event
//! and Binding.

use k8s_openapi::api::core::v1 as api;
use k8s_pb::api::core::v1 as pb;

use super::convert::from_pb;

from_pb!(pb::ConfigMap => api::ConfigMap { metadata: req, immutable: ptr, data, binary_data });

from_pb!(pb::Secret => api::Secret {
    metadata: req, immutable: ptr, data, string_data,
} rename { r#type => type_ });

from_pb!(pb::Namespace => api::Namespace { metadata: req, spec, status });

from_pb!(pb::NamespaceSpec => api::NamespaceSpec { finalizers });

from_pb!(pb::NamespaceStatus => api::NamespaceStatus { phase, conditions });

from_pb!(pb::NamespaceCondition => api::NamespaceCondition {
    status, last_transition_time, reason, message,
} rename { r#type => type_ });

from_pb!(pb::ServiceAccount => api::ServiceAccount {
    metadata: req, secrets, image_pull_secrets, automount_service_account_token: ptr,
});

from_pb!(pb::ObjectReference => api::ObjectReference {
    kind, namespace, name, uid, api_version, resource_version, field_path,
});

// --- Service ---

from_pb!(pb::Service => api::Service { metadata: req, spec, status });

from_pb!(pb::ServiceSpec => api::ServiceSpec {
    ports, selector, cluster_ip, cluster_ips, external_ips, session_affinity, load_balancer_ip,
    load_balancer_source_ranges, external_name, external_traffic_policy, health_check_node_port,
    publish_not_ready_addresses, session_affinity_config, ip_families, ip_family_policy: ptr,
    allocate_load_balancer_node_ports: ptr, load_balancer_class: ptr,
    internal_traffic_policy: ptr, traffic_distribution: ptr,
} rename { r#type => type_ });

from_pb!(pb::ServicePort => api::ServicePort {
    name, protocol, app_protocol: ptr, port, target_port, node_port,
});

from_pb!(pb::SessionAffinityConfig => api::SessionAffinityConfig { client_ip });

from_pb!(pb::ClientIpConfig => api::ClientIPConfig { timeout_seconds: ptr });

from_pb!(pb::ServiceStatus => api::ServiceStatus { load_balancer, conditions });

from_pb!(pb::LoadBalancerStatus => api::LoadBalancerStatus { ingress });

from_pb!(pb::LoadBalancerIngress => api::LoadBalancerIngress { ip, hostname, ip_mode: ptr, ports });

from_pb!(pb::PortStatus => api::PortStatus { port, protocol, error: ptr });

// --- Event and Binding ---

from_pb!(pb::Event => api::Event {
    metadata: req, involved_object: req, reason, message, source, first_timestamp,
    last_timestamp, count, event_time, series, action, related, reporting_component,
    reporting_instance,
} rename { r#type => type_ });

from_pb!(pb::EventSource => api::EventSource { component, host });

from_pb!(pb::EventSeries => api::EventSeries { count, last_observed_time });

from_pb!(pb::Binding => api::Binding { metadata: req, target: req });
