//! Events about pods, as the kubelet and the scheduler record them (core/v1 Events, which
//! `kubectl describe` and `kubectl events` read). Repeats of the same event are aggregated
//! into one object whose `count` and `lastTimestamp` grow, as client-go's recorder does.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use parking_lot::Mutex;

/// The pod an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PodRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID.
    pub uid: String,
}

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Expected progress.
    Normal,
    /// Something the user should look at.
    Warning,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Normal => "Normal",
            Kind::Warning => "Warning",
        }
    }
}

type Key = (PodRef, Option<String>, Kind, String, String);

/// Records events through the API; never blocks the caller.
#[derive(Clone)]
pub struct Recorder {
    client: kube::Client,
    component: &'static str,
    host: String,
    seen: Arc<Mutex<HashMap<Key, (String, i32)>>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("component", &self.component)
            .field("host", &self.host)
            .finish()
    }
}

impl Recorder {
    /// A recorder reporting as `component` (`kubelet`, `default-scheduler`) on node `host`.
    pub fn new(client: kube::Client, component: &'static str, host: &str) -> Self {
        Self {
            client,
            component,
            host: host.to_string(),
            seen: Default::default(),
        }
    }

    /// Records an event about `pod` (and a container, via `field_path` like
    /// `spec.containers{web}`), in the background.
    pub fn pod(
        &self,
        pod: &PodRef,
        field_path: Option<String>,
        kind: Kind,
        reason: &str,
        message: &str,
    ) {
        let this = self.clone();
        let key: Key = (
            pod.clone(),
            field_path,
            kind,
            reason.to_string(),
            message.to_string(),
        );
        tokio::spawn(async move { this.record(key).await });
    }

    /// Forgets the aggregation state of a pod that is gone.
    pub fn forget(&self, pod: &PodRef) {
        self.seen.lock().retain(|k, _| &k.0 != pod);
    }

    async fn record(&self, key: Key) {
        let (pod, field_path, kind, reason, message) = key.clone();
        let api: Api<Event> = Api::namespaced(self.client.clone(), &pod.namespace);
        let now = Time(Timestamp::now());
        let existing = self.seen.lock().get(&key).cloned();
        if let Some((name, count)) = existing {
            let patch = serde_json::json!({ "count": count + 1, "lastTimestamp": now });
            if api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .is_ok()
            {
                self.seen.lock().insert(key, (name, count + 1));
                return;
            }
        }
        let name = format!("{}.{:x}", pod.name, Timestamp::now().as_nanosecond());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(pod.namespace.clone()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                namespace: Some(pod.namespace.clone()),
                name: Some(pod.name.clone()),
                uid: Some(pod.uid.clone()),
                field_path,
                ..Default::default()
            },
            reason: Some(reason),
            message: Some(message),
            type_: Some(kind.as_str().into()),
            source: Some(EventSource {
                component: Some(self.component.into()),
                host: Some(self.host.clone()),
            }),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            count: Some(1),
            reporting_component: Some(self.component.into()),
            reporting_instance: Some(self.host.clone()),
            ..Default::default()
        };
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => {
                self.seen.lock().insert(key, (name, 1));
            }
            Err(e) => tracing::debug!(error = %e, "could not record event"),
        }
    }
}

/// `spec.containers{name}` / `spec.initContainers{name}`.
pub fn container_path(init: bool, name: &str) -> String {
    if init {
        format!("spec.initContainers{{{name}}}")
    } else {
        format!("spec.containers{{{name}}}")
    }
}
