//! The resource kinds an API server serves, from discovery: what the garbage collector watches
//! and what namespace deletion empties.

use std::time::Duration;

use kube::discovery::{ApiResource, Discovery, Scope, verbs};

/// One served resource kind.
#[derive(Debug, Clone)]
pub struct Kind {
    /// Group, version, kind and plural.
    pub ar: ApiResource,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Whether `deletecollection` is served.
    pub delete_collection: bool,
}

impl Kind {
    /// Whether this kind is `api_version`/`kind`.
    pub fn is(&self, api_version: &str, kind: &str) -> bool {
        self.ar.api_version == api_version && self.ar.kind == kind
    }
}

/// Events are never owners or owned in practice and churn a lot: upstream's collector ignores them.
fn ignored(ar: &ApiResource) -> bool {
    ar.plural == "events" && (ar.group.is_empty() || ar.group == "events.k8s.io")
}

/// The kinds that can be listed, watched and deleted (events excepted), retrying discovery
/// until it succeeds.
pub async fn discover(client: &kube::Client) -> Vec<Kind> {
    let mut delay = Duration::from_millis(100);
    loop {
        match Discovery::new(client.clone()).run().await {
            Ok(d) => {
                let mut kinds = Vec::new();
                for group in d.groups() {
                    for (ar, caps) in group.recommended_resources() {
                        let ok = [verbs::LIST, verbs::WATCH, verbs::DELETE]
                            .iter()
                            .all(|v| caps.supports_operation(v));
                        if ok && !ignored(&ar) {
                            kinds.push(Kind {
                                namespaced: caps.scope == Scope::Namespaced,
                                delete_collection: caps
                                    .supports_operation(verbs::DELETE_COLLECTION),
                                ar,
                            });
                        }
                    }
                }
                return kinds;
            }
            Err(e) => {
                tracing::debug!(error = %e, "discovery failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
