//! The watch cache, the view of the cluster that rooms read instead of calling the API (it uses
//! only `machinery`). [`informer`] is its one implementation — a reflector per kind fed by a
//! watch through `kube::Client`, change notices, readiness every waiter sees — which the
//! controllers and `auth` use directly; [`ClusterView`] is the gateway's view over pods,
//! services, endpoint slices and StatefulSets. No request makes an API call.

pub mod informer;

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use informer::Informer;

/// Cached cluster state, cheap to clone. The watches stop when the last clone is dropped.
#[derive(Clone)]
pub struct ClusterView {
    pods: Informer<Pod>,
    services: Informer<Service>,
    slices: Informer<EndpointSlice>,
    sets: Informer<StatefulSet>,
    changed: Arc<Notify>,
    _tasks: Arc<JoinSet<()>>,
}

impl ClusterView {
    /// Starts the watches (as background tasks) and returns the view; see [`ClusterView::ready`].
    pub fn start(client: kube::Client) -> Self {
        let mut tasks = JoinSet::new();
        let changed = Arc::new(Notify::new());
        let pods = watch_all::<Pod>(&client, &changed, &mut tasks);
        let services = watch_all::<Service>(&client, &changed, &mut tasks);
        let slices = watch_all::<EndpointSlice>(&client, &changed, &mut tasks);
        let sets = watch_all::<StatefulSet>(&client, &changed, &mut tasks);
        Self {
            pods,
            services,
            slices,
            sets,
            changed,
            _tasks: Arc::new(tasks),
        }
    }

    /// Waits until every cache has its first complete list (any number of callers at once).
    pub async fn ready(&self) {
        self.pods.ready().await;
        self.services.ready().await;
        self.slices.ready().await;
        self.sets.ready().await;
    }

    /// A pod by namespace and name.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<Arc<Pod>> {
        self.pods
            .store()
            .get(&ObjectRef::new(name).within(namespace))
    }

    /// A service by namespace and name.
    pub fn service(&self, namespace: &str, name: &str) -> Option<Arc<Service>> {
        self.services
            .store()
            .get(&ObjectRef::new(name).within(namespace))
    }

    /// A StatefulSet by namespace and name.
    pub fn statefulset(&self, namespace: &str, name: &str) -> Option<Arc<StatefulSet>> {
        self.sets
            .store()
            .get(&ObjectRef::new(name).within(namespace))
    }

    /// The endpoint slices of a service (label `kubernetes.io/service-name`).
    pub fn slices_of(&self, namespace: &str, service: &str) -> Vec<Arc<EndpointSlice>> {
        self.slices
            .store()
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
        self.pods.store().state()
    }

    /// Resolves when any cached object changes next (for requests that wait for a pod).
    pub async fn changed(&self) {
        self.changed.notified().await
    }
}

/// Watches every object of kind `K` on `tasks`; each change wakes the waiters of `changed`.
fn watch_all<K>(
    client: &kube::Client,
    changed: &Arc<Notify>,
    tasks: &mut JoinSet<()>,
) -> Informer<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let informer = Informer::spawn(Api::<K>::all(client.clone()), tasks);
    let changes = informer.subscribe();
    let changed = changed.clone();
    tasks.spawn(async move {
        let mut changes = std::pin::pin!(changes);
        while changes.next().await.is_some() {
            changed.notify_waiters();
        }
    });
    informer
}
