//! WATCH: a stream of newline-delimited JSON events from the store, filtered to one resource,
//! namespace and selectors, with bookmarks, a timeout, and 410 when the client fell behind.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http_body::Frame;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::Request;
use super::handlers;
use super::registry::ResourceDef;
use super::selectors::{FieldSelector, LabelSelector};
use crate::machinery::status::Status;
use crate::store::{EventType, Store, WatchEvent};
use crate::wire::body::{Body, BoxError};

/// How often an idle watch with bookmarks enabled gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(30);

/// Turns an object into what the client asked to receive (e.g. a Table row).
pub type Render = Arc<dyn Fn(&Value, bool) -> Value + Send + Sync>;

struct Filter {
    resource: String,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj.pointer("/metadata/labels")) && self.fields.matches(obj)
    }

    /// The event type this watcher sees for a change, taking selector transitions into account.
    fn translate(&self, e: &WatchEvent) -> Option<&'static str> {
        if *e.key.resource != *self.resource {
            return None;
        }
        if let Some(ns) = &self.namespace
            && e.key.namespace != *ns
        {
            return None;
        }
        let now = self.matches(&e.object);
        let before = e.previous.as_ref().is_some_and(|p| self.matches(p));
        match e.kind {
            EventType::Added => now.then_some("ADDED"),
            EventType::Deleted => before.then_some("DELETED"),
            EventType::Modified => match (before, now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            },
        }
    }
}

fn line(v: &Value) -> Result<Frame<Bytes>, BoxError> {
    let mut bytes = serde_json::to_vec(v)?;
    bytes.push(b'\n');
    Ok(Frame::data(Bytes::from(bytes)))
}

/// Starts a watch and returns its streaming body.
pub fn serve(
    store: &Store,
    def: &'static ResourceDef,
    req: &Request,
    render: Render,
) -> Result<Body, Status> {
    let (labels, fields) = req.query.selectors(def)?;
    let filter = Filter {
        resource: def.qualified(),
        namespace: if def.namespaced {
            req.namespace().map(String::from)
        } else {
            None
        },
        labels,
        fields,
    };
    let bookmarks = req.query.flag("allowWatchBookmarks");
    let send_initial = req.query.get("sendInitialEvents").map(|v| v == "true");
    let rv_param = req.query.get("resourceVersion").unwrap_or("");
    let timeout = req
        .query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));

    // Without a resourceVersion (or with "0"), or when initial events are asked for, the watch
    // starts with the current state as ADDED events.
    let want_initial = send_initial.unwrap_or(rv_param.is_empty() || rv_param == "0");
    let (initial, since) = if want_initial || rv_param.is_empty() || rv_param == "0" {
        let (items, rv) = handlers::select(store, def, req)?;
        (if want_initial { items } else { Vec::new() }, rv)
    } else {
        (Vec::new(), super::meta::parse_rv(rv_param)?)
    };
    let (past, mut rx) = store.watch_from(since)?;
    let api_version = def.api_version();
    let kind = def.kind;
    let bookmark = move |rv: u64, initial_end: bool| {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        json!({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version, "metadata": meta}})
    };

    let stream = async_stream(move |tx| async move {
        let mut first = true;
        let mut last_rv = since;
        for obj in initial {
            let ev = json!({"type": "ADDED", "object": render(&obj, first)});
            first = false;
            if tx.send(line(&ev)).await.is_err() {
                return;
            }
        }
        if send_initial == Some(true)
            && bookmarks
            && tx.send(line(&bookmark(since, true))).await.is_err()
        {
            return;
        }
        let emit = |e: &WatchEvent, first: bool| {
            filter
                .translate(e)
                .map(|t| json!({"type": t, "object": render(&e.object, first)}))
        };
        for e in past {
            last_rv = e.rv;
            if let Some(ev) = emit(&e, first) {
                first = false;
                if tx.send(line(&ev)).await.is_err() {
                    return;
                }
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(BOOKMARK_EVERY);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                _ = tick.tick(), if bookmarks => {
                    if tx.send(line(&bookmark(last_rv, false))).await.is_err() { return; }
                }
                r = rx.recv() => match r {
                    Ok(e) => {
                        if e.rv <= last_rv { continue; }
                        last_rv = e.rv;
                        if let Some(ev) = emit(&e, first) {
                            first = false;
                            if tx.send(line(&ev)).await.is_err() { return; }
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        let status = Status::expired(format!("too old resource version: {last_rv}"));
                        let _ = tx.send(line(&json!({"type": "ERROR", "object": status.to_json()}))).await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        }
    });
    Ok(crate::wire::body::boxed(http_body_util::StreamBody::new(
        stream,
    )))
}

/// A bounded channel-backed stream fed by a spawned task: the body stops when the client goes.
fn async_stream<F, Fut>(
    f: F,
) -> impl futures::Stream<Item = Result<Frame<Bytes>, BoxError>> + Send + 'static
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Frame<Bytes>, BoxError>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    tokio_stream_from(rx)
}

fn tokio_stream_from<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) }).boxed()
}
