//! `podgate proxy --kubeconfig <podgate up's kubeconfig>` in both data paths: kubectl through
//! it with no credentials of its own, ordinal pods and a service reached with `curl`-style
//! requests and no token, WebSockets with their query string, Kubernetes `Status` errors, and
//! proof of which path a request took (the `Host` the pod sees, podgate's own metrics).

#[allow(dead_code)]
#[path = "common/backend.rs"]
mod backend;
mod common;
#[path = "common/proxy.rs"]
mod proxy_harness;

use common::{Podgate, wait_for};
use futures::{SinkExt, StreamExt};
use proxy_harness::{ProxyProcess, fake_pod, fake_service, free_port};
use serde_json::Value;

const POD: &str = "/api/v1/namespaces/default/pods";

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Waits until `path` answers 200 through `px` and returns the backend's echo.
fn served(px: &ProxyProcess, path: &str) -> Value {
    wait_for(&format!("{path} to be served"), || {
        let (code, _, body) = px.get(path);
        (code == 200).then(|| json(&body))
    })
}

async fn websocket_roundtrip(px: &ProxyProcess, path: &str) {
    use tokio_tungstenite::tungstenite::Message;
    let url = format!("ws://127.0.0.1:{}{path}", px.port());
    let (mut ws, resp) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket through podgate proxy");
    assert_eq!(resp.status(), 101);
    let first = ws.next().await.unwrap().unwrap();
    assert_eq!(
        first.to_text().unwrap(),
        "query:token=abc&x=1",
        "the upgrade keeps its query string"
    );
    ws.send(Message::text("ping")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap().to_text().unwrap(), "ping");
    let _ = ws.close(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_modes_serve_kubectl_ordinal_pods_services_and_websockets_without_a_token() {
    let pg = Podgate::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (web0, web1) = backend::two_on_one_port("127.1.2.10", "127.1.2.11");
    fake_pod(&pg, dir.path(), "web-0", web0, "app: web");
    fake_pod(&pg, dir.path(), "web-1", web1, "app: web");
    fake_service(&pg, dir.path(), "web", &[(web0, "web-0"), (web1, "web-1")]);

    let admin_port = free_port("127.0.0.1");
    let admin = format!("127.0.0.1:{admin_port}");
    let apiserver = ProxyProcess::start(&pg, &["--mode", "apiserver"]);
    let direct = ProxyProcess::start(
        &pg,
        &[
            "--mode",
            "direct",
            "--pod-network",
            "loopback",
            "--admin-address",
            &admin,
        ],
    );

    for (mode, px) in [("apiserver", &apiserver), ("direct", &direct)] {
        // kubectl-style access to the API, with no credentials of its own.
        let pods = px.kubectl_ok(&["get", "pods", "-o", "name"]);
        assert!(
            pods.contains("pod/web-0") && pods.contains("pod/web-1"),
            "{mode}: {pods}"
        );
        let cm = format!("cm-{mode}");
        let f = common::manifest(
            dir.path(),
            "cm.yaml",
            &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {cm}\ndata:\n  a: b\n"),
        );
        px.kubectl_ok(&["apply", "-f", f.to_str().unwrap()]);
        assert_eq!(
            px.kubectl_ok(&["get", "configmap", &cm, "-o", "jsonpath={.data.a}"]),
            "b"
        );
        px.kubectl_ok(&["delete", "configmap", &cm]);

        // Each ordinal pod by name, with curl-style requests and no token.
        for (pod, addr) in [("web-0", web0), ("web-1", web1)] {
            let echo = served(px, &format!("{POD}/{pod}/proxy/hello?x=1"));
            assert_eq!(echo["backend"], addr.to_string(), "{mode}: {pod}");
            assert_eq!(echo["uri"], "/hello?x=1", "{mode}: {pod}");
            assert!(
                echo["headers"].get("authorization").is_none(),
                "{mode}: no credentials reach the pod"
            );
            // Which way it came: through the API server, the pod sees the API server's Host;
            // directly, the Host the client used.
            let want_host = match mode {
                "apiserver" => format!("127.0.0.1:{}", pg.port),
                _ => format!("127.0.0.1:{}", px.port()),
            };
            assert_eq!(echo["headers"]["host"][0], want_host, "{mode}: {pod}");
        }

        // The service, by port name.
        let echo = served(px, "/api/v1/namespaces/default/services/web:http/proxy/");
        let backend = echo["backend"].as_str().unwrap().to_string();
        assert!(
            backend == web0.to_string() || backend == web1.to_string(),
            "{mode}: {backend}"
        );

        // Kubernetes Status errors.
        let (code, head, body) = px.get(&format!("{POD}/nope/proxy/"));
        assert_eq!(code, 404, "{mode}: {body}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json")
        );
        let status = json(&body);
        assert_eq!(status["kind"], "Status");
        assert_eq!(status["message"], "pods \"nope\" not found", "{mode}");

        // A WebSocket through each path, query string included.
        websocket_roundtrip(px, &format!("{POD}/web-0/proxy/ws?token=abc&x=1")).await;
    }

    // The direct path is podgate's own: its metrics count the pod requests by pod target.
    let (code, body) = common::http_get(admin_port, "/metrics").unwrap();
    assert_eq!(code, 200);
    assert!(
        body.lines().any(|l| l.starts_with("podgate_requests_total")
            && l.contains("target=\"pod\"")
            && l.contains("namespace=\"default\"")),
        "{body}"
    );
    assert!(
        body.lines()
            .any(|l| l.starts_with("podgate_requests_total") && l.contains("target=\"service\"")),
        "{body}"
    );
    let (code, _) = common::http_get(admin_port, "/readyz").unwrap();
    assert_eq!(code, 200);
}
