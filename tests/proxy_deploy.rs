//! deploy/kubernetes: the kustomization builds, every object is accepted by
//! `kubectl apply --dry-run=server` against `podgate up` (the Deployment, a kind `podgate up`
//! does not serve, is checked against the Kubernetes schema by a strict round trip through
//! k8s-openapi), the Deployment's arguments are valid `podgate` flags, and the ClusterRole grants
//! exactly what the code calls (recorded from the code itself against a fake API).

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::{Arc, Mutex};

use common::Podgate;
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/kubernetes");

/// `kubectl kustomize deploy/kubernetes`, as documents.
fn built() -> Vec<Value> {
    let out = Command::new("kubectl")
        .args(["kustomize", DIR])
        .output()
        .expect("run kubectl kustomize");
    assert!(
        out.status.success(),
        "kustomize: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).expect("YAML"))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// Parses `doc` as `K` and back; any field the schema does not know, or a wrong type, fails.
fn strict<K: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value) {
    let typed: K = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("{} does not parse: {e}", doc["kind"]));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        &back, doc,
        "{} has fields the schema does not know",
        doc["kind"]
    );
}

#[test]
fn manifests_are_accepted_and_well_formed() {
    let docs = built();
    let kinds: BTreeSet<String> = docs
        .iter()
        .map(|d| d["kind"].as_str().unwrap().to_string())
        .collect();
    for k in [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
        "ConfigMap",
    ] {
        assert!(kinds.contains(k), "missing {k}: {kinds:?}");
    }

    // The schema, for every object.
    use k8s_openapi::api::{apps, core, rbac};
    for doc in &docs {
        match doc["kind"].as_str().unwrap() {
            "Namespace" => strict::<core::v1::Namespace>(doc),
            "ServiceAccount" => strict::<core::v1::ServiceAccount>(doc),
            "ClusterRole" => strict::<rbac::v1::ClusterRole>(doc),
            "ClusterRoleBinding" => strict::<rbac::v1::ClusterRoleBinding>(doc),
            "Deployment" => strict::<apps::v1::Deployment>(doc),
            "Service" => strict::<core::v1::Service>(doc),
            "ConfigMap" => strict::<core::v1::ConfigMap>(doc),
            other => panic!("unexpected kind {other}"),
        }
    }

    // The server, for every kind podgate up serves: the namespace first, then (once it
    // exists) everything in it.
    let pg = Podgate::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let write = |i: usize, doc: &Value| {
        let p = dir.path().join(format!("{i}.json"));
        std::fs::write(&p, doc.to_string()).unwrap();
        p
    };
    let ns = find(&docs, "Namespace", "podgate-system");
    let ns_file = write(0, ns);
    pg.kubectl_ok(&["apply", "--dry-run=server", "-f", ns_file.to_str().unwrap()]);
    pg.kubectl_ok(&["apply", "-f", ns_file.to_str().unwrap()]);
    for (i, doc) in docs.iter().enumerate() {
        if doc["kind"] == "Deployment" || doc["kind"] == "Namespace" {
            continue;
        }
        let f = write(i + 1, doc);
        let out = pg.kubectl_ok(&["apply", "--dry-run=server", "-f", f.to_str().unwrap()]);
        assert!(out.contains("(server dry run)"), "{out}");
    }
    // Dry runs leave nothing behind.
    let sa = pg.kubectl(&["get", "serviceaccount", "podgate", "-n", "podgate-system"]);
    assert!(
        !sa.status.success(),
        "a dry run created the service account"
    );

    // The Deployment hangs together: selector, service account, probes, limits, flags.
    let deploy = find(&docs, "Deployment", "podgate");
    let spec = &deploy["spec"]["template"]["spec"];
    assert_eq!(spec["serviceAccountName"], "podgate");
    let labels = &deploy["spec"]["template"]["metadata"]["labels"];
    for (k, v) in deploy["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap()
    {
        assert_eq!(&labels[k], v, "the selector matches the pods");
    }
    let c = &spec["containers"][0];
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(c[probe]["httpGet"]["port"], "admin", "{probe}");
    }
    for r in ["cpu", "memory"] {
        assert!(c["resources"]["limits"][r].is_string(), "limit {r}");
        assert!(c["resources"]["requests"][r].is_string(), "request {r}");
    }
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    use clap::Parser;
    let cli = podgate::cli::Cli::try_parse_from(std::iter::once("podgate").chain(args.clone()))
        .unwrap_or_else(|e| panic!("the Deployment's args are not podgate flags: {e}"));
    let podgate::cli::Command::Proxy(p) = cli.command else {
        panic!("not `podgate proxy`")
    };
    assert!(p.delegated_auth, "in-cluster clients are authenticated");
    assert_eq!(p.mode, podgate::cli::ProxyMode::Direct);
    let admin = p.admin_address.expect("--admin-address").port();
    let ports: Vec<&Value> = c["ports"].as_array().unwrap().iter().collect();
    let port_of = |name: &str| {
        ports
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["containerPort"].as_u64().unwrap())
    };
    assert_eq!(port_of("admin"), Some(admin as u64));
    assert_eq!(port_of("proxy"), Some(p.port as u64));
    let svc = find(&docs, "Service", "podgate");
    for (k, v) in svc["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&labels[k], v, "the Service selects the pods");
    }
    for sp in svc["spec"]["ports"].as_array().unwrap() {
        assert!(
            port_of(sp["targetPort"].as_str().unwrap()).is_some(),
            "{sp}"
        );
    }
}

/// (API group, resource, verb) triples.
type Grants = BTreeSet<(String, String, String)>;

fn cluster_role_grants(role: &Value) -> Grants {
    let mut out = Grants::new();
    for rule in role["rules"].as_array().unwrap() {
        for g in rule["apiGroups"].as_array().unwrap() {
            for r in rule["resources"].as_array().unwrap() {
                for v in rule["verbs"].as_array().unwrap() {
                    out.insert((
                        g.as_str().unwrap().into(),
                        r.as_str().unwrap().into(),
                        v.as_str().unwrap().into(),
                    ));
                }
            }
        }
    }
    out
}

/// A fake API that records every request and answers lists with empty lists, watches with an
/// empty stream, and reviews with "yes".
/// Every request the code made: method, path, query.
type Calls = Arc<Mutex<Vec<(http::Method, String, Option<String>)>>>;

fn recording_api(seen: Calls) -> kube::Client {
    let svc = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let seen = seen.clone();
        async move {
            let (method, path, query) = (
                req.method().clone(),
                req.uri().path().to_string(),
                req.uri().query().map(String::from),
            );
            seen.lock()
                .unwrap()
                .push((method, path.clone(), query.clone()));
            let watch = query.as_deref().is_some_and(|q| q.contains("watch=true"));
            let body = if path.ends_with("/tokenreviews") {
                r#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{},"status":{"authenticated":true,"user":{"username":"u"}}}"#.to_string()
            } else if path.ends_with("/subjectaccessreviews") {
                r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{},"status":{"allowed":true}}"#.to_string()
            } else if watch {
                String::new()
            } else {
                r#"{"metadata":{"resourceVersion":"1"},"items":[]}"#.to_string()
            };
            Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
                bytes::Bytes::from(body),
            )))
        }
    });
    kube::Client::new(svc, "default")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_role_grants_exactly_what_the_code_calls() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let client = recording_api(seen.clone());
    // What `podgate proxy --mode direct --delegated-auth` does with its own credentials: the
    // watch caches, and one authentication and authorization of a client.
    let view = podgate::cluster::ClusterView::start(client.clone());
    tokio::time::timeout(common::DEADLINE, view.ready())
        .await
        .expect("the cluster view fills");
    let delegated = podgate::auth::delegated::Delegated::new(client, vec![]);
    let user = delegated.authenticate("t").await.unwrap().expect("user");
    let attrs = podgate::auth::attributes::Attributes::of(
        &http::Method::GET,
        "/api/v1/namespaces/default/pods/web-0/proxy/metrics",
        None,
    );
    delegated.authorize(&user, &attrs).await.unwrap();
    // Let every watch start too: four resources (an empty watch ends at once and is
    // restarted, so count resources, not watch calls).
    common::wait_for("the watches", || {
        let watched: std::collections::BTreeSet<String> = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, _, q)| q.as_deref().is_some_and(|q| q.contains("watch=true")))
            .map(|(_, path, _)| path.clone())
            .collect();
        (watched.len() >= 4).then_some(())
    });

    let mut called = Grants::new();
    for (method, path, query) in seen.lock().unwrap().iter() {
        match podgate::auth::attributes::Attributes::of(method, path, query.as_deref()) {
            podgate::auth::attributes::Attributes::Resource {
                verb,
                group,
                resource,
                subresource,
                ..
            } => {
                let resource = if subresource.is_empty() {
                    resource
                } else {
                    format!("{resource}/{subresource}")
                };
                called.insert((group, resource, verb));
            }
            other => panic!("a non-resource call: {other:?}"),
        }
    }
    let docs = built();
    let granted = cluster_role_grants(find(&docs, "ClusterRole", "podgate"));
    assert_eq!(
        granted, called,
        "the ClusterRole must grant exactly what the code calls"
    );
}
