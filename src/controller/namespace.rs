//! Namespace deletion (upstream `NamespacedResourcesDeleter`): once a namespace is
//! Terminating, delete everything in it, report what remains in the namespace's conditions,
//! and when nothing is left drop the `kubernetes` finalizer through `/finalize`, after which
//! the API server removes the namespace.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use super::kinds::{Kind, discover};
use super::work::{self, requests};
use super::{Caches, Error};
use crate::cluster::informer::Change;

/// The finalizer namespace deletion owns.
pub const FINALIZER: &str = "kubernetes";

/// How soon a namespace with content left is looked at again.
const RECHECK: Duration = Duration::from_millis(500);

struct Context {
    client: kube::Client,
    kinds: Vec<Kind>,
}

/// Runs the namespace controller until its cache closes.
pub async fn run(client: kube::Client, caches: Caches) {
    let kinds: Vec<Kind> = discover(&client)
        .await
        .into_iter()
        .filter(|k| k.namespaced)
        .collect();
    let ctx = Arc::new(Context { client, kinds });
    let store = caches.namespaces.store().clone();
    let all = store.clone();
    let triggers = vec![requests(
        caches.namespaces.subscribe(),
        move |c: &Change<Namespace>| match c.object() {
            Some(ns) => vec![ObjectRef::from_obj(ns.as_ref())],
            None => all
                .state()
                .iter()
                .map(|n| ObjectRef::from_obj(n.as_ref()))
                .collect(),
        },
    )];
    work::run("namespace", store, triggers, ctx, reconcile).await;
}

/// What is left in a namespace: instance counts per resource, and per finalizer.
#[derive(Debug, Default, PartialEq)]
struct Remaining {
    resources: BTreeMap<String, usize>,
    finalizers: BTreeMap<String, usize>,
}

impl Remaining {
    fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// The namespace conditions upstream reports during deletion.
    fn conditions(&self, failures: &[String], now: Timestamp) -> Vec<NamespaceCondition> {
        let cond = |type_: &str, status: bool, reason: &str, message: String| NamespaceCondition {
            type_: type_.to_string(),
            status: if status { "True" } else { "False" }.to_string(),
            reason: Some(reason.to_string()),
            message: Some(message),
            last_transition_time: Some(Time(now)),
        };
        let list = |m: &BTreeMap<String, usize>| {
            m.iter()
                .map(|(k, n)| format!("{k} has {n} resource instances"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = vec![
            cond(
                "NamespaceDeletionDiscoveryFailure",
                false,
                "ResourcesDiscovered",
                "All resources successfully discovered".into(),
            ),
            cond(
                "NamespaceDeletionGroupVersionParsingFailure",
                false,
                "ParsedGroupVersions",
                "All legacy kube types successfully parsed".into(),
            ),
        ];
        out.push(if failures.is_empty() {
            cond(
                "NamespaceDeletionContentFailure",
                false,
                "ContentDeleted",
                "All content successfully deleted, may be waiting on finalization".into(),
            )
        } else {
            cond(
                "NamespaceDeletionContentFailure",
                true,
                "ContentDeletionFailed",
                format!(
                    "Failed to delete all resource types, {} remaining: {}",
                    failures.len(),
                    failures.join(", ")
                ),
            )
        });
        out.push(if self.resources.is_empty() {
            cond(
                "NamespaceContentRemaining",
                false,
                "ContentRemoved",
                "All content successfully removed".into(),
            )
        } else {
            cond(
                "NamespaceContentRemaining",
                true,
                "SomeResourcesRemain",
                format!("Some resources are remaining: {}", list(&self.resources)),
            )
        });
        out.push(if self.finalizers.is_empty() {
            cond(
                "NamespaceFinalizersRemaining",
                false,
                "ContentHasNoFinalizers",
                "All content-preserving finalizers finished".into(),
            )
        } else {
            let counts = list(&self.finalizers);
            cond(
                "NamespaceFinalizersRemaining",
                true,
                "SomeFinalizersRemain",
                format!(
                    "Some content in the namespace has finalizers remaining: {}",
                    counts.replace(" has ", " in ")
                ),
            )
        });
        out
    }
}

async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Context>) -> Result<Action, Error> {
    let finalizers = ns
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.clone())
        .unwrap_or_default();
    if ns.metadata.deletion_timestamp.is_none() || !finalizers.iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let name = ns.name_any();
    let mut failures = Vec::new();
    let mut remaining = Remaining::default();
    for kind in &ctx.kinds {
        let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &name, &kind.ar);
        let objects = match api.list(&ListParams::default()).await {
            Ok(l) => l.items,
            Err(e) => {
                failures.push(format!("{}: {}", kind.ar.plural, Error::from(e)));
                continue;
            }
        };
        if objects.is_empty() {
            continue;
        }
        let resource = if kind.ar.group.is_empty() {
            kind.ar.plural.clone()
        } else {
            format!("{}.{}", kind.ar.plural, kind.ar.group)
        };
        remaining.resources.insert(resource, objects.len());
        for f in objects.iter().flat_map(|o| o.finalizers().iter()) {
            *remaining.finalizers.entry(f.clone()).or_default() += 1;
        }
        let dp = DeleteParams::background();
        for o in objects
            .iter()
            .filter(|o| o.metadata.deletion_timestamp.is_none())
        {
            match api.delete(&o.name_any(), &dp).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                Err(e) => failures.push(format!("{}: {}", kind.ar.plural, Error::from(e))),
            }
        }
    }
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    if remaining.is_empty() && failures.is_empty() {
        let mut finalized = ns.as_ref().clone();
        if let Some(spec) = finalized.spec.as_mut() {
            spec.finalizers = Some(finalizers.into_iter().filter(|f| f != FINALIZER).collect());
        }
        match api
            .replace_subresource("finalize", &name, &PostParams::default(), &finalized)
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
        return Ok(Action::await_change());
    }
    let mut status_ns = ns.as_ref().clone();
    let status = status_ns.status.get_or_insert_with(Default::default);
    let conditions = remaining.conditions(&failures, Timestamp::now());
    let changed = status
        .conditions
        .as_ref()
        .is_none_or(|old| !same_conditions(old, &conditions));
    if changed {
        status.conditions = Some(conditions);
        match api
            .replace_status(&name, &PostParams::default(), &status_ns)
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Action::requeue(RECHECK))
}

/// Conditions equal but for their transition times.
fn same_conditions(a: &[NamespaceCondition], b: &[NamespaceCondition]) -> bool {
    let strip =
        |c: &[NamespaceCondition]| -> Vec<(String, String, Option<String>, Option<String>)> {
            c.iter()
                .map(|c| {
                    (
                        c.type_.clone(),
                        c.status.clone(),
                        c.reason.clone(),
                        c.message.clone(),
                    )
                })
                .collect()
        };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_say_what_remains() {
        let mut r = Remaining::default();
        r.resources.insert("pods".into(), 2);
        r.resources.insert("configmaps".into(), 1);
        r.finalizers.insert("example.com/x".into(), 1);
        let conds = r.conditions(&[], Timestamp::now());
        let by_type = |t: &str| conds.iter().find(|c| c.type_ == t).unwrap();
        let content = by_type("NamespaceContentRemaining");
        assert_eq!(content.status, "True");
        assert_eq!(
            content.message.as_deref(),
            Some(
                "Some resources are remaining: configmaps has 1 resource instances, pods has 2 resource instances"
            )
        );
        let fin = by_type("NamespaceFinalizersRemaining");
        assert_eq!(
            fin.message.as_deref(),
            Some(
                "Some content in the namespace has finalizers remaining: example.com/x in 1 resource instances"
            )
        );
        assert_eq!(by_type("NamespaceDeletionContentFailure").status, "False");
        let empty = Remaining::default().conditions(&[], Timestamp::now());
        assert!(empty.iter().all(|c| c.status == "False"));
    }
}
