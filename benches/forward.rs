//! End-to-end per-request cost of the pod proxy, in one process on loopback (the shape of hyper's
//! `end_to_end` benches): a hyper backend answering 1 KiB, reached
//!
//! - `direct`: by a pooled hyper client — the floor;
//! - `stack_oneshot`: through the gateway stack (`pods/{name}:{port}/proxy/`), no client-side
//!   HTTP parsing — what the stack, resolution, header rewriting and forwarding add;
//! - `gateway_server`: through `gateway::server::serve` over TCP — everything `podgate up` does
//!   per request, minus TLS, with its authenticator and RBAC authorizer (`UpAuth`) and its admin
//!   token (`system:masters`);
//! - `gateway_server_rbac`: the same with a token whose user RBAC allows `get pods/proxy` by a
//!   RoleBinding (the authorizer evaluates rules);
//!
//! each one at a time and ten at once. Everything runs on one current-thread runtime, so the
//! numbers are CPU per request (client + gateway + backend), and `valgrind --tool=callgrind`
//! on this bench gives instruction counts per function.
//!
//! Run with `cargo bench --bench forward`.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::future::join_all;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Api;
use kube::api::PostParams;
use podgate::auth::{TokenFile, UserInfo};
use podgate::gateway::forward::{Proxy, ProxyOptions};
use podgate::gateway::metrics::Metrics;
use podgate::gateway::{self, GatewayParts, HttpService, Readiness};
use podgate::up::auth::UpAuth;
use podgate::wire::body::{self, Body};
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

mod support;

/// The response body the backend sends.
const BODY_SIZE: usize = 1024;
/// The admin's token (group `system:masters`).
const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
/// The token of `viewer`, whom a RoleBinding allows `get pods/proxy` in `default`.
const VIEWER_TOKEN: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

/// Starts a hyper backend on `addr` answering every request with `BODY_SIZE` bytes.
async fn backend(addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let payload = Bytes::from(vec![b'x'; BODY_SIZE]);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let payload = payload.clone();
            let svc = hyper::service::service_fn(move |_req| {
                let body = Full::new(payload.clone());
                async move { Ok::<_, Infallible>(Response::new(body)) }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(local)
}

/// A pooled HTTP/1.1 client like the gateway's own.
fn client() -> Client<HttpConnector, Body> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// GETs `uri` (with the bearer token if any) and reads the whole body.
async fn get(client: &Client<HttpConnector, Body>, uri: &str, token: Option<&str>) -> usize {
    let mut req = Request::get(uri);
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let Ok(req) = req.body(body::empty()) else {
        return 0;
    };
    match client.request(req).await {
        Ok(resp) => match resp.into_body().collect().await {
            Ok(b) => b.to_bytes().len(),
            Err(_) => 0,
        },
        Err(_) => 0,
    }
}

/// One request through the stack without a server in front, body read to the end.
async fn oneshot(svc: HttpService, uri: &str) -> usize {
    let Ok(req) = Request::get(uri)
        .header("host", "127.0.0.1")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(body::empty())
    else {
        return 0;
    };
    let Ok(resp) = svc.oneshot(req).await;
    if resp.status() != StatusCode::OK {
        return 0;
    }
    match resp.into_body().collect().await {
        Ok(b) => b.to_bytes().len(),
        Err(_) => 0,
    }
}

/// The gateway stack of `podgate up` (its auth included) with the pod proxy over the seeded
/// cluster.
async fn stack(cluster: &support::Cluster, metrics: Arc<Metrics>) -> anyhow::Result<HttpService> {
    let mut tokens = TokenFile::default();
    tokens.insert(
        TOKEN,
        UserInfo::new("podgate-admin", vec!["system:masters".into()]),
    );
    tokens.insert(VIEWER_TOKEN, UserInfo::new("viewer", vec![]));
    let auth = UpAuth::start(cluster.dir.path(), tokens, &cluster.client, &cluster.api)?;
    auth.bootstrap(&cluster.client).await?;
    allow_viewer(&cluster.client).await?;
    let proxy = Proxy::new(cluster.resolver(), ProxyOptions::default(), metrics.clone());
    let readiness = Readiness::default();
    readiness.set_ready();
    Ok(gateway::stack(GatewayParts {
        api: BoxCloneSyncService::new(cluster.api.clone()),
        authn: auth.authn,
        authz: auth.authz,
        readiness,
        proxy: Some(Arc::new(proxy)),
        metrics,
    }))
}

/// Lets `viewer` `get pods/proxy` in `default` (a Role and a RoleBinding).
async fn allow_viewer(client: &kube::Client) -> anyhow::Result<()> {
    let role: Role = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "pod-proxy", "namespace": support::NAMESPACE},
        "rules": [{"apiGroups": [""], "resources": ["pods/proxy"], "verbs": ["get"]}]
    }))?;
    let binding: RoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "viewer-pod-proxy", "namespace": support::NAMESPACE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-proxy"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "viewer"}]
    }))?;
    Api::<Role>::namespaced(client.clone(), support::NAMESPACE)
        .create(&PostParams::default(), &role)
        .await?;
    Api::<RoleBinding>::namespaced(client.clone(), support::NAMESPACE)
        .create(&PostParams::default(), &binding)
        .await?;
    Ok(())
}

fn bench_forward(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let cluster = rt
        .block_on(support::seed(support::Size {
            pods: 1,
            other_services: 0,
        }))
        .expect("seeding the in-memory cluster");
    let backend_addr = rt
        .block_on(backend(SocketAddr::new(support::pod_ip(0).into(), 0)))
        .expect("starting the backend");
    let metrics = Metrics::new();
    let svc = rt
        .block_on(stack(&cluster, metrics.clone()))
        .expect("building podgate up's stack");
    let (_shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let gateway_addr = rt
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            tokio::spawn(gateway::server::serve(
                listener,
                svc.clone(),
                None,
                Default::default(),
                metrics.open_connections.clone(),
                shutdown_rx,
            ));
            anyhow::Ok(addr)
        })
        .expect("starting the gateway server");

    let port = backend_addr.port();
    let direct = format!("http://{backend_addr}/");
    let path = format!("/api/v1/namespaces/default/pods/web-0:{port}/proxy/");
    let through = format!("http://{gateway_addr}{path}");
    let client = client();
    // Each case must really fetch the body, or it measures an error path.
    rt.block_on(async {
        assert_eq!(get(&client, &direct, None).await, BODY_SIZE, "direct");
        assert_eq!(oneshot(svc.clone(), &path).await, BODY_SIZE, "stack");
        assert_eq!(
            get(&client, &through, Some(TOKEN)).await,
            BODY_SIZE,
            "gateway"
        );
        // The RBAC caches see the RoleBinding a moment after it is written.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while get(&client, &through, Some(VIEWER_TOKEN)).await != BODY_SIZE {
            assert!(
                std::time::Instant::now() < deadline,
                "viewer is never allowed"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });

    for parallel in [1usize, 10] {
        let mut g = c.benchmark_group(format!("forward_1k_x{parallel}"));
        g.throughput(Throughput::Elements(parallel as u64));
        g.bench_function("direct", |b| {
            b.to_async(&rt)
                .iter(|| join_all((0..parallel).map(|_| get(&client, &direct, None))))
        });
        g.bench_function("stack_oneshot", |b| {
            b.to_async(&rt)
                .iter(|| join_all((0..parallel).map(|_| oneshot(svc.clone(), &path))))
        });
        g.bench_function("gateway_server", |b| {
            b.to_async(&rt)
                .iter(|| join_all((0..parallel).map(|_| get(&client, &through, Some(TOKEN)))))
        });
        g.bench_function("gateway_server_rbac", |b| {
            b.to_async(&rt).iter(|| {
                join_all((0..parallel).map(|_| get(&client, &through, Some(VIEWER_TOKEN))))
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench_forward);
criterion_main!(benches);
