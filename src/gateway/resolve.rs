//! Resolution: which address a proxy target means, from the cluster view only (no API calls),
//! with the API server's rules and texts, plus podgate's stable-ordinal routing.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use k8s_openapi::api::core::v1::Pod;
use parking_lot::Mutex;

use super::target::{ProxyTarget, Scheme};
use crate::cluster::ClusterView;
use crate::machinery::status::Status;

/// Which pod addresses the gateway may dial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressPolicy {
    /// `podgate up`: pods are local processes on 127.0.0.0/8 addresses (never 127.0.0.1, the
    /// gateway's own); nothing else is dialed.
    Loopback,
    /// A real cluster: global unicast addresses only, as kube-apiserver requires.
    Cluster,
}

impl AddressPolicy {
    /// Whether `ip` may be dialed.
    pub fn allows(self, ip: IpAddr) -> bool {
        // `::ffff:127.0.0.1` is 127.0.0.1 on the wire: judge the IPv4 address it carries.
        let ip = ip.to_canonical();
        match self {
            AddressPolicy::Loopback => match ip {
                IpAddr::V4(v4) => v4.is_loopback() && v4.octets() != [127, 0, 0, 1],
                IpAddr::V6(_) => false,
            },
            AddressPolicy::Cluster => {
                !(ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || is_link_local(ip))
            }
        }
    }
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local() || v4.is_broadcast(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// Where a request goes.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// http or https.
    pub scheme: Scheme,
    /// The address to dial.
    pub addr: SocketAddr,
    /// The pod behind the address, if known.
    pub pod: Option<String>,
    /// The StatefulSet and ordinal of that pod, if it belongs to one.
    pub ordinal: Option<(String, i64)>,
}

/// Why a target could not be resolved (yet).
#[derive(Debug)]
pub struct Unresolved {
    /// The error to answer with.
    pub status: Status,
    /// Whether waiting could help (the identity is being re-created, not ready, has no IP…).
    pub transient: bool,
}

impl From<Status> for Unresolved {
    fn from(status: Status) -> Self {
        Self {
            status,
            transient: false,
        }
    }
}

fn transient(status: Status) -> Unresolved {
    Unresolved {
        status,
        transient: true,
    }
}

/// How many endpoints the load map holds before it forgets idle ones.
const LOAD_MAP_SWEEP: usize = 1024;

/// Counts requests in flight per endpoint, for least-loaded choice.
#[derive(Default)]
pub struct Load(Mutex<HashMap<SocketAddr, Arc<AtomicUsize>>>);

/// Holds one unit of load on an endpoint until dropped.
pub struct LoadGuard(Arc<AtomicUsize>);

impl Drop for LoadGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Load {
    fn counter(&self, addr: SocketAddr) -> Arc<AtomicUsize> {
        let mut map = self.0.lock();
        // Endpoints come and go with pods: once the map holds many, forget those no request is
        // using (no guard holds their counter), so it stays as large as the endpoints in use.
        if map.len() >= LOAD_MAP_SWEEP && !map.contains_key(&addr) {
            map.retain(|_, c| Arc::strong_count(c) > 1);
        }
        map.entry(addr).or_default().clone()
    }

    fn current(&self, addr: SocketAddr) -> usize {
        self.0
            .lock()
            .get(&addr)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Takes one unit of load on `addr`.
    pub fn acquire(&self, addr: SocketAddr) -> LoadGuard {
        let c = self.counter(addr);
        c.fetch_add(1, Ordering::Relaxed);
        LoadGuard(c)
    }
}

/// Resolves targets against the cluster view.
pub struct Resolver {
    /// The cluster view.
    pub cluster: ClusterView,
    /// Which addresses may be dialed.
    pub policy: AddressPolicy,
    /// In-flight requests per endpoint.
    pub load: Load,
}

/// The address a pod target dials: `status.podIPs[0]` (or `status.podIP` when the list is
/// missing), as kube-apiserver takes it.
fn pod_ip(pod: &Pod) -> Option<IpAddr> {
    let status = pod.status.as_ref()?;
    status
        .pod_ips
        .as_ref()
        .and_then(|ips| ips.first())
        .map(|p| p.ip.as_str())
        .or(status.pod_ip.as_deref())
        .and_then(|s| s.parse().ok())
}

/// Whether a pod's phase says its process is gone (its address may already be another pod's).
fn pod_terminated(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// Whether `ip` is one of the pod's own addresses (`status.podIPs`, or `status.podIP`) and the
/// pod still holds it (it has not terminated): the test an endpoint address must pass before
/// the gateway dials it, so that whoever may write Endpoints or EndpointSlices cannot send the
/// gateway to an address no pod has (the API server, the node agent, DNS, other host services).
pub(crate) fn pod_holds(pod: &Pod, ip: IpAddr) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    let ip = ip.to_canonical();
    let is_ip = |s: &str| s.parse::<IpAddr>().is_ok_and(|p| p.to_canonical() == ip);
    !pod_terminated(pod)
        && (status.pod_ips.iter().flatten().any(|p| is_ip(&p.ip))
            || status.pod_ip.as_deref().is_some_and(is_ip))
}

/// Whether a pod is Running, Ready and not terminating.
pub fn pod_serving(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    pod.metadata.deletion_timestamp.is_none()
        && status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The StatefulSet that controls a pod and the pod's ordinal, from its owner and name.
pub fn ordinal_of(pod: &Pod) -> Option<(String, i64)> {
    let owner = pod
        .metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true) && o.kind == "StatefulSet")?;
    let name = pod.metadata.name.as_deref()?;
    let ordinal = name
        .strip_prefix(&format!("{}-", owner.name))?
        .parse()
        .ok()?;
    Some((owner.name.clone(), ordinal))
}

impl Resolver {
    /// Resolves a pod target. With `require_serving`, a pod that is not Running and Ready (or
    /// is terminating) is a transient failure, for requests that wait for their ordinal.
    pub fn pod(&self, t: &ProxyTarget, require_serving: bool) -> Result<Upstream, Unresolved> {
        let Some(pod) = self.cluster.pod(&t.namespace, &t.name) else {
            return Err(transient(Status::not_found("pods", "", &t.name)));
        };
        if require_serving && !pod_serving(&pod) {
            return Err(transient(Status::unavailable(format!(
                "pod \"{}\" is not ready",
                t.name
            ))));
        }
        let Some(ip) = pod_ip(&pod) else {
            return Err(transient(Status::bad_request("address not allowed")));
        };
        if !self.policy.allows(ip) {
            return Err(Status::bad_request("address not allowed").into());
        }
        // A terminated pod's process is gone and its address goes back to the pool: dialing it
        // could reach another pod (of any namespace). Kubernetes dials it anyway; the answer is
        // the same 503 as its failed dial, and a replacement pod (a StatefulSet's) is worth a wait.
        if pod_terminated(&pod) {
            return Err(transient(Status::unavailable(format!(
                "error trying to reach service: pod \"{}\" has terminated",
                t.name
            ))));
        }
        let port = self.pod_port(&pod, t)?;
        Ok(Upstream {
            scheme: t.scheme,
            addr: SocketAddr::new(ip, port),
            pod: Some(t.name.clone()),
            ordinal: ordinal_of(&pod),
        })
    }

    /// The port for a pod target: the given number, a named container port (a podgate
    /// extension; Kubernetes passes names through and fails at dial time), the first declared
    /// container port, or the scheme's default.
    fn pod_port(&self, pod: &Pod, t: &ProxyTarget) -> Result<u16, Unresolved> {
        let ports = || {
            pod.spec
                .iter()
                .flat_map(|s| s.containers.iter())
                .flat_map(|c| c.ports.iter().flatten())
        };
        if t.port.is_empty() {
            return Ok(ports()
                .next()
                .map_or(t.scheme.default_port(), |p| p.container_port as u16));
        }
        if let Ok(n) = t.port.parse::<u16>() {
            return Ok(n);
        }
        ports()
            .find(|p| p.name.as_deref() == Some(t.port.as_str()))
            .map(|p| p.container_port as u16)
            .ok_or_else(|| {
                Status::unavailable(format!(
                    "error trying to reach service: no container port named \"{}\" in pod \"{}\"",
                    t.port, t.name
                ))
                .into()
            })
    }

    /// The ready endpoints of a service for the target's port, as (address, pod name).
    pub fn service_endpoints(
        &self,
        t: &ProxyTarget,
    ) -> Result<Vec<(SocketAddr, Option<String>)>, Unresolved> {
        let Some(svc) = self.cluster.service(&t.namespace, &t.name) else {
            return Err(transient(Status::not_found("services", "", &t.name)));
        };
        let port_name = match t.port.parse::<i32>() {
            Ok(n) => {
                let ports = svc.spec.as_ref().and_then(|s| s.ports.as_ref());
                match ports.and_then(|ps| ps.iter().find(|p| p.port == n)) {
                    Some(p) => p.name.clone().unwrap_or_default(),
                    None => {
                        return Err(Status::unavailable(format!(
                            "no service port {n} found for service \"{}\"",
                            t.name
                        ))
                        .into());
                    }
                }
            }
            Err(_) => t.port.clone(),
        };
        let mut out = Vec::new();
        let mut pods = self.cluster.pods_in(&t.namespace);
        for slice in self.cluster.slices_of(&t.namespace, &t.name) {
            let Some(port) = slice
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref().unwrap_or("") == port_name && p.port.is_some())
                .and_then(|p| p.port)
            else {
                continue;
            };
            for ep in slice.endpoints.iter().flatten() {
                if ep.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
                    continue;
                }
                let Some(ip) = ep.addresses.first().and_then(|a| a.parse::<IpAddr>().ok()) else {
                    continue;
                };
                if !self.policy.allows(ip) {
                    continue;
                }
                // Only an address of the pod the endpoint names, in the service's namespace:
                // Endpoints and EndpointSlices are written by users too, pods' addresses only
                // by the node that runs them.
                let Some(pod) = ep.target_ref.as_ref().filter(|r| {
                    r.kind.as_deref() == Some("Pod")
                        && r.namespace.as_deref().is_none_or(|ns| ns == t.namespace)
                }) else {
                    continue;
                };
                let Some(name) = pod.name.as_deref() else {
                    continue;
                };
                if !pods.get(name).is_some_and(|p| pod_holds(&p, ip)) {
                    continue;
                }
                out.push((SocketAddr::new(ip, port as u16), Some(name.to_string())));
            }
        }
        if out.is_empty() {
            return Err(transient(Status::unavailable(format!(
                "no endpoints available for service \"{}\"",
                t.name
            ))));
        }
        Ok(out)
    }

    /// Picks the less loaded of two random endpoints (power of two choices), skipping `avoid`.
    pub fn pick(
        &self,
        endpoints: &[(SocketAddr, Option<String>)],
        avoid: Option<SocketAddr>,
    ) -> Option<usize> {
        let candidates: Vec<usize> = (0..endpoints.len())
            .filter(|i| Some(endpoints[*i].0) != avoid)
            .collect();
        match candidates.len() {
            0 => None,
            1 => Some(candidates[0]),
            n => {
                use rand::Rng;
                let mut rng = rand::rng();
                let a = candidates[rng.random_range(0..n)];
                let mut b = candidates[rng.random_range(0..n - 1)];
                if b == a {
                    b = candidates[n - 1];
                }
                Some(
                    if self.load.current(endpoints[b].0) < self.load.current(endpoints[a].0) {
                        b
                    } else {
                        a
                    },
                )
            }
        }
    }

    /// The endpoint of the StatefulSet ordinal that `key` maps to (jump consistent hash over the
    /// set's replicas), for a service whose endpoints are that set's pods.
    pub fn shard(
        &self,
        t: &ProxyTarget,
        key: &str,
        endpoints: &[(SocketAddr, Option<String>)],
    ) -> Result<Upstream, Unresolved> {
        let set = self.set_behind(t).ok_or_else(|| {
            Unresolved::from(Status::bad_request(format!(
                "service \"{}\" does not select the pods of a StatefulSet; X-Podgate-Shard-Key needs one",
                t.name
            )))
        })?;
        let spec = &set.spec;
        let replicas = spec.replicas.unwrap_or(1).max(0);
        if replicas == 0 {
            return Err(transient(Status::unavailable(format!(
                "statefulset \"{}\" has no replicas",
                set.metadata.name.as_deref().unwrap_or("")
            ))));
        }
        let start = spec.ordinals.as_ref().and_then(|o| o.start).unwrap_or(0) as i64;
        let ordinal = start + jump_hash(hash_key(key), replicas) as i64;
        let set_name = set.metadata.name.clone().unwrap_or_default();
        let pod_name = format!("{set_name}-{ordinal}");
        match endpoints
            .iter()
            .find(|(_, p)| p.as_deref() == Some(pod_name.as_str()))
        {
            Some((addr, _)) => Ok(Upstream {
                scheme: t.scheme,
                addr: *addr,
                pod: Some(pod_name),
                ordinal: Some((set_name, ordinal)),
            }),
            None => Err(transient(Status::unavailable(format!(
                "ordinal {pod_name} of statefulset \"{set_name}\" is not ready"
            )))),
        }
    }

    /// The StatefulSet whose pods a service's endpoints are.
    fn set_behind(&self, t: &ProxyTarget) -> Option<Arc<k8s_openapi::api::apps::v1::StatefulSet>> {
        let svc = self.cluster.service(&t.namespace, &t.name)?;
        let selector = svc.spec.as_ref()?.selector.as_ref()?;
        let pod = self.cluster.pods().into_iter().find(|p| {
            p.metadata.namespace.as_deref() == Some(t.namespace.as_str())
                && selector
                    .iter()
                    .all(|(k, v)| p.metadata.labels.as_ref().and_then(|l| l.get(k)) == Some(v))
                && ordinal_of(p).is_some()
        })?;
        let (set, _) = ordinal_of(&pod)?;
        self.cluster.statefulset(&t.namespace, &set)
    }
}

/// A stable 64-bit hash of a shard key (FNV-1a), the same in every podgate process.
pub fn hash_key(key: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in key.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Jump consistent hash (Lamping and Veach): a bucket in `0..buckets` such that growing the
/// bucket count moves only the keys that must move.
pub fn jump_hash(mut key: u64, buckets: i32) -> i32 {
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < buckets as i64 {
        b = j;
        key = key.wrapping_mul(2862933555777941757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_load_map_forgets_idle_endpoints() {
        let load = Load::default();
        let busy: SocketAddr = "127.1.0.1:80".parse().unwrap();
        let held = load.acquire(busy);
        for i in 0..10_000u32 {
            let addr = SocketAddr::from(([127, 2, (i >> 8) as u8, i as u8], 80));
            drop(load.acquire(addr));
        }
        assert!(
            load.0.lock().len() <= LOAD_MAP_SWEEP + 1,
            "{}",
            load.0.lock().len()
        );
        assert_eq!(load.current(busy), 1, "an endpoint in use keeps its count");
        drop(held);
        assert_eq!(load.current(busy), 0);
    }

    fn pod_with(status: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-0", "namespace": "default"},
            "status": status
        }))
        .unwrap()
    }

    #[test]
    fn an_endpoint_address_counts_only_when_the_pod_holds_it() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let running = pod_with(serde_json::json!({
            "phase": "Running",
            "podIP": "127.1.0.5",
            "podIPs": [{"ip": "127.1.0.5"}, {"ip": "fd00::5"}]
        }));
        assert!(pod_holds(&running, ip("127.1.0.5")));
        assert!(pod_holds(&running, ip("fd00::5")), "any of podIPs");
        assert!(
            pod_holds(&running, ip("::ffff:127.1.0.5")),
            "the mapped form is the same address"
        );
        assert!(!pod_holds(&running, ip("127.1.0.6")), "another address");
        assert!(!pod_holds(&running, ip("127.0.0.1")));
        let only_pod_ip = pod_with(serde_json::json!({"phase": "Running", "podIP": "127.1.0.7"}));
        assert!(pod_holds(&only_pod_ip, ip("127.1.0.7")));
        assert!(
            !pod_holds(&pod_with(serde_json::json!({})), ip("127.1.0.5")),
            "no IP yet"
        );
        for phase in ["Succeeded", "Failed"] {
            let done = pod_with(serde_json::json!({
                "phase": phase, "podIP": "127.1.0.5", "podIPs": [{"ip": "127.1.0.5"}]
            }));
            assert!(
                !pod_holds(&done, ip("127.1.0.5")),
                "a {phase} pod's address may be another pod's by now"
            );
            assert!(pod_terminated(&done));
        }
        assert_eq!(pod_ip(&running), Some(ip("127.1.0.5")), "podIPs[0]");
        assert_eq!(pod_ip(&only_pod_ip), Some(ip("127.1.0.7")));
    }

    #[test]
    fn address_policies() {
        let loopback = AddressPolicy::Loopback;
        assert!(loopback.allows("127.1.0.5".parse().unwrap()));
        assert!(
            !loopback.allows("127.0.0.1".parse().unwrap()),
            "never the gateway's own address"
        );
        assert!(!loopback.allows("10.0.0.1".parse().unwrap()));
        assert!(!loopback.allows("::1".parse().unwrap()));
        let cluster = AddressPolicy::Cluster;
        assert!(cluster.allows("10.0.0.1".parse().unwrap()));
        for bad in [
            "127.0.0.1",
            "0.0.0.0",
            "169.254.1.1",
            "224.0.0.1",
            "fe80::1",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!cluster.allows(bad.parse().unwrap()), "{bad}");
        }
        // IPv4-mapped addresses are judged as the IPv4 address they carry.
        assert!(!loopback.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!loopback.allows("::ffff:169.254.169.254".parse().unwrap()));
        assert!(cluster.allows("::ffff:10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn jump_hash_is_consistent_and_moves_few_keys() {
        let keys: Vec<u64> = (0..10_000)
            .map(|i| hash_key(&format!("user-{i}")))
            .collect();
        let before: Vec<i32> = keys.iter().map(|k| jump_hash(*k, 3)).collect();
        let after: Vec<i32> = keys.iter().map(|k| jump_hash(*k, 4)).collect();
        assert!(before.iter().all(|b| (0..3).contains(b)));
        let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        // Ideal is 1/4 of the keys; every moved key goes to the new bucket.
        assert!(moved < 3_000, "moved {moved}");
        assert!(before.iter().zip(&after).all(|(a, b)| a == b || *b == 3));
        let counts = (0..4)
            .map(|b| after.iter().filter(|x| **x == b).count())
            .collect::<Vec<_>>();
        assert!(counts.iter().all(|c| *c > 2_000), "{counts:?}");
        assert_eq!(
            jump_hash(hash_key("same"), 5),
            jump_hash(hash_key("same"), 5)
        );
    }
}
