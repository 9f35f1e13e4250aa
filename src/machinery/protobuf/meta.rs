//! `meta/v1` types every object shares: ObjectMeta, owner references, label selectors, conditions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as api;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as pb;

use super::convert::from_pb;

from_pb!(pb::ObjectMeta => api::ObjectMeta {
    name, generate_name, namespace, self_link, uid, resource_version, generation,
    creation_timestamp, deletion_timestamp, deletion_grace_period_seconds: ptr,
    labels, annotations, owner_references, finalizers, managed_fields,
});

from_pb!(pb::OwnerReference => api::OwnerReference {
    api_version, kind, name, uid, controller: ptr, block_owner_deletion: ptr,
});

from_pb!(pb::ManagedFieldsEntry => api::ManagedFieldsEntry {
    manager, operation, api_version, time: ptr, fields_type, fields_v1, subresource,
});

from_pb!(pb::LabelSelector => api::LabelSelector { match_labels, match_expressions });

from_pb!(pb::LabelSelectorRequirement => api::LabelSelectorRequirement { key, operator, values });

from_pb!(pb::FieldSelectorRequirement => api::FieldSelectorRequirement { key, operator, values });

from_pb!(exact pb::Condition => api::Condition {
    status, observed_generation, last_transition_time: req, reason, message,
} rename { r#type => type_ });
