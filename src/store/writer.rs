//! The store's single writer thread: group commit of queued mutations.
//!
//! The thread takes the first queued job, then whatever else is already queued (up to a bound),
//! runs every mutation against the in-memory state plus the batch's own earlier changes, writes
//! them in one SQLite transaction, commits (one fsync for the whole batch), and only then
//! publishes the changes to readers and watchers and answers the callers.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::Connection;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::{EventType, MutateFn, Mutation, ObjectKey, Outcome, Shared, WatchEvent, sqlite};
use crate::machinery::status::Status;

/// Most mutations committed in one transaction.
const MAX_BATCH: usize = 512;

/// One queued mutation and where to send its outcome.
pub(super) struct Job {
    pub key: ObjectKey,
    pub f: MutateFn,
    pub reply: oneshot::Sender<Result<Outcome, Status>>,
}

pub(super) fn spawn(
    conn: Connection,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Job>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("podgate-store-writer".into())
        .spawn(move || run(conn, shared, rx))?;
    Ok(())
}

fn run(mut conn: Connection, shared: Arc<Shared>, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, &shared, batch);
    }
}

/// A job's result before the commit: its outcome and the event to publish, or its own error.
type Pending = (
    oneshot::Sender<Result<Outcome, Status>>,
    Result<(Outcome, Option<Arc<WatchEvent>>), Status>,
);

fn commit_batch(conn: &mut Connection, shared: &Shared, batch: Vec<Job>) {
    let start_rv = shared.state.read().rv;
    let mut rv = start_rv;
    // The batch's own changes, seen by later jobs of the same batch.
    let mut overlay: HashMap<ObjectKey, Option<Arc<Value>>> = HashMap::new();
    let mut pending: Vec<Pending> = Vec::with_capacity(batch.len());

    let tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            for job in batch {
                let _ = job.reply.send(Err(Status::internal(format!("store: {e}"))));
            }
            return;
        }
    };
    for job in batch {
        let current = match overlay.get(&job.key) {
            Some(v) => v.clone(),
            None => {
                let state = shared.state.read();
                state
                    .objects
                    .get(&job.key.resource)
                    .and_then(|m| m.get(&(job.key.namespace.clone(), job.key.name.clone())))
                    .cloned()
            }
        };
        let result = apply(&tx, &job.key, current, job.f, &mut rv, &mut overlay);
        pending.push((job.reply, result));
    }
    let committed = sqlite::set_rv(&tx, rv).and_then(|_| tx.commit());
    if let Err(e) = committed {
        tracing::error!(error = %e, "store commit failed");
        for (reply, result) in pending {
            let _ =
                reply.send(result.and(Err(Status::internal(format!("store commit failed: {e}")))));
        }
        return;
    }

    let mut state = shared.state.write();
    state.rv = rv;
    for (key, value) in overlay {
        let map = state.objects.entry(key.resource.clone()).or_default();
        match value {
            Some(v) => {
                map.insert((key.namespace, key.name), v);
            }
            None => {
                map.remove(&(key.namespace, key.name));
            }
        }
    }
    let mut answers = Vec::with_capacity(pending.len());
    for (reply, result) in pending {
        if let Ok((_, Some(event))) = &result {
            state.history.push_back(event.clone());
            if state.history.len() > state.history_limit
                && let Some(old) = state.history.pop_front()
            {
                state.compacted = old.rv;
            }
            // No receivers is fine: nobody watches yet.
            let _ = shared.events.send(event.clone());
        }
        answers.push((reply, result.map(|(outcome, _)| outcome)));
    }
    drop(state);
    for (reply, result) in answers {
        let _ = reply.send(result);
    }
}

fn apply(
    tx: &Connection,
    key: &ObjectKey,
    current: Option<Arc<Value>>,
    f: MutateFn,
    rv: &mut u64,
    overlay: &mut HashMap<ObjectKey, Option<Arc<Value>>>,
) -> Result<(Outcome, Option<Arc<WatchEvent>>), Status> {
    let mutation = f(current.as_deref())?;
    let (kind, object) = match (mutation, &current) {
        (Mutation::Unchanged, _) | (Mutation::Delete, None) => {
            return Ok((
                Outcome {
                    object: current,
                    event: None,
                },
                None,
            ));
        }
        (Mutation::Put(mut value), _) => {
            let next = *rv + 1;
            stamp(&mut value, next);
            let data = serde_json::to_vec(&value).map_err(|e| Status::internal(e.to_string()))?;
            sqlite::put(tx, key, next, &data)
                .map_err(|e| Status::internal(format!("store: {e}")))?;
            *rv = next;
            let kind = if current.is_some() {
                EventType::Modified
            } else {
                EventType::Added
            };
            let object = Arc::new(value);
            overlay.insert(key.clone(), Some(object.clone()));
            (kind, object)
        }
        (Mutation::Delete, Some(existing)) => {
            let next = *rv + 1;
            sqlite::delete(tx, key).map_err(|e| Status::internal(format!("store: {e}")))?;
            *rv = next;
            let mut last = (**existing).clone();
            stamp(&mut last, next);
            overlay.insert(key.clone(), None);
            (EventType::Deleted, Arc::new(last))
        }
    };
    let event = Arc::new(WatchEvent {
        rv: *rv,
        kind,
        key: key.clone(),
        object: object.clone(),
        previous: current,
    });
    Ok((
        Outcome {
            object: Some(object),
            event: Some(kind),
        },
        Some(event),
    ))
}

/// Sets `metadata.resourceVersion`.
fn stamp(value: &mut Value, rv: u64) {
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
}
