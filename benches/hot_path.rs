//! Micro-benchmarks of the gateway's per-request work that needs no cluster: proxy target
//! parsing, header rewriting, the token check, and the route + auth decision through the whole
//! tower stack (trace → metrics → authenticate → impersonate → authorize → route) in front of a
//! no-op API.
//!
//! Run with `cargo bench --bench hot_path`; see `benches/README.md` for the load benchmark.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::convert::Infallible;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use podgate::auth::{AlwaysAllow, Authn, TokenFile, UserInfo, bearer_token};
use podgate::gateway::headers::{self, ForwardContext};
use podgate::gateway::{self, GatewayParts, HttpService, Readiness, metrics::Metrics, target};
use podgate::wire::body::{self, Body};
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

/// Proxy URLs as clients send them, from the everyday case to the unusual ones.
const PATHS: [(&str, &str); 7] = [
    (
        "pod_root",
        "/api/v1/namespaces/default/pods/web-0:8080/proxy/",
    ),
    (
        "pod_subpath_query",
        "/api/v1/namespaces/default/pods/web-0:8080/proxy/api/v1/items?limit=10",
    ),
    (
        "service_https",
        "/api/v1/namespaces/shop/services/https:cart:8443/proxy/cart/42",
    ),
    (
        "encoded_slash",
        "/api/v1/namespaces/mq/services/rabbitmq:15672/proxy/api/queues/%2F/orders",
    ),
    (
        "dot_segments",
        "/api/v1/namespaces/default/pods/web-0/proxy/a/./b/../c//d/",
    ),
    (
        "long_path",
        "/api/v1/namespaces/default/pods/web-0/proxy/static/js/vendor/chunk/abcdef0123456789/app.bundle.min.js",
    ),
    ("not_proxy", "/api/v1/namespaces/default/pods/web-0"),
];

fn bench_target(c: &mut Criterion) {
    let mut g = c.benchmark_group("target_parse");
    for (name, path) in PATHS {
        g.bench_function(name, |b| b.iter(|| target::parse(black_box(path))));
    }
    g.finish();
}

/// A header map from name/value pairs.
fn header_map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(n, v);
        }
    }
    map
}

/// What `wrk` or `curl` sends.
fn minimal_request() -> HeaderMap {
    header_map(&[
        ("host", "127.0.0.1:8001"),
        ("user-agent", "curl/8.5.0"),
        ("accept", "*/*"),
    ])
}

/// What a browser behind an ingress sends, with headers the gateway must strip.
fn browser_request() -> HeaderMap {
    header_map(&[
        ("host", "podgate.example:8001"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ),
        (
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        ("accept-language", "en-US,en;q=0.5"),
        ("accept-encoding", "gzip, deflate, br, zstd"),
        ("connection", "keep-alive, x-debug"),
        ("x-debug", "1"),
        ("cookie", "session=0123456789abcdef; theme=dark"),
        ("upgrade-insecure-requests", "1"),
        ("x-forwarded-for", "10.0.0.7"),
        ("impersonate-user", "admin"),
        ("x-remote-user", "mallory"),
        ("x-podgate-wait", "5s"),
        ("te", "trailers"),
    ])
}

/// What nginx answers with.
fn backend_response() -> HeaderMap {
    header_map(&[
        ("server", "nginx/1.26.3"),
        ("date", "Mon, 09 Nov 2026 10:00:00 GMT"),
        ("content-type", "text/plain"),
        ("content-length", "1024"),
        ("connection", "keep-alive"),
        ("cache-control", "max-age=60"),
        ("access-control-allow-origin", "*"),
    ])
}

fn bench_headers(c: &mut Criterion) {
    let ctx = ForwardContext {
        client_ip: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
        proto: "http",
        host: Some(HeaderValue::from_static("127.0.0.1:8001")),
        original_uri: "/api/v1/namespaces/default/pods/web-0:8080/proxy/".into(),
        upgrade: false,
    };
    let mut g = c.benchmark_group("headers");
    for (name, make) in [
        ("request_minimal", minimal_request as fn() -> HeaderMap),
        ("request_browser", browser_request),
    ] {
        let input = make();
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || input.clone(),
                |h| headers::prepare_request_headers(h, &ctx),
                BatchSize::SmallInput,
            )
        });
    }
    let input = backend_response();
    g.bench_function("response_nginx", |b| {
        b.iter_batched_ref(
            || input.clone(),
            headers::prepare_response_headers,
            BatchSize::SmallInput,
        )
    });
    let browser = browser_request();
    g.bench_function("is_upgrade", |b| {
        b.iter(|| headers::is_upgrade_request(black_box(&browser)))
    });
    g.finish();
}

/// A 64-hex-digit token like the one `podgate up` generates.
fn token(i: usize) -> String {
    format!("{i:064x}")
}

/// A token file with `n` users.
fn token_file(n: usize) -> TokenFile {
    let mut file = TokenFile::default();
    for i in 0..n {
        let mut user = UserInfo::new(format!("user-{i}"), vec!["system:masters".into()]);
        user.uid = format!("uid-{i}");
        file.insert(&token(i), user);
    }
    file
}

fn bench_auth(c: &mut Criterion) {
    let mut g = c.benchmark_group("auth");
    let header = format!("Bearer {}", token(0));
    g.bench_function("bearer_token", |b| {
        b.iter(|| bearer_token(black_box(&header)))
    });
    for n in [1, 10, 100] {
        let file = token_file(n);
        let known = token(n - 1);
        g.bench_function(format!("authenticate_hit_{n}_tokens"), |b| {
            b.iter(|| file.authenticate(black_box(&known)))
        });
        let unknown = "f".repeat(64);
        g.bench_function(format!("authenticate_miss_{n}_tokens"), |b| {
            b.iter(|| file.authenticate(black_box(&unknown)))
        });
    }
    g.finish();
}

/// The gateway stack in front of an API that answers every request with an empty 200, with
/// static tokens and an authorizer that allows everything (`podgate up` authorizes with RBAC,
/// whose `system:masters` short cut its admin token takes; `benches/forward.rs` measures that).
fn noop_stack() -> HttpService {
    let api: HttpService =
        BoxCloneSyncService::new(tower::service_fn(|_req: Request<Body>| async {
            let mut resp = Response::new(body::empty());
            *resp.status_mut() = StatusCode::OK;
            Ok::<_, Infallible>(resp)
        }));
    let readiness = Readiness::default();
    readiness.set_ready();
    gateway::stack(GatewayParts {
        api,
        authn: Arc::new(Authn::static_tokens(Arc::new(token_file(1)))),
        authz: Arc::new(AlwaysAllow),
        readiness,
        proxy: None,
        metrics: Metrics::new(),
    })
}

/// One request through the stack, the response body read to its end (metrics record there).
async fn round_trip(svc: HttpService, req: Request<Body>) -> StatusCode {
    let Ok(resp) = svc.oneshot(req).await;
    let status = resp.status();
    let _ = resp.into_body().collect().await;
    status
}

fn bench_stack(c: &mut Criterion) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        eprintln!("stack benchmarks skipped: no tokio runtime");
        return;
    };
    let svc = noop_stack();
    let auth = format!("Bearer {}", token(0));
    let cases: [(&str, &str, Option<&str>, StatusCode); 3] = [
        (
            "api_authenticated",
            "/api/v1/namespaces/default/pods",
            Some(&auth),
            StatusCode::OK,
        ),
        (
            "api_bad_token",
            "/api/v1/namespaces/default/pods",
            Some("Bearer nope"),
            StatusCode::UNAUTHORIZED,
        ),
        ("healthz", "/healthz", None, StatusCode::OK),
    ];
    let mut g = c.benchmark_group("stack_route_auth");
    for (name, path, authorization, want) in cases {
        let make = || {
            let mut b = Request::builder()
                .uri(path)
                .header("host", "127.0.0.1:8001");
            if let Some(a) = authorization {
                b = b.header("authorization", a);
            }
            b.body(body::empty()).unwrap_or_default()
        };
        // Check once that the case measures what its name says.
        let got = rt.block_on(round_trip(svc.clone(), make()));
        assert_eq!(got, want, "{name}");
        g.bench_function(name, |b| {
            b.to_async(&rt).iter_batched(
                || (svc.clone(), make()),
                |(svc, req)| round_trip(svc, req),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_target,
    bench_headers,
    bench_auth,
    bench_stack
);
criterion_main!(benches);
