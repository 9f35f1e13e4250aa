//! Shared informers: one reflector cache per resource type, fed by one watch, with a fan-out
//! of change notices to every controller that subscribes.
//!
//! kube-runtime's `Controller` owns its watches; here several controllers read the same
//! caches (pods are read by the StatefulSet, endpoints and volumes controllers), so each type
//! is watched once and the notices are broadcast. A subscriber that falls behind gets a
//! [`Change::Resync`] instead of the notices it missed, and every subscription starts with one
//! once the cache holds the initial list: reconciling everything is always a correct answer.
//!
//! Readiness is tracked here rather than with `Store::wait_until_ready`: kube-runtime's store
//! signal keeps a single waker, so of several futures waiting for the same cache at once only
//! the last one to be polled is woken, and a controller could hang before its first reconcile.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use kube::Resource;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinSet;

/// How many change notices a slow subscriber may lag behind before it is told to resync.
const FANOUT_CAPACITY: usize = 4096;

/// What changed in a cache.
#[derive(Debug)]
pub enum Change<K> {
    /// An object was created or modified (the cache already holds this version).
    Applied(Arc<K>),
    /// An object was deleted (its last known state).
    Deleted(Arc<K>),
    /// The cache was (re)filled or notices were lost: look at everything again.
    Resync,
}

impl<K> Clone for Change<K> {
    fn clone(&self) -> Self {
        match self {
            Change::Applied(o) => Change::Applied(o.clone()),
            Change::Deleted(o) => Change::Deleted(o.clone()),
            Change::Resync => Change::Resync,
        }
    }
}

impl<K> Change<K> {
    /// The object the change is about, if any.
    pub fn object(&self) -> Option<&Arc<K>> {
        match self {
            Change::Applied(o) | Change::Deleted(o) => Some(o),
            Change::Resync => None,
        }
    }
}

/// A watched cache of one resource type with change notices.
pub struct Informer<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    store: Store<K>,
    tx: broadcast::Sender<Change<K>>,
    /// True once the cache holds the initial list.
    filled: watch::Receiver<bool>,
}

impl<K> Clone for Informer<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            tx: self.tx.clone(),
            filled: self.filled.clone(),
        }
    }
}

impl<K> Informer<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Default + Send + Sync,
{
    /// Starts watching `api` on `tasks`.
    pub fn spawn(api: Api<K>, tasks: &mut JoinSet<()>) -> Self {
        Self::spawn_with(api, K::DynamicType::default(), tasks)
    }
}

impl<K> Informer<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Send + Sync,
{
    /// Starts watching `api` (of dynamic type `dyntype`) on `tasks`.
    pub fn spawn_with(api: Api<K>, dyntype: K::DynamicType, tasks: &mut JoinSet<()>) -> Self {
        let writer = reflector::store::Writer::new(dyntype.clone());
        let store = writer.as_reader();
        let (tx, _) = broadcast::channel(FANOUT_CAPACITY);
        let sender = tx.clone();
        let (filled_tx, filled) = watch::channel(false);
        let kind = K::kind(&dyntype).to_string();
        let events = reflector::reflector(
            writer,
            watcher::watcher(api, watcher::Config::default()).default_backoff(),
        );
        tasks.spawn(async move {
            tracing::debug!(%kind, "watching");
            let mut events = std::pin::pin!(events);
            while let Some(event) = events.next().await {
                let change = match event {
                    Ok(Event::Apply(o)) => Change::Applied(Arc::new(o)),
                    Ok(Event::Delete(o)) => Change::Deleted(Arc::new(o)),
                    Ok(Event::InitDone) => {
                        tracing::debug!(%kind, "cache filled");
                        // The reflector has stored the list before passing the event on.
                        filled_tx.send_replace(true);
                        Change::Resync
                    }
                    Ok(Event::Init | Event::InitApply(_)) => continue,
                    Err(e) => {
                        tracing::debug!(%kind, error = %e, "watch failed; retrying");
                        continue;
                    }
                };
                // No subscribers yet is fine: each subscription starts with a resync.
                let _ = sender.send(change);
            }
        });
        Self { store, tx, filled }
    }

    /// The cache.
    pub fn store(&self) -> &Store<K> {
        &self.store
    }

    /// Waits until the cache holds the initial list (any number of callers at once).
    pub async fn ready(&self) {
        let mut filled = self.filled.clone();
        let _ = filled.wait_for(|f| *f).await;
    }

    /// The change notices from now on, starting with a [`Change::Resync`] once the cache is ready.
    pub fn subscribe(&self) -> impl Stream<Item = Change<K>> + Send + 'static {
        let rx = self.tx.subscribe();
        let mut filled = self.filled.clone();
        let first = futures::stream::once(async move {
            let _ = filled.wait_for(|f| *f).await;
            Change::Resync
        });
        let rest = futures::stream::unfold(rx, |mut rx| async move {
            match rx.recv().await {
                Ok(c) => Some((c, rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => Some((Change::Resync, rx)),
                Err(broadcast::error::RecvError::Closed) => None,
            }
        });
        first.chain(rest)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use k8s_openapi::api::core::v1::ConfigMap;

    use super::*;
    use crate::apiserver::{ApiConfig, ApiServer};
    use crate::store::Store as ObjectStore;

    /// Several tasks wait for one cache at the same time, before its first list is in: every
    /// one of them must wake up (a single-waker readiness signal woke only the last one).
    #[tokio::test(flavor = "current_thread")]
    async fn every_waiter_wakes_when_the_cache_is_filled() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::open(&dir.path().join("db"), 100).unwrap();
        let api = ApiServer::new(
            store,
            ApiConfig {
                server_address: "127.0.0.1:0".into(),
            },
        );
        let client = kube::Client::new(api, "default");
        let mut tasks = JoinSet::new();
        let informer: Informer<ConfigMap> = Informer::spawn(Api::all(client), &mut tasks);
        let mut waiters = JoinSet::new();
        for _ in 0..4 {
            let inf = informer.clone();
            waiters.spawn(async move { inf.ready().await });
            let inf = informer.clone();
            waiters.spawn(async move {
                let mut changes = std::pin::pin!(inf.subscribe());
                assert!(matches!(changes.next().await, Some(Change::Resync)));
            });
        }
        let all = async {
            while let Some(done) = waiters.join_next().await {
                done.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(10), all)
            .await
            .expect("every waiter woke up");
    }
}
