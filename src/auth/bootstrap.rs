//! The default RBAC policy `podgate up` keeps in the API, as kube-apiserver's bootstrap policy
//! does (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy`): `cluster-admin` for
//! `system:masters`; discovery, `/version` and the self-reviews (`kubectl auth can-i`,
//! `kubectl auth whoami`) for every authenticated user; `system:auth-delegator` and
//! `system:monitoring` to bind; and `view`, `edit` and `admin` over the kinds podgate serves
//! (with their rules written out: podgate does not aggregate ClusterRoles).
//!
//! At every start a missing object is created, and one still marked
//! `rbac.authorization.kubernetes.io/autoupdate: "true"` gets back any rule or subject it lost;
//! setting the annotation to `"false"` keeps an edited object as it is.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::PostParams;

const AUTOUPDATE: &str = "rbac.authorization.kubernetes.io/autoupdate";

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(strings(groups)),
        resources: Some(strings(resources)),
        verbs: strings(verbs),
        ..PolicyRule::default()
    }
}

fn urls(paths: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        non_resource_urls: Some(paths.iter().map(|s| s.to_string()).collect()),
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        ..PolicyRule::default()
    }
}

const READ: &[&str] = &["get", "list", "watch"];
const ALL: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn view_rules() -> Vec<PolicyRule> {
    vec![
        rule(
            &[""],
            &[
                "configmaps",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "pods",
                "pods/log",
                "pods/status",
                "services",
                "services/status",
                "serviceaccounts",
                "events",
            ],
            READ,
        ),
        rule(&[""], &["namespaces", "namespaces/status"], READ),
        rule(
            &["apps"],
            &[
                "controllerrevisions",
                "statefulsets",
                "statefulsets/scale",
                "statefulsets/status",
            ],
            READ,
        ),
        rule(&["discovery.k8s.io"], &["endpointslices"], READ),
        rule(&["events.k8s.io"], &["events"], READ),
    ]
}

/// `edit`: `view` plus writes. Endpoints and EndpointSlices stay read-only, as in Kubernetes
/// since 1.22 (CVE-2021-25740): whoever writes them can point a Service, and so the gateway, at
/// pods of other namespaces or at the host.
fn edit_rules() -> Vec<PolicyRule> {
    let mut rules = view_rules();
    rules.extend([
        rule(
            &[""],
            &[
                "pods",
                "pods/proxy",
                "secrets",
                "services",
                "services/proxy",
                "configmaps",
                "persistentvolumeclaims",
                "serviceaccounts",
            ],
            ALL,
        ),
        rule(&[""], &["serviceaccounts/token"], &["create"]),
        rule(&[""], &["serviceaccounts"], &["impersonate"]),
        rule(
            &["apps"],
            &["statefulsets", "statefulsets/scale", "controllerrevisions"],
            ALL,
        ),
        rule(&["coordination.k8s.io"], &["leases"], ALL),
    ]);
    rules
}

fn admin_rules() -> Vec<PolicyRule> {
    let mut rules = edit_rules();
    rules.extend([
        rule(
            &["rbac.authorization.k8s.io"],
            &["roles", "rolebindings"],
            ALL,
        ),
        rule(
            &["authorization.k8s.io"],
            &["localsubjectaccessreviews"],
            &["create"],
        ),
    ]);
    rules
}

/// The ClusterRoles podgate keeps.
pub fn cluster_roles() -> Vec<(&'static str, Vec<PolicyRule>)> {
    vec![
        (
            "cluster-admin",
            vec![rule(&["*"], &["*"], &["*"]), urls(&["*"], &["*"])],
        ),
        (
            "system:discovery",
            vec![urls(
                &[
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ],
                &["get"],
            )],
        ),
        (
            "system:basic-user",
            vec![
                rule(
                    &["authorization.k8s.io"],
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                    &["create"],
                ),
                rule(
                    &["authentication.k8s.io"],
                    &["selfsubjectreviews"],
                    &["create"],
                ),
            ],
        ),
        (
            "system:public-info-viewer",
            vec![urls(
                &["/healthz", "/livez", "/readyz", "/version", "/version/"],
                &["get"],
            )],
        ),
        (
            "system:auth-delegator",
            vec![
                rule(&["authentication.k8s.io"], &["tokenreviews"], &["create"]),
                rule(
                    &["authorization.k8s.io"],
                    &["subjectaccessreviews"],
                    &["create"],
                ),
            ],
        ),
        (
            "system:monitoring",
            vec![urls(
                &[
                    "/healthz",
                    "/healthz/*",
                    "/livez",
                    "/livez/*",
                    "/metrics",
                    "/readyz",
                    "/readyz/*",
                ],
                &["get"],
            )],
        ),
        ("view", view_rules()),
        ("edit", edit_rules()),
        ("admin", admin_rules()),
    ]
}

/// The ClusterRoleBindings podgate keeps: (name = role, groups).
pub fn cluster_role_bindings() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("cluster-admin", vec!["system:masters"]),
        ("system:discovery", vec!["system:authenticated"]),
        ("system:basic-user", vec!["system:authenticated"]),
        (
            "system:public-info-viewer",
            vec!["system:authenticated", "system:unauthenticated"],
        ),
        ("system:monitoring", vec!["system:monitoring"]),
    ]
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        labels: Some(BTreeMap::from([(
            "kubernetes.io/bootstrapping".to_string(),
            "rbac-defaults".to_string(),
        )])),
        annotations: Some(BTreeMap::from([(
            AUTOUPDATE.to_string(),
            "true".to_string(),
        )])),
        ..ObjectMeta::default()
    }
}

fn autoupdate(meta: &ObjectMeta) -> bool {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(AUTOUPDATE))
        .is_none_or(|v| v != "false")
}

/// Creates the default ClusterRoles and ClusterRoleBindings, or restores what they lost.
pub async fn ensure(client: &kube::Client) -> anyhow::Result<()> {
    let roles: Api<ClusterRole> = Api::all(client.clone());
    for (name, rules) in cluster_roles() {
        match roles.get_opt(name).await? {
            None => {
                let role = ClusterRole {
                    metadata: meta(name),
                    rules: Some(rules),
                    aggregation_rule: None,
                };
                create_ok(roles.create(&PostParams::default(), &role).await)?;
            }
            Some(mut existing) if autoupdate(&existing.metadata) => {
                let have = existing.rules.get_or_insert_with(Vec::new);
                let missing: Vec<PolicyRule> =
                    rules.into_iter().filter(|r| !have.contains(r)).collect();
                if !missing.is_empty() {
                    have.extend(missing);
                    roles
                        .replace(name, &PostParams::default(), &existing)
                        .await?;
                    tracing::info!(clusterrole = name, "restored default rules");
                }
            }
            Some(_) => {}
        }
    }
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    for (name, groups) in cluster_role_bindings() {
        let subjects: Vec<Subject> = groups
            .iter()
            .map(|g| Subject {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "Group".into(),
                name: g.to_string(),
                namespace: None,
            })
            .collect();
        match bindings.get_opt(name).await? {
            None => {
                let binding = ClusterRoleBinding {
                    metadata: meta(name),
                    role_ref: RoleRef {
                        api_group: Some("rbac.authorization.k8s.io".into()),
                        kind: "ClusterRole".into(),
                        name: name.to_string(),
                    },
                    subjects: Some(subjects),
                };
                create_ok(bindings.create(&PostParams::default(), &binding).await)?;
            }
            Some(mut existing) if autoupdate(&existing.metadata) => {
                let have = existing.subjects.get_or_insert_with(Vec::new);
                let missing: Vec<Subject> = subjects
                    .into_iter()
                    .filter(|s| !have.iter().any(|h| h.kind == s.kind && h.name == s.name))
                    .collect();
                if !missing.is_empty() {
                    have.extend(missing);
                    bindings
                        .replace(name, &PostParams::default(), &existing)
                        .await?;
                    tracing::info!(clusterrolebinding = name, "restored default subjects");
                }
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A create that lost a race with another writer is fine.
fn create_ok<T>(r: Result<T, kube::Error>) -> anyhow::Result<()> {
    match r {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::authz::Attributes;
    use crate::auth::rbac::rule_allows;
    use crate::auth::tokens::UserInfo;

    fn role(name: &str) -> Vec<PolicyRule> {
        cluster_roles()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, r)| r)
            .unwrap()
    }

    fn allows(rules: &[PolicyRule], verb: &str, group: &str, resource: &str, sub: &str) -> bool {
        let a = Attributes {
            user: UserInfo::default(),
            verb: verb.into(),
            is_resource_request: true,
            api_group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            ..Attributes::default()
        };
        rules.iter().any(|r| rule_allows(&a, r))
    }

    fn allows_url(rules: &[PolicyRule], path: &str) -> bool {
        let a = Attributes {
            verb: "get".into(),
            path: path.into(),
            ..Attributes::default()
        };
        rules.iter().any(|r| rule_allows(&a, r))
    }

    #[test]
    fn edit_and_admin_only_read_endpoints() {
        for name in ["edit", "admin"] {
            let rules = role(name);
            assert!(allows(&rules, "get", "", "endpoints", ""), "{name}");
            assert!(
                allows(&rules, "list", "discovery.k8s.io", "endpointslices", ""),
                "{name}"
            );
            for verb in ["create", "update", "patch", "delete"] {
                assert!(
                    !allows(&rules, verb, "", "endpoints", ""),
                    "{name} {verb} endpoints"
                );
                assert!(
                    !allows(&rules, verb, "discovery.k8s.io", "endpointslices", ""),
                    "{name} {verb} endpointslices"
                );
            }
            assert!(allows(&rules, "create", "", "configmaps", ""), "{name}");
        }
    }

    #[test]
    fn default_roles_grant_what_kubernetes_grants() {
        let basic = role("system:basic-user");
        assert!(allows(
            &basic,
            "create",
            "authorization.k8s.io",
            "selfsubjectaccessreviews",
            ""
        ));
        assert!(!allows(
            &basic,
            "create",
            "authorization.k8s.io",
            "subjectaccessreviews",
            ""
        ));
        let discovery = role("system:discovery");
        assert!(allows_url(&discovery, "/apis/apps/v1"));
        assert!(allows_url(&discovery, "/version"));
        assert!(!allows_url(&discovery, "/metrics"));
        assert!(allows_url(&role("system:monitoring"), "/metrics"));

        let view = role("view");
        assert!(allows(&view, "list", "", "pods", ""));
        assert!(allows(&view, "get", "", "pods", "log"));
        assert!(!allows(&view, "get", "", "secrets", ""));
        assert!(!allows(&view, "get", "", "pods", "proxy"));
        assert!(!allows(&view, "delete", "", "pods", ""));
        let edit = role("edit");
        assert!(allows(&edit, "get", "", "pods", "proxy"));
        assert!(allows(&edit, "update", "apps", "statefulsets", "scale"));
        assert!(!allows(
            &edit,
            "create",
            "rbac.authorization.k8s.io",
            "rolebindings",
            ""
        ));
        assert!(allows(
            &role("admin"),
            "create",
            "rbac.authorization.k8s.io",
            "rolebindings",
            ""
        ));
        assert!(allows(&role("cluster-admin"), "escalate", "x", "y", "z"));
    }

    #[test]
    fn every_binding_names_a_default_role() {
        let roles: Vec<&str> = cluster_roles().into_iter().map(|(n, _)| n).collect();
        for (name, groups) in cluster_role_bindings() {
            assert!(roles.contains(&name), "{name}");
            assert!(!groups.is_empty());
        }
    }
}
