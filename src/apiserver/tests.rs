//! In-process tests of the API server through `kube::Client`, over a real SQLite store.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};

use super::*;

async fn server() -> (tempfile::TempDir, kube::Client) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db"), 100).unwrap();
    let api = ApiServer::new(
        store,
        ApiConfig {
            server_address: "127.0.0.1:0".into(),
        },
    );
    let client = kube::Client::new(api, "default");
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    ns.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "default"}})).unwrap(),
    )
    .await
    .unwrap();
    (dir, client)
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

#[tokio::test]
async fn create_twice_is_already_exists_and_stale_update_is_conflict() {
    let (_dir, client) = server().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let created = api.create(&PostParams::default(), &cm("a")).await.unwrap();
    let kube::Error::Api(err) = api
        .create(&PostParams::default(), &cm("a"))
        .await
        .unwrap_err()
    else {
        panic!()
    };
    assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(err.message, "configmaps \"a\" already exists");

    let mut fresh = created.clone();
    fresh.data = Some([("k".to_string(), "v2".to_string())].into());
    api.replace("a", &PostParams::default(), &fresh)
        .await
        .unwrap();
    let kube::Error::Api(err) = api
        .replace("a", &PostParams::default(), &fresh)
        .await
        .unwrap_err()
    else {
        panic!()
    };
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert!(
        err.message.contains("the object has been modified"),
        "{}",
        err.message
    );
    assert_eq!(api.get("a").await.unwrap().data.unwrap()["k"], "v2");
}

#[tokio::test]
async fn missing_namespace_is_not_found() {
    let (_dir, client) = server().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "nowhere");
    let kube::Error::Api(err) = api
        .create(&PostParams::default(), &cm("a"))
        .await
        .unwrap_err()
    else {
        panic!()
    };
    assert_eq!(err.code, 404);
    assert_eq!(err.message, "namespaces \"nowhere\" not found");
}
