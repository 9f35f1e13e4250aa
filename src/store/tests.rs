use super::*;
use serde_json::json;

fn key(name: &str) -> ObjectKey {
    ObjectKey {
        resource: Arc::from("configmaps"),
        namespace: "default".into(),
        name: name.into(),
    }
}

fn put(v: Value) -> MutateFn {
    Box::new(move |_| Ok(Mutation::Put(v)))
}

#[tokio::test]
async fn writes_are_versioned_durable_and_watchable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = Store::open(&path, 4).unwrap();
    let (_, mut rx) = store.watch_from(0).unwrap();
    let a = store
        .mutate(key("a"), put(json!({"metadata": {"name": "a"}})))
        .await
        .unwrap();
    assert_eq!(a.object.unwrap()["metadata"]["resourceVersion"], "1");
    let b = store
        .mutate(
            key("a"),
            put(json!({"metadata": {"name": "a"}, "data": {}})),
        )
        .await
        .unwrap();
    assert_eq!(b.event, Some(EventType::Modified));
    let d = store
        .mutate(key("a"), Box::new(|_| Ok(Mutation::Delete)))
        .await
        .unwrap();
    assert_eq!(d.event, Some(EventType::Deleted));
    assert_eq!(d.object.unwrap()["metadata"]["resourceVersion"], "3");
    let kinds: Vec<_> = (0..3).map(|_| rx.try_recv().unwrap().kind).collect();
    assert_eq!(
        kinds,
        [EventType::Added, EventType::Modified, EventType::Deleted]
    );
    store
        .mutate(key("b"), put(json!({"metadata": {"name": "b"}})))
        .await
        .unwrap();
    drop(store);

    let reopened = Store::open(&path, 4).unwrap();
    assert_eq!(reopened.current_rv(), 4);
    assert!(reopened.get(&key("a")).is_none());
    assert_eq!(
        reopened.get(&key("b")).unwrap()["metadata"]["resourceVersion"],
        "4"
    );
    // History starts at the reopen point.
    assert_eq!(reopened.watch_from(3).unwrap_err().code, 410);
    assert!(reopened.watch_from(4).unwrap().0.is_empty());
}

#[tokio::test]
async fn history_window_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.db"), 2).unwrap();
    for i in 0..5 {
        store
            .mutate(key(&format!("k{i}")), put(json!({"metadata": {}})))
            .await
            .unwrap();
    }
    let (past, _) = store.watch_from(3).unwrap();
    assert_eq!(past.iter().map(|e| e.rv).collect::<Vec<_>>(), [4, 5]);
    let err = store.watch_from(2).unwrap_err();
    assert_eq!(err.code, 410);
    assert_eq!(err.message, "too old resource version: 2 (4)");
}

#[tokio::test]
async fn mutation_errors_leave_state_untouched_and_batches_see_their_own_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.db"), 10).unwrap();
    let create = |name: &'static str| -> MutateFn {
        Box::new(move |cur| match cur {
            Some(_) => Err(Status::already_exists("configmaps", "", name)),
            None => Ok(Mutation::Put(json!({"metadata": {"name": name}}))),
        })
    };
    let (r1, r2) = tokio::join!(
        store.mutate(key("x"), create("x")),
        store.mutate(key("x"), create("x"))
    );
    assert_eq!(
        [r1.is_ok(), r2.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "exactly one create wins"
    );
    assert_eq!(store.current_rv(), 1);
    assert_eq!(store.list("configmaps", Some("default")).items.len(), 1);
    assert!(store.list("configmaps", Some("other")).items.is_empty());
}
