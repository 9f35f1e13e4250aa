//! `PodStatus`: what the kubelet reports, decoded for status writes.

use k8s_openapi::api::core::v1 as api;
use k8s_pb::api::core::v1 as pb;

use super::convert::from_pb;

from_pb!(pb::PodStatus => api::PodStatus {
    observed_generation, phase, conditions, message, reason, nominated_node_name, host_ip,
    host_ips, pod_ip, pod_ips, start_time, init_container_statuses, container_statuses,
    qos_class, ephemeral_container_statuses, resize, resource_claim_statuses,
    extended_resource_claim_status, allocated_resources, resources,
});

from_pb!(pb::PodCondition => api::PodCondition {
    observed_generation, status, last_probe_time, last_transition_time, reason, message,
} rename { r#type => type_ });

from_pb!(pb::HostIp => api::HostIP { ip });

from_pb!(pb::PodIp => api::PodIP { ip });

from_pb!(pb::ContainerStatus => api::ContainerStatus {
    name, state, last_state, ready, restart_count, image, image_id, container_id,
    started: ptr, allocated_resources, resources, volume_mounts, user,
    allocated_resources_status, stop_signal: ptr,
});

from_pb!(pb::ContainerState => api::ContainerState { waiting, running, terminated });

from_pb!(pb::ContainerStateWaiting => api::ContainerStateWaiting { reason, message });

from_pb!(pb::ContainerStateRunning => api::ContainerStateRunning { started_at });

from_pb!(pb::ContainerStateTerminated => api::ContainerStateTerminated {
    exit_code, signal, reason, message, started_at, finished_at, container_id,
});

from_pb!(pb::VolumeMountStatus => api::VolumeMountStatus {
    name, mount_path, read_only, recursive_read_only: ptr,
});

from_pb!(pb::ContainerUser => api::ContainerUser { linux });

from_pb!(pb::LinuxContainerUser => api::LinuxContainerUser { uid, gid, supplemental_groups });

from_pb!(pb::ResourceStatus => api::ResourceStatus { name, resources });

from_pb!(pb::ResourceHealth => api::ResourceHealth { resource_id, health });

from_pb!(pb::PodResourceClaimStatus => api::PodResourceClaimStatus { name, resource_claim_name: ptr });

from_pb!(pb::PodExtendedResourceClaimStatus => api::PodExtendedResourceClaimStatus {
    request_mappings, resource_claim_name,
});

from_pb!(pb::ContainerExtendedResourceRequest => api::ContainerExtendedResourceRequest {
    container_name, resource_name, request_name,
});
