//! Micro-benchmarks of resolution from the watch cache: which address a proxy target means, in a
//! cluster of one 1,000-pod StatefulSet (10 endpoint slices) and 100 other services.
//!
//! The cluster is the embedded API server over a temporary store, seeded once (a few seconds).
//! Run with `cargo bench --bench resolve`.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use podgate::gateway::target::{self, ProxyTarget};

mod support;

/// Pods in the StatefulSet.
const PODS: usize = 1000;
/// Services besides the set's own.
const OTHER_SERVICES: usize = 100;

fn parsed(path: &str) -> ProxyTarget {
    match target::parse(path) {
        Some(Ok(t)) => t,
        other => panic!("{path} is not a valid proxy URL: {other:?}"),
    }
}

fn bench_resolve(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let cluster = rt
        .block_on(support::seed(support::Size {
            pods: PODS,
            other_services: OTHER_SERVICES,
        }))
        .expect("seeding the in-memory cluster");
    let resolver = cluster.resolver();
    let view = &cluster.view;
    let ns = support::NAMESPACE;

    let mut g = c.benchmark_group("resolve");
    for (name, path) in [
        (
            "pod_port_number",
            "/api/v1/namespaces/default/pods/web-500:8080/proxy/",
        ),
        (
            "pod_port_name",
            "/api/v1/namespaces/default/pods/web-500:http/proxy/",
        ),
        (
            "pod_no_port",
            "/api/v1/namespaces/default/pods/web-500/proxy/",
        ),
    ] {
        let t = parsed(path);
        let want = std::net::SocketAddr::new(support::pod_ip(500).into(), support::POD_PORT);
        let got = resolver.pod(&t, true).map(|u| u.addr).ok();
        assert_eq!(got, Some(want), "{name}");
        g.bench_function(name, |b| b.iter(|| resolver.pod(black_box(&t), true)));
    }

    let svc = parsed("/api/v1/namespaces/default/services/web:80/proxy/");
    let endpoints = resolver
        .service_endpoints(&svc)
        .expect("the web service has endpoints");
    assert_eq!(endpoints.len(), PODS);
    g.bench_function("service_endpoints_1000", |b| {
        b.iter(|| resolver.service_endpoints(black_box(&svc)))
    });
    g.bench_function("pick_p2c_1000", |b| {
        b.iter(|| resolver.pick(black_box(&endpoints), None))
    });
    g.bench_function("service_endpoints_and_pick_1000", |b| {
        b.iter(|| {
            let eps = resolver.service_endpoints(black_box(&svc)).ok()?;
            resolver.pick(&eps, None).map(|i| eps[i].0)
        })
    });
    let small = parsed("/api/v1/namespaces/default/services/other-7:80/proxy/");
    g.bench_function("service_endpoints_and_pick_1", |b| {
        b.iter(|| {
            let eps = resolver.service_endpoints(black_box(&small)).ok()?;
            resolver.pick(&eps, None).map(|i| eps[i].0)
        })
    });
    assert!(resolver.shard(&svc, "customer-42", &endpoints).is_ok());
    g.bench_function("shard_key_1000", |b| {
        b.iter(|| resolver.shard(black_box(&svc), black_box("customer-42"), &endpoints))
    });
    g.finish();

    let mut g = c.benchmark_group("cluster_view");
    g.bench_function("pod_get", |b| b.iter(|| view.pod(ns, black_box("web-500"))));
    g.bench_function("service_get", |b| {
        b.iter(|| view.service(ns, black_box("web")))
    });
    g.bench_function("slices_of_110", |b| {
        b.iter(|| view.slices_of(ns, black_box("web")))
    });
    g.bench_function("pods_snapshot_1000", |b| b.iter(|| view.pods()));
    g.finish();
}

criterion_group!(benches, bench_resolve);
criterion_main!(benches);
