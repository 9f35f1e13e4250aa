//! Delegated client authentication and authorization, as kube-rbac-proxy and aggregated API
//! servers do it: the bearer token goes to the cluster in a TokenReview, the request's
//! attributes in a SubjectAccessReview for the user the review returned. Answers are cached
//! (tokens 2 min; allowed 5 min, denied 30 s), keyed by the token's SHA-256, never the token.

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::Api;
use kube::api::PostParams;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::UserInfo;
use super::attributes::Attributes;
use crate::machinery::status::Status;

const TOKEN_TTL: Duration = Duration::from_secs(120);
const ALLOW_TTL: Duration = Duration::from_secs(300);
const DENY_TTL: Duration = Duration::from_secs(30);
/// Entries kept per cache before it is emptied (a bound on memory, not an LRU).
const MAX_ENTRIES: usize = 10_000;

/// The answer to one review.
type Review<T> = (T, Instant);

/// TokenReview + SubjectAccessReview against the cluster.
pub struct Delegated {
    client: kube::Client,
    audiences: Vec<String>,
    tokens: Mutex<HashMap<[u8; 32], Review<Option<UserInfo>>>>,
    decisions: Mutex<HashMap<(UserInfo, Attributes), Review<Decision>>>,
}

/// An authorizer's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// Denied, with the authorizer's reason (may be empty).
    Deny(String),
}

impl Delegated {
    /// Reviews with `client` (the proxy's own credentials: it needs `create` on
    /// `tokenreviews` and `subjectaccessreviews`); `audiences` go into every TokenReview.
    pub fn new(client: kube::Client, audiences: Vec<String>) -> Self {
        Self {
            client,
            audiences,
            tokens: Mutex::default(),
            decisions: Mutex::default(),
        }
    }

    /// Who holds `token` (`None`: nobody the cluster knows), from the cache or a TokenReview.
    pub async fn authenticate(&self, token: &str) -> Result<Option<UserInfo>, Status> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(user) = cached(&self.tokens, &key) {
            return Ok(user);
        }
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: token.to_string(),
                audiences: (!self.audiences.is_empty()).then(|| self.audiences.clone()),
            },
            ..Default::default()
        };
        let api: Api<TokenReview> = Api::all(self.client.clone());
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| Status::internal(format!("TokenReview failed: {e}")))?;
        let user = answer
            .status
            .filter(|s| s.authenticated == Some(true))
            .and_then(|s| s.user)
            .and_then(|u| {
                Some(UserInfo {
                    name: u.username?,
                    uid: u.uid.unwrap_or_default(),
                    groups: u.groups.unwrap_or_default(),
                    extra: u.extra.unwrap_or_default().into_iter().collect(),
                })
            });
        store(&self.tokens, key, user.clone(), TOKEN_TTL);
        Ok(user)
    }

    /// Whether `user` may do `attrs`, from the cache or a SubjectAccessReview.
    pub async fn authorize(&self, user: &UserInfo, attrs: &Attributes) -> Result<Decision, Status> {
        let key = (user.clone(), attrs.clone());
        if let Some(d) = cached(&self.decisions, &key) {
            return Ok(d);
        }
        let mut spec = SubjectAccessReviewSpec {
            user: Some(user.name.clone()),
            uid: (!user.uid.is_empty()).then(|| user.uid.clone()),
            groups: Some(user.groups.clone()),
            extra: (!user.extra.is_empty()).then(|| user.extra.clone().into_iter().collect()),
            ..Default::default()
        };
        match attrs {
            Attributes::NonResource { verb, path } => {
                spec.non_resource_attributes = Some(NonResourceAttributes {
                    verb: Some(verb.clone()),
                    path: Some(path.clone()),
                });
            }
            Attributes::Resource {
                verb,
                group,
                version,
                namespace,
                resource,
                subresource,
                name,
            } => {
                let some = |s: &String| (!s.is_empty()).then(|| s.clone());
                spec.resource_attributes = Some(ResourceAttributes {
                    verb: Some(verb.clone()),
                    group: Some(group.clone()),
                    version: some(version),
                    namespace: some(namespace),
                    resource: Some(resource.clone()),
                    subresource: some(subresource),
                    name: some(name),
                    ..Default::default()
                });
            }
        }
        let review = SubjectAccessReview {
            spec,
            ..Default::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| Status::internal(format!("SubjectAccessReview failed: {e}")))?;
        let status = answer.status.unwrap_or_default();
        let decision = if status.allowed {
            Decision::Allow
        } else {
            Decision::Deny(status.reason.unwrap_or_default())
        };
        let ttl = if decision == Decision::Allow {
            ALLOW_TTL
        } else {
            DENY_TTL
        };
        store(&self.decisions, key, decision.clone(), ttl);
        Ok(decision)
    }
}

/// The cluster decides, through the same cached SubjectAccessReviews, wherever podgate asks a
/// question of its own (the Prometheus discovery's `list pods` per namespace), so a delegated
/// `podgate proxy` never answers more than the caller may see.
impl super::Authorizer for Delegated {
    fn authorize<'a>(
        &'a self,
        attrs: &'a super::authz::Attributes,
    ) -> futures::future::BoxFuture<'a, super::authz::Decision> {
        Box::pin(async move {
            let question = if attrs.is_resource_request {
                Attributes::Resource {
                    verb: attrs.verb.clone(),
                    group: attrs.api_group.clone(),
                    version: attrs.api_version.clone(),
                    namespace: attrs.namespace.clone(),
                    resource: attrs.resource.clone(),
                    subresource: attrs.subresource.clone(),
                    name: attrs.name.clone(),
                }
            } else {
                Attributes::NonResource {
                    verb: attrs.verb.clone(),
                    path: attrs.path.clone(),
                }
            };
            match self.authorize(&attrs.user, &question).await {
                Ok(Decision::Allow) => super::authz::Decision {
                    allowed: true,
                    ..Default::default()
                },
                Ok(Decision::Deny(reason)) => super::authz::Decision {
                    reason,
                    ..Default::default()
                },
                Err(status) => super::authz::Decision {
                    evaluation_error: status.message,
                    ..Default::default()
                },
            }
        })
    }

    /// The cluster's rules cannot be listed for another user; as kube-apiserver's webhook
    /// authorizer, say so instead of guessing.
    fn rules_for<'a>(
        &'a self,
        _user: &'a UserInfo,
        _namespace: &'a str,
    ) -> futures::future::BoxFuture<'a, super::authz::UserRules> {
        Box::pin(async {
            super::authz::UserRules {
                incomplete: true,
                ..Default::default()
            }
        })
    }
}

fn cached<K: std::hash::Hash + Eq, T: Clone>(
    cache: &Mutex<HashMap<K, Review<T>>>,
    key: &K,
) -> Option<T> {
    let map = cache.lock();
    map.get(key)
        .filter(|(_, expires)| Instant::now() < *expires)
        .map(|(v, _)| v.clone())
}

fn store<K: std::hash::Hash + Eq, T>(
    cache: &Mutex<HashMap<K, Review<T>>>,
    key: K,
    value: T,
    ttl: Duration,
) {
    let mut map = cache.lock();
    if map.len() >= MAX_ENTRIES {
        let now = Instant::now();
        map.retain(|_, (_, expires)| *expires > now);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
    }
    map.insert(key, (value, Instant::now() + ttl));
}

#[cfg(test)]
pub(crate) mod fake {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fake API answering TokenReviews (token `good` is jane) and SubjectAccessReviews (jane
    /// may get pods/proxy), counting the calls.
    pub(crate) fn fake_api(calls: Arc<AtomicUsize>) -> kube::Client {
        let svc = tower::service_fn(move |req: http::Request<kube::client::Body>| {
            let calls = calls.clone();
            async move {
                use http_body_util::BodyExt;
                calls.fetch_add(1, Ordering::SeqCst);
                let path = req.uri().path().to_string();
                let body = req.into_body().collect().await?.to_bytes();
                let v: serde_json::Value = serde_json::from_slice(&body)?;
                let out = if path.ends_with("/tokenreviews") {
                    let ok = v["spec"]["token"] == "good";
                    serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                        "spec": v["spec"], "status": {"authenticated": ok,
                        "user": if ok { serde_json::json!({"username": "jane", "groups": ["devs"]}) } else { serde_json::json!({}) }}})
                } else {
                    let ra = &v["spec"]["resourceAttributes"];
                    let ok = v["spec"]["user"] == "jane"
                        && ra["resource"] == "pods"
                        && ra["subresource"] == "proxy"
                        && ra["verb"] == "get";
                    serde_json::json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                        "spec": v["spec"], "status": {"allowed": ok, "reason": if ok { "" } else { "no rule" }}})
                };
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(http::Response::new(
                    http_body_util::Full::new(bytes::Bytes::from(out.to_string())),
                ))
            }
        });
        kube::Client::new(svc, "default")
    }
}

#[cfg(test)]
mod tests {
    use super::fake::fake_api;
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn reviews_and_caches() {
        let calls = Arc::new(AtomicUsize::new(0));
        let d = Delegated::new(fake_api(calls.clone()), vec![]);
        let jane = d
            .authenticate("good")
            .await
            .unwrap()
            .expect("authenticated");
        assert_eq!(jane.name, "jane");
        assert_eq!(jane.groups, ["devs"]);
        assert_eq!(d.authenticate("bad").await.unwrap(), None);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        d.authenticate("good").await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "cached");

        let proxy = Attributes::of(
            &http::Method::GET,
            "/api/v1/namespaces/default/pods/web-0/proxy/",
            None,
        );
        let exec = Attributes::of(
            &http::Method::POST,
            "/api/v1/namespaces/default/pods/web-0/exec",
            None,
        );
        assert_eq!(d.authorize(&jane, &proxy).await.unwrap(), Decision::Allow);
        assert_eq!(
            d.authorize(&jane, &exec).await.unwrap(),
            Decision::Deny("no rule".into())
        );
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        d.authorize(&jane, &proxy).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 4, "cached");
    }
}
