//! Volumes of the kinds podgate runs, and PersistentVolumeClaims (also the StatefulSet's
//! `volumeClaimTemplates`).

use k8s_openapi::api::core::v1 as api;
use k8s_pb::api::core::v1 as pb;

use super::convert::from_pb;

from_pb!(pb::Volume => api::Volume { name } base volume_source);

from_pb!(pb::VolumeSource => api::Volume {
    host_path, empty_dir, secret, persistent_volume_claim, downward_api, config_map, projected,
} reject {
    gce_persistent_disk, aws_elastic_block_store, git_repo, nfs, iscsi, glusterfs, rbd,
    flex_volume, cinder, cephfs, flocker, fc, azure_file, vsphere_volume, quobyte, azure_disk,
    photon_persistent_disk, portworx_volume, scale_io, storageos, csi, ephemeral, image,
});

from_pb!(pb::HostPathVolumeSource => api::HostPathVolumeSource { path } rename { r#type => type_: ptr });

from_pb!(pb::EmptyDirVolumeSource => api::EmptyDirVolumeSource { medium, size_limit: ptr });

from_pb!(pb::PersistentVolumeClaimVolumeSource => api::PersistentVolumeClaimVolumeSource { claim_name, read_only });

from_pb!(pb::ConfigMapVolumeSource => api::ConfigMapVolumeSource {
    items, default_mode: ptr, optional: ptr,
} base local_object_reference);

from_pb!(pb::SecretVolumeSource => api::SecretVolumeSource {
    secret_name, items, default_mode: ptr, optional: ptr,
});

from_pb!(pb::KeyToPath => api::KeyToPath { key, path, mode: ptr });

from_pb!(pb::DownwardAPIVolumeSource => api::DownwardAPIVolumeSource { items, default_mode: ptr });

from_pb!(pb::DownwardAPIVolumeFile => api::DownwardAPIVolumeFile {
    path, field_ref, resource_field_ref, mode: ptr,
});

from_pb!(pb::ProjectedVolumeSource => api::ProjectedVolumeSource { sources, default_mode: ptr });

from_pb!(pb::VolumeProjection => api::VolumeProjection {
    secret, downward_api, config_map, service_account_token,
} reject { cluster_trust_bundle, pod_certificate });

from_pb!(pb::SecretProjection => api::SecretProjection { items, optional: ptr } base local_object_reference);

from_pb!(pb::ConfigMapProjection => api::ConfigMapProjection { items, optional: ptr } base local_object_reference);

from_pb!(pb::DownwardAPIProjection => api::DownwardAPIProjection { items });

from_pb!(pb::ServiceAccountTokenProjection => api::ServiceAccountTokenProjection {
    audience, expiration_seconds: ptr, path,
});

// --- PersistentVolumeClaim ---

from_pb!(pb::PersistentVolumeClaim => api::PersistentVolumeClaim { metadata: req, spec, status });

from_pb!(pb::PersistentVolumeClaimSpec => api::PersistentVolumeClaimSpec {
    access_modes, selector, resources, volume_name, storage_class_name: ptr, volume_mode: ptr,
    data_source, data_source_ref, volume_attributes_class_name: ptr,
});

from_pb!(pb::VolumeResourceRequirements => api::VolumeResourceRequirements { limits, requests });

from_pb!(pb::TypedLocalObjectReference => api::TypedLocalObjectReference { api_group: ptr, kind, name });

from_pb!(pb::TypedObjectReference => api::TypedObjectReference { api_group: ptr, kind, name, namespace: ptr });

from_pb!(pb::PersistentVolumeClaimStatus => api::PersistentVolumeClaimStatus {
    phase, access_modes, capacity, conditions, allocated_resources, allocated_resource_statuses,
    current_volume_attributes_class_name: ptr, modify_volume_status,
});

from_pb!(pb::PersistentVolumeClaimCondition => api::PersistentVolumeClaimCondition {
    status, last_probe_time, last_transition_time, reason, message,
} rename { r#type => type_ });

from_pb!(pb::ModifyVolumeStatus => api::ModifyVolumeStatus { target_volume_attributes_class_name, status });
