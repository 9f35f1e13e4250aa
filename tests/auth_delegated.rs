//! Issue 6, must-show 5: `podgate proxy --delegated-auth` in front of `podgate up` accepts and
//! refuses the same tokens as `up` does — its TokenReviews and SubjectAccessReviews are answered
//! by up's authenticator and RBAC, so both say 401, 403 (with the same message) or 200.

#[path = "common/auth.rs"]
mod auth;
#[path = "common/backend.rs"]
mod backend;
mod common;
#[path = "common/proxy.rs"]
mod proxy;

use auth::{apply, https, wait_for_code};
use common::{Podgate, manifest};
use proxy::ProxyProcess;

const PROM: &str = "prom-delegated-3a9c";
const NOBODY: &str = "nobody-delegated-77e1";

const RBAC: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: scraper, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: web-1-metrics, namespace: default}
rules:
- apiGroups: [""]
  resources: ["pods/proxy"]
  resourceNames: ["web-1"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: web-1-metrics, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: web-1-metrics}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: prom}
- {kind: ServiceAccount, name: scraper}
"#;

#[test]
fn delegated_proxy_accepts_and_refuses_what_up_does() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = manifest(
        dir.path(),
        "tokens.csv",
        &format!("{PROM},prom,prom-uid\n{NOBODY},nobody,nobody-uid\n"),
    );
    let pg = Podgate::start(&["--token-auth-file", tokens.to_str().unwrap()]);
    let web0 = backend::start("127.1.6.20");
    let web1 = backend::start("127.1.6.21");
    proxy::fake_pod(&pg, dir.path(), "web-0", web0, "app: web");
    proxy::fake_pod(&pg, dir.path(), "web-1", web1, "app: web");
    apply(&pg, dir.path(), "rbac.yaml", RBAC);
    let sa = auth::sa_token(&pg, "default", "scraper");
    wait_for_code(
        &pg,
        "/api/v1/namespaces/default/pods/web-1/proxy/",
        PROM,
        200,
    );
    wait_for_code(
        &pg,
        "/api/v1/namespaces/default/pods/web-1/proxy/",
        &sa,
        200,
    );

    let px = ProxyProcess::start(
        &pg,
        &[
            "--delegated-auth",
            "--mode",
            "direct",
            "--pod-network",
            "loopback",
        ],
    );
    let host = format!("127.0.0.1:{}", px.port());

    let tokens: [(&str, Option<&str>); 5] = [
        ("none", None),
        ("wrong", Some("not-a-token")),
        ("prom", Some(PROM)),
        ("nobody", Some(NOBODY)),
        ("serviceaccount", Some(&sa)),
    ];
    let requests = [
        ("GET", "/api/v1/namespaces/default/pods/web-1/proxy/metrics"),
        ("GET", "/api/v1/namespaces/default/pods/web-0/proxy/metrics"),
        (
            "POST",
            "/api/v1/namespaces/default/pods/web-1/proxy/metrics",
        ),
        ("GET", "/api/v1/namespaces/default/pods"),
        ("GET", "/api/v1/namespaces/default/secrets"),
    ];
    let mut compared = 0;
    for (who, token) in tokens {
        for (method, path) in requests {
            let at_up = https(&pg, method, path, token, &[], None, &[]);
            let bearer = token.map(|t| format!("Bearer {t}"));
            let mut headers = Vec::new();
            if let Some(b) = &bearer {
                headers.push(("Authorization", b.as_str()));
            }
            let (code, _, body) = px.request(method, path, &host, &headers);
            assert_eq!(
                code, at_up.code,
                "{who} {method} {path}: proxy said {body}, up said {}",
                at_up.body
            );
            if code == 403 {
                let px_msg: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert_eq!(
                    px_msg["message"],
                    at_up.json()["message"],
                    "{who} {method} {path}"
                );
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 25);
}

/// Issue 15: Prometheus discovery through a delegated `podgate proxy` lists only the pods of
/// the namespaces the caller may `list pods` in (the cluster decides, per namespace), and
/// refuses a caller who may list them nowhere, though the proxy's own credentials see all.
#[test]
fn delegated_proxy_discovery_answers_only_what_the_caller_may_list() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = manifest(
        dir.path(),
        "tokens.csv",
        &format!("{PROM},prom,prom-uid\n{NOBODY},nobody,nobody-uid\n"),
    );
    let pg = Podgate::start(&["--token-auth-file", tokens.to_str().unwrap()]);
    pg.kubectl_ok(&["create", "namespace", "other"]);
    let web0 = backend::start("127.1.6.30");
    let web1 = backend::start("127.1.6.31");
    let elsewhere = backend::start("127.1.6.32");
    auth::fake_pod(&pg, dir.path(), "default", "web-0", web0);
    auth::fake_pod(&pg, dir.path(), "default", "web-1", web1);
    auth::fake_pod(&pg, dir.path(), "other", "db-0", elsewhere);
    apply(&pg, dir.path(), "rbac.yaml", RBAC);
    wait_for_code(&pg, "/api/v1/namespaces/default/pods", PROM, 200);

    let px = ProxyProcess::start(
        &pg,
        &[
            "--delegated-auth",
            "--mode",
            "direct",
            "--pod-network",
            "loopback",
        ],
    );
    let host = format!("127.0.0.1:{}", px.port());
    let sd = |path: &str, token: Option<&str>| {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = bearer
            .iter()
            .map(|b| ("Authorization", b.as_str()))
            .collect();
        px.request("GET", path, &host, &headers)
    };

    // The proxy's watch cache holds all three pods; prom sees the two it may list.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let pods = loop {
        let (code, _, body) = sd("/sd/prometheus", Some(PROM));
        assert_eq!(code, 200, "{body}");
        let groups: serde_json::Value = serde_json::from_str(&body).unwrap();
        let mut pods: Vec<String> = groups
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                format!(
                    "{}/{}",
                    g["labels"]["namespace"].as_str().unwrap(),
                    g["labels"]["pod"].as_str().unwrap()
                )
            })
            .collect();
        pods.sort();
        if pods.len() >= 2 || std::time::Instant::now() > deadline {
            break pods;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(pods, ["default/web-0", "default/web-1"]);
    // The same question answered for the proxy's own identity would include other/db-0: the
    // admin token (the proxy's kubeconfig) may list everywhere.
    let admin = pg.token();
    let (code, _, body) = sd("/sd/prometheus", Some(&admin));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"db-0\""), "{body}");

    let (code, _, body) = sd("/sd/prometheus?namespace=other", Some(PROM));
    assert_eq!(code, 403, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        status["message"],
        "pods is forbidden: User \"prom\" cannot list resource \"pods\" in API group \"\" in the namespace \"other\""
    );
    let (code, _, body) = sd("/sd/prometheus", Some(NOBODY));
    assert_eq!(code, 403, "{body}");
    let (code, _, body) = sd("/sd/prometheus", None);
    assert_eq!(code, 401, "{body}");
}
