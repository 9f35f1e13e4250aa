//! `GET /sd/prometheus`: Prometheus' HTTP service discovery, answered from the watch cache.
//!
//! One target group per Running pod and port, each pointing at the gateway itself with a
//! `__metrics_path__` through the pod proxy, so Prometheus scrapes every pod through
//! `pods/proxy` with its one token. The caller sees only the namespaces it may `list pods` in.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use http::{HeaderValue, Request, Response, StatusCode};
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;

use crate::auth::UserInfo;
use crate::auth::authz::{Attributes, Authorizer, forbidden};
use crate::cluster::ClusterView;
use crate::machinery::selectors::LabelSelector;
use crate::machinery::status::Status;
use crate::wire::body::{self, Body};
use crate::wire::synthetic;

use super::resolve::ordinal_of;
use super::server::TlsConnection;

/// The path the discovery document is served at.
pub const PATH: &str = "/sd/prometheus";

/// One target group of Prometheus' HTTP SD format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetGroup {
    /// `host:port` addresses to scrape.
    pub targets: Vec<String>,
    /// Labels of every target of the group.
    pub labels: BTreeMap<String, String>,
}

/// What a discovery request asks for.
#[derive(Debug, Clone, Default)]
pub struct SdQuery {
    /// `namespace` (repeatable); empty: every namespace allowed.
    pub namespaces: Vec<String>,
    /// `labelSelector`.
    pub selector: LabelSelector,
    /// `port`: a container port name or number; `None`: `metrics`, else every port.
    pub port: Option<String>,
    /// `path`, `/metrics` by default.
    pub path: String,
}

impl SdQuery {
    /// Parses the query string of a discovery request.
    pub fn parse(query: Option<&str>) -> Result<Self, Status> {
        let mut q = SdQuery {
            path: "/metrics".into(),
            ..SdQuery::default()
        };
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*k {
                "namespace" if !v.is_empty() => q.namespaces.push(v.into_owned()),
                "labelSelector" => q.selector = LabelSelector::parse(&v)?,
                "port" if !v.is_empty() => q.port = Some(v.into_owned()),
                "path" if !v.is_empty() => {
                    q.path = if v.starts_with('/') {
                        v.into_owned()
                    } else {
                        format!("/{v}")
                    }
                }
                _ => {}
            }
        }
        Ok(q)
    }
}

/// A label name as Prometheus sanitizes it: every character outside `[a-zA-Z0-9_]` becomes `_`.
pub fn sanitize_label_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The target groups of `pods` for `query` (namespaces already narrowed to those allowed, in
/// `namespaces`), each scraped at `address` over `scheme`. Pure: no I/O.
pub fn target_groups(
    pods: &[Arc<Pod>],
    query: &SdQuery,
    namespaces: &BTreeSet<String>,
    address: &str,
    scheme: &str,
) -> Vec<TargetGroup> {
    let mut out = Vec::new();
    let mut pods: Vec<&Arc<Pod>> = pods
        .iter()
        .filter(|p| {
            p.metadata
                .namespace
                .as_ref()
                .is_some_and(|ns| namespaces.contains(ns))
        })
        .filter(|p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                && p.metadata.deletion_timestamp.is_none()
        })
        .filter(|p| {
            let labels = p
                .metadata
                .labels
                .as_ref()
                .map(|l| serde_json::to_value(l).unwrap_or_default());
            query.selector.matches(labels.as_ref())
        })
        .collect();
    pods.sort_by(|a, b| {
        (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name))
    });
    for pod in pods {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        for (container, port) in ports_of(pod, query.port.as_deref()) {
            let mut labels = BTreeMap::new();
            if let Some(l) = &pod.metadata.labels {
                for (k, v) in l {
                    labels.insert(
                        format!("__meta_podgate_pod_label_{}", sanitize_label_name(k)),
                        v.clone(),
                    );
                }
            }
            labels.insert(
                "__metrics_path__".into(),
                format!(
                    "/api/v1/namespaces/{ns}/pods/{name}:{port}/proxy{}",
                    query.path
                ),
            );
            labels.insert("__scheme__".into(), scheme.into());
            labels.insert("namespace".into(), ns.clone());
            labels.insert("pod".into(), name.clone());
            labels.insert("container".into(), container);
            labels.insert("ready".into(), ready.to_string());
            if let Some((set, ordinal)) = ordinal_of(pod) {
                labels.insert("statefulset".into(), set);
                labels.insert("ordinal".into(), ordinal.to_string());
            }
            out.push(TargetGroup {
                targets: vec![address.to_string()],
                labels,
            });
        }
    }
    out
}

/// The (container, port) pairs of a pod to scrape: the port asked for (by name or number),
/// else the ports named `metrics`, else every declared port. A port given by name is kept as a
/// name in the proxy path.
fn ports_of(pod: &Pod, wanted: Option<&str>) -> Vec<(String, String)> {
    let declared: Vec<(String, Option<String>, i32)> = pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .flat_map(|c| {
            c.ports
                .iter()
                .flatten()
                .map(move |p| (c.name.clone(), p.name.clone(), p.container_port))
        })
        .collect();
    let label = |name: &Option<String>, number: i32| name.clone().unwrap_or(number.to_string());
    match wanted {
        Some(w) => declared
            .iter()
            .filter(|(_, n, p)| n.as_deref() == Some(w) || p.to_string() == w)
            .map(|(c, n, p)| {
                let port = if n.as_deref() == Some(w) {
                    w.to_string()
                } else {
                    p.to_string()
                };
                (c.clone(), port)
            })
            .take(1)
            .collect(),
        None => {
            let named: Vec<_> = declared
                .iter()
                .filter(|(_, n, _)| n.as_deref() == Some("metrics"))
                .map(|(c, _, _)| (c.clone(), "metrics".to_string()))
                .collect();
            if !named.is_empty() {
                return named;
            }
            declared
                .iter()
                .map(|(c, n, p)| (c.clone(), label(n, *p)))
                .collect()
        }
    }
}

/// Whether `user` may `list pods` in `namespace` (`""`: in every namespace).
async fn may_list(authz: &dyn Authorizer, user: &UserInfo, namespace: &str) -> bool {
    if authz.allows_everything(user) {
        return true;
    }
    authz.authorize(&list_pods(user, namespace)).await.allowed
}

/// The attributes of `list pods` in `namespace`.
fn list_pods(user: &UserInfo, namespace: &str) -> Attributes {
    Attributes {
        user: user.clone(),
        verb: "list".into(),
        is_resource_request: true,
        path: if namespace.is_empty() {
            "/api/v1/pods".into()
        } else {
            format!("/api/v1/namespaces/{namespace}/pods")
        },
        namespace: namespace.into(),
        api_group: String::new(),
        api_version: "v1".into(),
        resource: "pods".into(),
        subresource: String::new(),
        name: String::new(),
    }
}

/// Answers one discovery request from `cluster`, authorizing with `authz`.
pub async fn serve(
    req: Request<Body>,
    cluster: ClusterView,
    authz: Arc<dyn Authorizer>,
) -> Response<Body> {
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        return synthetic(Status::method_not_supported());
    }
    let query = match SdQuery::parse(req.uri().query()) {
        Ok(q) => q,
        Err(s) => return synthetic(s),
    };
    // No user: the stack authenticates no one (podgate proxy on loopback), and only an
    // authorizer that allows everything may answer.
    let user = req
        .extensions()
        .get::<UserInfo>()
        .cloned()
        .unwrap_or_default();
    if req.extensions().get::<UserInfo>().is_none() && !authz.allows_everything(&user) {
        return synthetic(Status::unauthorized());
    }
    cluster.ready().await;
    let pods = cluster.pods();
    let mut allowed = BTreeSet::new();
    if query.namespaces.is_empty() {
        let all = may_list(&*authz, &user, "").await;
        let present: BTreeSet<String> = pods
            .iter()
            .filter_map(|p| p.metadata.namespace.clone())
            .collect();
        for ns in present {
            if all || may_list(&*authz, &user, &ns).await {
                allowed.insert(ns);
            }
        }
        // Someone who may list pods nowhere gets the 403 of listing them cluster-wide, not an
        // empty answer that would look like a cluster without pods.
        if allowed.is_empty() && !all {
            return synthetic(forbidden(&list_pods(&user, ""), ""));
        }
    } else {
        for ns in &query.namespaces {
            if !may_list(&*authz, &user, ns).await {
                return synthetic(forbidden(&list_pods(&user, ns), ""));
            }
            allowed.insert(ns.clone());
        }
    }
    let address = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("localhost")
        .to_string();
    let scheme = if req.extensions().get::<TlsConnection>().is_some() {
        "https"
    } else {
        "http"
    };
    let groups = target_groups(&pods, &query, &allowed, &address, scheme);
    let json = serde_json::to_vec(&groups).unwrap_or_else(|_| b"[]".to_vec());
    let mut resp = body::text_response(StatusCode::OK, json);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(ns: &str, name: &str, phase: &str, ports: &[(&str, Option<&str>, i32)]) -> Arc<Pod> {
        let mut containers: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
        for (c, n, p) in ports {
            let mut port = serde_json::json!({"containerPort": p});
            if let Some(n) = n {
                port["name"] = (*n).into();
            }
            containers.entry(c).or_default().push(port);
        }
        let containers: Vec<_> = containers
            .into_iter()
            .map(|(c, ports)| serde_json::json!({"name": c, "ports": ports}))
            .collect();
        let set = name.rsplit_once('-').map(|(s, _)| s).unwrap_or(name);
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {
                    "namespace": ns, "name": name,
                    "labels": {"app.kubernetes.io/name": "kubia", "tier": "web"},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                        "name": set, "uid": "u", "controller": true}]
                },
                "spec": {"containers": containers},
                "status": {"phase": phase,
                    "conditions": [{"type": "Ready", "status": if phase == "Running" { "True" } else { "False" }}]}
            }))
            .unwrap(),
        )
    }

    fn groups(pods: &[Arc<Pod>], query: &str, namespaces: &[&str]) -> Vec<TargetGroup> {
        let q = SdQuery::parse(Some(query)).unwrap();
        let ns = namespaces.iter().map(|s| s.to_string()).collect();
        target_groups(pods, &q, &ns, "gw:8001", "https")
    }

    /// (pod label, ns, pod, port label, path) of each group.
    fn paths(g: &[TargetGroup]) -> Vec<String> {
        g.iter()
            .map(|g| g.labels["__metrics_path__"].clone())
            .collect()
    }

    #[test]
    fn labels_of_a_statefulset_pod() {
        let pods = [pod(
            "default",
            "web-1",
            "Running",
            &[("app", Some("metrics"), 9100)],
        )];
        let g = groups(&pods, "", &["default"]);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].targets, vec!["gw:8001"]);
        let l = &g[0].labels;
        let want = [
            (
                "__metrics_path__",
                "/api/v1/namespaces/default/pods/web-1:metrics/proxy/metrics",
            ),
            ("__scheme__", "https"),
            ("namespace", "default"),
            ("pod", "web-1"),
            ("container", "app"),
            ("statefulset", "web"),
            ("ordinal", "1"),
            ("ready", "true"),
            ("__meta_podgate_pod_label_app_kubernetes_io_name", "kubia"),
            ("__meta_podgate_pod_label_tier", "web"),
        ];
        for (k, v) in want {
            assert_eq!(l.get(k).map(String::as_str), Some(v), "{k}");
        }
        assert_eq!(l.len(), want.len());
    }

    #[test]
    fn ports_by_default_name_and_number() {
        let both = [pod(
            "default",
            "web-0",
            "Running",
            &[
                ("app", Some("http"), 8080),
                ("app", Some("metrics"), 9100),
                ("side", None, 9200),
            ],
        )];
        let plain = [pod(
            "default",
            "web-0",
            "Running",
            &[("app", Some("http"), 8080), ("side", None, 9200)],
        )];
        let base = "/api/v1/namespaces/default/pods";
        for (pods, query, want) in [
            // `metrics` wins when declared.
            (&both, "", vec!["web-0:metrics/proxy/metrics"]),
            // Else every declared port, named or by number.
            (
                &plain,
                "",
                vec!["web-0:http/proxy/metrics", "web-0:9200/proxy/metrics"],
            ),
            // By name.
            (&both, "port=http", vec!["web-0:http/proxy/metrics"]),
            // By number: the number is kept.
            (&both, "port=9100", vec!["web-0:9100/proxy/metrics"]),
            (&both, "port=9200", vec!["web-0:9200/proxy/metrics"]),
            // Not declared: no target.
            (&both, "port=1234", vec![]),
            // Paths, with or without the leading slash.
            (
                &both,
                "path=/stats/prometheus",
                vec!["web-0:metrics/proxy/stats/prometheus"],
            ),
            (&both, "port=http&path=x", vec!["web-0:http/proxy/x"]),
        ] {
            let want: Vec<String> = want.iter().map(|w| format!("{base}/{w}")).collect();
            assert_eq!(paths(&groups(pods, query, &["default"])), want, "{query}");
        }
        let g = groups(&plain, "", &["default"]);
        assert_eq!(g[1].labels["container"], "side");
    }

    #[test]
    fn namespaces_phase_and_selector_narrow_the_pods() {
        let pods = [
            pod("a", "web-0", "Running", &[("app", Some("metrics"), 9100)]),
            pod("a", "web-1", "Pending", &[("app", Some("metrics"), 9100)]),
            pod("b", "db-0", "Running", &[("app", Some("metrics"), 9100)]),
            pod("c", "x-0", "Running", &[("app", Some("metrics"), 9100)]),
        ];
        let pods_of = |g: Vec<TargetGroup>| -> Vec<String> {
            g.iter()
                .map(|g| format!("{}/{}", g.labels["namespace"], g.labels["pod"]))
                .collect()
        };
        assert_eq!(
            pods_of(groups(&pods, "", &["a", "b"])),
            ["a/web-0", "b/db-0"]
        );
        assert_eq!(pods_of(groups(&pods, "", &["c"])), ["c/x-0"]);
        assert_eq!(
            pods_of(groups(&pods, "labelSelector=tier%3Dweb", &["a"])),
            ["a/web-0"]
        );
        assert!(groups(&pods, "labelSelector=tier%3Ddb", &["a", "b", "c"]).is_empty());
    }

    #[test]
    fn query_parsing() {
        let q = SdQuery::parse(Some("namespace=a&namespace=b&port=metrics")).unwrap();
        assert_eq!(q.namespaces, ["a", "b"]);
        assert_eq!(q.port.as_deref(), Some("metrics"));
        assert_eq!(q.path, "/metrics");
        assert!(SdQuery::parse(Some("labelSelector=a%20in%20(b")).is_err());
    }

    #[test]
    fn label_names_are_sanitized_as_prometheus_does() {
        assert_eq!(
            sanitize_label_name("app.kubernetes.io/name"),
            "app_kubernetes_io_name"
        );
        assert_eq!(
            sanitize_label_name("statefulset.kubernetes.io/pod-name"),
            "statefulset_kubernetes_io_pod_name"
        );
    }
}
