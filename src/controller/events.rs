//! Recording core/v1 Events the way client-go's event recorder does: one Event per distinct
//! (object, type, reason, message), with `count` and `lastTimestamp` bumped on repeats, and
//! `source.component` naming the controller (what `kubectl describe` shows under "From").

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use parking_lot::Mutex;
use serde_json::json;

/// How many distinct events a recorder remembers for aggregation.
const REMEMBERED: usize = 4096;

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Something expected happened.
    Normal,
    /// Something the user may need to act on.
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    uid: String,
    kind: String,
    name: String,
    namespace: String,
    event_type: EventType,
    reason: String,
    message: String,
}

#[derive(Debug, Clone)]
struct Seen {
    name: String,
    count: i32,
}

/// Records events for one component.
pub struct Recorder {
    client: kube::Client,
    component: &'static str,
    seen: Mutex<HashMap<Key, Seen>>,
}

/// The reference an Event's `involvedObject` carries for `obj`.
pub fn reference<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectReference {
    ObjectReference {
        resource_version: obj.meta().resource_version.clone(),
        ..obj.object_ref(&())
    }
}

impl Recorder {
    /// A recorder whose events say they come from `component`.
    pub fn new(client: kube::Client, component: &'static str) -> Self {
        Self {
            client,
            component,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records an event about `obj`.
    pub async fn record<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        event_type: EventType,
        reason: &str,
        message: impl Into<String>,
    ) {
        self.record_ref(reference(obj), event_type, reason, message.into())
            .await;
    }

    /// Records an event about the object `regarding` refers to. Failures are logged, never
    /// returned: events are best effort.
    pub async fn record_ref(
        &self,
        regarding: ObjectReference,
        event_type: EventType,
        reason: &str,
        message: String,
    ) {
        let namespace = regarding
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_string());
        let key = Key {
            uid: regarding.uid.clone().unwrap_or_default(),
            kind: regarding.kind.clone().unwrap_or_default(),
            name: regarding.name.clone().unwrap_or_default(),
            namespace: namespace.clone(),
            event_type,
            reason: reason.to_string(),
            message: message.clone(),
        };
        let now = Timestamp::now();
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let previous = self.seen.lock().get(&key).cloned();
        if let Some(seen) = previous {
            let count = seen.count + 1;
            let patch = json!({"count": count, "lastTimestamp": Time(now)});
            let patched = api
                .patch(&seen.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await;
            if patched.is_ok() {
                self.remember(key, Seen { count, ..seen });
                return;
            }
        }
        let name = format!(
            "{}.{:x}",
            key.name,
            now.as_nanosecond().unsigned_abs() as u64
        );
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            involved_object: regarding,
            reason: Some(reason.to_string()),
            message: Some(message),
            type_: Some(event_type.as_str().to_string()),
            source: Some(EventSource {
                component: Some(self.component.to_string()),
                host: None,
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: None::<MicroTime>,
            count: Some(1),
            reporting_component: Some(self.component.to_string()),
            reporting_instance: Some(self.component.to_string()),
            ..Default::default()
        };
        match api.create(&PostParams::default(), &event).await {
            Ok(created) => self.remember(
                key,
                Seen {
                    name: created.name_any(),
                    count: 1,
                },
            ),
            Err(e) => tracing::debug!(error = %e, reason, "could not record an event"),
        }
    }

    fn remember(&self, key: Key, seen: Seen) {
        let mut map = self.seen.lock();
        if map.len() >= REMEMBERED && !map.contains_key(&key) {
            map.clear();
        }
        map.insert(key, seen);
    }
}
