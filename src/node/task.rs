//! Tasks that end with their owner: dropping the node agent's future (or any part of it)
//! cancels everything it started, as killing the process would.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::{JoinError, JoinHandle};

/// A spawned task that is aborted when this handle is dropped.
#[derive(Debug)]
pub struct AbortOnDrop<T>(JoinHandle<T>);

impl<T: Send + 'static> AbortOnDrop<T> {
    /// Spawns `fut` on the current runtime.
    pub fn spawn(fut: impl Future<Output = T> + Send + 'static) -> Self {
        Self(tokio::spawn(fut))
    }
}

impl<T> AbortOnDrop<T> {
    /// Aborts the task now.
    pub fn abort(&self) {
        self.0.abort();
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn dropping_aborts_and_awaiting_returns_the_output() {
        assert_eq!(AbortOnDrop::spawn(async { 7 }).await.expect("joined"), 7);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = AbortOnDrop::spawn(async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            let _ = tx.send(());
        });
        drop(task);
        assert!(
            rx.await.is_err(),
            "the task was aborted, dropping its sender"
        );
    }
}
