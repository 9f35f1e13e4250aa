//! RBAC escalation prevention, as kube-apiserver's RBAC storage does it
//! (`pkg/registry/rbac/validation/rule.go` `ConfirmNoEscalation`,
//! `component-helpers/auth/rbac/validation/policy_comparator.go` `Covers`,
//! `pkg/registry/rbac/escalation_check.go`).
//!
//! A user may write a Role or ClusterRole only with rules it already holds, and a RoleBinding or
//! ClusterRoleBinding only to a role whose rules it already holds — unless it may `escalate` that
//! role (for role writes) or `bind` it (for binding writes). Members of `system:masters`, and
//! requests with no user (the control plane's own, in-process), are exempt. A refusal is a 403
//! whose message lists the missing rules:
//!
//! ```text
//! rolebindings.rbac.authorization.k8s.io "x" is forbidden: user "ann" (groups=["dev"]) is
//! attempting to grant RBAC permissions not currently held:
//! {APIGroups:["*"], Resources:["*"], Verbs:["*"]}
//! ```

use std::collections::BTreeSet;

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::authz::{Attributes, Authorizer, SYSTEM_MASTERS};
use super::tokens::UserInfo;
use crate::machinery::status::Status;

/// The RBAC API group.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Whether `user` may grant anything without a check (`EscalationAllowed`): no user at all (the
/// control plane's own requests) or a member of `system:masters`.
pub fn escalation_allowed(user: Option<&UserInfo>) -> bool {
    match user {
        None => true,
        Some(u) => u.groups.iter().any(|g| g == SYSTEM_MASTERS),
    }
}

/// The rules of `servant` that no rule of `owner` covers, broken down to one verb, resource and
/// name each (`Covers`); empty when `owner` covers them all.
pub fn uncovered(owner: &[PolicyRule], servant: &[PolicyRule]) -> Vec<PolicyRule> {
    servant
        .iter()
        .flat_map(breakdown)
        .filter(|sub| !owner.iter().any(|o| rule_covers(o, sub)))
        .collect()
}

/// One rule as rules of at most one verb, resource and resource name each (`BreakdownRule`).
fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let one = |s: &String| Some(vec![s.clone()]);
    let mut out = Vec::new();
    let names = rule.resource_names.clone().unwrap_or_default();
    for group in rule.api_groups.iter().flatten() {
        for resource in rule.resources.iter().flatten() {
            for verb in &rule.verbs {
                let base = PolicyRule {
                    api_groups: one(group),
                    resources: one(resource),
                    verbs: vec![verb.clone()],
                    ..PolicyRule::default()
                };
                if names.is_empty() {
                    out.push(base);
                } else {
                    for name in &names {
                        out.push(PolicyRule {
                            resource_names: one(name),
                            ..base.clone()
                        });
                    }
                }
            }
        }
    }
    for url in rule.non_resource_urls.iter().flatten() {
        for verb in &rule.verbs {
            out.push(PolicyRule {
                non_resource_urls: one(url),
                verbs: vec![verb.clone()],
                ..PolicyRule::default()
            });
        }
    }
    out
}

fn has(set: &[String], s: &str) -> bool {
    set.iter().any(|x| x == s)
}

fn has_all(set: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| has(set, w))
}

fn list(v: &Option<Vec<String>>) -> &[String] {
    v.as_deref().unwrap_or(&[])
}

fn resource_covers_all(set: &[String], wanted: &[String]) -> bool {
    if has(set, "*") || has_all(set, wanted) {
        return true;
    }
    wanted.iter().all(|path| {
        if has(set, path) {
            return true;
        }
        match path.split_once('/') {
            Some((_, sub)) => has(set, &format!("*/{sub}")),
            None => false,
        }
    })
}

fn url_covers(owner: &str, sub: &str) -> bool {
    owner == sub || (owner.ends_with('*') && sub.starts_with(owner.trim_end_matches('*')))
}

/// Whether `owner` covers `sub`, a broken-down rule (`ruleCovers`).
fn rule_covers(owner: &PolicyRule, sub: &PolicyRule) -> bool {
    let verbs = has(&owner.verbs, "*") || has_all(&owner.verbs, &sub.verbs);
    let groups = has(list(&owner.api_groups), "*")
        || has_all(list(&owner.api_groups), list(&sub.api_groups));
    let resources = resource_covers_all(list(&owner.resources), list(&sub.resources));
    let urls = list(&sub.non_resource_urls).iter().all(|p| {
        list(&owner.non_resource_urls)
            .iter()
            .any(|o| url_covers(o, p))
    });
    let owner_names = list(&owner.resource_names);
    let names = owner_names.is_empty() || has_all(owner_names, list(&sub.resource_names));
    verbs && groups && resources && urls && names
}

/// Merges rules of one group and one resource that differ only in verbs (`CompactRules`).
fn compact(rules: Vec<PolicyRule>) -> Vec<PolicyRule> {
    let mut out: Vec<PolicyRule> = Vec::new();
    let mut simple: Vec<PolicyRule> = Vec::new();
    for rule in rules {
        let is_simple = list(&rule.resource_names).is_empty()
            && list(&rule.non_resource_urls).is_empty()
            && list(&rule.api_groups).len() == 1
            && list(&rule.resources).len() == 1;
        if !is_simple {
            out.push(rule);
            continue;
        }
        match simple
            .iter_mut()
            .find(|s| s.api_groups == rule.api_groups && s.resources == rule.resources)
        {
            Some(s) => s.verbs.extend(rule.verbs),
            None => simple.push(rule),
        }
    }
    out.extend(simple);
    out
}

/// Go's `%q` of a string slice: `["a" "b"]`.
fn go_quoted(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .collect();
    format!("[{}]", quoted.join(" "))
}

/// A rule as escalation messages print it (`CompactString`):
/// `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`.
pub fn compact_string(r: &PolicyRule) -> String {
    let mut parts = Vec::new();
    for (label, v) in [
        ("APIGroups", list(&r.api_groups)),
        ("Resources", list(&r.resources)),
        ("NonResourceURLs", list(&r.non_resource_urls)),
        ("ResourceNames", list(&r.resource_names)),
        ("Verbs", r.verbs.as_slice()),
    ] {
        if !v.is_empty() {
            parts.push(format!("{label}:{}", go_quoted(v)));
        }
    }
    format!("{{{}}}", parts.join(", "))
}

/// `ConfirmNoEscalation`'s message for the rules `user` lacks (none: `None`).
pub fn escalation_message(
    user: &UserInfo,
    owner: &[PolicyRule],
    wanted: &[PolicyRule],
    resolution_error: &str,
) -> Option<String> {
    let missing = uncovered(owner, wanted);
    if missing.is_empty() {
        return None;
    }
    let lines: BTreeSet<String> = compact(missing).iter().map(compact_string).collect();
    let mut msg = format!(
        "user {} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
        serde_json::to_string(&user.name).unwrap_or_default(),
        go_quoted(&user.groups),
        lines.into_iter().collect::<Vec<_>>().join("\n")
    );
    if !resolution_error.is_empty() {
        msg.push_str(&format!("; resolution errors: [{resolution_error}]"));
    }
    Some(msg)
}

/// What an RBAC write grants, for the check.
#[derive(Debug, Clone)]
pub enum Grant<'a> {
    /// A Role or ClusterRole write: its rules (a ClusterRole with an aggregation rule may gather
    /// anything, so it needs every permission).
    Rules {
        /// The rules the object holds.
        rules: &'a [PolicyRule],
        /// Whether it carries an `aggregationRule`.
        aggregated: bool,
    },
    /// A binding write: the role it binds and that role's rules (`Err`: the role lookup's
    /// error, e.g. not found).
    Binding {
        /// `Role` or `ClusterRole`.
        kind: &'a str,
        /// The role's name.
        name: &'a str,
        /// The role's rules.
        rules: Result<Vec<PolicyRule>, Status>,
    },
}

/// The rules of someone who may do anything, which an aggregation rule needs.
fn full_authority() -> Vec<PolicyRule> {
    let all = || Some(vec!["*".to_string()]);
    vec![
        PolicyRule {
            verbs: vec!["*".into()],
            api_groups: all(),
            resources: all(),
            ..PolicyRule::default()
        },
        PolicyRule {
            verbs: vec!["*".into()],
            non_resource_urls: all(),
            ..PolicyRule::default()
        },
    ]
}

/// Refuses an RBAC write by `user` that grants permissions it does not hold, with
/// kube-apiserver's 403. `resource` is the plural written (`roles`, `clusterrolebindings`, …),
/// `namespace` the request's (`""` for cluster objects), `name` the object's.
pub async fn confirm_no_escalation(
    authz: &dyn Authorizer,
    user: Option<&UserInfo>,
    resource: &str,
    namespace: &str,
    name: &str,
    grant: Grant<'_>,
) -> Result<(), Status> {
    let Some(user) = user.filter(|_| !escalation_allowed(user)) else {
        return Ok(());
    };
    let ask = |verb: &str, resource: &str, name: &str| Attributes {
        user: user.clone(),
        verb: verb.into(),
        is_resource_request: true,
        namespace: namespace.into(),
        api_group: RBAC_GROUP.into(),
        api_version: "*".into(),
        resource: resource.into(),
        name: name.into(),
        ..Attributes::default()
    };
    let wanted = match grant {
        Grant::Rules { rules, aggregated } => {
            if authz
                .authorize(&ask("escalate", resource, name))
                .await
                .allowed
            {
                return Ok(());
            }
            let owner = authz.rules_for(user, namespace).await;
            let held: Vec<PolicyRule> = owner
                .resource_rules
                .iter()
                .chain(&owner.non_resource_rules)
                .cloned()
                .collect();
            if let Some(msg) = escalation_message(user, &held, rules, &owner.evaluation_error) {
                return Err(Status::forbidden(
                    resource,
                    RBAC_GROUP,
                    name,
                    forbid(resource, name, &msg),
                ));
            }
            if aggregated && !uncovered(&held, &full_authority()).is_empty() {
                let msg = "must have cluster-admin privileges to use the aggregationRule";
                return Err(Status::forbidden(
                    resource,
                    RBAC_GROUP,
                    name,
                    forbid(resource, name, msg),
                ));
            }
            return Ok(());
        }
        Grant::Binding {
            kind,
            name: role,
            rules,
        } => {
            let role_resource = match kind {
                "ClusterRole" => "clusterroles",
                "Role" => "roles",
                _ => "",
            };
            if !role_resource.is_empty()
                && authz
                    .authorize(&ask("bind", role_resource, role))
                    .await
                    .allowed
            {
                return Ok(());
            }
            rules?
        }
    };
    let owner = authz.rules_for(user, namespace).await;
    let held: Vec<PolicyRule> = owner
        .resource_rules
        .iter()
        .chain(&owner.non_resource_rules)
        .cloned()
        .collect();
    match escalation_message(user, &held, &wanted, &owner.evaluation_error) {
        None => Ok(()),
        Some(msg) => Err(Status::forbidden(
            resource,
            RBAC_GROUP,
            name,
            forbid(resource, name, &msg),
        )),
    }
}

/// `NewForbidden`'s message: `roles.rbac.authorization.k8s.io "x" is forbidden: …`.
fn forbid(resource: &str, name: &str, why: &str) -> String {
    format!("{resource}.{RBAC_GROUP} {name:?} is forbidden: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
        let v = |s: &[&str]| Some(s.iter().map(|x| x.to_string()).collect());
        PolicyRule {
            api_groups: v(groups),
            resources: v(resources),
            verbs: verbs.iter().map(|x| x.to_string()).collect(),
            ..PolicyRule::default()
        }
    }

    #[test]
    fn covers_follows_wildcards_and_subresources() {
        let owner = [
            rule(&[""], &["pods", "*/status"], &["get", "list"]),
            rule(&["apps"], &["*"], &["*"]),
        ];
        assert!(uncovered(&owner, &[rule(&[""], &["pods"], &["get"])]).is_empty());
        assert!(uncovered(&owner, &[rule(&[""], &["services/status"], &["list"])]).is_empty());
        assert!(uncovered(&owner, &[rule(&["apps"], &["statefulsets"], &["delete"])]).is_empty());
        let missing = uncovered(
            &owner,
            &[rule(&["", "apps"], &["pods"], &["get", "delete"])],
        );
        let texts: Vec<String> = missing.iter().map(compact_string).collect();
        assert_eq!(
            texts,
            [r#"{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}"#]
        );
    }

    #[test]
    fn message_reads_like_kube_apiserver() {
        let user = UserInfo {
            name: "ann".into(),
            groups: vec!["dev".into(), "system:authenticated".into()],
            ..UserInfo::default()
        };
        let owner = [rule(&[""], &["pods"], &["get"])];
        let wanted = [
            rule(&["*"], &["*"], &["*"]),
            rule(&[""], &["secrets"], &["get", "list"]),
        ];
        // Sorted, as Go's string set lists them.
        let msg = escalation_message(&user, &owner, &wanted, "").unwrap();
        assert_eq!(
            msg,
            "user \"ann\" (groups=[\"dev\" \"system:authenticated\"]) is attempting to grant RBAC \
             permissions not currently held:\n\
             {APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"list\"]}\n\
             {APIGroups:[\"*\"], Resources:[\"*\"], Verbs:[\"*\"]}"
        );
        assert_eq!(escalation_message(&user, &owner, &owner, ""), None);
    }

    #[test]
    fn masters_and_the_control_plane_are_exempt() {
        assert!(escalation_allowed(None));
        let m = UserInfo {
            name: "root".into(),
            groups: vec![SYSTEM_MASTERS.into()],
            ..UserInfo::default()
        };
        assert!(escalation_allowed(Some(&m)));
        assert!(!escalation_allowed(Some(&UserInfo::default())));
    }
}
