//! authentication/v1, authorization/v1 and rbac.authorization.k8s.io/v1 objects: token
//! requests and reviews, access reviews, roles and bindings.

use k8s_openapi::api::authentication::v1 as authn;
use k8s_openapi::api::authorization::v1 as authz;
use k8s_openapi::api::rbac::v1 as rbac;
use k8s_pb::api::authentication::v1 as pb_authn;
use k8s_pb::api::authorization::v1 as pb_authz;
use k8s_pb::api::rbac::v1 as pb_rbac;

use super::convert::{FromPb, from_pb};
use crate::machinery::status::Status;

// --- authentication.k8s.io/v1 ---

from_pb!(pb_authn::TokenRequest => authn::TokenRequest { metadata: req, spec, status });

from_pb!(pb_authn::TokenRequestSpec => authn::TokenRequestSpec {
    audiences, expiration_seconds: ptr, bound_object_ref,
});

from_pb!(pb_authn::TokenRequestStatus => authn::TokenRequestStatus {
    token, expiration_timestamp,
});

from_pb!(pb_authn::BoundObjectReference => authn::BoundObjectReference {
    kind, api_version, name,
} rename { u_id => uid });

from_pb!(pb_authn::TokenReview => authn::TokenReview { metadata: req, spec: req, status });

from_pb!(pb_authn::TokenReviewSpec => authn::TokenReviewSpec { token, audiences });

from_pb!(pb_authn::TokenReviewStatus => authn::TokenReviewStatus {
    authenticated, user, audiences, error,
});

from_pb!(pb_authn::UserInfo => authn::UserInfo { username, uid, groups, extra });

from_pb!(pb_authn::SelfSubjectReview => authn::SelfSubjectReview { metadata: req, status });

from_pb!(pb_authn::SelfSubjectReviewStatus => authn::SelfSubjectReviewStatus { user_info });

/// `map[string]ExtraValue`: each value is a wrapped list of strings.
impl FromPb<pb_authn::ExtraValue> for Vec<String> {
    fn from_pb(src: pb_authn::ExtraValue) -> Result<Self, Status> {
        Ok(src.items)
    }
}

impl FromPb<pb_authz::ExtraValue> for Vec<String> {
    fn from_pb(src: pb_authz::ExtraValue) -> Result<Self, Status> {
        Ok(src.items)
    }
}

// --- authorization.k8s.io/v1 ---

from_pb!(pb_authz::SelfSubjectAccessReview => authz::SelfSubjectAccessReview {
    metadata: req, spec: req, status,
});

from_pb!(pb_authz::SelfSubjectAccessReviewSpec => authz::SelfSubjectAccessReviewSpec {
    resource_attributes, non_resource_attributes,
});

from_pb!(pb_authz::SubjectAccessReview => authz::SubjectAccessReview { metadata: req, spec: req, status });

from_pb!(pb_authz::LocalSubjectAccessReview => authz::LocalSubjectAccessReview {
    metadata: req, spec: req, status,
});

from_pb!(pb_authz::SubjectAccessReviewSpec => authz::SubjectAccessReviewSpec {
    resource_attributes, non_resource_attributes, user, groups, extra, uid,
});

from_pb!(pb_authz::SubjectAccessReviewStatus => authz::SubjectAccessReviewStatus {
    allowed, denied, reason, evaluation_error,
});

from_pb!(pb_authz::ResourceAttributes => authz::ResourceAttributes {
    namespace, verb, group, version, resource, subresource, name, field_selector, label_selector,
});

from_pb!(pb_authz::NonResourceAttributes => authz::NonResourceAttributes { path, verb });

from_pb!(pb_authz::FieldSelectorAttributes => authz::FieldSelectorAttributes { raw_selector, requirements });

from_pb!(pb_authz::LabelSelectorAttributes => authz::LabelSelectorAttributes { raw_selector, requirements });

from_pb!(pb_authz::SelfSubjectRulesReview => authz::SelfSubjectRulesReview { metadata: req, spec: req, status });

from_pb!(pb_authz::SelfSubjectRulesReviewSpec => authz::SelfSubjectRulesReviewSpec { namespace });

from_pb!(pb_authz::SubjectRulesReviewStatus => authz::SubjectRulesReviewStatus {
    resource_rules, non_resource_rules, incomplete, evaluation_error,
});

from_pb!(pb_authz::ResourceRule => authz::ResourceRule { verbs, api_groups, resources, resource_names });

from_pb!(pb_authz::NonResourceRule => authz::NonResourceRule { verbs } rename { non_resource_ur_ls => non_resource_urls });

// --- rbac.authorization.k8s.io/v1 ---

from_pb!(pb_rbac::Role => rbac::Role { metadata: req, rules });

from_pb!(pb_rbac::ClusterRole => rbac::ClusterRole { metadata: req, rules, aggregation_rule });

from_pb!(pb_rbac::RoleBinding => rbac::RoleBinding { metadata: req, subjects, role_ref: req });

from_pb!(pb_rbac::ClusterRoleBinding => rbac::ClusterRoleBinding { metadata: req, subjects, role_ref: req });

from_pb!(pb_rbac::PolicyRule => rbac::PolicyRule {
    verbs, api_groups, resources, resource_names,
} rename { non_resource_ur_ls => non_resource_urls });

from_pb!(pb_rbac::AggregationRule => rbac::AggregationRule { cluster_role_selectors });

from_pb!(pb_rbac::Subject => rbac::Subject { kind, api_group, name, namespace });

from_pb!(pb_rbac::RoleRef => rbac::RoleRef { api_group, kind, name });
