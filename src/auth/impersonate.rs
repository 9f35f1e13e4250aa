//! Impersonation (`Impersonate-User`, `-Group`, `-Uid`, `-Extra-*`; `kubectl --as`), as
//! kube-apiserver's `WithImpersonation` filter does it: each thing asked for must be allowed to
//! the authenticated user with the verb `impersonate` — `users`, `groups` and `serviceaccounts`
//! in the core group, `uids` and `userextras/{key}` in `authentication.k8s.io` — and then the
//! request proceeds as the impersonated user. Impersonating a ServiceAccount brings its groups
//! unless groups are given; a non-anonymous impersonated user is in `system:authenticated`. The
//! headers are removed once read.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::{HeaderMap, Request, Response};

use super::authn::SYSTEM_AUTHENTICATED;
use super::authz::{Attributes, Authorizer, forbidden};
use super::serviceaccount::service_account_groups;
use super::tokens::UserInfo;
use crate::machinery::status::Status;
use crate::wire::body::Body;

const USER_HEADER: &str = "impersonate-user";
const GROUP_HEADER: &str = "impersonate-group";
const UID_HEADER: &str = "impersonate-uid";
const EXTRA_PREFIX: &str = "impersonate-extra-";

const ANONYMOUS: &str = "system:anonymous";
const UNAUTHENTICATED: &str = "system:unauthenticated";

/// One thing a request asks to impersonate.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ask {
    User(String),
    ServiceAccount { namespace: String, name: String },
    Group(String),
    Uid(String),
    Extra { key: String, value: String },
}

impl Ask {
    /// The authorization question for impersonating this.
    fn attributes(&self, requester: &UserInfo) -> Attributes {
        let (group, resource, subresource, namespace, name) = match self {
            Ask::User(n) => ("", "users", "", "", n.as_str()),
            Ask::ServiceAccount { namespace, name } => {
                ("", "serviceaccounts", "", namespace.as_str(), name.as_str())
            }
            Ask::Group(g) => ("", "groups", "", "", g.as_str()),
            Ask::Uid(u) => ("authentication.k8s.io", "uids", "", "", u.as_str()),
            Ask::Extra { key, value } => (
                "authentication.k8s.io",
                "userextras",
                key.as_str(),
                "",
                value.as_str(),
            ),
        };
        Attributes {
            user: requester.clone(),
            verb: "impersonate".into(),
            is_resource_request: true,
            api_group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: namespace.into(),
            name: name.into(),
            ..Attributes::default()
        }
    }
}

/// `system:serviceaccount:{ns}:{name}` split, when the name is one.
fn split_service_account(user: &str) -> Option<(String, String)> {
    let rest = user.strip_prefix("system:serviceaccount:")?;
    let (ns, name) = rest.split_once(':')?;
    (!ns.is_empty() && !name.is_empty() && !name.contains(':'))
        .then(|| (ns.to_string(), name.to_string()))
}

/// What the headers ask for; an error when groups, uid or extras come without a user.
fn asks(headers: &HeaderMap) -> Result<Vec<Ask>, String> {
    let mut out = Vec::new();
    let user = headers
        .get(USER_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|u| !u.is_empty());
    if let Some(u) = user {
        out.push(match split_service_account(u) {
            Some((namespace, name)) => Ask::ServiceAccount { namespace, name },
            None => Ask::User(u.to_string()),
        });
    }
    for g in headers.get_all(GROUP_HEADER) {
        out.push(Ask::Group(
            g.to_str().map_err(|e| e.to_string())?.to_string(),
        ));
    }
    let mut keys: Vec<&str> = headers
        .keys()
        .map(|k| k.as_str())
        .filter(|k| k.starts_with(EXTRA_PREFIX))
        .collect();
    keys.sort_unstable();
    for name in keys {
        let key = percent_encoding::percent_decode_str(&name[EXTRA_PREFIX.len()..])
            .decode_utf8_lossy()
            .to_lowercase();
        for v in headers.get_all(name) {
            out.push(Ask::Extra {
                key: key.clone(),
                value: v.to_str().map_err(|e| e.to_string())?.to_string(),
            });
        }
    }
    if let Some(uid) = headers
        .get(UID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|u| !u.is_empty())
    {
        out.push(Ask::Uid(uid.to_string()));
    }
    if user.is_none() && !out.is_empty() {
        return Err(format!(
            "requested {} without impersonating a user",
            out.iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(out)
}

/// The user the asks describe.
fn impersonated(asks: &[Ask], groups_given: bool) -> UserInfo {
    let mut user = UserInfo::default();
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in asks {
        match a {
            Ask::User(n) => user.name = n.clone(),
            Ask::ServiceAccount { namespace, name } => {
                user.name = super::rbac::service_account_username(namespace, name);
                if !groups_given {
                    user.groups = service_account_groups(namespace);
                }
            }
            Ask::Group(g) => user.groups.push(g.clone()),
            Ask::Uid(u) => user.uid = u.clone(),
            Ask::Extra { key, value } => extra.entry(key.clone()).or_default().push(value.clone()),
        }
    }
    user.extra = extra;
    if user.name != ANONYMOUS {
        if !user
            .groups
            .iter()
            .any(|g| g == SYSTEM_AUTHENTICATED || g == UNAUTHENTICATED)
        {
            user.groups.push(SYSTEM_AUTHENTICATED.into());
        }
    } else if !user.in_group(UNAUTHENTICATED) {
        user.groups.push(UNAUTHENTICATED.into());
    }
    user
}

fn strip_headers(headers: &mut HeaderMap) {
    let names: Vec<http::HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("impersonate-"))
        .cloned()
        .collect();
    for n in names {
        headers.remove(n);
    }
}

/// Works out who `req` acts as: the authenticated user, or the one it may impersonate. Returns
/// the error response when it may not.
pub async fn resolve(
    authorizer: &dyn Authorizer,
    req: &mut Request<Body>,
) -> Result<(), Response<Body>> {
    let asks = match asks(req.headers()) {
        Ok(a) => a,
        Err(e) => return Err(crate::wire::synthetic(Status::internal(e))),
    };
    if asks.is_empty() {
        // Headers that ask for nothing (`Impersonate-User: ""`) change nothing, and still
        // never travel on.
        strip_headers(req.headers_mut());
        return Ok(());
    }
    let Some(requester) = req.extensions().get::<UserInfo>().cloned() else {
        return Err(crate::wire::synthetic(Status::unauthorized()));
    };
    for a in &asks {
        let attrs = a.attributes(&requester);
        let d = authorizer.authorize(&attrs).await;
        if !d.allowed {
            return Err(crate::wire::synthetic(forbidden(&attrs, &d.reason)));
        }
    }
    let groups_given = asks.iter().any(|a| matches!(a, Ask::Group(_)));
    let user = impersonated(&asks, groups_given);
    tracing::debug!(user = %requester.name, as_user = %user.name, "impersonating");
    strip_headers(req.headers_mut());
    req.extensions_mut().insert(user);
    Ok(())
}

// === impl ImpersonateLayer ===

/// A layer that applies impersonation headers for users allowed to impersonate.
pub type ImpersonateLayer = super::CheckLayer<Impersonate>;

impl ImpersonateLayer {
    /// Checks impersonation with `authorizer`.
    pub fn new(authorizer: Arc<dyn Authorizer>) -> Self {
        super::CheckLayer(Impersonate { authorizer })
    }
}

/// The check [`ImpersonateLayer`] runs.
#[derive(Clone)]
pub struct Impersonate {
    authorizer: Arc<dyn Authorizer>,
}

impl super::Check for Impersonate {
    fn check(&self, mut req: Request<Body>) -> super::CheckFuture {
        // Almost no request impersonates: nothing to wait for then.
        let asks = req
            .headers()
            .keys()
            .any(|name| name.as_str().starts_with("impersonate-"));
        if !asks {
            return super::pass(req);
        }
        let authorizer = self.authorizer.clone();
        super::later(async move {
            resolve(authorizer.as_ref(), &mut req).await?;
            Ok(req)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::authz::{Decision, UserRules};
    use futures::future::BoxFuture;

    /// Allows `impersonate` on the listed resource/name pairs only.
    struct Allow(Vec<(&'static str, &'static str)>);

    impl Authorizer for Allow {
        fn authorize<'a>(&'a self, a: &'a Attributes) -> BoxFuture<'a, Decision> {
            let ok = a.verb == "impersonate"
                && self.0.iter().any(|(r, n)| *r == a.resource && *n == a.name);
            Box::pin(async move {
                Decision {
                    allowed: ok,
                    ..Decision::default()
                }
            })
        }
        fn rules_for<'a>(&'a self, _: &'a UserInfo, _: &'a str) -> BoxFuture<'a, UserRules> {
            Box::pin(async { UserRules::default() })
        }
    }

    fn req(headers: &[(&str, &str)]) -> Request<Body> {
        let mut b = Request::get("/api/v1/pods");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let mut r = b.body(crate::wire::body::empty()).unwrap();
        r.extensions_mut()
            .insert(UserInfo::new("admin", vec!["ops".into()]));
        r
    }

    #[tokio::test]
    async fn an_empty_impersonate_user_changes_nothing_and_is_removed() {
        let authz = Allow(vec![]);
        let mut r = req(&[("Impersonate-User", ""), ("Impersonate-Uid", "")]);
        resolve(&authz, &mut r).await.unwrap();
        assert_eq!(r.extensions().get::<UserInfo>().unwrap().name, "admin");
        assert!(r.headers().get("impersonate-user").is_none());
        assert!(r.headers().get("impersonate-uid").is_none());
    }

    #[tokio::test]
    async fn allowed_impersonation_replaces_the_user() {
        let authz = Allow(vec![("users", "prom"), ("groups", "viewers")]);
        let mut r = req(&[("Impersonate-User", "prom")]);
        resolve(&authz, &mut r).await.unwrap();
        let u = r.extensions().get::<UserInfo>().unwrap();
        assert_eq!(u.name, "prom");
        assert_eq!(u.groups, [SYSTEM_AUTHENTICATED]);
        assert!(r.headers().get("impersonate-user").is_none());

        let mut r = req(&[
            ("Impersonate-User", "prom"),
            ("Impersonate-Group", "viewers"),
        ]);
        resolve(&authz, &mut r).await.unwrap();
        assert_eq!(
            r.extensions().get::<UserInfo>().unwrap().groups,
            ["viewers", SYSTEM_AUTHENTICATED]
        );
    }

    #[tokio::test]
    async fn service_accounts_bring_their_groups() {
        let authz = Allow(vec![("serviceaccounts", "prom")]);
        let mut r = req(&[("Impersonate-User", "system:serviceaccount:mon:prom")]);
        resolve(&authz, &mut r).await.unwrap();
        let u = r.extensions().get::<UserInfo>().unwrap();
        assert_eq!(u.name, "system:serviceaccount:mon:prom");
        assert_eq!(
            u.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:mon",
                SYSTEM_AUTHENTICATED
            ]
        );
    }

    #[tokio::test]
    async fn refusals_name_what_was_asked() {
        let authz = Allow(vec![("users", "prom")]);
        let mut r = req(&[("Impersonate-User", "root")]);
        let resp = resolve(&authz, &mut r).await.unwrap_err();
        assert_eq!(resp.status(), 403);
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v["message"],
            "users \"root\" is forbidden: User \"admin\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
        );
        // A group the user may not take, even with a user it may.
        let mut r = req(&[
            ("Impersonate-User", "prom"),
            ("Impersonate-Group", "system:masters"),
        ]);
        assert_eq!(resolve(&authz, &mut r).await.unwrap_err().status(), 403);
        assert_eq!(
            r.extensions().get::<UserInfo>().unwrap().name,
            "admin",
            "nothing changes on refusal"
        );
        // Groups without a user: an error, as upstream.
        let mut r = req(&[("Impersonate-Group", "viewers")]);
        assert_eq!(resolve(&authz, &mut r).await.unwrap_err().status(), 500);
    }

    #[test]
    fn extras_and_uid_are_asked_for_in_their_group() {
        let mut h = HeaderMap::new();
        h.insert("impersonate-user", "u".parse().unwrap());
        h.insert("impersonate-uid", "1234".parse().unwrap());
        h.append("impersonate-extra-scopes%2Fx", "a".parse().unwrap());
        h.append("impersonate-extra-scopes%2Fx", "b".parse().unwrap());
        let a = asks(&h).unwrap();
        assert_eq!(a.len(), 4);
        let requester = UserInfo::new("admin", vec![]);
        let extra = a[1].attributes(&requester);
        assert_eq!(
            (
                extra.api_group.as_str(),
                extra.resource.as_str(),
                extra.subresource.as_str(),
                extra.name.as_str()
            ),
            ("authentication.k8s.io", "userextras", "scopes/x", "a")
        );
        assert_eq!(a[3].attributes(&requester).resource, "uids");
        let u = impersonated(&a, false);
        assert_eq!(u.uid, "1234");
        assert_eq!(u.extra["scopes/x"], ["a", "b"]);
    }
}
