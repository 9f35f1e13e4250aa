//! Pods: the Pod, its template and the PodSpec with its scheduling and security settings.

use k8s_openapi::api::core::v1 as api;
use k8s_pb::api::core::v1 as pb;

use super::convert::from_pb;

from_pb!(pb::Pod => api::Pod { metadata: req, spec, status });

from_pb!(pb::PodTemplateSpec => api::PodTemplateSpec { metadata, spec });

from_pb!(pb::PodSpec => api::PodSpec {
    volumes, init_containers, containers, ephemeral_containers, restart_policy,
    termination_grace_period_seconds: ptr, active_deadline_seconds: ptr, dns_policy,
    node_selector, service_account_name, service_account,
    automount_service_account_token: ptr, node_name, host_network, host_pid, host_ipc,
    share_process_namespace: ptr, security_context, image_pull_secrets, hostname, subdomain,
    affinity, scheduler_name, tolerations, host_aliases, priority_class_name, priority: ptr,
    dns_config, readiness_gates, runtime_class_name: ptr, enable_service_links: ptr,
    preemption_policy: ptr, overhead, topology_spread_constraints, set_hostname_as_fqdn: ptr,
    os, host_users: ptr, scheduling_gates, resource_claims, resources, hostname_override: ptr,
} reject { workload_ref });

from_pb!(pb::PodSecurityContext => api::PodSecurityContext {
    se_linux_options, windows_options, run_as_user: ptr, run_as_group: ptr,
    run_as_non_root: ptr, supplemental_groups, supplemental_groups_policy: ptr, fs_group: ptr,
    sysctls, fs_group_change_policy: ptr, seccomp_profile, app_armor_profile,
    se_linux_change_policy: ptr,
});

from_pb!(exact pb::Sysctl => api::Sysctl { name, value });

from_pb!(pb::HostAlias => api::HostAlias { ip, hostnames });

from_pb!(pb::PodDnsConfig => api::PodDNSConfig { nameservers, searches, options });

from_pb!(pb::PodDnsConfigOption => api::PodDNSConfigOption { name, value: ptr });

from_pb!(pb::PodReadinessGate => api::PodReadinessGate { condition_type });

from_pb!(pb::PodOs => api::PodOS { name });

from_pb!(pb::PodSchedulingGate => api::PodSchedulingGate { name });

from_pb!(pb::PodResourceClaim => api::PodResourceClaim {
    name, resource_claim_name: ptr, resource_claim_template_name: ptr,
});

// --- scheduling ---

from_pb!(pb::Toleration => api::Toleration { key, operator, value, effect, toleration_seconds: ptr });

from_pb!(pb::TopologySpreadConstraint => api::TopologySpreadConstraint {
    max_skew, topology_key, when_unsatisfiable, label_selector, min_domains: ptr,
    node_affinity_policy: ptr, node_taints_policy: ptr, match_label_keys,
});

from_pb!(pb::Affinity => api::Affinity { node_affinity, pod_affinity, pod_anti_affinity });

from_pb!(pb::NodeAffinity => api::NodeAffinity {
    required_during_scheduling_ignored_during_execution,
    preferred_during_scheduling_ignored_during_execution,
});

from_pb!(pb::NodeSelector => api::NodeSelector { node_selector_terms });

from_pb!(pb::NodeSelectorTerm => api::NodeSelectorTerm { match_expressions, match_fields });

from_pb!(pb::NodeSelectorRequirement => api::NodeSelectorRequirement { key, operator, values });

from_pb!(pb::PreferredSchedulingTerm => api::PreferredSchedulingTerm { weight, preference: req });

from_pb!(pb::PodAffinity => api::PodAffinity {
    required_during_scheduling_ignored_during_execution,
    preferred_during_scheduling_ignored_during_execution,
});

from_pb!(pb::PodAntiAffinity => api::PodAntiAffinity {
    required_during_scheduling_ignored_during_execution,
    preferred_during_scheduling_ignored_during_execution,
});

from_pb!(pb::PodAffinityTerm => api::PodAffinityTerm {
    label_selector, namespaces, topology_key, namespace_selector, match_label_keys,
    mismatch_label_keys,
});

from_pb!(pb::WeightedPodAffinityTerm => api::WeightedPodAffinityTerm { weight, pod_affinity_term: req });
