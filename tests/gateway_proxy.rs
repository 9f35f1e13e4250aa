//! The pod and service proxy through a real `podgate up`, to real backend processes on their
//! own loopback addresses: transparency, Kubernetes' redirects and error texts, upgrades,
//! rewriting, streaming, service endpoint choice, waiting for an identity, and metrics.

#[path = "common/backend.rs"]
mod backend;
mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::{Podgate, manifest, wait_for};
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// Creates a pod bound to a node no agent runs, whose status points at `addr`.
fn fake_pod(
    pg: &Podgate,
    dir: &std::path::Path,
    name: &str,
    addr: SocketAddr,
    labels: &str,
    ready: bool,
) {
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\nspec:\n  nodeName: elsewhere\n  containers:\n  - name: c\n    image: x\n    command: [x]\n    ports:\n    - name: http\n      containerPort: {port}\n",
        port = addr.port()
    );
    let f = manifest(dir, &format!("{name}.yaml"), &yaml);
    pg.kubectl_ok(&["apply", "-f", f.to_str().unwrap()]);
    set_pod_status(pg, name, addr, ready);
}

fn set_pod_status(pg: &Podgate, name: &str, addr: SocketAddr, ready: bool) {
    let status = format!(
        r#"{{"status":{{"phase":"Running","podIP":"{ip}","podIPs":[{{"ip":"{ip}"}}],"conditions":[{{"type":"Ready","status":"{r}"}}]}}}}"#,
        ip = addr.ip(),
        r = if ready { "True" } else { "False" }
    );
    pg.kubectl_ok(&[
        "patch",
        "pod",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status,
    ]);
}

struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    port: u16,
    token: String,
}

impl Http {
    fn new(pg: &Podgate) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            port: pg.port,
            token: pg.token(),
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> http::Response<hyper::body::Incoming> {
        let mut b = http::Request::builder()
            .method(method)
            .uri(format!("http://127.0.0.1:{}{path}", self.port))
            .header("authorization", format!("Bearer {}", self.token));
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        self.client
            .request(b.body(Full::new(body)).unwrap())
            .await
            .expect("request")
    }

    async fn text(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, http::HeaderMap, String) {
        let resp = self.send(method, path, headers, Bytes::new()).await;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_proxy_is_transparent_and_speaks_kubernetes() {
    let pg = Podgate::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let be = backend::start("127.1.0.10");
    fake_pod(&pg, dir.path(), "web-0", be, "app: web", true);
    let http = Http::new(&pg);
    let base = "/api/v1/namespaces/default/pods/web-0/proxy";
    let (code, _, _) = wait_until_served(&http, &format!("{base}/")).await;
    assert_eq!(code, 200);

    // Transparency: method, path, query, body and headers arrive; credentials do not.
    let resp = http
        .send(
            "PUT",
            &format!("{base}/a/b%2Fc/?q=1&r=two"),
            &[
                ("x-custom", "yes"),
                // The admin may impersonate; as itself (with its group) the request stays
                // allowed, and the headers must still not reach the pod.
                ("impersonate-user", "podgate-admin"),
                ("impersonate-group", "system:masters"),
                ("x-podgate-wait", "1s"),
                ("content-type", "text/plain"),
            ],
            Bytes::from_static(b"payload"),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let echo: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(echo["method"], "PUT");
    assert_eq!(
        echo["uri"], "/a/b%2Fc/?q=1&r=two",
        "path (encoded slash kept) and query unchanged"
    );
    assert_eq!(echo["body_len"], 7);
    let h = &echo["headers"];
    assert_eq!(h["x-custom"][0], "yes");
    assert_eq!(h["content-type"][0], "text/plain");
    assert!(
        h.get("authorization").is_none(),
        "the client's credentials never reach the pod: {h}"
    );
    assert!(h.get("impersonate-user").is_none());
    assert!(h.get("impersonate-group").is_none());
    assert!(
        h.get("x-podgate-wait").is_none(),
        "podgate's own headers stay with podgate"
    );
    assert_eq!(h["x-forwarded-for"][0], "127.0.0.1");
    assert_eq!(h["x-forwarded-uri"][0], format!("{base}/a/b%2Fc/"));

    // 301 from the bare proxy path, as the API server answers GET and HEAD.
    let (code, headers, _) = http.text("GET", base, &[]).await;
    assert_eq!(code, 301);
    assert_eq!(headers["location"], format!("{base}/"));

    // The exact Status texts.
    let (code, headers, body) = http
        .text("GET", "/api/v1/namespaces/default/pods/nope/proxy/", &[])
        .await;
    assert_eq!(code, 404);
    assert_eq!(headers["x-podgate-error"], "true");
    let status: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["message"], "pods \"nope\" not found");
    assert_eq!(status["reason"], "NotFound");
    let (code, _, body) = http
        .text("GET", "/api/v1/namespaces/default/pods/a:b:c:d/proxy/", &[])
        .await;
    assert_eq!(code, 400);
    assert!(
        body.contains("invalid pod request \\\"a:b:c:d\\\""),
        "{body}"
    );
    let (code, _, body) = http
        .text(
            "GET",
            "/api/v1/namespaces/default/services/none/proxy/",
            &[],
        )
        .await;
    assert_eq!(code, 404);
    assert!(body.contains("services \\\"none\\\" not found"), "{body}");

    // Made-up namespaces mint no metric label sets (bounded metrics memory); real ones do.
    let (code, _, _) = http
        .text("GET", "/api/v1/namespaces/made-up-7/pods/x/proxy/", &[])
        .await;
    assert_eq!(code, 404);
    let (code, _, metrics) = http.text("GET", "/metrics", &[]).await;
    assert_eq!(code, 200);
    assert!(!metrics.contains("made-up-7"), "{metrics}");
    assert!(metrics.contains("namespace=\"default\""), "{metrics}");

    // A pod whose process is gone: 503 with the dial error.
    let dead = "127.1.0.11:9".parse().unwrap();
    fake_pod(&pg, dir.path(), "dead-0", dead, "app: dead", true);
    let (code, headers, body) =
        wait_until_served(&http, "/api/v1/namespaces/default/pods/dead-0/proxy/").await;
    assert_eq!(code, 503);
    assert_eq!(headers["x-podgate-error"], "true");
    assert!(body.contains("error trying to reach service:"), "{body}");

    // Location and HTML rewriting keep the client under the proxy prefix.
    let (code, headers, _) = http.text("GET", &format!("{base}/redirect"), &[]).await;
    assert_eq!(code, 302);
    assert_eq!(headers["location"], format!("{base}/landing?x=1"));
    let (_, _, html) = http.text("GET", &format!("{base}/html"), &[]).await;
    assert!(
        html.contains(&format!("href=\"{base}/docs/a.html\"")),
        "{html}"
    );
    assert!(html.contains(&format!("src=\"{base}/img.png\"")), "{html}");
}

async fn wait_until_served(http: &Http, path: &str) -> (u16, http::HeaderMap, String) {
    let deadline = std::time::Instant::now() + common::DEADLINE;
    loop {
        let r = http.text("GET", path, &[]).await;
        // The gateway's cache may lag the write by a moment: 400/404 mean "not seen yet".
        if !(r.0 == 404 || r.0 == 400) || std::time::Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrade_keeps_its_query_and_large_bodies_stream() {
    let pg = Podgate::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let be = backend::start("127.1.0.12");
    fake_pod(&pg, dir.path(), "ws-0", be, "app: ws", true);
    let http = Http::new(&pg);
    let base = "/api/v1/namespaces/default/pods/ws-0/proxy";
    wait_until_served(&http, &format!("{base}/")).await;

    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://127.0.0.1:{}{base}/ws?token=abc&x=1", pg.port)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", pg.token()).parse().unwrap(),
    );
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", pg.port))
        .await
        .unwrap();
    let (mut ws, resp) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("websocket through the gateway");
    assert_eq!(resp.status(), 101);
    let first = ws.next().await.unwrap().unwrap();
    assert_eq!(
        first.to_text().unwrap(),
        "query:token=abc&x=1",
        "the upgrade keeps its query string"
    );
    ws.send(tokio_tungstenite::tungstenite::Message::text("ping"))
        .await
        .unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap().to_text().unwrap(), "ping");
    let _ = ws.close(None).await;

    // 64 MiB down, counted as it arrives.
    let resp = http
        .send("GET", &format!("{base}/big?mb=64"), &[], Bytes::new())
        .await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut got: u64 = 0;
    while let Some(frame) = body.frame().await {
        if let Some(d) = frame.unwrap().data_ref() {
            got += d.len() as u64;
        }
    }
    assert_eq!(got, 64 * 1024 * 1024);

    // 32 MiB up, as a stream of chunks.
    let chunk = Bytes::from(vec![7u8; 1 << 20]);
    let stream = futures::stream::iter(
        (0..32).map(move |_| Ok::<_, std::io::Error>(hyper::body::Frame::data(chunk.clone()))),
    );
    let client: Client<HttpConnector, http_body_util::StreamBody<_>> =
        Client::builder(TokioExecutor::new()).build_http();
    let req = http::Request::post(format!("http://127.0.0.1:{}{base}/upload", pg.port))
        .header("authorization", format!("Bearer {}", pg.token()))
        .body(http_body_util::StreamBody::new(stream))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let echo: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(echo["body_len"], 32 * 1024 * 1024);
}

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: shop\nspec:\n  clusterIP: None\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n";

fn slice(backends: &[(SocketAddr, &str, bool)]) -> String {
    let mut eps = String::new();
    for (addr, pod, ready) in backends {
        eps.push_str(&format!(
            "- addresses: [\"{}\"]\n  conditions: {{ready: {ready}}}\n  targetRef: {{kind: Pod, name: {pod}, namespace: default}}\n",
            addr.ip()
        ));
    }
    format!(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: shop-abc\n  labels:\n    kubernetes.io/service-name: shop\n    endpointslice.kubernetes.io/managed-by: tests\naddressType: IPv4\nports:\n- name: http\n  port: {port}\n  protocol: TCP\nendpoints:\n{eps}",
        port = backends[0].0.port()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_proxy_reaches_only_ready_endpoints() {
    let pg = Podgate::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    // Two backends on the same port at different pod IPs, as pods of a service are.
    let (a, b) = backend::two_on_one_port("127.1.0.21", "127.1.0.22");
    // The pods the endpoints name: the gateway dials only addresses a pod holds.
    fake_pod(&pg, dir.path(), "shop-0", a, "app: shop", true);
    fake_pod(&pg, dir.path(), "shop-1", b, "app: shop", true);
    pg.kubectl_ok(&[
        "apply",
        "-f",
        manifest(dir.path(), "svc.yaml", SERVICE).to_str().unwrap(),
    ]);
    let s = manifest(
        dir.path(),
        "slice.yaml",
        &slice(&[(a, "shop-0", true), (b, "shop-1", false)]),
    );
    pg.kubectl_ok(&["apply", "-f", s.to_str().unwrap()]);
    let http = Http::new(&pg);
    let path = "/api/v1/namespaces/default/services/shop:http/proxy/";
    let (code, _, _) = wait_until_status(&http, path, 200).await;
    assert_eq!(code, 200);
    for _ in 0..20 {
        let (code, headers, _) = http.text("GET", path, &[]).await;
        assert_eq!(code, 200);
        assert_eq!(
            headers["x-backend"],
            a.to_string(),
            "only the ready endpoint serves"
        );
    }
    // By service port number too.
    let (code, headers, _) = http
        .text(
            "GET",
            "/api/v1/namespaces/default/services/shop:80/proxy/",
            &[],
        )
        .await;
    assert_eq!(
        (code, headers["x-backend"].to_str().unwrap()),
        (200, a.to_string().as_str())
    );
    let (code, _, body) = http
        .text(
            "GET",
            "/api/v1/namespaces/default/services/shop:81/proxy/",
            &[],
        )
        .await;
    assert_eq!(code, 503);
    assert!(
        body.contains("no service port 81 found for service \\\"shop\\\""),
        "{body}"
    );

    // Both ready: both serve.
    let s = manifest(
        dir.path(),
        "slice.yaml",
        &slice(&[(a, "shop-0", true), (b, "shop-1", true)]),
    );
    pg.kubectl_ok(&["apply", "-f", s.to_str().unwrap()]);
    let seen = wait_for("both endpoints to serve", || {
        let rt = tokio::runtime::Handle::current();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..40 {
            let (_, h, _) =
                tokio::task::block_in_place(|| rt.block_on(http.text("GET", path, &[])));
            if let Some(v) = h.get("x-backend") {
                seen.insert(v.to_str().unwrap().to_string());
            }
        }
        (seen.len() == 2).then_some(seen)
    });
    assert!(seen.contains(&a.to_string()) && seen.contains(&b.to_string()));

    // None ready: the Kubernetes text.
    let s = manifest(
        dir.path(),
        "slice.yaml",
        &slice(&[(a, "shop-0", false), (b, "shop-1", false)]),
    );
    pg.kubectl_ok(&["apply", "-f", s.to_str().unwrap()]);
    let (code, _, body) = wait_until_status(&http, path, 503).await;
    assert_eq!(code, 503);
    assert!(
        body.contains("no endpoints available for service \\\"shop\\\""),
        "{body}"
    );
}

async fn wait_until_status(http: &Http, path: &str, want: u16) -> (u16, http::HeaderMap, String) {
    let deadline = std::time::Instant::now() + common::DEADLINE;
    loop {
        let r = http.text("GET", path, &[]).await;
        if r.0 == want || std::time::Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_header_holds_a_request_until_the_identity_is_back() {
    let pg = Podgate::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let be = backend::start("127.1.0.30");
    fake_pod(&pg, dir.path(), "db-1", be, "app: db", true);
    let http = Http::new(&pg);
    let path = "/api/v1/namespaces/default/pods/db-1/proxy/";
    wait_until_status(&http, path, 200).await;
    pg.kubectl_ok(&["delete", "pod", "db-1", "--grace-period=0", "--force"]);
    wait_until_status(&http, path, 404).await;

    // Sent while db-1 is gone; it is answered once db-1 is back and Ready.
    let waiting = {
        let http = Http {
            client: http.client.clone(),
            port: http.port,
            token: http.token.clone(),
        };
        tokio::spawn(async move { http.text("GET", path, &[("x-podgate-wait", "60s")]).await })
    };
    let (code, _, _) = http.text("GET", path, &[]).await;
    assert_eq!(
        code, 404,
        "without the header a request fails at once, as in Kubernetes"
    );
    fake_pod(&pg, dir.path(), "db-1", be, "app: db", false);
    assert!(
        !waiting.is_finished(),
        "a pod that is not Ready does not end the wait"
    );
    set_pod_status(&pg, "db-1", be, true);
    let (code, _, body) = tokio::time::timeout(common::DEADLINE, waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, 200, "{body}");
    let (code, _, body) = http.text("GET", path, &[("x-podgate-wait", "soon")]).await;
    assert_eq!(code, 400, "{body}");
}
