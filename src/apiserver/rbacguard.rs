//! The RBAC storage's escalation check (kube-apiserver's `policybased` storages for Roles,
//! ClusterRoles, RoleBindings and ClusterRoleBindings): a write is checked against what the
//! writer holds before it is stored, see [`crate::auth::escalation`].
//!
//! Updates and patches are checked on the object they would store; a [`Guard`] run inside the
//! store's writer then makes sure the object stored grants the same as the one checked (a
//! concurrent change in between is a 409 Conflict, which clients retry).

use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::Value;

use super::Request;
use super::handlers::{self, Guard};
use super::registry::{self, ResourceDef};
use crate::auth::UserInfo;
use crate::auth::authz::Authorizer;
use crate::auth::escalation::{Grant, RBAC_GROUP, confirm_no_escalation, escalation_allowed};
use crate::machinery::status::Status;
use crate::store::Store;

/// Whether writes of `def` go through the escalation check.
pub(super) fn guarded(def: &ResourceDef) -> bool {
    def.group == RBAC_GROUP
}

/// The fields of an RBAC object that decide what it grants.
fn granting(def: &ResourceDef, obj: &Value) -> (Value, Value) {
    if def.plural.ends_with("bindings") {
        (
            obj.get("roleRef").cloned().unwrap_or(Value::Null),
            Value::Null,
        )
    } else {
        (
            obj.get("rules").cloned().unwrap_or(Value::Null),
            obj.get("aggregationRule").cloned().unwrap_or(Value::Null),
        )
    }
}

/// Checks that `user` may store `obj` (the object a create, update or patch would store), and
/// returns the guard that keeps the write to what was checked.
pub(super) async fn check(
    authz: &dyn Authorizer,
    store: &Store,
    def: &'static ResourceDef,
    r: &Request,
    user: Option<&UserInfo>,
    obj: &Value,
) -> Result<Option<Guard>, Status> {
    if escalation_allowed(user) {
        return Ok(None);
    }
    let namespace = if def.namespaced {
        r.namespace().unwrap_or("")
    } else {
        ""
    };
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .or(r.info.name.as_deref())
        .unwrap_or("");
    if def.plural.ends_with("bindings") {
        let kind = obj
            .pointer("/roleRef/kind")
            .and_then(Value::as_str)
            .unwrap_or("");
        let role = obj
            .pointer("/roleRef/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let rules = role_rules(store, kind, namespace, role);
        let grant = Grant::Binding {
            kind,
            name: role,
            rules,
        };
        confirm_no_escalation(authz, user, def.plural, namespace, name, grant).await?;
    } else {
        let rules: Vec<PolicyRule> = obj
            .get("rules")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| Status::bad_request(format!("rules: {e}")))?
            .unwrap_or_default();
        let aggregated = obj.get("aggregationRule").is_some_and(|a| !a.is_null());
        let grant = Grant::Rules {
            rules: &rules,
            aggregated,
        };
        confirm_no_escalation(authz, user, def.plural, namespace, name, grant).await?;
    }
    let checked = granting(def, obj);
    let (plural, group, name) = (def.plural, def.group, name.to_string());
    Ok(Some(Box::new(move |stored: &Value| {
        if granting(def, stored) == checked {
            Ok(())
        } else {
            Err(Status::conflict(plural, group, &name, Status::MODIFIED))
        }
    })))
}

/// The rules of the role a binding names (`GetRoleReferenceRules`).
fn role_rules(
    store: &Store,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<Vec<PolicyRule>, Status> {
    let plural = match kind {
        "Role" => "roles",
        "ClusterRole" => "clusterroles",
        other => {
            return Err(Status::internal(format!(
                "unsupported role reference kind: {other:?}"
            )));
        }
    };
    let def = registry::find(RBAC_GROUP, "v1", plural).ok_or_else(Status::no_route)?;
    let obj = store
        .get(&handlers::key(def, Some(namespace), name))
        .ok_or_else(|| Status::not_found(plural, RBAC_GROUP, name))?;
    Ok(obj
        .get("rules")
        .cloned()
        .and_then(|r| serde_json::from_value(r).ok())
        .unwrap_or_default())
}
