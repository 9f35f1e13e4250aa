//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), as kubectl's
//! typed-client commands send them (`kubectl create configmap`, `kubectl run`, `kubectl expose`,
//! `kubectl create token`, `kubectl auth can-i`…).
//!
//! The body is Kubernetes' envelope: the magic bytes `k8s\0`, then a `runtime.Unknown` whose
//! `typeMeta` names the kind and whose `raw` is the object's own protobuf. The object is decoded
//! with the k8s-pb message of its kind and converted, field by field ([`convert::FromPb`]), into
//! the k8s-openapi type, whose serialization is the JSON the API server works on. Responses stay
//! JSON, which kubectl accepts.

mod apps;
mod auth;
mod container;
mod convert;
mod core_v1;
mod meta;
mod pod;
mod pod_status;
mod volume;

use k8s_openapi::api::apps::v1 as apps_api;
use k8s_openapi::api::authentication::v1 as authn_api;
use k8s_openapi::api::authorization::v1 as authz_api;
use k8s_openapi::api::autoscaling::v1 as autoscaling_api;
use k8s_openapi::api::core::v1 as core_api;
use k8s_openapi::api::rbac::v1 as rbac_api;
use k8s_pb::api::apps::v1 as apps_pb;
use k8s_pb::api::authentication::v1 as authn_pb;
use k8s_pb::api::authorization::v1 as authz_pb;
use k8s_pb::api::autoscaling::v1 as autoscaling_pb;
use k8s_pb::api::core::v1 as core_pb;
use k8s_pb::api::rbac::v1 as rbac_pb;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::Value;

use self::convert::{FromPb, malformed, unsupported};
use crate::machinery::status::Status;

/// The media type of Kubernetes' protobuf encoding.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with: `k8s\0`.
const MAGIC: &[u8] = b"k8s\0";

/// Decodes a Kubernetes protobuf request body into the JSON object the API server works on.
pub fn decode(body: &[u8]) -> Result<Value, Status> {
    let envelope = body.strip_prefix(MAGIC).ok_or_else(|| {
        malformed("provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]")
    })?;
    let unknown = Unknown::decode(envelope).map_err(|e| malformed(&e.to_string()))?;
    if let Some(encoding) = unknown
        .content_encoding
        .as_deref()
        .filter(|e| !e.is_empty())
    {
        return Err(unsupported(&format!(
            "the protobuf body has content encoding {encoding:?}, which this server does not decode"
        )));
    }
    let type_meta = unknown.type_meta.unwrap_or_default();
    let api_version = type_meta.api_version.unwrap_or_default();
    let kind = type_meta.kind.unwrap_or_default();
    if kind.is_empty() {
        return Err(malformed(
            "Object 'Kind' is missing in the protobuf envelope",
        ));
    }
    let decoder = KINDS
        .iter()
        .find(|(v, k, _)| *v == api_version && *k == kind)
        .map(|(_, _, decoder)| decoder)
        .ok_or_else(|| {
            unsupported(&format!(
                "this server does not decode {api_version} {kind} from protobuf ({CONTENT_TYPE})"
            ))
        })?;
    decoder(unknown.raw.as_deref().unwrap_or_default())
}

/// Decodes one kind's `raw` bytes into JSON.
type Decoder = fn(&[u8]) -> Result<Value, Status>;

/// The kinds decoded from protobuf, by `apiVersion` and `kind`.
static KINDS: &[(&str, &str, Decoder)] = &[
    (
        "v1",
        "ConfigMap",
        object::<core_pb::ConfigMap, core_api::ConfigMap>,
    ),
    ("v1", "Secret", object::<core_pb::Secret, core_api::Secret>),
    (
        "v1",
        "Namespace",
        object::<core_pb::Namespace, core_api::Namespace>,
    ),
    (
        "v1",
        "ServiceAccount",
        object::<core_pb::ServiceAccount, core_api::ServiceAccount>,
    ),
    (
        "v1",
        "Service",
        object::<core_pb::Service, core_api::Service>,
    ),
    ("v1", "Pod", object::<core_pb::Pod, core_api::Pod>),
    (
        "v1",
        "PersistentVolumeClaim",
        object::<core_pb::PersistentVolumeClaim, core_api::PersistentVolumeClaim>,
    ),
    ("v1", "Event", object::<core_pb::Event, core_api::Event>),
    (
        "v1",
        "Binding",
        object::<core_pb::Binding, core_api::Binding>,
    ),
    (
        "apps/v1",
        "StatefulSet",
        object::<apps_pb::StatefulSet, apps_api::StatefulSet>,
    ),
    (
        "autoscaling/v1",
        "Scale",
        object::<autoscaling_pb::Scale, autoscaling_api::Scale>,
    ),
    (
        "authentication.k8s.io/v1",
        "TokenRequest",
        object::<authn_pb::TokenRequest, authn_api::TokenRequest>,
    ),
    (
        "authentication.k8s.io/v1",
        "TokenReview",
        object::<authn_pb::TokenReview, authn_api::TokenReview>,
    ),
    (
        "authentication.k8s.io/v1",
        "SelfSubjectReview",
        object::<authn_pb::SelfSubjectReview, authn_api::SelfSubjectReview>,
    ),
    (
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
        object::<authz_pb::SelfSubjectAccessReview, authz_api::SelfSubjectAccessReview>,
    ),
    (
        "authorization.k8s.io/v1",
        "SubjectAccessReview",
        object::<authz_pb::SubjectAccessReview, authz_api::SubjectAccessReview>,
    ),
    (
        "authorization.k8s.io/v1",
        "LocalSubjectAccessReview",
        object::<authz_pb::LocalSubjectAccessReview, authz_api::LocalSubjectAccessReview>,
    ),
    (
        "authorization.k8s.io/v1",
        "SelfSubjectRulesReview",
        object::<authz_pb::SelfSubjectRulesReview, authz_api::SelfSubjectRulesReview>,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "Role",
        object::<rbac_pb::Role, rbac_api::Role>,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        object::<rbac_pb::ClusterRole, rbac_api::ClusterRole>,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        object::<rbac_pb::RoleBinding, rbac_api::RoleBinding>,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        object::<rbac_pb::ClusterRoleBinding, rbac_api::ClusterRoleBinding>,
    ),
];

/// Decodes `raw` as the k8s-pb message `P` and serializes it as the k8s-openapi type `T`
/// (which writes `apiVersion` and `kind` itself).
fn object<P, T>(raw: &[u8]) -> Result<Value, Status>
where
    P: Message + Default,
    T: FromPb<P> + serde::Serialize,
{
    let message = P::decode(raw).map_err(|e| malformed(&e.to_string()))?;
    serde_json::to_value(T::from_pb(message)?).map_err(|e| malformed(&e.to_string()))
}

#[cfg(test)]
mod tests;
