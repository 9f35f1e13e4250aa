//! The scheduler's verdict on a pod's claims (upstream's VolumeBinding plugin): a pod not yet
//! on a node whose claims are missing or unbound gets `PodScheduled=False` with the message
//! users know (`pod has unbound immediate PersistentVolumeClaims`) and a `FailedScheduling`
//! event; once its claims are bound, that condition is cleared so the pod can be placed.
//! Without any Node there is nothing to schedule on and nothing is said.
//!
//! A node agent that places pods should hold back pods for which [`claims_problem`] says
//! something.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use serde_json::json;

use super::Context;
use super::binder::claims_of;
use crate::cluster::informer::Change;
use crate::controller::events::EventType;
use crate::controller::work::{Requests, requests};
use crate::controller::{Caches, Error};

/// The scheduler's message for a pod whose claims are not bound yet.
pub const UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";

fn waiting(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_none_or(str::is_empty)
        && !claims_of(pod).is_empty()
}

/// What makes a pod look again: itself, its claims, any class or node change.
pub fn triggers(caches: &Caches) -> Vec<Requests<Pod>> {
    let pods = caches.pods.store().clone();
    let all = move || -> Vec<ObjectRef<Pod>> {
        pods.state()
            .iter()
            .filter(|p| waiting(p))
            .map(|p| ObjectRef::from_obj(p.as_ref()))
            .collect()
    };
    let using = {
        let pods = caches.pods.store().clone();
        move |claim: &PersistentVolumeClaim| -> Vec<ObjectRef<Pod>> {
            let name = claim.name_any();
            pods.state()
                .iter()
                .filter(|p| p.namespace() == claim.namespace() && claims_of(p).contains(&name))
                .map(|p| ObjectRef::from_obj(p.as_ref()))
                .collect()
        }
    };
    vec![
        requests(caches.pods.subscribe(), {
            let all = all.clone();
            move |c: &Change<Pod>| match c {
                Change::Applied(p) if waiting(p) => vec![ObjectRef::from_obj(p.as_ref())],
                Change::Resync => all(),
                _ => Vec::new(),
            }
        }),
        requests(caches.claims.subscribe(), {
            let all = all.clone();
            move |c: &Change<PersistentVolumeClaim>| match c.object() {
                Some(claim) => using(claim),
                None => all(),
            }
        }),
        requests(caches.classes.subscribe(), {
            let all = all.clone();
            move |_: &Change<StorageClass>| all()
        }),
        requests(caches.nodes.subscribe(), move |_: &Change<Node>| all()),
    ]
}

/// Why the pod's claims keep it from being scheduled, if they do.
pub fn claims_problem(
    pod: &Pod,
    claim: impl Fn(&str) -> Option<Arc<PersistentVolumeClaim>>,
    class: impl Fn(&str) -> Option<Arc<StorageClass>>,
) -> Option<String> {
    let mut unbound = false;
    for name in claims_of(pod) {
        let Some(c) = claim(&name) else {
            return Some(format!("persistentvolumeclaim \"{name}\" not found"));
        };
        if c.metadata.deletion_timestamp.is_some() {
            return Some(format!("persistentvolumeclaim \"{name}\" is being deleted"));
        }
        let bound = c
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.as_deref())
            .is_some_and(|v| !v.is_empty())
            && c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
        let class_name = super::matching::claim_class(&c);
        let delayed = class(class_name)
            .is_some_and(|sc| sc.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"));
        if !bound && !delayed {
            unbound = true;
        }
    }
    unbound.then(|| UNBOUND_IMMEDIATE.to_string())
}

/// The scheduler's full message for `problem` with `nodes` nodes.
pub fn fit_error(problem: &str, nodes: usize) -> String {
    if nodes == 0 {
        return "no nodes available to schedule pods".to_string();
    }
    format!(
        "0/{nodes} nodes are available: {problem}. preemption: 0/{nodes} nodes are available: {nodes} Preemption is not helpful for scheduling."
    )
}

fn scheduled_condition(pod: &Pod) -> Option<(String, Option<String>, Option<String>)> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "PodScheduled")
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Syncs one pod.
pub async fn reconcile(pod: Arc<Pod>, ctx: Arc<Context>) -> Result<Action, Error> {
    if !waiting(&pod) {
        return Ok(Action::await_change());
    }
    let ns = pod.namespace().unwrap_or_default();
    let problem = claims_problem(
        &pod,
        |n| ctx.claims.get(&ObjectRef::new(n).within(&ns)),
        |c| ctx.class(c),
    );
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let current = scheduled_condition(&pod);
    match problem {
        Some(p) => {
            let nodes = ctx.nodes.state().len();
            if nodes == 0 {
                // Nothing to place pods on: not a verdict about claims.
                return Ok(Action::await_change());
            }
            let message = fit_error(&p, nodes);
            let want = (
                "False".to_string(),
                Some("Unschedulable".to_string()),
                Some(message.clone()),
            );
            if current.as_ref() == Some(&want) {
                return Ok(Action::await_change());
            }
            let patch = json!({"status": {"conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": message, "lastProbeTime": null, "lastTransitionTime": Time(Timestamp::now()),
            }]}});
            api.patch_status(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Strategic(&patch),
            )
            .await?;
            ctx.scheduler
                .record(
                    pod.as_ref(),
                    EventType::Warning,
                    "FailedScheduling",
                    message,
                )
                .await;
        }
        None => {
            let ours = current.as_ref().is_some_and(|(status, reason, message)| {
                status == "False"
                    && reason.as_deref() == Some("Unschedulable")
                    && message.as_deref().is_some_and(|m| {
                        m.contains("PersistentVolumeClaim") || m.contains("persistentvolumeclaim")
                    })
            });
            if ours {
                let patch = json!({"status": {"conditions": [{"type": "PodScheduled", "$patch": "delete"}]}});
                api.patch_status(
                    &pod.name_any(),
                    &PatchParams::default(),
                    &Patch::Strategic(&patch),
                )
                .await?;
            }
        }
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn pod() -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "web-0", "namespace": "ns"},
            "spec": {"containers": [], "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data-web-0"}}]}}))
        .unwrap()
    }

    fn claim(spec: Value, phase: &str) -> Arc<PersistentVolumeClaim> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": "data-web-0"}, "spec": spec, "status": {"phase": phase}}))
                .unwrap(),
        )
    }

    fn class(mode: &str) -> Option<Arc<StorageClass>> {
        Some(Arc::new(
            serde_json::from_value(
                json!({"metadata": {"name": "c"}, "provisioner": "p", "volumeBindingMode": mode}),
            )
            .unwrap(),
        ))
    }

    #[test]
    fn the_problems_a_pods_claims_can_have() {
        let p = pod();
        assert_eq!(
            claims_problem(&p, |_| None, |_| None).as_deref(),
            Some("persistentvolumeclaim \"data-web-0\" not found")
        );
        let pending = claim(json!({"storageClassName": "c"}), "Pending");
        assert_eq!(
            claims_problem(&p, |_| Some(pending.clone()), |_| class("Immediate")).as_deref(),
            Some(UNBOUND_IMMEDIATE)
        );
        assert_eq!(
            claims_problem(
                &p,
                |_| Some(pending.clone()),
                |_| class("WaitForFirstConsumer")
            ),
            None
        );
        let bound = claim(
            json!({"storageClassName": "c", "volumeName": "pv"}),
            "Bound",
        );
        assert_eq!(claims_problem(&p, |_| Some(bound.clone()), |_| None), None);
    }

    #[test]
    fn the_message_has_the_schedulers_shape() {
        assert_eq!(
            fit_error(UNBOUND_IMMEDIATE, 1),
            "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        );
        assert_eq!(
            fit_error(UNBOUND_IMMEDIATE, 0),
            "no nodes available to schedule pods"
        );
    }
}
