//! An in-memory cluster for benchmarks: the embedded API server over a store in a temporary
//! directory, seeded with one StatefulSet's pods (status set as a node agent would), services
//! with endpoint slices, and a [`ClusterView`] whose watch caches hold all of it.
//!
//! Endpoint slices go straight into the store: the API refuses loopback endpoint addresses (as
//! Kubernetes does), and `podgate up`'s pods live on 127.0.0.0/8.
//!
//! Building it costs a few seconds (every object is a durable write); benchmarks build it once.

#![allow(dead_code)] // each bench target uses a different part of it

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use podgate::apiserver::{ApiConfig, ApiServer, handlers, registry};
use podgate::cluster::ClusterView;
use podgate::gateway::resolve::{AddressPolicy, Resolver};
use podgate::store::{self, Mutation, Store};
use serde_json::{Value, json};

/// The namespace everything lives in.
pub(crate) const NAMESPACE: &str = "default";
/// The StatefulSet (and its headless service) whose pods the benchmarks resolve.
pub(crate) const SET: &str = "web";
/// The container port of every pod, named `http`.
pub(crate) const POD_PORT: u16 = 8080;

/// How big the seeded cluster is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Size {
    /// Pods of the StatefulSet `web` (`web-0` …).
    pub pods: usize,
    /// Other services, each with one endpoint slice of its own, so slice lookups have
    /// something to skip.
    pub other_services: usize,
}

/// The seeded cluster: the API server, the client over it, and the warmed cluster view.
pub(crate) struct Cluster {
    /// Keeps the store's directory alive.
    pub dir: tempfile::TempDir,
    /// The embedded API server.
    pub api: ApiServer,
    /// A client over it (no network).
    pub client: kube::Client,
    /// The watch caches, holding every seeded object.
    pub view: ClusterView,
}

impl Cluster {
    /// A resolver over the view with the `podgate up` address policy.
    pub(crate) fn resolver(&self) -> Arc<Resolver> {
        Arc::new(Resolver {
            cluster: self.view.clone(),
            policy: AddressPolicy::Loopback,
            load: Default::default(),
        })
    }
}

/// The pod IP of ordinal `i`: 127.1.0.10 upwards (127.1.0.9 is left for a benchmark backend).
pub(crate) fn pod_ip(i: usize) -> Ipv4Addr {
    let n = 10 + i as u32;
    Ipv4Addr::new(127, 1, (n >> 8) as u8, (n & 0xff) as u8)
}

/// Builds and seeds the cluster, then waits until the view has seen all of it.
pub(crate) async fn seed(size: Size) -> anyhow::Result<Cluster> {
    let started = Instant::now();
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("state.db");
    let store =
        tokio::task::spawn_blocking(move || Store::open(&db, store::DEFAULT_HISTORY)).await??;
    let api = ApiServer::new(
        store,
        ApiConfig {
            server_address: "127.0.0.1:0".into(),
        },
    );
    let client = kube::Client::new(api.clone(), NAMESPACE);
    create(&client, namespace()).await?;
    create(&client, statefulset(size.pods)).await?;
    create(&client, service(SET, SET)).await?;

    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    stream::iter(0..size.pods)
        .map(|i| {
            let pods = pods.clone();
            async move {
                pods.create(&PostParams::default(), &typed(pod(i))?).await?;
                pods.patch_status(
                    &format!("{SET}-{i}"),
                    &PatchParams::default(),
                    &Patch::Merge(pod_status(pod_ip(i))),
                )
                .await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(32)
        .try_collect::<()>()
        .await?;

    // The set's endpoints, 100 to a slice as the EndpointSlice controller cuts them.
    let ordinals: Vec<usize> = (0..size.pods).collect();
    for (n, chunk) in ordinals.chunks(100).enumerate() {
        put_slice(&api, slice(SET, &format!("{SET}-{n:05}"), chunk)).await?;
    }
    for s in 0..size.other_services {
        let name = format!("other-{s}");
        create(&client, service(&name, &name)).await?;
        put_slice(&api, slice(&name, &format!("{name}-00000"), &[0])).await?;
    }

    let view = ClusterView::start(client.clone());
    view.ready().await;
    let want_slices = size.pods.div_ceil(100) + size.other_services;
    let last = format!("{SET}-{}", size.pods.saturating_sub(1));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pod_ready = size.pods == 0
            || view
                .pod(NAMESPACE, &last)
                .is_some_and(|p| p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some());
        let slices = view.slices_of(NAMESPACE, SET).len()
            + (0..size.other_services)
                .filter(|s| !view.slices_of(NAMESPACE, &format!("other-{s}")).is_empty())
                .count();
        if pod_ready && slices == want_slices && view.pods().len() == size.pods {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the cluster view did not catch up within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "seeded {} pods, {} services and {want_slices} endpoint slices in {:.1?}",
        size.pods,
        size.other_services + 1,
        started.elapsed()
    );
    Ok(Cluster {
        dir,
        api,
        client,
        view,
    })
}

/// Creates an object given as JSON (a namespace that exists already is fine).
async fn create(client: &kube::Client, obj: Value) -> anyhow::Result<()> {
    match obj["kind"].as_str().unwrap_or("") {
        "Namespace" => {
            let api: Api<Namespace> = Api::all(client.clone());
            match api.create(&PostParams::default(), &typed(obj)?).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
        "StatefulSet" => {
            let api: Api<StatefulSet> = Api::namespaced(client.clone(), NAMESPACE);
            api.create(&PostParams::default(), &typed(obj)?).await?;
        }
        "Service" => {
            let api: Api<Service> = Api::namespaced(client.clone(), NAMESPACE);
            api.create(&PostParams::default(), &typed(obj)?).await?;
        }
        other => anyhow::bail!("support::create: unexpected kind {other:?}"),
    }
    Ok(())
}

/// Stores an endpoint slice as it is, past validation.
async fn put_slice(api: &ApiServer, obj: Value) -> anyhow::Result<()> {
    let def = registry::RESOURCES
        .iter()
        .find(|r| r.kind == "EndpointSlice")
        .context("podgate serves no EndpointSlice")?;
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let key = handlers::key(def, Some(NAMESPACE), &name);
    let mut obj = obj;
    obj["metadata"]["uid"] = json!(format!(
        "00000000-0000-0000-0001-{:012}",
        api.store().current_rv()
    ));
    obj["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
    api.store()
        .mutate(key, Box::new(move |_| Ok(Mutation::Put(obj))))
        .await
        .map_err(|s| anyhow::anyhow!("storing endpoint slice {name}: {}", s.message))?;
    Ok(())
}

fn typed<T: serde::de::DeserializeOwned>(v: Value) -> anyhow::Result<T> {
    Ok(serde_json::from_value(v)?)
}

fn namespace() -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
}

fn labels() -> Value {
    json!({"app": SET})
}

fn container() -> Value {
    json!({
        "name": "app",
        "image": "podgate",
        "command": ["podgate", "pet"],
        "ports": [{"name": "http", "containerPort": POD_PORT}]
    })
}

fn statefulset(replicas: usize) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": SET, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "serviceName": SET,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": labels()},
            "template": {
                "metadata": {"labels": labels()},
                "spec": {"containers": [container()]}
            }
        }
    })
}

fn pod(i: usize) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("{SET}-{i}"),
            "namespace": NAMESPACE,
            "labels": labels(),
            "ownerReferences": [{
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "name": SET,
                "uid": "00000000-0000-0000-0000-000000000001",
                "controller": true,
                "blockOwnerDeletion": true
            }]
        },
        "spec": {"containers": [container()]}
    })
}

/// A Running, Ready status at `ip`, as the node agent would write it.
pub(crate) fn pod_status(ip: Ipv4Addr) -> Value {
    json!({"status": {
        "phase": "Running",
        "podIP": ip.to_string(),
        "podIPs": [{"ip": ip.to_string()}],
        "conditions": [{"type": "Ready", "status": "True"}]
    }})
}

fn service(name: &str, app: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "selector": {"app": app},
            "ports": [{"name": "http", "port": 80, "targetPort": POD_PORT}]
        }
    })
}

/// An endpoint slice of service `service` with the pods of the given ordinals, all ready.
fn slice(service: &str, name: &str, ordinals: &[usize]) -> Value {
    let endpoints: Vec<Value> = ordinals
        .iter()
        .map(|&i| {
            json!({
                "addresses": [pod_ip(i).to_string()],
                "conditions": {"ready": true},
                "targetRef": {"kind": "Pod", "namespace": NAMESPACE, "name": format!("{SET}-{i}")}
            })
        })
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {"kubernetes.io/service-name": service}
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": POD_PORT, "protocol": "TCP"}],
        "endpoints": endpoints
    })
}
