//! A trivial scheduler for a one-node cluster: every pod that waits for a node is bound to
//! this one through the `pods/binding` subresource, as kube-scheduler does.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::PostParams;

use super::events::{Kind, PodRef, Recorder};

/// The scheduler name pods ask for by default.
pub const DEFAULT_SCHEDULER: &str = "default-scheduler";

/// Whether `pod` waits for this scheduler to give it a node.
pub fn wants_binding(pod: &Pod) -> bool {
    let spec = pod.spec.as_ref();
    let unbound = spec
        .and_then(|s| s.node_name.as_deref())
        .is_none_or(str::is_empty);
    let ours = spec
        .and_then(|s| s.scheduler_name.as_deref())
        .is_none_or(|s| s.is_empty() || s == DEFAULT_SCHEDULER);
    let terminal = matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    );
    unbound && ours && !terminal && pod.metadata.deletion_timestamp.is_none()
}

/// Binds `pod` to `node`, retrying a few times on transient errors. Returns whether it was
/// bound by us.
pub async fn bind(client: kube::Client, recorder: Recorder, pod: PodRef, node: String) -> bool {
    let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace);
    if !wait_for_bound_claims(&client, &api, &recorder, &pod).await {
        return false;
    }
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(pod.name.clone()),
            namespace: Some(pod.namespace.clone()),
            uid: Some(pod.uid.clone()),
            ..Default::default()
        },
        target: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.clone()),
            ..Default::default()
        },
    };
    let mut delay = Duration::from_millis(200);
    for _ in 0..8 {
        let result: Result<serde_json::Value, kube::Error> = api
            .create_subresource("binding", &pod.name, &PostParams::default(), &binding)
            .await;
        match result {
            Ok(_) => {
                let msg = format!(
                    "Successfully assigned {}/{} to {node}",
                    pod.namespace, pod.name
                );
                recorder.pod(&pod, None, Kind::Normal, "Scheduled", &msg);
                return true;
            }
            // Gone, already bound, or being deleted: nothing to do.
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => return false,
            Err(e) => {
                tracing::debug!(pod = %pod.name, error = %e, "binding failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    false
}

/// The scheduler's message for a pod whose claims are not bound yet.
pub const UNBOUND_CLAIMS: &str = "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";

/// The claims of `pod` that do not exist or are not Bound yet.
async fn unbound_claims(client: &kube::Client, pod: &Pod) -> Vec<String> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let pvcs: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> =
        Api::namespaced(client.clone(), &ns);
    let mut out = Vec::new();
    let claims = pod
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| {
            v.persistent_volume_claim
                .as_ref()
                .map(|c| c.claim_name.clone())
        });
    for claim in claims {
        let bound = matches!(pvcs.get_opt(&claim).await, Ok(Some(c))
            if c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound"));
        if !bound {
            out.push(claim);
        }
    }
    out
}

/// Keeps a pod unscheduled (Pending, with the scheduler's condition and event) until every claim
/// it uses is bound, so it always runs on its claim's volume. False when the pod went away.
async fn wait_for_bound_claims(
    client: &kube::Client,
    api: &Api<Pod>,
    recorder: &Recorder,
    pod: &PodRef,
) -> bool {
    let mut reported = false;
    loop {
        let current = match api.get_opt(&pod.name).await {
            Ok(Some(p)) if p.metadata.uid.as_deref() == Some(pod.uid.as_str()) => p,
            Ok(_) => return false,
            Err(e) => {
                tracing::debug!(pod = %pod.name, error = %e, "reading the pod to schedule failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if !wants_binding(&current) {
            return false;
        }
        if unbound_claims(client, &current).await.is_empty() {
            return true;
        }
        if !reported {
            reported = true;
            recorder.pod(pod, None, Kind::Warning, "FailedScheduling", UNBOUND_CLAIMS);
            let patch = serde_json::json!({"status": {"conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": UNBOUND_CLAIMS, "lastProbeTime": null,
                "lastTransitionTime": k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            }]}});
            let _ = api
                .patch_status(
                    &pod.name,
                    &kube::api::PatchParams::default(),
                    &kube::api::Patch::Strategic(patch),
                )
                .await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    #[test]
    fn which_pods_get_bound() {
        let pod = |node: Option<&str>,
                   scheduler: Option<&str>,
                   phase: Option<&str>,
                   deleting: bool| Pod {
            metadata: ObjectMeta {
                deletion_timestamp: deleting.then_some(Time(Timestamp::UNIX_EPOCH)),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: node.map(String::from),
                scheduler_name: scheduler.map(String::from),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: phase.map(String::from),
                ..Default::default()
            }),
        };
        let cases = [
            (pod(None, None, None, false), true),
            (
                pod(Some(""), Some("default-scheduler"), Some("Pending"), false),
                true,
            ),
            (pod(Some("other"), None, None, false), false),
            (pod(None, Some("my-scheduler"), None, false), false),
            (pod(None, None, Some("Failed"), false), false),
            (pod(None, None, None, true), false),
        ];
        for (i, (p, want)) in cases.iter().enumerate() {
            assert_eq!(wants_binding(p), *want, "case {i}");
        }
    }
}
