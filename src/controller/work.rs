//! Running a reconciler: kube-runtime's `applier` (one reconcile per object at a time, requests
//! for the same object merged) fed by trigger streams built from informer change notices, with
//! a per-object exponential backoff after errors.

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{FutureExt, Stream, StreamExt};
use kube::Resource;
use kube::runtime::controller::{self, Action, applier};
use kube::runtime::reflector::{ObjectRef, Store};
use parking_lot::Mutex;

use super::Error;
use crate::cluster::informer::Change;

/// The first retry delay after an error.
const BACKOFF_BASE: Duration = Duration::from_millis(10);
/// The longest retry delay.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How many objects a controller reconciles at once.
const CONCURRENCY: u16 = 16;

/// A stream of reconcile requests.
pub type Requests<K> = BoxStream<'static, ObjectRef<K>>;

/// Maps each change notice of `changes` to the objects to reconcile.
pub fn requests<K, O>(
    changes: impl Stream<Item = Change<O>> + Send + 'static,
    mut map: impl FnMut(&Change<O>) -> Vec<ObjectRef<K>> + Send + 'static,
) -> Requests<K>
where
    K: Resource + 'static,
    K::DynamicType: Send,
    O: Send + Sync + 'static,
{
    changes
        .flat_map(move |c| futures::stream::iter(map(&c)))
        .boxed()
}

/// Per-object failure counts for the retry delay.
struct Backoff<K: Resource>
where
    K::DynamicType: Eq + Hash,
{
    failures: Mutex<HashMap<ObjectRef<K>, u32>>,
}

impl<K: Resource> Backoff<K>
where
    K::DynamicType: Eq + Hash + Clone,
{
    fn reset(&self, r: &ObjectRef<K>) {
        self.failures.lock().remove(r);
    }

    fn next(&self, r: ObjectRef<K>) -> Duration {
        let mut failures = self.failures.lock();
        let n = failures.entry(r).or_insert(0);
        *n = n.saturating_add(1);
        let factor = 1u32
            .checked_shl(n.saturating_sub(1).min(20))
            .unwrap_or(u32::MAX);
        BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_MAX)
    }
}

struct Wrapped<K: Resource, C>
where
    K::DynamicType: Eq + Hash,
{
    name: &'static str,
    ctx: Arc<C>,
    backoff: Backoff<K>,
}

/// Runs `reconcile` for every object `requests` names that is in `store`, until the requests end.
pub async fn run<K, C, F, Fut>(
    name: &'static str,
    store: Store<K>,
    requests: Vec<Requests<K>>,
    ctx: Arc<C>,
    reconcile: F,
) where
    K: Resource + Clone + Debug + Send + Sync + 'static,
    K::DynamicType: Debug + Eq + Hash + Clone + Unpin + Default + Send + Sync,
    C: Send + Sync + 'static,
    F: Fn(Arc<K>, Arc<C>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Action, Error>> + Send + 'static,
{
    let wrapped = Arc::new(Wrapped {
        name,
        ctx,
        backoff: Backoff {
            failures: Mutex::new(HashMap::new()),
        },
    });
    let queue = futures::stream::select_all(requests).map(Ok::<_, std::convert::Infallible>);
    let results = applier(
        move |obj: Arc<K>, w: Arc<Wrapped<K, C>>| {
            let key = ObjectRef::from_obj(obj.as_ref());
            let fut = reconcile(obj, w.ctx.clone());
            async move {
                let result = fut.await;
                if let Ok(action) = &result {
                    tracing::debug!(controller = w.name, object = %key, ?action, "reconciled");
                    w.backoff.reset(&key);
                }
                result
            }
            .boxed()
        },
        |obj: Arc<K>, err: &Error, w: Arc<Wrapped<K, C>>| {
            let key = ObjectRef::from_obj(obj.as_ref());
            if err.is_transient() {
                tracing::debug!(controller = w.name, object = %key, error = %err, "retrying");
            } else {
                tracing::warn!(controller = w.name, object = %key, error = %err, "reconcile failed");
            }
            Action::requeue(w.backoff.next(key))
        },
        wrapped,
        store,
        queue,
        controller::Config::default().concurrency(CONCURRENCY),
    );
    let mut results = std::pin::pin!(results);
    while let Some(r) = results.next().await {
        if let Err(e) = r
            && !matches!(e, controller::Error::ObjectNotFound(_))
            && !matches!(e, controller::Error::ReconcilerFailed(..))
        {
            tracing::warn!(controller = name, error = %e, "controller queue error");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let b: Backoff<Pod> = Backoff {
            failures: Mutex::new(HashMap::new()),
        };
        let r = ObjectRef::<Pod>::new("p").within("ns");
        let delays: Vec<Duration> = (0..4).map(|_| b.next(r.clone())).collect();
        assert_eq!(delays, [10, 20, 40, 80].map(Duration::from_millis).to_vec());
        for _ in 0..40 {
            b.next(r.clone());
        }
        assert_eq!(b.next(r.clone()), BACKOFF_MAX);
        b.reset(&r);
        assert_eq!(b.next(r), BACKOFF_BASE);
    }
}
