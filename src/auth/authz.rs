//! Authorization: who may do what, decided per request from its [`Attributes`] as
//! kube-apiserver decides it, and the 403 `Status` with Kubernetes' message.
//!
//! [`RbacAuthorizer`] is the union kube-apiserver runs by default: members of `system:masters`
//! may do anything (the privileged-group authorizer), everyone else what RBAC grants, read from
//! reflector caches over the Roles and bindings ([`super::cache::AuthCache`]). The
//! [`AuthorizeLayer`] asks it about every request that reaches the route.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use http::Request;
use k8s_openapi::api::rbac::v1::PolicyRule;

use super::cache::AuthCache;
use super::requestinfo::{RequestInfo, request_info};
use super::tokens::UserInfo;
use super::{is_public_path, is_self_authorized_path, rbac};
use crate::machinery::status::{Status, qualified};
use crate::wire::body::Body;

/// The group whose members may do anything.
pub const SYSTEM_MASTERS: &str = "system:masters";

/// How long a request waits for the RBAC caches' first list before it is decided without them.
const CACHE_WAIT: Duration = Duration::from_secs(10);

/// An authorization question: a user, a verb, and what it is applied to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    /// Who asks.
    pub user: UserInfo,
    /// Kubernetes verb, or lower-cased HTTP method for non-resource requests.
    pub verb: String,
    /// Whether the request is about a resource (else about `path`).
    pub is_resource_request: bool,
    /// Path of a non-resource request.
    pub path: String,
    /// Namespace (`""`: cluster scope).
    pub namespace: String,
    /// API group.
    pub api_group: String,
    /// API version.
    pub api_version: String,
    /// Plural resource.
    pub resource: String,
    /// Subresource.
    pub subresource: String,
    /// Object name.
    pub name: String,
}

impl Attributes {
    /// The attributes of a request by `user`.
    pub fn from_request(user: UserInfo, info: RequestInfo) -> Self {
        Self {
            user,
            verb: info.verb,
            is_resource_request: info.is_resource_request,
            path: info.path,
            namespace: info.namespace,
            api_group: info.api_group,
            api_version: info.api_version,
            resource: info.resource,
            subresource: info.subresource,
            name: info.name,
        }
    }
}

/// An authorizer's answer (`SubjectAccessReviewStatus`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Allowed.
    pub allowed: bool,
    /// Explicitly denied (RBAC never denies; it only does not allow).
    pub denied: bool,
    /// Why, e.g. `RBAC: allowed by ClusterRoleBinding "…" of ClusterRole "…" to User "…"`.
    pub reason: String,
    /// An error met while deciding.
    pub evaluation_error: String,
}

/// The rules a user has in a namespace (`SelfSubjectRulesReview`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserRules {
    /// Rules with resources.
    pub resource_rules: Vec<PolicyRule>,
    /// Rules with non-resource URLs.
    pub non_resource_rules: Vec<PolicyRule>,
    /// Whether the list may be incomplete.
    pub incomplete: bool,
    /// Errors met while collecting the rules.
    pub evaluation_error: String,
}

/// Decides requests.
pub trait Authorizer: Send + Sync {
    /// Decides one request.
    fn authorize<'a>(&'a self, attrs: &'a Attributes) -> BoxFuture<'a, Decision>;

    /// The rules `user` has in `namespace`.
    fn rules_for<'a>(&'a self, user: &'a UserInfo, namespace: &'a str) -> BoxFuture<'a, UserRules>;

    /// Whether `user` may do anything at all, so that its requests need no attributes worked
    /// out (the privileged-group shortcut). `false` when unsure.
    fn allows_everything(&self, _user: &UserInfo) -> bool {
        false
    }
}

/// Allows every authenticated request (for a gateway in front of an API that authorizes).
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysAllow;

impl Authorizer for AlwaysAllow {
    fn authorize<'a>(&'a self, _: &'a Attributes) -> BoxFuture<'a, Decision> {
        Box::pin(async {
            Decision {
                allowed: true,
                ..Decision::default()
            }
        })
    }

    fn rules_for<'a>(&'a self, _: &'a UserInfo, _: &'a str) -> BoxFuture<'a, UserRules> {
        Box::pin(async { everything() })
    }

    fn allows_everything(&self, _: &UserInfo) -> bool {
        true
    }
}

/// The rules of someone who may do anything.
fn everything() -> UserRules {
    let all = || Some(vec!["*".to_string()]);
    UserRules {
        resource_rules: vec![PolicyRule {
            verbs: vec!["*".into()],
            api_groups: all(),
            resources: all(),
            ..PolicyRule::default()
        }],
        non_resource_rules: vec![PolicyRule {
            verbs: vec!["*".into()],
            non_resource_urls: all(),
            ..PolicyRule::default()
        }],
        ..UserRules::default()
    }
}

/// `system:masters` may do anything; everyone else what RBAC grants.
#[derive(Clone)]
pub struct RbacAuthorizer {
    cache: AuthCache,
}

impl RbacAuthorizer {
    /// An authorizer over the RBAC objects in `cache`.
    pub fn new(cache: AuthCache) -> Self {
        Self { cache }
    }
}

impl Authorizer for RbacAuthorizer {
    fn authorize<'a>(&'a self, attrs: &'a Attributes) -> BoxFuture<'a, Decision> {
        Box::pin(async move {
            if attrs.user.in_group(SYSTEM_MASTERS) {
                return Decision {
                    allowed: true,
                    ..Decision::default()
                };
            }
            if !self.cache.wait_rbac(CACHE_WAIT).await {
                return Decision {
                    evaluation_error: "RBAC caches are not synced yet".into(),
                    ..Decision::default()
                };
            }
            let d = rbac::authorize(&self.cache, attrs);
            Decision {
                allowed: d.allowed,
                reason: d.reason,
                ..Decision::default()
            }
        })
    }

    fn rules_for<'a>(&'a self, user: &'a UserInfo, namespace: &'a str) -> BoxFuture<'a, UserRules> {
        Box::pin(async move {
            let mut out = if user.in_group(SYSTEM_MASTERS) {
                everything()
            } else {
                UserRules::default()
            };
            if !self.cache.wait_rbac(CACHE_WAIT).await {
                out.incomplete = true;
                out.evaluation_error = "RBAC caches are not synced yet".into();
                return out;
            }
            let (rules, errors) = rbac::rules_for(&self.cache, user, namespace);
            for rule in rules {
                if rule.resources.as_ref().is_some_and(|r| !r.is_empty()) {
                    out.resource_rules.push(PolicyRule {
                        non_resource_urls: None,
                        ..rule.clone()
                    });
                }
                if rule
                    .non_resource_urls
                    .as_ref()
                    .is_some_and(|r| !r.is_empty())
                {
                    out.non_resource_rules.push(PolicyRule {
                        verbs: rule.verbs,
                        non_resource_urls: rule.non_resource_urls,
                        ..PolicyRule::default()
                    });
                }
            }
            if !errors.is_empty() {
                out.evaluation_error = match errors.as_slice() {
                    [one] => one.clone(),
                    many => format!("[{}]", many.join(", ")),
                };
            }
            out
        })
    }

    fn allows_everything(&self, user: &UserInfo) -> bool {
        user.in_group(SYSTEM_MASTERS)
    }
}

/// The 403 Kubernetes answers when `attrs` is not allowed (`responsewriters.Forbidden`).
pub fn forbidden(attrs: &Attributes, reason: &str) -> Status {
    let mut message = forbidden_message(attrs);
    if !reason.is_empty() {
        message = format!("{message}: {reason}");
    }
    let (resource, group, name) = if attrs.is_resource_request {
        (
            attrs.resource.as_str(),
            attrs.api_group.as_str(),
            attrs.name.as_str(),
        )
    } else {
        ("", "", "")
    };
    let text = if resource.is_empty() && group.is_empty() {
        format!("forbidden: {message}")
    } else if name.is_empty() {
        format!("{} is forbidden: {message}", qualified(resource, group))
    } else {
        format!(
            "{} {:?} is forbidden: {message}",
            qualified(resource, group),
            name
        )
    };
    Status::forbidden(resource, group, name, text)
}

fn forbidden_message(attrs: &Attributes) -> String {
    let user = &attrs.user.name;
    if !attrs.is_resource_request {
        return format!("User {user:?} cannot {} path {:?}", attrs.verb, attrs.path);
    }
    let resource = if attrs.subresource.is_empty() {
        attrs.resource.clone()
    } else {
        format!("{}/{}", attrs.resource, attrs.subresource)
    };
    if attrs.namespace.is_empty() {
        format!(
            "User {user:?} cannot {} resource {resource:?} in API group {:?} at the cluster scope",
            attrs.verb, attrs.api_group
        )
    } else {
        format!(
            "User {user:?} cannot {} resource {resource:?} in API group {:?} in the namespace {:?}",
            attrs.verb, attrs.api_group, attrs.namespace
        )
    }
}

// === impl AuthorizeLayer ===

/// A layer that lets a request through only when its (authenticated, possibly impersonated)
/// user may do what it asks, and answers 403 otherwise.
pub type AuthorizeLayer = super::CheckLayer<Authorize>;

impl AuthorizeLayer {
    /// Authorizes with `authorizer`.
    pub fn new(authorizer: Arc<dyn Authorizer>) -> Self {
        super::CheckLayer(Authorize { authorizer })
    }
}

/// Whether `attrs` is the GET of a pod's exec, attach or port-forward (a WebSocket upgrade).
fn is_streaming_upgrade(attrs: &Attributes) -> bool {
    attrs.is_resource_request
        && attrs.verb == "get"
        && attrs.resource == "pods"
        && attrs.api_group.is_empty()
        && matches!(
            attrs.subresource.as_str(),
            "exec" | "attach" | "portforward"
        )
}

/// The check [`AuthorizeLayer`] runs.
#[derive(Clone)]
pub struct Authorize {
    authorizer: Arc<dyn Authorizer>,
}

impl super::Check for Authorize {
    fn check(&self, req: Request<Body>) -> super::CheckFuture {
        let privileged = req
            .extensions()
            .get::<UserInfo>()
            .is_some_and(|u| self.authorizer.allows_everything(u));
        if privileged
            || is_public_path(req.uri().path())
            || is_self_authorized_path(req.uri().path())
        {
            return super::pass(req);
        }
        let authorizer = self.authorizer.clone();
        super::later(async move {
            let Some(user) = req.extensions().get::<UserInfo>().cloned() else {
                return Err(crate::wire::synthetic(Status::unauthorized()));
            };
            let info = request_info(req.method(), req.uri().path(), req.uri().query());
            let mut attrs = Attributes::from_request(user, info);
            let mut decision = authorizer.authorize(&attrs).await;
            if decision.allowed && is_streaming_upgrade(&attrs) {
                // A WebSocket exec, attach or port-forward is a GET, but it runs commands and
                // opens connections as the SPDY POST does: it needs `create` too (as
                // kube-apiserver requires from 1.35; 1.32 checks only `get`).
                attrs.verb = "create".into();
                decision = authorizer.authorize(&attrs).await;
            }
            if decision.allowed {
                return Ok(req);
            }
            tracing::debug!(
                user = %attrs.user.name,
                verb = %attrs.verb,
                resource = %attrs.resource,
                subresource = %attrs.subresource,
                namespace = %attrs.namespace,
                path = %attrs.path,
                reason = %decision.reason,
                "forbidden"
            );
            let reason = if decision.reason.is_empty() {
                decision.evaluation_error
            } else {
                decision.reason
            };
            Err(crate::wire::synthetic(forbidden(&attrs, &reason)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(
        user: &str,
        verb: &str,
        resource: &str,
        sub: &str,
        group: &str,
        ns: &str,
        name: &str,
    ) -> Attributes {
        Attributes {
            user: UserInfo::new(user, vec![]),
            verb: verb.into(),
            is_resource_request: true,
            namespace: ns.into(),
            api_group: group.into(),
            api_version: "v1".into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            path: String::new(),
        }
    }

    #[test]
    fn forbidden_texts_match_kubernetes() {
        let cases = [
            (
                attrs("prom", "get", "pods", "proxy", "", "default", "web-0"),
                "",
                "pods \"web-0\" is forbidden: User \"prom\" cannot get resource \"pods/proxy\" in API group \"\" in the namespace \"default\"",
            ),
            (
                attrs("prom", "list", "statefulsets", "", "apps", "", ""),
                "",
                "statefulsets.apps is forbidden: User \"prom\" cannot list resource \"statefulsets\" in API group \"apps\" at the cluster scope",
            ),
            (
                attrs("bob", "impersonate", "users", "", "", "", "alice"),
                "",
                "users \"alice\" is forbidden: User \"bob\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope",
            ),
            (
                attrs("carol", "get", "pods", "", "", "dev", "x"),
                "RBAC: role.rbac.authorization.k8s.io \"gone\" not found",
                "pods \"x\" is forbidden: User \"carol\" cannot get resource \"pods\" in API group \"\" in the namespace \"dev\": RBAC: role.rbac.authorization.k8s.io \"gone\" not found",
            ),
        ];
        for (a, reason, want) in cases {
            let s = forbidden(&a, reason);
            assert_eq!(s.message, want);
            assert_eq!(s.code, 403);
            assert_eq!(s.reason, "Forbidden");
        }
        let s = forbidden(
            &attrs("prom", "get", "pods", "proxy", "", "default", "web-0"),
            "",
        )
        .to_json();
        assert_eq!(s["details"]["name"], "web-0");
        assert_eq!(s["details"]["kind"], "pods");
        assert!(s["details"].get("group").is_none());

        let non_resource = Attributes {
            user: UserInfo::new("prom", vec![]),
            verb: "get".into(),
            path: "/metrics".into(),
            ..Attributes::default()
        };
        let s = forbidden(&non_resource, "");
        assert_eq!(
            s.message,
            "forbidden: User \"prom\" cannot get path \"/metrics\""
        );
        assert_eq!(s.to_json()["details"], serde_json::json!({}));
    }

    #[tokio::test]
    async fn always_allow_allows_and_lists_everything() {
        let a = attrs("x", "delete", "pods", "", "", "d", "p");
        assert!(AlwaysAllow.authorize(&a).await.allowed);
        let rules = AlwaysAllow.rules_for(&a.user, "d").await;
        assert_eq!(rules.resource_rules[0].verbs, ["*"]);
        assert_eq!(
            rules.non_resource_rules[0].non_resource_urls.as_deref(),
            Some(&["*".to_string()][..])
        );
    }
}
