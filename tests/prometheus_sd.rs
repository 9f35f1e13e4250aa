//! Issue 15, must-show 2, through a real `podgate up`: `GET /sd/prometheus` answers a
//! ServiceAccount token with the pods of the namespaces it may `list pods` in, and 403 for a
//! namespace it may not list or for a token that may list pods nowhere.

#[path = "common/auth.rs"]
mod auth;
#[path = "common/backend.rs"]
mod backend;
mod common;

use auth::{apply, get, sa_token};
use common::{Podgate, wait_for};
use serde_json::Value;

const SETUP: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: Namespace
metadata: {name: dev}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: prom, namespace: prod}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: nolist, namespace: prod}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: scraper, namespace: prod}
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
- apiGroups: [""]
  resources: ["pods/proxy"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: proxy-only, namespace: prod}
rules:
- apiGroups: [""]
  resources: ["pods/proxy"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: prom-scraper, namespace: prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: scraper}
subjects:
- {kind: ServiceAccount, name: prom, namespace: prod}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: nolist-proxy, namespace: prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: proxy-only}
subjects:
- {kind: ServiceAccount, name: nolist, namespace: prod}
"#;

/// `namespace/pod` of every target group in an SD answer.
fn pods_of(doc: &Value) -> Vec<String> {
    doc.as_array()
        .expect("a list of target groups")
        .iter()
        .map(|g| {
            format!(
                "{}/{}",
                g["labels"]["namespace"].as_str().unwrap(),
                g["labels"]["pod"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn discovery_shows_only_the_namespaces_the_caller_may_list() {
    let dir = tempfile::tempdir().unwrap();
    let pg = Podgate::start(&[]);
    apply(&pg, dir.path(), "setup.yaml", SETUP);
    let prod = backend::start("127.1.15.10");
    let dev = backend::start("127.1.15.11");
    auth::fake_pod(&pg, dir.path(), "prod", "web-0", prod);
    auth::fake_pod(&pg, dir.path(), "dev", "web-0", dev);
    let admin = pg.token();

    // The admin sees both pods once the watch cache has them.
    let all = wait_for("both pods discovered", || {
        let r = get(&pg, "/sd/prometheus", Some(&admin));
        (r.code == 200 && pods_of(&r.json()).len() == 2).then_some(r.json())
    });
    assert_eq!(pods_of(&all), ["dev/web-0", "prod/web-0"]);
    let g = &all[1];
    assert_eq!(
        g["targets"],
        serde_json::json!([format!("127.0.0.1:{}", pg.port)])
    );
    assert_eq!(g["labels"]["__scheme__"], "https");
    assert_eq!(
        g["labels"]["__metrics_path__"],
        "/api/v1/namespaces/prod/pods/web-0:http/proxy/metrics"
    );
    assert_eq!(g["labels"]["container"], "c");
    assert_eq!(g["labels"]["ready"], "true");

    // A token limited to prod gets prod's pods only, with or without naming it.
    let prom = sa_token(&pg, "prod", "prom");
    let r = get(&pg, "/sd/prometheus", Some(&prom));
    assert_eq!(r.code, 200, "{}", r.body);
    assert_eq!(pods_of(&r.json()), ["prod/web-0"]);
    let r = get(
        &pg,
        "/sd/prometheus?namespace=prod&path=/stats",
        Some(&prom),
    );
    assert_eq!(r.code, 200, "{}", r.body);
    assert_eq!(pods_of(&r.json()), ["prod/web-0"]);
    assert_eq!(
        r.json()[0]["labels"]["__metrics_path__"],
        "/api/v1/namespaces/prod/pods/web-0:http/proxy/stats"
    );
    // Naming a namespace it may not list is kube-apiserver's 403.
    let r = get(
        &pg,
        "/sd/prometheus?namespace=prod&namespace=dev",
        Some(&prom),
    );
    assert_eq!(r.code, 403, "{}", r.body);
    assert_eq!(r.json()["kind"], "Status");
    assert_eq!(
        r.message(),
        "pods is forbidden: User \"system:serviceaccount:prod:prom\" cannot list resource \"pods\" in API group \"\" in the namespace \"dev\""
    );

    // A token without `list pods` anywhere: 403, whether it names a namespace or not.
    let nolist = sa_token(&pg, "prod", "nolist");
    let r = get(&pg, "/sd/prometheus?namespace=prod", Some(&nolist));
    assert_eq!(r.code, 403, "{}", r.body);
    let r = get(&pg, "/sd/prometheus", Some(&nolist));
    assert_eq!(r.code, 403, "{}", r.body);
    assert_eq!(
        r.message(),
        "pods is forbidden: User \"system:serviceaccount:prod:nolist\" cannot list resource \"pods\" in API group \"\" at the cluster scope"
    );
    // No token at all: 401.
    assert_eq!(get(&pg, "/sd/prometheus", None).code, 401);
    auth::assert_not_logged(&pg.log(), &prom, "the ServiceAccount token");
}
