//! kube-rs watchers against the embedded API server: every change exactly once and in order
//! from a resourceVersion, and 410 Gone for one older than the history window.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use podgate::apiserver::{ApiConfig, ApiServer};
use podgate::store::Store;

fn cm(name: &str, v: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "data": {"v": v}}))
        .unwrap()
}

async fn client(history: usize) -> (tempfile::TempDir, kube::Client) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db"), history).unwrap();
    let client = kube::Client::new(
        ApiServer::new(
            store,
            ApiConfig {
                server_address: "127.0.0.1".into(),
            },
        ),
        "default",
    );
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "default"}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    (dir, client)
}

#[tokio::test]
async fn watch_from_resource_version_sees_every_change_once_in_order() {
    let (_dir, client) = client(1000).await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let first = api
        .create(&PostParams::default(), &cm("a", "0"))
        .await
        .unwrap();
    let start = first.metadata.resource_version.clone().unwrap();

    let mut stream = api
        .watch(&WatchParams::default().timeout(30), &start)
        .await
        .unwrap()
        .boxed();
    let mut expected = Vec::new();
    for i in 1..=20 {
        let mut obj = api.get("a").await.unwrap();
        obj.data = Some([("v".to_string(), i.to_string())].into());
        let o = api
            .replace("a", &PostParams::default(), &obj)
            .await
            .unwrap();
        expected.push(("MODIFIED", o.metadata.resource_version.unwrap()));
        let b = api
            .create(&PostParams::default(), &cm(&format!("b{i}"), "x"))
            .await
            .unwrap();
        expected.push(("ADDED", b.metadata.resource_version.unwrap()));
    }
    let mut seen = Vec::new();
    while seen.len() < expected.len() {
        let ev = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("event in time")
            .unwrap()
            .unwrap();
        match ev {
            WatchEvent::Added(o) => seen.push(("ADDED", o.metadata.resource_version.unwrap())),
            WatchEvent::Modified(o) => {
                seen.push(("MODIFIED", o.metadata.resource_version.unwrap()))
            }
            WatchEvent::Bookmark(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        seen, expected,
        "each change once, in commit order, nothing before the start"
    );
}

#[tokio::test]
async fn watch_from_compacted_resource_version_is_gone() {
    let (_dir, client) = client(5).await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let first = api
        .create(&PostParams::default(), &cm("old", "0"))
        .await
        .unwrap();
    for i in 0..10 {
        api.create(&PostParams::default(), &cm(&format!("n{i}"), "x"))
            .await
            .unwrap();
    }
    let rv = first.metadata.resource_version.unwrap();
    let result = api.watch(&WatchParams::default(), &rv).await;
    let err = match result {
        Err(kube::Error::Api(s)) => s,
        Ok(s) => match s.boxed().next().await {
            Some(Ok(WatchEvent::Error(e))) => e,
            other => panic!("expected a 410 error event, got {other:?}"),
        },
        Err(other) => panic!("{other}"),
    };
    assert_eq!(err.code, 410);
    assert!(
        err.message.starts_with("too old resource version"),
        "{}",
        err.message
    );
}
