//! Issue 6, must-show 1 and 6, through a real `podgate up` over HTTPS: no token or a wrong one
//! is 401, a valid token without permission is 403 with Kubernetes' message, a permitted one is
//! 200 — on API paths and on pod/service proxy paths alike — and the pod behind the proxy never
//! sees a credential the client sent (static token, ServiceAccount token, client certificate,
//! impersonation headers).

#[path = "common/auth.rs"]
mod auth;
#[path = "common/backend.rs"]
mod backend;
mod common;
#[path = "common/proxy.rs"]
mod proxy;

use auth::{apply, get, https, wait_for_code};
use common::{Podgate, manifest};

const PROM: &str = "prom-7f3c2a9e41d8b6";
const NOBODY: &str = "nobody-0b1c5e7d92aa";

const RBAC: &str = r#"
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
  verbs: ["get", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: prom-web-1, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: web-1-metrics}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: prom}
"#;

fn start(dir: &std::path::Path) -> Podgate {
    let tokens = manifest(
        dir,
        "tokens.csv",
        &format!("{PROM},prom,prom-uid\n{NOBODY},nobody,nobody-uid,\"viewers\"\n"),
    );
    Podgate::start(&["--token-auth-file", tokens.to_str().unwrap()])
}

#[test]
fn tokens_and_rbac_decide_api_and_proxy_requests() {
    let dir = tempfile::tempdir().unwrap();
    let pg = start(dir.path());
    let admin = pg.token();
    let web0 = backend::start("127.1.6.1");
    let web1 = backend::start("127.1.6.2");
    proxy::fake_pod(&pg, dir.path(), "web-0", web0, "app: web");
    proxy::fake_pod(&pg, dir.path(), "web-1", web1, "app: web");
    apply(&pg, dir.path(), "rbac.yaml", RBAC);

    // Permitted: 200 once the RBAC and pod caches have the new objects.
    let ok = wait_for_code(
        &pg,
        "/api/v1/namespaces/default/pods/web-1/proxy/metrics?x=1",
        PROM,
        200,
    );
    assert_eq!(ok.json()["uri"], "/metrics?x=1", "the pod answered");

    let web0_denied = "pods \"web-0\" is forbidden: User \"prom\" cannot get resource \"pods/proxy\" in API group \"\" in the namespace \"default\"";
    // (token, method, path, code, message)
    let cases: Vec<(Option<&str>, &str, &str, u16, &str)> = vec![
        // API paths.
        (
            None,
            "GET",
            "/api/v1/namespaces/default/pods",
            401,
            "Unauthorized",
        ),
        (
            Some("wrong"),
            "GET",
            "/api/v1/namespaces/default/pods",
            401,
            "Unauthorized",
        ),
        (
            Some(PROM),
            "GET",
            "/api/v1/namespaces/default/pods",
            200,
            "",
        ),
        (
            Some(PROM),
            "GET",
            "/api/v1/namespaces/default/pods/web-0",
            200,
            "",
        ),
        (
            Some(PROM),
            "GET",
            "/api/v1/namespaces/default/secrets",
            403,
            "secrets is forbidden: User \"prom\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\"",
        ),
        (
            Some(PROM),
            "DELETE",
            "/api/v1/namespaces/default/pods/web-0",
            403,
            "pods \"web-0\" is forbidden: User \"prom\" cannot delete resource \"pods\" in API group \"\" in the namespace \"default\"",
        ),
        (
            Some(PROM),
            "GET",
            "/apis/apps/v1/statefulsets",
            403,
            "statefulsets.apps is forbidden: User \"prom\" cannot list resource \"statefulsets\" in API group \"apps\" at the cluster scope",
        ),
        (
            Some(NOBODY),
            "GET",
            "/api/v1/namespaces/default/pods",
            403,
            "pods is forbidden: User \"nobody\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"",
        ),
        // Discovery is every authenticated user's (system:discovery); /metrics is not.
        (Some(NOBODY), "GET", "/apis", 200, ""),
        (Some(NOBODY), "GET", "/version", 200, ""),
        (
            Some(NOBODY),
            "GET",
            "/metrics",
            403,
            "forbidden: User \"nobody\" cannot get path \"/metrics\"",
        ),
        (
            Some(&admin),
            "GET",
            "/api/v1/namespaces/default/secrets",
            200,
            "",
        ),
        // Proxy paths: the verb is the method's, the name the raw segment.
        (
            None,
            "GET",
            "/api/v1/namespaces/default/pods/web-1/proxy/metrics",
            401,
            "Unauthorized",
        ),
        (
            Some("wrong"),
            "GET",
            "/api/v1/namespaces/default/pods/web-1/proxy/metrics",
            401,
            "Unauthorized",
        ),
        (
            Some(PROM),
            "GET",
            "/api/v1/namespaces/default/pods/web-1/proxy/metrics",
            200,
            "",
        ),
        (
            Some(PROM),
            "GET",
            "/api/v1/namespaces/default/pods/web-0/proxy/metrics",
            403,
            web0_denied,
        ),
        (
            Some(PROM),
            "POST",
            "/api/v1/namespaces/default/pods/web-1/proxy/metrics",
            403,
            "pods \"web-1\" is forbidden: User \"prom\" cannot create resource \"pods/proxy\" in API group \"\" in the namespace \"default\"",
        ),
        (
            Some(PROM),
            "GET",
            "/api/v1/namespaces/default/pods/http:web-1:8080/proxy/",
            403,
            "pods \"http:web-1:8080\" is forbidden: User \"prom\" cannot get resource \"pods/proxy\" in API group \"\" in the namespace \"default\"",
        ),
        (
            Some(PROM),
            "GET",
            "/api/v1/namespaces/default/services/web/proxy/",
            403,
            "services \"web\" is forbidden: User \"prom\" cannot get resource \"services/proxy\" in API group \"\" in the namespace \"default\"",
        ),
        (
            Some(NOBODY),
            "GET",
            "/api/v1/namespaces/default/pods/web-1/proxy/metrics",
            403,
            "pods \"web-1\" is forbidden: User \"nobody\" cannot get resource \"pods/proxy\" in API group \"\" in the namespace \"default\"",
        ),
        (
            Some(&admin),
            "POST",
            "/api/v1/namespaces/default/pods/web-0/proxy/metrics",
            200,
            "",
        ),
    ];
    for (token, method, path, code, message) in cases {
        let r = https(&pg, method, path, token, &[], None, &[]);
        assert_eq!(r.code, code, "{method} {path} as {token:?}: {}", r.body);
        if !message.is_empty() {
            let s = r.json();
            assert_eq!(s["message"], message, "{method} {path}");
            assert_eq!(s["code"], code);
            assert_eq!(s["kind"], "Status");
        }
    }

    // The 403 names the object, as kube-apiserver's does.
    let r = get(
        &pg,
        "/api/v1/namespaces/default/pods/web-0/proxy/metrics",
        Some(PROM),
    );
    assert_eq!(r.json()["reason"], "Forbidden");
    assert_eq!(
        r.json()["details"],
        serde_json::json!({"name": "web-0", "kind": "pods"})
    );

    // A missing and a wrong token get the same answer, naming neither.
    let none = get(&pg, "/api/v1/namespaces/default/pods", None);
    let wrong = get(&pg, "/api/v1/namespaces/default/pods", Some("s3cret-guess"));
    assert_eq!(none.body, wrong.body);
    assert!(!wrong.body.contains("s3cret-guess"));

    // The same answers over plain HTTP on the same port (curl, kubectl proxy users).
    let (code, body) = common::http_request(
        pg.port,
        "GET",
        "/api/v1/namespaces/default/pods/web-0/proxy/metrics",
        &[("Authorization", &format!("Bearer {PROM}"))],
        b"",
    )
    .unwrap();
    assert_eq!(code, 403);
    assert!(
        body.contains("cannot get resource \\\"pods/proxy\\\""),
        "{body}"
    );

    // Health probes need no token.
    assert_eq!(common::http_get(pg.port, "/readyz").unwrap().0, 200);

    // Tokens never reach the log.
    let log = pg.log();
    for t in [PROM, NOBODY, admin.as_str(), "s3cret-guess"] {
        auth::assert_not_logged(&log, t, "a bearer token");
    }
}

const ECHO_RBAC: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: scraper, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: web-0-proxy, namespace: default}
rules:
- apiGroups: [""]
  resources: ["pods/proxy"]
  resourceNames: ["web-0"]
  verbs: ["get", "create"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: web-0-proxy, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: web-0-proxy}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: prom}
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: carol}
- {kind: ServiceAccount, name: scraper}
"#;

/// Headers no pod may receive: credentials and identities the client sent.
const CREDENTIAL_HEADERS: [&str; 8] = [
    "authorization",
    "proxy-authorization",
    "impersonate-user",
    "impersonate-group",
    "impersonate-uid",
    "impersonate-extra-scopes",
    "x-remote-user",
    "x-remote-group",
];

#[test]
fn backends_never_see_client_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let pg = start(dir.path());
    let admin = pg.token();
    let web0 = backend::start("127.1.6.3");
    proxy::fake_pod(&pg, dir.path(), "web-0", web0, "app: web");
    apply(&pg, dir.path(), "rbac.yaml", ECHO_RBAC);
    let path = "/api/v1/namespaces/default/pods/web-0/proxy/echo";
    wait_for_code(&pg, path, PROM, 200);
    let sa = auth::sa_token(&pg, "default", "scraper");
    let (cert, key) = auth::client_cert(&pg, dir.path(), "carol", None);
    let forged = [
        ("Proxy-Authorization", "Basic cHJveHk6cHc="),
        ("X-Remote-User", "root"),
        ("X-Remote-Group", "system:masters"),
    ];

    let mut seen = Vec::new();
    // A static token, a ServiceAccount token, a client certificate, each with forged
    // identity headers; and the admin impersonating prom.
    for (who, token, extra) in [
        ("static token", Some(PROM), vec![]),
        ("serviceaccount token", Some(sa.as_str()), vec![]),
        (
            "client certificate",
            None,
            vec![
                "--cert".to_string(),
                cert.display().to_string(),
                "--key".to_string(),
                key.display().to_string(),
            ],
        ),
    ] {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        for method in ["GET", "POST"] {
            let r = common::wait_for(&format!("{who} {method} to pass"), || {
                let r = https(&pg, method, path, token, &forged, None, &extra);
                (r.code == 200).then_some(r)
            });
            seen.push((format!("{who} {method}"), r.json()));
        }
    }
    let r = https(
        &pg,
        "GET",
        path,
        Some(&admin),
        &[
            ("Impersonate-User", "prom"),
            ("Impersonate-Group", "viewers"),
            ("Impersonate-Uid", "1234"),
            ("Impersonate-Extra-Scopes", "all"),
        ],
        None,
        &[],
    );
    assert_eq!(r.code, 200, "{}", r.body);
    seen.push(("impersonation".into(), r.json()));

    for (who, echo) in &seen {
        let headers = echo["headers"].as_object().expect("echoed headers");
        for h in CREDENTIAL_HEADERS {
            assert!(
                !headers.contains_key(h),
                "{who}: the pod received {h}: {:?}",
                headers.get(h)
            );
        }
        for (name, values) in headers {
            let text = values.to_string();
            for secret in [PROM, sa.as_str(), admin.as_str()] {
                assert!(!text.contains(secret), "{who}: {name} carries a token");
            }
        }
        assert_eq!(echo["uri"], "/echo", "{who}");
    }

    // The impersonated request was judged as prom: web-0 allowed, anything else not.
    let r = https(
        &pg,
        "GET",
        "/api/v1/namespaces/default/pods",
        Some(&admin),
        &[("Impersonate-User", "prom")],
        None,
        &[],
    );
    assert_eq!(r.code, 403);
    assert_eq!(
        r.message(),
        "pods is forbidden: User \"prom\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
    );
}
