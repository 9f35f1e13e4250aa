//! Containers: the `Container` shape shared by containers, init containers and ephemeral
//! containers, with its ports, environment, resources, probes, lifecycle and security context.

use k8s_openapi::api::core::v1 as api;
use k8s_pb::api::core::v1 as pb;

use super::convert::{FromPb, from_pb};
use crate::machinery::status::Status;

from_pb!(pb::Container => api::Container {
    name, image, command, args, working_dir, ports, env_from, env, resources, resize_policy,
    restart_policy: ptr, restart_policy_rules, volume_mounts, volume_devices, liveness_probe,
    readiness_probe, startup_probe, lifecycle, termination_message_path,
    termination_message_policy, image_pull_policy, security_context, stdin, stdin_once, tty,
});

from_pb!(pb::EphemeralContainer => api::EphemeralContainer {
    target_container_name,
} base ephemeral_container_common);

from_pb!(pb::EphemeralContainerCommon => api::EphemeralContainer {
    name, image, command, args, working_dir, ports, env_from, env, resources, resize_policy,
    restart_policy: ptr, restart_policy_rules, volume_mounts, volume_devices, liveness_probe,
    readiness_probe, startup_probe, lifecycle, termination_message_path,
    termination_message_policy, image_pull_policy, security_context, stdin, stdin_once, tty,
});

from_pb!(pb::ContainerPort => api::ContainerPort { name, host_port, container_port, protocol, host_ip });

from_pb!(pb::ContainerResizePolicy => api::ContainerResizePolicy { resource_name, restart_policy });

from_pb!(pb::ContainerRestartRule => api::ContainerRestartRule { action, exit_codes });

from_pb!(pb::ContainerRestartRuleOnExitCodes => api::ContainerRestartRuleOnExitCodes { operator, values });

from_pb!(pb::VolumeMount => api::VolumeMount {
    name, read_only, recursive_read_only: ptr, mount_path, sub_path, mount_propagation: ptr,
    sub_path_expr,
});

from_pb!(pb::VolumeDevice => api::VolumeDevice { name, device_path });

// --- environment ---

from_pb!(pb::EnvVar => api::EnvVar { name, value, value_from });

from_pb!(pb::EnvVarSource => api::EnvVarSource {
    field_ref, resource_field_ref, config_map_key_ref, secret_key_ref, file_key_ref,
});

from_pb!(pb::ObjectFieldSelector => api::ObjectFieldSelector { api_version, field_path });

from_pb!(pb::ResourceFieldSelector => api::ResourceFieldSelector { container_name, resource, divisor });

from_pb!(pb::ConfigMapKeySelector => api::ConfigMapKeySelector { key, optional: ptr } base local_object_reference);

from_pb!(pb::SecretKeySelector => api::SecretKeySelector { key, optional: ptr } base local_object_reference);

from_pb!(pb::FileKeySelector => api::FileKeySelector { volume_name, path, key, optional: ptr });

from_pb!(pb::EnvFromSource => api::EnvFromSource { prefix, config_map_ref, secret_ref });

from_pb!(pb::ConfigMapEnvSource => api::ConfigMapEnvSource { optional: ptr } base local_object_reference);

from_pb!(pb::SecretEnvSource => api::SecretEnvSource { optional: ptr } base local_object_reference);

/// Implements [`FromPb`] from an embedded `LocalObjectReference` (Go's inline `name`).
macro_rules! named {
    ($($t:ident),*) => {$(
        impl FromPb<pb::LocalObjectReference> for api::$t {
            fn from_pb(src: pb::LocalObjectReference) -> Result<Self, Status> {
                Ok(Self { name: FromPb::from_pb(src.name)?, ..Default::default() })
            }
        }
    )*};
}

named!(
    ConfigMapKeySelector,
    SecretKeySelector,
    ConfigMapEnvSource,
    SecretEnvSource,
    ConfigMapVolumeSource,
    ConfigMapProjection,
    SecretProjection
);

from_pb!(pb::LocalObjectReference => api::LocalObjectReference { name });

// --- resources ---

from_pb!(pb::ResourceRequirements => api::ResourceRequirements { limits, requests, claims });

from_pb!(pb::ResourceClaim => api::ResourceClaim { name, request });

// --- probes and lifecycle ---

from_pb!(pb::Probe => api::Probe {
    initial_delay_seconds, timeout_seconds, period_seconds, success_threshold, failure_threshold,
    termination_grace_period_seconds: ptr,
} base handler);

from_pb!(pb::ProbeHandler => api::Probe { exec, http_get, tcp_socket, grpc });

from_pb!(pb::ExecAction => api::ExecAction { command });

from_pb!(pb::HttpGetAction => api::HTTPGetAction { path, port: req, host, scheme, http_headers });

from_pb!(exact pb::HttpHeader => api::HTTPHeader { name, value });

from_pb!(pb::TcpSocketAction => api::TCPSocketAction { port: req, host });

from_pb!(pb::GrpcAction => api::GRPCAction { port, service: ptr });

from_pb!(pb::Lifecycle => api::Lifecycle { post_start, pre_stop, stop_signal: ptr });

from_pb!(pb::LifecycleHandler => api::LifecycleHandler { exec, http_get, tcp_socket, sleep });

from_pb!(pb::SleepAction => api::SleepAction { seconds });

// --- security ---

from_pb!(pb::SecurityContext => api::SecurityContext {
    capabilities, privileged: ptr, se_linux_options, windows_options, run_as_user: ptr,
    run_as_group: ptr, run_as_non_root: ptr, read_only_root_filesystem: ptr,
    allow_privilege_escalation: ptr, proc_mount: ptr, seccomp_profile, app_armor_profile,
});

from_pb!(pb::Capabilities => api::Capabilities { add, drop });

from_pb!(pb::SeLinuxOptions => api::SELinuxOptions { user, role, level } rename { r#type => type_ });

from_pb!(pb::SeccompProfile => api::SeccompProfile { localhost_profile: ptr } rename { r#type => type_ });

from_pb!(pb::AppArmorProfile => api::AppArmorProfile { localhost_profile: ptr } rename { r#type => type_ });

from_pb!(pb::WindowsSecurityContextOptions => api::WindowsSecurityContextOptions {
    gmsa_credential_spec_name: ptr, gmsa_credential_spec: ptr, run_as_user_name: ptr,
    host_process: ptr,
});
