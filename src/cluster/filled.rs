//! "The caches hold their first list", awaitable by any number of tasks at once.
//!
//! kube-runtime's `Store::wait_until_ready` polls one oneshot receiver behind a mutex, so of
//! several tasks waiting at the same time only the last one polled is woken; the others sleep
//! until their own timeout. Here one background task does the waiting and publishes the answer
//! on a watch channel, which wakes every waiter.

use std::future::Future;

use tokio::sync::watch;

/// Whether some caches are filled; cheap to clone.
#[derive(Clone, Debug)]
pub struct Filled(watch::Receiver<bool>);

impl Filled {
    /// Runs `filled` (which should await every store's `wait_until_ready`) in a task of its own
    /// and records when it is done.
    pub fn spawn(filled: impl Future<Output = ()> + Send + 'static) -> Self {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            filled.await;
            tx.send_replace(true);
        });
        Self(rx)
    }

    /// Waits until the caches are filled; `false` if that can no longer happen.
    pub async fn wait(&self) -> bool {
        let mut rx = self.0.clone();
        rx.wait_for(|filled| *filled).await.is_ok()
    }

    /// Whether the caches are filled now.
    pub fn is_filled(&self) -> bool {
        *self.0.borrow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many tasks wait at once, before the caches are filled: every one of them is woken.
    #[tokio::test]
    async fn every_waiter_wakes() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let filled = Filled::spawn(async move {
            let _ = rx.await;
        });
        let waiters: Vec<_> = (0..8)
            .map(|_| {
                let f = filled.clone();
                tokio::spawn(async move { f.wait().await })
            })
            .collect();
        tokio::task::yield_now().await;
        assert!(!filled.is_filled());
        tx.send(()).unwrap();
        for w in waiters {
            let woke = tokio::time::timeout(std::time::Duration::from_secs(10), w)
                .await
                .expect("every waiter wakes")
                .unwrap();
            assert!(woke);
        }
        assert!(filled.is_filled());
    }
}
