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
    let api: Api<Pod> = Api::namespaced(client, &pod.namespace);
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
