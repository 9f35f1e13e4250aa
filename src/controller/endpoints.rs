//! The Endpoints and EndpointSlice controllers: for every Service with a selector, the
//! addresses of its pods — ready ones, not-ready ones (or all as ready with
//! `publishNotReadyAddresses`), hostnames for pods whose subdomain names the service, named
//! target ports resolved per pod — as upstream's endpoint and endpointslice controllers write
//! them. Services without a selector are left to their users.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
    ServicePort,
};
use k8s_openapi::api::discovery::v1::{
    Endpoint, EndpointConditions, EndpointPort as SlicePort, EndpointSlice,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};

use super::work::{self, requests};
use super::{Caches, Error};
use crate::cluster::informer::Change;

/// The label naming a slice's service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label naming the controller that manages a slice.
pub const SLICE_MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's value of [`SLICE_MANAGED_BY_LABEL`].
pub const SLICE_MANAGER: &str = "endpointslice-controller.k8s.io";
/// The label naming the controller that manages an Endpoints object.
pub const ENDPOINTS_MANAGED_BY_LABEL: &str = "endpoints.kubernetes.io/managed-by";
/// This controller's value of [`ENDPOINTS_MANAGED_BY_LABEL`].
pub const ENDPOINTS_MANAGER: &str = "endpoint-controller";
/// The label marking headless services' endpoints.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
/// The most endpoints one slice holds.
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;

struct Context {
    client: kube::Client,
    pods: Store<Pod>,
    endpoints: Store<Endpoints>,
    slices: Store<EndpointSlice>,
}

/// Runs the Endpoints and EndpointSlice controllers until their caches close.
pub async fn run(client: kube::Client, caches: Caches) {
    let ctx = Arc::new(Context {
        client: client.clone(),
        pods: caches.pods.store().clone(),
        endpoints: caches.endpoints.store().clone(),
        slices: caches.slices.store().clone(),
    });
    caches.pods.ready().await;
    caches.endpoints.ready().await;
    caches.slices.ready().await;
    let services = caches.services.store().clone();
    tokio::spawn(remove_orphaned_endpoints(client, caches.clone()));
    let triggers = vec![
        requests(caches.services.subscribe(), {
            let services = services.clone();
            move |c: &Change<Service>| match c.object() {
                Some(s) => vec![ObjectRef::from_obj(s.as_ref())],
                None => all(&services, None),
            }
        }),
        requests(caches.pods.subscribe(), {
            let services = services.clone();
            move |c: &Change<Pod>| all(&services, c.object().and_then(|p| p.namespace()).as_deref())
        }),
        requests(caches.endpoints.subscribe(), {
            let services = services.clone();
            move |c: &Change<Endpoints>| match c.object() {
                Some(ep) => {
                    vec![ObjectRef::new(&ep.name_any()).within(&ep.namespace().unwrap_or_default())]
                }
                None => all(&services, None),
            }
        }),
        requests(caches.slices.subscribe(), {
            let services = services.clone();
            move |c: &Change<EndpointSlice>| match c.object() {
                Some(s) => s
                    .labels()
                    .get(SERVICE_NAME_LABEL)
                    .map(|svc| vec![ObjectRef::new(svc).within(&s.namespace().unwrap_or_default())])
                    .unwrap_or_default(),
                None => all(&services, None),
            }
        }),
    ];
    work::run("endpoints", services, triggers, ctx, reconcile).await;
}

/// Every service (in `namespace`, if given) that has a selector.
fn all(services: &Store<Service>, namespace: Option<&str>) -> Vec<ObjectRef<Service>> {
    services
        .state()
        .iter()
        .filter(|s| namespace.is_none_or(|ns| s.namespace().as_deref() == Some(ns)))
        .filter(|s| selector(s).is_some())
        .map(|s| ObjectRef::from_obj(s.as_ref()))
        .collect()
}

/// Deletes the Endpoints this controller made for services that are gone (slices carry an
/// ownerReference and go with the garbage collector).
async fn remove_orphaned_endpoints(client: kube::Client, caches: Caches) {
    let mut changes = std::pin::pin!(caches.services.subscribe());
    while let Some(change) = changes.next().await {
        let candidates: Vec<Arc<Endpoints>> = match &change {
            Change::Deleted(svc) => caches
                .endpoints
                .store()
                .get(&ObjectRef::new(&svc.name_any()).within(&svc.namespace().unwrap_or_default()))
                .into_iter()
                .collect(),
            Change::Resync => caches.endpoints.store().state(),
            Change::Applied(_) => continue,
        };
        for ep in candidates {
            let managed = ep
                .labels()
                .get(ENDPOINTS_MANAGED_BY_LABEL)
                .map(String::as_str)
                == Some(ENDPOINTS_MANAGER);
            let ns = ep.namespace().unwrap_or_default();
            let has_service = caches
                .services
                .store()
                .get(&ObjectRef::new(&ep.name_any()).within(&ns))
                .is_some();
            if managed && !has_service {
                let api: Api<Endpoints> = Api::namespaced(client.clone(), &ns);
                if let Err(e) = api.delete(&ep.name_any(), &DeleteParams::default()).await {
                    tracing::debug!(error = %e, "deleting the Endpoints of a deleted service");
                }
            }
        }
    }
}

/// The service's selector, if it has a non-empty one (and is not ExternalName).
fn selector(svc: &Service) -> Option<&BTreeMap<String, String>> {
    let spec = svc.spec.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    spec.selector.as_ref().filter(|s| !s.is_empty())
}

fn headless(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

fn publish_not_ready(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn pod_ip(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    status
        .pod_ip
        .clone()
        .filter(|ip| !ip.is_empty())
        .or_else(|| status.pod_ips.as_ref()?.first().map(|p| p.ip.clone()))
}

/// Upstream `ShouldPodBeInEndpoints`: not finished, has an IP, and not terminating unless
/// terminating pods are included.
fn should_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Failed" | "Succeeded"))
        && pod_ip(pod).is_some()
        && (include_terminating || pod.metadata.deletion_timestamp.is_none())
}

/// Upstream `ShouldSetHostname`: the pod's subdomain names this service.
fn hostname(pod: &Pod, svc: &Service) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let host = spec.hostname.clone().filter(|h| !h.is_empty())?;
    (spec.subdomain.as_deref() == Some(svc.name_any().as_str())
        && pod.namespace() == svc.namespace())
    .then_some(host)
}

/// Upstream `FindPort`: the container port a service port targets on this pod.
pub fn find_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    match port.target_port.as_ref() {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(if *n == 0 { port.port } else { *n }),
        Some(IntOrString::String(name)) => {
            if let Ok(n) = name.parse::<i32>() {
                return Some(n);
            }
            let protocol = port.protocol.as_deref().unwrap_or("TCP");
            pod.spec.as_ref()?.containers.iter().find_map(|c| {
                c.ports.iter().flatten().find_map(|p| {
                    (p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol)
                        .then_some(p.container_port)
                })
            })
        }
    }
}

fn target_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.namespace(),
        name: Some(pod.name_any()),
        uid: pod.uid(),
        ..Default::default()
    }
}

fn node_name(pod: &Pod) -> Option<String> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .filter(|n| !n.is_empty())
}

fn labels_for(svc: &Service, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut labels = svc.labels().clone();
    labels.remove(HEADLESS_LABEL);
    if headless(svc) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    for (k, v) in extra {
        labels.insert((*k).into(), (*v).into());
    }
    labels
}

// === Endpoints ===

/// Addresses that serve one set of ports.
#[derive(Debug, Default)]
struct Subset {
    ports: Vec<EndpointPort>,
    ready: Vec<EndpointAddress>,
    not_ready: Vec<EndpointAddress>,
}

fn address_key(a: &EndpointAddress) -> (String, Option<String>) {
    (
        a.ip.clone(),
        a.target_ref.as_ref().and_then(|r| r.uid.clone()),
    )
}

/// The subsets upstream's endpoint controller computes (`syncService` + `RepackSubsets`).
pub fn subsets(svc: &Service, pods: &[&Pod]) -> Vec<EndpointSubset> {
    let tolerate = publish_not_ready(svc);
    let ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default();
    // Addresses by the port they serve.
    let mut by_port: BTreeMap<String, Subset> = BTreeMap::new();
    let mut add = |ports: Vec<EndpointPort>, addr: EndpointAddress, ready: bool| {
        let key = serde_json::to_string(&ports).unwrap_or_default();
        let g = by_port.entry(key).or_insert_with(|| Subset {
            ports,
            ..Default::default()
        });
        if ready {
            g.ready.push(addr)
        } else {
            g.not_ready.push(addr)
        }
    };
    for pod in pods {
        if !should_be_in_endpoints(pod, tolerate) {
            continue;
        }
        let Some(ip) = pod_ip(pod) else { continue };
        let addr = EndpointAddress {
            ip,
            hostname: hostname(pod, svc),
            node_name: node_name(pod),
            target_ref: Some(target_ref(pod)),
        };
        let ready = tolerate || pod_ready(pod);
        if ports.is_empty() {
            if headless(svc) {
                add(Vec::new(), addr, ready);
            }
            continue;
        }
        for p in &ports {
            let Some(n) = find_port(pod, p) else { continue };
            let ep = EndpointPort {
                name: p.name.clone().filter(|n| !n.is_empty()),
                port: n,
                protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: p.app_protocol.clone(),
            };
            add(vec![ep], addr.clone(), ready);
        }
    }
    // Repack: one subset per distinct set of addresses, with every port they serve.
    let mut by_addresses: BTreeMap<String, Subset> = BTreeMap::new();
    for (_, mut g) in by_port {
        g.ready.sort_by_key(address_key);
        g.ready.dedup_by_key(|a| address_key(a));
        let ready_keys: HashSet<_> = g.ready.iter().map(address_key).collect();
        g.not_ready
            .retain(|a| !ready_keys.contains(&address_key(a)));
        g.not_ready.sort_by_key(address_key);
        g.not_ready.dedup_by_key(|a| address_key(a));
        let key = serde_json::to_string(&(&g.ready, &g.not_ready)).unwrap_or_default();
        let entry = by_addresses.entry(key).or_insert_with(|| Subset {
            ports: Vec::new(),
            ready: std::mem::take(&mut g.ready),
            not_ready: std::mem::take(&mut g.not_ready),
        });
        entry.ports.extend(g.ports);
    }
    by_addresses
        .into_values()
        .map(|mut g| {
            g.ports
                .sort_by(|a, b| (a.name.as_deref(), a.port).cmp(&(b.name.as_deref(), b.port)));
            EndpointSubset {
                addresses: (!g.ready.is_empty()).then_some(g.ready),
                not_ready_addresses: (!g.not_ready.is_empty()).then_some(g.not_ready),
                ports: (!g.ports.is_empty()).then_some(g.ports),
            }
        })
        .collect()
}

async fn sync_endpoints(ctx: &Context, svc: &Service, pods: &[&Pod]) -> Result<(), Error> {
    let ns = svc.namespace().unwrap_or_default();
    let name = svc.name_any();
    let desired = Endpoints {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            labels: Some(labels_for(
                svc,
                &[(ENDPOINTS_MANAGED_BY_LABEL, ENDPOINTS_MANAGER)],
            )),
            ..Default::default()
        },
        subsets: Some(subsets(svc, pods)),
    };
    let api: Api<Endpoints> = Api::namespaced(ctx.client.clone(), &ns);
    match ctx.endpoints.get(&ObjectRef::new(&name).within(&ns)) {
        None => match api.create(&PostParams::default(), &desired).await {
            Ok(_) => Ok(()),
            Err(e) => Err(e.into()),
        },
        Some(current) => {
            let same = current.subsets.clone().unwrap_or_default()
                == desired.subsets.clone().unwrap_or_default()
                && current.labels() == desired.labels();
            if same {
                return Ok(());
            }
            let mut next = current.as_ref().clone();
            next.subsets = desired.subsets;
            next.metadata.labels = desired.metadata.labels;
            api.replace(&name, &PostParams::default(), &next).await?;
            Ok(())
        }
    }
}

// === EndpointSlices ===

/// One endpoint of a slice, with the ports it serves and its address type.
struct SliceEndpoint {
    address_type: &'static str,
    ports: Vec<SlicePort>,
    endpoint: Endpoint,
}

fn slice_endpoints(svc: &Service, pods: &[&Pod]) -> Vec<SliceEndpoint> {
    let ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default();
    let publish = publish_not_ready(svc);
    let mut out = Vec::new();
    for pod in pods {
        if !should_be_in_endpoints(pod, true) {
            continue;
        }
        let Some(ip) = pod_ip(pod) else { continue };
        let serving = pod_ready(pod);
        let terminating = pod.metadata.deletion_timestamp.is_some();
        let mut eports: Vec<SlicePort> = ports
            .iter()
            .filter_map(|p| {
                Some(SlicePort {
                    name: Some(p.name.clone().unwrap_or_default()),
                    port: Some(find_port(pod, p)?),
                    protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    app_protocol: p.app_protocol.clone(),
                })
            })
            .collect();
        eports.sort_by(|a, b| (a.name.as_deref(), a.port).cmp(&(b.name.as_deref(), b.port)));
        out.push(SliceEndpoint {
            address_type: if ip.contains(':') { "IPv6" } else { "IPv4" },
            ports: eports,
            endpoint: Endpoint {
                addresses: vec![ip],
                conditions: Some(EndpointConditions {
                    ready: Some(publish || (serving && !terminating)),
                    serving: Some(serving),
                    terminating: Some(terminating),
                }),
                hostname: hostname(pod, svc),
                node_name: node_name(pod),
                target_ref: Some(target_ref(pod)),
                ..Default::default()
            },
        });
    }
    out
}

/// The slices a service should have: endpoints grouped by address type and ports, at most
/// [`MAX_ENDPOINTS_PER_SLICE`] each; one empty IPv4 slice when there are no endpoints.
pub fn desired_slices(
    svc: &Service,
    pods: &[&Pod],
) -> Vec<(String, Vec<SlicePort>, Vec<Endpoint>)> {
    let mut groups: BTreeMap<String, (String, Vec<SlicePort>, Vec<Endpoint>)> = BTreeMap::new();
    for e in slice_endpoints(svc, pods) {
        let key = format!(
            "{}/{}",
            e.address_type,
            serde_json::to_string(&e.ports).unwrap_or_default()
        );
        groups
            .entry(key)
            .or_insert_with(|| (e.address_type.to_string(), e.ports.clone(), Vec::new()))
            .2
            .push(e.endpoint);
    }
    let mut out = Vec::new();
    for (_, (ty, ports, mut endpoints)) in groups {
        endpoints.sort_by_key(|e| e.target_ref.as_ref().and_then(|r| r.name.clone()));
        for chunk in endpoints.chunks(MAX_ENDPOINTS_PER_SLICE) {
            out.push((ty.clone(), ports.clone(), chunk.to_vec()));
        }
    }
    if out.is_empty() {
        out.push(("IPv4".to_string(), Vec::new(), Vec::new()));
    }
    out
}

fn service_owner_ref(svc: &Service) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: svc.name_any(),
        uid: svc.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

async fn sync_slices(ctx: &Context, svc: &Service, pods: &[&Pod]) -> Result<(), Error> {
    let ns = svc.namespace().unwrap_or_default();
    let name = svc.name_any();
    let api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), &ns);
    let labels = labels_for(
        svc,
        &[
            (SERVICE_NAME_LABEL, name.as_str()),
            (SLICE_MANAGED_BY_LABEL, SLICE_MANAGER),
        ],
    );
    let mut existing: Vec<Arc<EndpointSlice>> = ctx
        .slices
        .state()
        .into_iter()
        .filter(|s| {
            s.namespace().as_deref() == Some(ns.as_str())
                && s.labels().get(SERVICE_NAME_LABEL) == Some(&name)
                && s.labels().get(SLICE_MANAGED_BY_LABEL).map(String::as_str) == Some(SLICE_MANAGER)
        })
        .collect();
    existing.sort_by_key(|s| s.name_any());
    let norm_ports = |p: &Option<Vec<SlicePort>>| p.clone().unwrap_or_default();
    let mut errors = Vec::new();
    for (ty, ports, endpoints) in desired_slices(svc, pods) {
        // Reuse a slice of the same address type and ports, preferring an identical one.
        let same_shape = |s: &EndpointSlice| s.address_type == ty && norm_ports(&s.ports) == ports;
        let pick = existing
            .iter()
            .position(|s| same_shape(s) && s.endpoints.clone().unwrap_or_default() == endpoints)
            .or_else(|| existing.iter().position(|s| same_shape(s)));
        match pick {
            Some(i) => {
                let current = existing.remove(i);
                let up_to_date = current.endpoints.clone().unwrap_or_default() == endpoints
                    && current.labels() == &labels
                    && current.owner_references() == [service_owner_ref(svc)];
                if up_to_date {
                    continue;
                }
                let mut next = current.as_ref().clone();
                next.endpoints = Some(endpoints);
                next.metadata.labels = Some(labels.clone());
                next.metadata.owner_references = Some(vec![service_owner_ref(svc)]);
                if let Err(e) = api
                    .replace(&current.name_any(), &PostParams::default(), &next)
                    .await
                {
                    errors.push(e.into());
                }
            }
            None => {
                let slice = EndpointSlice {
                    metadata: ObjectMeta {
                        generate_name: Some(format!("{name}-")),
                        namespace: Some(ns.clone()),
                        labels: Some(labels.clone()),
                        owner_references: Some(vec![service_owner_ref(svc)]),
                        ..Default::default()
                    },
                    address_type: ty,
                    endpoints: Some(endpoints),
                    ports: (!ports.is_empty()).then_some(ports),
                };
                if let Err(e) = api.create(&PostParams::default(), &slice).await {
                    errors.push(e.into());
                }
            }
        }
    }
    for stale in existing {
        match api
            .delete(&stale.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => errors.push(e.into()),
        }
    }
    Error::collect(errors)
}

async fn reconcile(svc: Arc<Service>, ctx: Arc<Context>) -> Result<Action, Error> {
    let Some(sel) = selector(&svc) else {
        return Ok(Action::await_change());
    };
    let ns = svc.namespace();
    let pods: Vec<Arc<Pod>> = ctx
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace() == ns && sel.iter().all(|(k, v)| p.labels().get(k) == Some(v)))
        .collect();
    let pods: Vec<&Pod> = pods.iter().map(AsRef::as_ref).collect();
    let a = sync_endpoints(&ctx, &svc, &pods).await;
    let b = sync_slices(&ctx, &svc, &pods).await;
    Error::collect([a, b].into_iter().filter_map(Result::err).collect())?;
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn svc(spec: Value) -> Service {
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "ns", "uid": "svc-uid", "labels": {"app": "web"}}, "spec": spec}))
            .unwrap()
    }

    fn pod(name: &str, ip: Option<&str>, ready: bool, terminating: bool) -> Pod {
        let mut meta = json!({"name": name, "namespace": "ns", "uid": format!("uid-{name}"), "labels": {"app": "web"}});
        if terminating {
            meta["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        }
        serde_json::from_value(json!({
            "metadata": meta,
            "spec": {"hostname": name, "subdomain": "web", "nodeName": "node1",
                     "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": ip,
                       "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
        }))
        .unwrap()
    }

    fn ips(addrs: &Option<Vec<EndpointAddress>>) -> Vec<String> {
        addrs.iter().flatten().map(|a| a.ip.clone()).collect()
    }

    #[test]
    fn ready_and_not_ready_addresses_with_named_ports_and_hostnames() {
        let s = svc(json!({"clusterIP": "None", "selector": {"app": "web"},
                           "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}));
        let pods = [
            pod("web-0", Some("10.0.0.1"), true, false),
            pod("web-1", Some("10.0.0.2"), false, false),
            pod("web-2", None, true, false),
            pod("web-3", Some("10.0.0.4"), true, true),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        let subsets = subsets(&s, &refs);
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(&subsets[0].addresses), vec!["10.0.0.1"]);
        assert_eq!(ips(&subsets[0].not_ready_addresses), vec!["10.0.0.2"]);
        let a = &subsets[0].addresses.as_ref().unwrap()[0];
        assert_eq!(a.hostname.as_deref(), Some("web-0"));
        assert_eq!(a.node_name.as_deref(), Some("node1"));
        assert_eq!(
            a.target_ref.as_ref().unwrap().name.as_deref(),
            Some("web-0")
        );
        let p = &subsets[0].ports.as_ref().unwrap()[0];
        assert_eq!(
            (p.name.as_deref(), p.port, p.protocol.as_deref()),
            (Some("http"), 8080, Some("TCP"))
        );
    }

    #[test]
    fn publish_not_ready_addresses_makes_every_pod_ready() {
        let s = svc(
            json!({"clusterIP": "None", "selector": {"app": "web"}, "publishNotReadyAddresses": true,
                           "ports": [{"port": 80}]}),
        );
        let pods = [
            pod("web-0", Some("10.0.0.1"), true, false),
            pod("web-1", Some("10.0.0.2"), false, false),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        let subsets = subsets(&s, &refs);
        assert_eq!(ips(&subsets[0].addresses), vec!["10.0.0.1", "10.0.0.2"]);
        assert!(subsets[0].not_ready_addresses.is_none());
        assert_eq!(subsets[0].ports.as_ref().unwrap()[0].port, 80);
    }

    #[test]
    fn headless_services_without_ports_still_list_addresses() {
        let s = svc(json!({"clusterIP": "None", "selector": {"app": "web"}}));
        let pods = [pod("web-0", Some("10.0.0.1"), true, false)];
        let subsets = subsets(&s, &[&pods[0]]);
        assert_eq!(ips(&subsets[0].addresses), vec!["10.0.0.1"]);
        assert!(subsets[0].ports.is_none());
        let clustered = svc(json!({"clusterIP": "10.1.0.1", "selector": {"app": "web"}}));
        assert!(super::subsets(&clustered, &[&pods[0]]).is_empty());
    }

    #[test]
    fn a_pod_without_the_named_port_is_left_out() {
        let s = svc(
            json!({"selector": {"app": "web"}, "ports": [{"name": "metrics", "port": 9090, "targetPort": "metrics"}]}),
        );
        let pods = [pod("web-0", Some("10.0.0.1"), true, false)];
        assert!(subsets(&s, &[&pods[0]]).is_empty());
    }

    #[test]
    fn slices_carry_conditions_including_terminating_pods() {
        let s = svc(
            json!({"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}),
        );
        let pods = [
            pod("web-0", Some("10.0.0.1"), true, false),
            pod("web-1", Some("10.0.0.2"), false, false),
            pod("web-2", Some("10.0.0.3"), true, true),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        let slices = desired_slices(&s, &refs);
        assert_eq!(slices.len(), 1);
        let (ty, ports, eps) = &slices[0];
        assert_eq!(ty, "IPv4");
        assert_eq!(ports[0].port, Some(8080));
        let cond: Vec<(bool, bool, bool)> = eps
            .iter()
            .map(|e| {
                let c = e.conditions.as_ref().unwrap();
                (c.ready.unwrap(), c.serving.unwrap(), c.terminating.unwrap())
            })
            .collect();
        assert_eq!(
            cond,
            vec![
                (true, true, false),
                (false, false, false),
                (false, true, true)
            ]
        );
        assert_eq!(eps[0].hostname.as_deref(), Some("web-0"));
        let none = desired_slices(&s, &[]);
        assert_eq!(none.len(), 1, "an empty placeholder slice");
        assert!(none[0].2.is_empty());
    }

    #[test]
    fn labels_mark_headless_services() {
        let l = labels_for(
            &svc(json!({"clusterIP": "None"})),
            &[(SERVICE_NAME_LABEL, "web")],
        );
        assert_eq!(l.get(HEADLESS_LABEL).map(String::as_str), Some(""));
        assert_eq!(l[SERVICE_NAME_LABEL], "web");
        assert_eq!(l["app"], "web");
    }
}
