//! Kubernetes RBAC evaluation, a pure function of the request's attributes and the Roles,
//! ClusterRoles, RoleBindings and ClusterRoleBindings it is given
//! (`plugin/pkg/auth/authorizer/rbac/rbac.go`, `pkg/registry/rbac/validation/rule.go`,
//! `pkg/apis/rbac/v1/evaluation_helpers.go`).
//!
//! ClusterRoleBindings apply everywhere; RoleBindings in the request's namespace apply there. A
//! binding applies when one of its subjects is the user (by name), one of the user's groups, or
//! the ServiceAccount the user is (`system:serviceaccount:{ns}:{name}`; a subject without a
//! namespace means the binding's). Rules only add: the first rule that allows wins, and the reason
//! names the binding (`RBAC: allowed by RoleBinding "prom/default" of Role "metrics" to …`). A
//! binding whose role is missing is skipped, and its error becomes the reason of a denial
//! (`RBAC: role.rbac.authorization.k8s.io "x" not found`).

use std::sync::Arc;

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};

use super::authz::Attributes;
use super::tokens::UserInfo;

/// The RBAC objects evaluation reads. The reflector caches implement it; tests use plain lists.
pub trait RbacSource {
    /// Every ClusterRoleBinding.
    fn cluster_role_bindings(&self) -> Vec<Arc<ClusterRoleBinding>>;
    /// The RoleBindings of one namespace.
    fn role_bindings(&self, namespace: &str) -> Vec<Arc<RoleBinding>>;
    /// A Role by namespace and name.
    fn role(&self, namespace: &str, name: &str) -> Option<Arc<Role>>;
    /// A ClusterRole by name.
    fn cluster_role(&self, name: &str) -> Option<Arc<ClusterRole>>;
}

/// The outcome of an RBAC evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RbacDecision {
    /// Whether some rule allows the request.
    pub allowed: bool,
    /// Kubernetes' reason: which binding allowed it, or the role lookups that failed.
    pub reason: String,
}

/// Evaluates `attrs` against the RBAC objects in `source`.
pub fn authorize(source: &dyn RbacSource, attrs: &Attributes) -> RbacDecision {
    let mut errors: Vec<String> = Vec::new();
    let mut allowed_by = None;
    visit_rules(
        source,
        &attrs.user,
        &attrs.namespace,
        &mut |origin, rule| match rule {
            Ok(rule) if rule_allows(attrs, rule) => {
                allowed_by = Some(origin.describe());
                false
            }
            Ok(_) => true,
            Err(e) => {
                if !errors.contains(&e) {
                    errors.push(e);
                }
                true
            }
        },
    );
    match allowed_by {
        Some(by) => RbacDecision {
            allowed: true,
            reason: format!("RBAC: allowed by {by}"),
        },
        None => RbacDecision {
            allowed: false,
            reason: if errors.is_empty() {
                String::new()
            } else {
                format!("RBAC: {}", aggregate(&errors))
            },
        },
    }
}

/// Every rule that applies to `user` in `namespace` (cluster-wide ones included), and the
/// lookups that failed, for SelfSubjectRulesReview.
pub fn rules_for(
    source: &dyn RbacSource,
    user: &UserInfo,
    namespace: &str,
) -> (Vec<PolicyRule>, Vec<String>) {
    let mut rules = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    visit_rules(source, user, namespace, &mut |_, rule| {
        match rule {
            Ok(r) => rules.push(r.clone()),
            Err(e) => {
                if !errors.contains(&e) {
                    errors.push(e)
                }
            }
        }
        true
    });
    (rules, errors)
}

/// Go's `utilerrors.NewAggregate(...).Error()`: one message as it is, several in brackets.
fn aggregate(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// Where a rule came from, for the reason text.
enum Origin<'a> {
    Cluster(&'a ClusterRoleBinding, &'a Subject),
    Namespaced(&'a RoleBinding, &'a Subject),
}

impl Origin<'_> {
    fn describe(&self) -> String {
        match self {
            Origin::Cluster(b, s) => format!(
                "ClusterRoleBinding {:?} of {} {:?} to {}",
                b.metadata.name.as_deref().unwrap_or(""),
                b.role_ref.kind,
                b.role_ref.name,
                describe_subject(s, "")
            ),
            Origin::Namespaced(b, s) => {
                let ns = b.metadata.namespace.as_deref().unwrap_or("");
                format!(
                    "RoleBinding {:?} of {} {:?} to {}",
                    format!("{}/{ns}", b.metadata.name.as_deref().unwrap_or("")),
                    b.role_ref.kind,
                    b.role_ref.name,
                    describe_subject(s, ns)
                )
            }
        }
    }
}

fn describe_subject(s: &Subject, binding_namespace: &str) -> String {
    if s.kind == "ServiceAccount" {
        let ns = s
            .namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(binding_namespace);
        format!("{} {:?}", s.kind, format!("{}/{ns}", s.name))
    } else {
        format!("{} {:?}", s.kind, s.name)
    }
}

/// Calls `visit` with every rule (or role-lookup error) that applies to `user` in `namespace`,
/// ClusterRoleBindings first; stops when `visit` returns false.
fn visit_rules(
    source: &dyn RbacSource,
    user: &UserInfo,
    namespace: &str,
    visit: &mut dyn FnMut(Origin<'_>, Result<&PolicyRule, String>) -> bool,
) {
    for binding in source.cluster_role_bindings() {
        let Some(subject) = applies_to(user, binding.subjects.as_deref(), "") else {
            continue;
        };
        match role_rules(source, &binding.role_ref, "") {
            Err(e) => {
                if !visit(Origin::Cluster(&binding, subject), Err(e)) {
                    return;
                }
            }
            Ok(rules) => {
                for rule in rules.iter() {
                    if !visit(Origin::Cluster(&binding, subject), Ok(rule)) {
                        return;
                    }
                }
            }
        }
    }
    if namespace.is_empty() {
        return;
    }
    for binding in source.role_bindings(namespace) {
        let Some(subject) = applies_to(user, binding.subjects.as_deref(), namespace) else {
            continue;
        };
        match role_rules(source, &binding.role_ref, namespace) {
            Err(e) => {
                if !visit(Origin::Namespaced(&binding, subject), Err(e)) {
                    return;
                }
            }
            Ok(rules) => {
                for rule in rules.iter() {
                    if !visit(Origin::Namespaced(&binding, subject), Ok(rule)) {
                        return;
                    }
                }
            }
        }
    }
}

/// The rules a binding's `roleRef` points at.
fn role_rules(
    source: &dyn RbacSource,
    role_ref: &RoleRef,
    namespace: &str,
) -> Result<Arc<Vec<PolicyRule>>, String> {
    match role_ref.kind.as_str() {
        "Role" => source
            .role(namespace, &role_ref.name)
            .map(|r| Arc::new(r.rules.clone().unwrap_or_default()))
            .ok_or_else(|| {
                format!(
                    "role.rbac.authorization.k8s.io {:?} not found",
                    role_ref.name
                )
            }),
        "ClusterRole" => source
            .cluster_role(&role_ref.name)
            .map(|r| Arc::new(r.rules.clone().unwrap_or_default()))
            .ok_or_else(|| {
                format!(
                    "clusterrole.rbac.authorization.k8s.io {:?} not found",
                    role_ref.name
                )
            }),
        other => Err(format!("unsupported role reference kind: {other:?}")),
    }
}

/// The first subject that is `user`, if any.
fn applies_to<'a>(
    user: &UserInfo,
    subjects: Option<&'a [Subject]>,
    namespace: &str,
) -> Option<&'a Subject> {
    subjects?.iter().find(|s| subject_is(user, s, namespace))
}

fn subject_is(user: &UserInfo, subject: &Subject, namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.name == subject.name,
        "Group" => user.in_group(&subject.name),
        "ServiceAccount" => {
            let ns = subject
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(namespace);
            !ns.is_empty() && user.name == service_account_username(ns, &subject.name)
        }
        _ => false,
    }
}

/// `system:serviceaccount:{namespace}:{name}`.
pub fn service_account_username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// Whether one rule allows the request (`RuleAllows`).
pub fn rule_allows(attrs: &Attributes, rule: &PolicyRule) -> bool {
    if attrs.is_resource_request {
        let combined = if attrs.subresource.is_empty() {
            attrs.resource.clone()
        } else {
            format!("{}/{}", attrs.resource, attrs.subresource)
        };
        verb_matches(rule, &attrs.verb)
            && group_matches(rule, &attrs.api_group)
            && resource_matches(rule, &combined, &attrs.subresource)
            && name_matches(rule, &attrs.name)
    } else {
        verb_matches(rule, &attrs.verb) && url_matches(rule, &attrs.path)
    }
}

fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

fn group_matches(rule: &PolicyRule, group: &str) -> bool {
    rule.api_groups
        .iter()
        .flatten()
        .any(|g| g == "*" || g == group)
}

fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    rule.resources.iter().flatten().any(|r| {
        r == "*"
            || r == combined
            || (!subresource.is_empty()
                && r.len() == subresource.len() + 2
                && r.starts_with("*/")
                && r.ends_with(subresource))
    })
}

fn name_matches(rule: &PolicyRule, name: &str) -> bool {
    match rule.resource_names.as_deref() {
        None | Some([]) => true,
        Some(names) => names.iter().any(|n| n == name),
    }
}

fn url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls.iter().flatten().any(|u| {
        u == "*" || u == path || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*')))
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// RBAC objects in plain lists.
    #[derive(Default)]
    pub(crate) struct Lists {
        pub roles: Vec<Arc<Role>>,
        pub cluster_roles: Vec<Arc<ClusterRole>>,
        pub bindings: Vec<Arc<RoleBinding>>,
        pub cluster_bindings: Vec<Arc<ClusterRoleBinding>>,
    }

    impl RbacSource for Lists {
        fn cluster_role_bindings(&self) -> Vec<Arc<ClusterRoleBinding>> {
            self.cluster_bindings.clone()
        }
        fn role_bindings(&self, namespace: &str) -> Vec<Arc<RoleBinding>> {
            self.bindings
                .iter()
                .filter(|b| b.metadata.namespace.as_deref() == Some(namespace))
                .cloned()
                .collect()
        }
        fn role(&self, namespace: &str, name: &str) -> Option<Arc<Role>> {
            self.roles
                .iter()
                .find(|r| {
                    r.metadata.namespace.as_deref() == Some(namespace)
                        && r.metadata.name.as_deref() == Some(name)
                })
                .cloned()
        }
        fn cluster_role(&self, name: &str) -> Option<Arc<ClusterRole>> {
            self.cluster_roles
                .iter()
                .find(|r| r.metadata.name.as_deref() == Some(name))
                .cloned()
        }
    }

    fn from<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Arc<T> {
        Arc::new(serde_json::from_value(v).unwrap())
    }

    pub(crate) fn sample() -> Lists {
        Lists {
            roles: vec![from(json!({
                "metadata": {"name": "proxy-metrics", "namespace": "prod"},
                "rules": [{"apiGroups": [""], "resources": ["pods/proxy"], "verbs": ["get"], "resourceNames": ["web-0"]}],
            }))],
            cluster_roles: vec![
                from(json!({
                    "metadata": {"name": "reader"},
                    "rules": [
                        {"apiGroups": ["", "apps"], "resources": ["pods", "statefulsets"], "verbs": ["get", "list", "watch"]},
                        {"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["get"]},
                    ],
                })),
                from(json!({
                    "metadata": {"name": "metrics"},
                    "rules": [{"nonResourceURLs": ["/metrics", "/debug/*"], "verbs": ["get"]}],
                })),
            ],
            bindings: vec![
                from(json!({
                    "metadata": {"name": "prom", "namespace": "prod"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "proxy-metrics"},
                    "subjects": [{"kind": "ServiceAccount", "name": "prom"}],
                })),
                from(json!({
                    "metadata": {"name": "devs-read", "namespace": "dev"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "reader"},
                    "subjects": [{"kind": "Group", "name": "devs"}],
                })),
                from(json!({
                    "metadata": {"name": "dangling", "namespace": "dev"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "gone"},
                    "subjects": [{"kind": "User", "name": "carol"}],
                })),
            ],
            cluster_bindings: vec![from(json!({
                "metadata": {"name": "alice-metrics"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "metrics"},
                "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "scraper", "namespace": "mon"}],
            }))],
        }
    }

    fn res(
        user: &UserInfo,
        verb: &str,
        ns: &str,
        resource: &str,
        sub: &str,
        name: &str,
    ) -> Attributes {
        Attributes {
            user: user.clone(),
            verb: verb.into(),
            is_resource_request: true,
            namespace: ns.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            api_version: "v1".into(),
            ..Attributes::default()
        }
    }

    fn url(user: &UserInfo, verb: &str, path: &str) -> Attributes {
        Attributes {
            user: user.clone(),
            verb: verb.into(),
            path: path.into(),
            ..Attributes::default()
        }
    }

    #[test]
    fn decisions_follow_bindings_and_rules() {
        let src = sample();
        let prom = UserInfo::new("system:serviceaccount:prod:prom", vec![]);
        let dev = UserInfo::new("bob", vec!["devs".into()]);
        let alice = UserInfo::new("alice", vec![]);
        let scraper = UserInfo::new("system:serviceaccount:mon:scraper", vec![]);
        let cases: Vec<(Attributes, bool)> = vec![
            // Role in prod, SA subject without namespace = the binding's namespace.
            (res(&prom, "get", "prod", "pods", "proxy", "web-0"), true),
            (
                res(&prom, "create", "prod", "pods", "proxy", "web-0"),
                false,
            ),
            (res(&prom, "get", "prod", "pods", "proxy", "web-1"), false),
            (res(&prom, "get", "prod", "pods", "", "web-0"), false),
            (res(&prom, "get", "dev", "pods", "proxy", "web-0"), false),
            (
                res(&prom, "get", "prod", "services", "proxy", "web-0"),
                false,
            ),
            // A ClusterRole through a RoleBinding: only in that namespace; groups match.
            (res(&dev, "list", "dev", "pods", "", ""), true),
            (res(&dev, "list", "prod", "pods", "", ""), false),
            (res(&dev, "list", "", "pods", "", ""), false),
            (res(&dev, "delete", "dev", "pods", "", "x"), false),
            (res(&dev, "get", "dev", "pods", "log", "x"), false),
            // */status matches any resource's status subresource, not the resource.
            (res(&dev, "get", "dev", "services", "status", "x"), true),
            (res(&dev, "get", "dev", "services", "", "x"), false),
            // Non-resource URLs, exact and prefix.
            (url(&alice, "get", "/metrics"), true),
            (url(&alice, "get", "/debug/pprof/heap"), true),
            (url(&alice, "post", "/metrics"), false),
            (url(&alice, "get", "/metricsx"), false),
            (url(&scraper, "get", "/metrics"), true),
            (url(&prom, "get", "/metrics"), false),
        ];
        for (attrs, want) in cases {
            let got = authorize(&src, &attrs);
            assert_eq!(got.allowed, want, "{attrs:?} → {got:?}");
        }
    }

    #[test]
    fn reasons_read_like_kubernetes() {
        let src = sample();
        let prom = UserInfo::new("system:serviceaccount:prod:prom", vec![]);
        assert_eq!(
            authorize(&src, &res(&prom, "get", "prod", "pods", "proxy", "web-0")).reason,
            "RBAC: allowed by RoleBinding \"prom/prod\" of Role \"proxy-metrics\" to ServiceAccount \"prom/prod\""
        );
        let alice = UserInfo::new("alice", vec![]);
        assert_eq!(
            authorize(&src, &url(&alice, "get", "/metrics")).reason,
            "RBAC: allowed by ClusterRoleBinding \"alice-metrics\" of ClusterRole \"metrics\" to User \"alice\""
        );
        let carol = UserInfo::new("carol", vec![]);
        let d = authorize(&src, &res(&carol, "get", "dev", "pods", "", "x"));
        assert!(!d.allowed);
        assert_eq!(
            d.reason,
            "RBAC: role.rbac.authorization.k8s.io \"gone\" not found"
        );
        assert_eq!(
            authorize(&src, &res(&prom, "get", "dev", "pods", "", "x")).reason,
            ""
        );
    }

    #[test]
    fn empty_verb_needs_a_wildcard() {
        let mut src = sample();
        let u = UserInfo::new("system:serviceaccount:prod:prom", vec![]);
        let opts = res(&u, "", "prod", "pods", "proxy", "web-0");
        assert!(!authorize(&src, &opts).allowed);
        src.roles = vec![from(json!({
            "metadata": {"name": "proxy-metrics", "namespace": "prod"},
            "rules": [{"apiGroups": [""], "resources": ["pods/proxy"], "verbs": ["*"]}],
        }))];
        assert!(authorize(&src, &opts).allowed);
    }

    #[test]
    fn rules_for_collects_cluster_and_namespace_rules() {
        let src = sample();
        let dev = UserInfo::new("bob", vec!["devs".into()]);
        let (rules, errors) = rules_for(&src, &dev, "dev");
        assert_eq!(rules.len(), 2);
        assert!(errors.is_empty());
        let carol = UserInfo::new("carol", vec![]);
        let (rules, errors) = rules_for(&src, &carol, "dev");
        assert!(rules.is_empty());
        assert_eq!(
            errors,
            ["role.rbac.authorization.k8s.io \"gone\" not found"]
        );
    }
}
