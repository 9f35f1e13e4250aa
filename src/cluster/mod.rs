//! The watch cache, the view of the cluster that rooms read instead of calling the API (it uses
//! only `machinery`): reflector caches over pods, services, endpoint slices and
//! StatefulSets, fed by watches through `kube::Client`. Requests resolve from these caches; no
//! request makes an API call.

pub mod filled;

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::Notify;

/// Cached cluster state, cheap to clone.
#[derive(Clone)]
pub struct ClusterView {
    pods: Store<Pod>,
    services: Store<Service>,
    slices: Store<EndpointSlice>,
    sets: Store<StatefulSet>,
    changed: Arc<Notify>,
    filled: filled::Filled,
}

impl ClusterView {
    /// Starts the watches (as background tasks) and returns the view; see [`ClusterView::ready`].
    pub fn start(client: kube::Client) -> Self {
        let changed = Arc::new(Notify::new());
        let pods = reflect::<Pod>(&client, changed.clone());
        let services = reflect::<Service>(&client, changed.clone());
        let slices = reflect::<EndpointSlice>(&client, changed.clone());
        let sets = reflect::<StatefulSet>(&client, changed.clone());
        let stores = (pods.clone(), services.clone(), slices.clone(), sets.clone());
        let filled = filled::Filled::spawn(async move {
            let _ = stores.0.wait_until_ready().await;
            let _ = stores.1.wait_until_ready().await;
            let _ = stores.2.wait_until_ready().await;
            let _ = stores.3.wait_until_ready().await;
        });
        Self {
            pods,
            services,
            slices,
            sets,
            changed,
            filled,
        }
    }

    /// Waits until every cache has its first complete list (any number of callers at once).
    pub async fn ready(&self) {
        self.filled.wait().await;
    }

    /// A pod by namespace and name.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<Arc<Pod>> {
        self.pods.get(&ObjectRef::new(name).within(namespace))
    }

    /// A service by namespace and name.
    pub fn service(&self, namespace: &str, name: &str) -> Option<Arc<Service>> {
        self.services.get(&ObjectRef::new(name).within(namespace))
    }

    /// A StatefulSet by namespace and name.
    pub fn statefulset(&self, namespace: &str, name: &str) -> Option<Arc<StatefulSet>> {
        self.sets.get(&ObjectRef::new(name).within(namespace))
    }

    /// The endpoint slices of a service (label `kubernetes.io/service-name`).
    pub fn slices_of(&self, namespace: &str, service: &str) -> Vec<Arc<EndpointSlice>> {
        self.slices
            .state()
            .into_iter()
            .filter(|s| {
                s.metadata.namespace.as_deref() == Some(namespace)
                    && s.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get("kubernetes.io/service-name"))
                        .map(String::as_str)
                        == Some(service)
            })
            .collect()
    }

    /// Every cached pod.
    pub fn pods(&self) -> Vec<Arc<Pod>> {
        self.pods.state()
    }

    /// Resolves when any cached object changes next (for requests that wait for a pod).
    pub async fn changed(&self) {
        self.changed.notified().await
    }
}

/// Starts one reflector; every applied or deleted object wakes the waiters.
fn reflect<K>(client: &kube::Client, changed: Arc<Notify>) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store::<K>();
    let api: Api<K> = Api::all(client.clone());
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer);
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(_) => changed.notify_waiters(),
                Err(e) => {
                    tracing::warn!(error = %e, kind = K::kind(&()).as_ref(), "cluster view watch failed; retrying")
                }
            }
        }
    });
    reader
}
