//! A write `podgate up` acknowledged survives `kill -9`; resourceVersions keep increasing.

mod common;

use common::Podgate;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "data": {"n": name}}))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let mut pg = Podgate::start(&[]);
    let client = pg.client().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    // A burst of concurrent creates; keep the names the server acknowledged.
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let api = api.clone();
            tokio::spawn(async move {
                let name = format!("burst-{i}");
                api.create(&PostParams::default(), &cm(&name))
                    .await
                    .ok()
                    .map(|o| {
                        (
                            name,
                            o.metadata.resource_version.unwrap().parse::<u64>().unwrap(),
                        )
                    })
            })
        })
        .collect();
    let mut acked = Vec::new();
    for t in tasks {
        if let Some(v) = t.await.unwrap() {
            acked.push(v);
        }
    }
    assert_eq!(acked.len(), 200, "every create was acknowledged");
    let max_rv = acked.iter().map(|(_, rv)| *rv).max().unwrap();
    pg.kill9();

    pg.spawn(&[]);
    let api: Api<ConfigMap> = Api::default_namespaced(pg.client().await);
    let list = api.list(&ListParams::default()).await.unwrap();
    let names: std::collections::HashSet<_> = list
        .items
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    for (name, _) in &acked {
        assert!(
            names.contains(name),
            "{name} was acknowledged before kill -9 and must survive"
        );
    }
    let list_rv: u64 = list.metadata.resource_version.unwrap().parse().unwrap();
    assert!(list_rv >= max_rv);
    let after = api
        .create(&PostParams::default(), &cm("after-restart"))
        .await
        .unwrap();
    let rv: u64 = after.metadata.resource_version.unwrap().parse().unwrap();
    assert!(
        rv > max_rv,
        "resourceVersion {rv} must exceed every earlier one ({max_rv})"
    );
}

#[test]
fn graceful_shutdown_and_restart_keep_state() {
    let mut pg = Podgate::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let cm = common::manifest(
        dir.path(),
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\ndata:\n  a: b\n",
    );
    pg.kubectl_ok(&["apply", "-f", cm.to_str().unwrap()]);
    let status = pg.terminate();
    assert!(
        status.success(),
        "SIGTERM ends podgate cleanly: {status:?}\n{}",
        pg.log()
    );
    pg.spawn(&[]);
    assert_eq!(
        pg.kubectl_ok(&["get", "configmap", "kept", "-o", "jsonpath={.data.a}"]),
        "b"
    );
}
