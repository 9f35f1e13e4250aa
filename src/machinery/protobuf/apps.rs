//! apps/v1 StatefulSet and its autoscaling/v1 Scale.

use k8s_openapi::api::apps::v1 as api;
use k8s_openapi::api::autoscaling::v1 as autoscaling;
use k8s_pb::api::apps::v1 as pb;
use k8s_pb::api::autoscaling::v1 as pb_autoscaling;

use super::convert::from_pb;

from_pb!(pb::StatefulSet => api::StatefulSet { metadata: req, spec: req, status });

from_pb!(pb::StatefulSetSpec => api::StatefulSetSpec {
    replicas: ptr, selector: req, template: req, volume_claim_templates, service_name,
    pod_management_policy, update_strategy, revision_history_limit: ptr, min_ready_seconds,
    persistent_volume_claim_retention_policy, ordinals,
});

from_pb!(pb::StatefulSetUpdateStrategy => api::StatefulSetUpdateStrategy { rolling_update } rename { r#type => type_ });

from_pb!(pb::RollingUpdateStatefulSetStrategy => api::RollingUpdateStatefulSetStrategy {
    partition: ptr, max_unavailable: ptr,
});

from_pb!(pb::StatefulSetPersistentVolumeClaimRetentionPolicy => api::StatefulSetPersistentVolumeClaimRetentionPolicy {
    when_deleted, when_scaled,
});

from_pb!(pb::StatefulSetOrdinals => api::StatefulSetOrdinals { start });

from_pb!(pb::StatefulSetStatus => api::StatefulSetStatus {
    observed_generation, replicas, ready_replicas, current_replicas, updated_replicas,
    current_revision, update_revision, collision_count: ptr, conditions, available_replicas,
});

from_pb!(pb::StatefulSetCondition => api::StatefulSetCondition {
    status, last_transition_time, reason, message,
} rename { r#type => type_ });

from_pb!(pb_autoscaling::Scale => autoscaling::Scale { metadata: req, spec, status });

// `spec.replicas` is kept even when 0: the Scale's whole point is the count.
from_pb!(pb_autoscaling::ScaleSpec => autoscaling::ScaleSpec { replicas: ptr });

from_pb!(pb_autoscaling::ScaleStatus => autoscaling::ScaleStatus { replicas, selector });
