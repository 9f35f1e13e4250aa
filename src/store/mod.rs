//! The durable object store behind the embedded API server, its only user (it uses only
//! `machinery`).
//!
//! Objects are JSON documents keyed by resource, namespace and name. Every write gets the next
//! value of one global, monotonically increasing resourceVersion. All objects are held in memory
//! for reads; SQLite (WAL, `synchronous=FULL`) is the durable copy, written by one writer thread
//! that commits queued writes together (group commit) and answers each only after its commit is
//! on disk. Watchers receive every committed change in order, from a bounded history window.
//!
//! Only the API server uses this module.

mod sqlite;
mod writer;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::machinery::status::Status;

/// How many watch events the store keeps for watchers that start from an older resourceVersion.
pub const DEFAULT_HISTORY: usize = 20_000;

/// How many committed events may wait for a slow watcher before it is told to re-list.
const BROADCAST_CAPACITY: usize = 16_384;

/// How many writes may wait for the writer thread before callers are held back.
const WRITE_QUEUE: usize = 4_096;

/// Identifies one stored object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The qualified resource, e.g. `pods` or `statefulsets.apps`.
    pub resource: Arc<str>,
    /// The namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// The object's name.
    pub name: String,
}

/// What a mutation function decided to do with the object.
#[derive(Debug)]
pub enum Mutation {
    /// Store this object (create or replace).
    Put(Value),
    /// Remove the object.
    Delete,
    /// Leave it as it is.
    Unchanged,
}

/// The kind of a committed change, as watch events name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object was changed.
    Modified,
    /// The object was removed.
    Deleted,
}

impl EventType {
    /// The watch event type string.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug)]
pub struct WatchEvent {
    /// The resourceVersion this change was committed at.
    pub rv: u64,
    /// Added, Modified or Deleted.
    pub kind: EventType,
    /// Which object changed.
    pub key: ObjectKey,
    /// The object after the change (for Deleted: its last state, stamped with `rv`).
    pub object: Arc<Value>,
    /// The object before the change, if it existed (for selector transitions).
    pub previous: Option<Arc<Value>>,
}

/// The outcome of one committed (or unchanged) mutation.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The object as stored now; for a delete, its last state stamped with the delete's rv.
    pub object: Option<Arc<Value>>,
    /// What happened; `None` when the mutation left the object unchanged.
    pub event: Option<EventType>,
}

/// A function that decides a mutation from the current object; runs on the writer thread, so it
/// must only compute (no I/O).
pub type MutateFn = Box<dyn FnOnce(Option<&Value>) -> Result<Mutation, Status> + Send>;

type Objects = HashMap<Arc<str>, BTreeMap<(String, String), Arc<Value>>>;

struct State {
    objects: Objects,
    /// The resourceVersion of the last committed write.
    rv: u64,
    /// Events newer than `compacted`, oldest first.
    history: VecDeque<Arc<WatchEvent>>,
    /// Watches from a resourceVersion below this are too old.
    compacted: u64,
    history_limit: usize,
}

struct Shared {
    state: RwLock<State>,
    events: broadcast::Sender<Arc<WatchEvent>>,
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
    writes: mpsc::Sender<writer::Job>,
}

/// The start of a watch: past events after the requested resourceVersion, then a live feed.
pub type WatchStart = (Vec<Arc<WatchEvent>>, broadcast::Receiver<Arc<WatchEvent>>);

/// A snapshot of one resource's objects.
pub struct Snapshot {
    /// The objects, ordered by namespace and name.
    pub items: Vec<Arc<Value>>,
    /// The store's resourceVersion when the snapshot was taken.
    pub rv: u64,
}

impl Store {
    /// Opens (or creates) the store in `path` and starts its writer thread.
    pub fn open(path: &Path, history_limit: usize) -> Result<Self, StoreError> {
        let mut conn = sqlite::open(path)?;
        let (objects, rv) = sqlite::load(&mut conn)?;
        let (events, _) = broadcast::channel(BROADCAST_CAPACITY);
        let shared = Arc::new(Shared {
            state: RwLock::new(State {
                objects,
                rv,
                history: VecDeque::new(),
                compacted: rv,
                history_limit: history_limit.max(1),
            }),
            events,
        });
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        writer::spawn(conn, shared.clone(), rx)?;
        Ok(Self { shared, writes: tx })
    }

    /// The resourceVersion of the last committed write.
    pub fn current_rv(&self) -> u64 {
        self.shared.state.read().rv
    }

    /// One object, if it exists.
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<Value>> {
        let state = self.shared.state.read();
        state
            .objects
            .get(&key.resource)?
            .get(&(key.namespace.clone(), key.name.clone()))
            .cloned()
    }

    /// Every object of `resource`, in one namespace or in all (`None`).
    pub fn list(&self, resource: &str, namespace: Option<&str>) -> Snapshot {
        let state = self.shared.state.read();
        let items = match state.objects.get(resource) {
            None => Vec::new(),
            Some(map) => match namespace {
                None => map.values().cloned().collect(),
                Some(ns) => map
                    .range((ns.to_string(), String::new())..)
                    .take_while(|((n, _), _)| n == ns)
                    .map(|(_, v)| v.clone())
                    .collect(),
            },
        };
        Snapshot {
            items,
            rv: state.rv,
        }
    }

    /// Applies `f` to the current object atomically and durably: the answer comes after the
    /// change is committed to disk. Concurrent mutations of the same object are serialized.
    pub async fn mutate(&self, key: ObjectKey, f: MutateFn) -> Result<Outcome, Status> {
        let (reply, answer) = oneshot::channel();
        self.writes
            .send(writer::Job { key, f, reply })
            .await
            .map_err(|_| Status::unavailable("the store is shutting down"))?;
        answer
            .await
            .map_err(|_| Status::internal("the store writer stopped"))?
    }

    /// Runs `f` against the current object without storing anything (for `dryRun=All`).
    pub fn dry_run(&self, key: &ObjectKey, f: MutateFn) -> Result<Outcome, Status> {
        let current = self.get(key);
        let event = match (&current, f(current.as_deref())?) {
            (_, Mutation::Unchanged) => {
                return Ok(Outcome {
                    object: current,
                    event: None,
                });
            }
            (None, Mutation::Put(v)) => (Some(Arc::new(v)), Some(EventType::Added)),
            (Some(_), Mutation::Put(v)) => (Some(Arc::new(v)), Some(EventType::Modified)),
            (cur, Mutation::Delete) => (cur.clone(), cur.as_ref().map(|_| EventType::Deleted)),
        };
        Ok(Outcome {
            object: event.0,
            event: event.1,
        })
    }

    /// Starts a watch: the history events after `since` (in order) and a receiver for every
    /// later one. Fails with 410 Expired when `since` is older than the history window.
    pub fn watch_from(&self, since: u64) -> Result<WatchStart, Status> {
        // Subscribing under the read lock, while the writer publishes under the write lock,
        // means every event is either in the copied history or in the receiver, never both.
        let state = self.shared.state.read();
        if since < state.compacted {
            return Err(Status::expired(format!(
                "too old resource version: {since} ({})",
                state.compacted + 1
            )));
        }
        let receiver = self.shared.events.subscribe();
        let start = state.history.partition_point(|e| e.rv <= since);
        let past = state.history.range(start..).cloned().collect();
        Ok((past, receiver))
    }
}

/// Errors opening the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored document is not valid JSON.
    #[error("corrupt object {key}: {source}")]
    Corrupt {
        /// resource/namespace/name of the object.
        key: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The writer thread could not be started.
    #[error("starting the store writer: {0}")]
    Thread(#[from] std::io::Error),
}

#[cfg(test)]
mod tests;
