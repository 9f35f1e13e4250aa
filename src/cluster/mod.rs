//! The watch cache, the view of the cluster that rooms read instead of calling the API (it uses
//! only `machinery`). [`informer`] is its one implementation — a reflector per kind fed by a
//! watch through `kube::Client`, change notices, readiness every waiter sees — which the
//! controllers and `auth` use directly; [`ClusterView`] is the gateway's view over pods,
//! services, endpoint slices, StatefulSets and namespaces (the gateway's and DNS's). No request makes an API call.

pub mod informer;

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::watch;
use tokio::task::JoinSet;

use informer::Informer;

/// Cached cluster state, cheap to clone. The watches stop when the last clone is dropped.
#[derive(Clone)]
pub struct ClusterView {
    pods: Informer<Pod>,
    services: Informer<Service>,
    slices: Informer<EndpointSlice>,
    sets: Informer<StatefulSet>,
    namespaces: Option<Informer<Namespace>>,
    generation: Arc<watch::Sender<u64>>,
    _tasks: Arc<JoinSet<()>>,
}

impl ClusterView {
    /// Starts the watches (as background tasks) and returns the view; see [`ClusterView::ready`].
    pub fn start(client: kube::Client) -> Self {
        Self::start_with(client, false)
    }

    /// Like [`ClusterView::start`], and watches Namespaces too (for cluster DNS, which tells an
    /// existing namespace from a missing one).
    pub fn start_with_namespaces(client: kube::Client) -> Self {
        Self::start_with(client, true)
    }

    fn start_with(client: kube::Client, with_namespaces: bool) -> Self {
        let mut tasks = JoinSet::new();
        let generation = Arc::new(watch::Sender::new(0u64));
        let wake = &generation;
        let pods = watch_all::<Pod>(&client, wake, &mut tasks);
        let services = watch_all::<Service>(&client, wake, &mut tasks);
        let slices = watch_all::<EndpointSlice>(&client, wake, &mut tasks);
        let sets = watch_all::<StatefulSet>(&client, wake, &mut tasks);
        let namespaces = with_namespaces.then(|| watch_all::<Namespace>(&client, wake, &mut tasks));
        Self {
            pods,
            services,
            slices,
            sets,
            namespaces,
            generation,
            _tasks: Arc::new(tasks),
        }
    }

    /// Waits until every cache has its first complete list (any number of callers at once).
    pub async fn ready(&self) {
        self.pods.ready().await;
        self.services.ready().await;
        self.slices.ready().await;
        self.sets.ready().await;
        if let Some(n) = &self.namespaces {
            n.ready().await;
        }
    }

    /// Whether every cache has had its first complete list.
    pub fn is_ready(&self) -> bool {
        self.pods.is_ready()
            && self.services.is_ready()
            && self.slices.is_ready()
            && self.sets.is_ready()
            && self.namespaces.as_ref().is_none_or(Informer::is_ready)
    }

    /// A pod by namespace and name.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<Arc<Pod>> {
        self.pods
            .store()
            .get(&ObjectRef::new(name).within(namespace))
    }

    /// Looks up many pods of one namespace in a row (the pods behind a service's endpoints)
    /// without building a new key for each.
    pub(crate) fn pods_in(&self, namespace: &str) -> PodsIn<'_> {
        PodsIn {
            store: self.pods.store(),
            key: ObjectRef::new("").within(namespace),
        }
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

    /// Every cached service.
    pub fn services(&self) -> Vec<Arc<Service>> {
        self.services.store().state()
    }

    /// Every cached endpoint slice.
    pub fn slices(&self) -> Vec<Arc<EndpointSlice>> {
        self.slices.store().state()
    }

    /// Every cached namespace (none unless started with [`ClusterView::start_with_namespaces`]).
    pub fn namespaces(&self) -> Vec<Arc<Namespace>> {
        self.namespaces
            .as_ref()
            .map(|n| n.store().state())
            .unwrap_or_default()
    }

    /// A counter that moves on every change of any cache, for consumers that rebuild a derived
    /// view (a change between two reads is never missed).
    pub fn generation(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Resolves when any cached object changes after this call (not after the first poll: a
    /// caller may look at the caches between calling and awaiting, and miss no change).
    pub fn changed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut generation = self.generation.subscribe();
        async move {
            let _ = generation.changed().await;
        }
    }
}

/// Pod lookups by name within one namespace, from [`ClusterView::pods_in`]: one key, reused.
pub(crate) struct PodsIn<'a> {
    store: &'a kube::runtime::reflector::Store<Pod>,
    key: ObjectRef<Pod>,
}

impl PodsIn<'_> {
    /// The pod named `name` in this namespace.
    pub(crate) fn get(&mut self, name: &str) -> Option<Arc<Pod>> {
        self.key.name.clear();
        self.key.name.push_str(name);
        self.store.get(&self.key)
    }
}

/// Watches every object of kind `K` on `tasks`; each change moves `generation`.
fn watch_all<K>(
    client: &kube::Client,
    generation: &Arc<watch::Sender<u64>>,
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
    let generation = generation.clone();
    tasks.spawn(async move {
        let mut changes = std::pin::pin!(changes);
        while changes.next().await.is_some() {
            generation.send_modify(|g| *g += 1);
        }
    });
    informer
}
