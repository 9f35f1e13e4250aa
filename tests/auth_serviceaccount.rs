//! Issue 6, must-show 2, through a real `podgate up`: a ServiceAccount token from the
//! TokenRequest API, bound to a Role that allows only `get pods/proxy` in one namespace,
//! reaches `…/pods/web-0/proxy/metrics` there and nothing else; after expiry it is refused, and
//! so is every token of a deleted ServiceAccount. TokenReview reports what the gateway decided.

#[path = "common/auth.rs"]
mod auth;
#[path = "common/backend.rs"]
mod backend;
mod common;

use std::time::{Duration, Instant};

use auth::{apply, get, https, review, sa_token, token_request, wait_for_code};
use common::Podgate;
use podgate::auth::serviceaccount::{DEFAULT_ISSUER, Issuer, KEY_FILE, SigningKey, TokenSpec};

const SETUP: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: prom, namespace: prod}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: proxy-reader, namespace: prod}
rules:
- apiGroups: [""]
  resources: ["pods/proxy"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: prom-proxy-reader, namespace: prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: proxy-reader}
subjects:
- {kind: ServiceAccount, name: prom, namespace: prod}
"#;

const METRICS: &str = "/api/v1/namespaces/prod/pods/web-0/proxy/metrics";

fn setup() -> (Podgate, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let pg = Podgate::start(&[]);
    apply(&pg, dir.path(), "setup.yaml", SETUP);
    let prod = backend::start("127.1.6.10");
    let default = backend::start("127.1.6.11");
    auth::fake_pod(&pg, dir.path(), "prod", "web-0", prod);
    auth::fake_pod(&pg, dir.path(), "default", "web-0", default);
    (pg, dir)
}

#[test]
fn a_scoped_token_reaches_its_pod_metrics_and_nothing_else() {
    let (pg, _dir) = setup();
    let admin = pg.token();

    let issued = token_request(&pg, "prod", "prom", "{}");
    assert_eq!(issued.code, 201, "{}", issued.body);
    let tr = issued.json();
    assert_eq!(tr["kind"], "TokenRequest");
    assert_eq!(tr["apiVersion"], "authentication.k8s.io/v1");
    assert_eq!(tr["spec"]["audiences"], serde_json::json!([DEFAULT_ISSUER]));
    assert_eq!(tr["spec"]["expirationSeconds"], 3600);
    let expires: jiff::Timestamp = tr["status"]["expirationTimestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let left = expires.as_second() - jiff::Timestamp::now().as_second();
    assert!((3590..=3600).contains(&left), "expires in {left}s");
    let token = tr["status"]["token"].as_str().unwrap().to_string();
    assert_eq!(token.split('.').count(), 3, "a JWT");

    let ok = wait_for_code(&pg, METRICS, &token, 200);
    assert_eq!(ok.json()["uri"], "/metrics");
    assert_eq!(
        get(
            &pg,
            "/api/v1/namespaces/prod/pods/web-0/proxy/",
            Some(&token)
        )
        .code,
        200
    );

    let sa = "system:serviceaccount:prod:prom";
    for (method, path, message) in [
        (
            "GET",
            "/api/v1/namespaces/default/pods/web-0/proxy/metrics",
            format!(
                "pods \"web-0\" is forbidden: User \"{sa}\" cannot get resource \"pods/proxy\" in API group \"\" in the namespace \"default\""
            ),
        ),
        (
            "POST",
            METRICS,
            format!(
                "pods \"web-0\" is forbidden: User \"{sa}\" cannot create resource \"pods/proxy\" in API group \"\" in the namespace \"prod\""
            ),
        ),
        (
            "GET",
            "/api/v1/namespaces/prod/pods/web-0",
            format!(
                "pods \"web-0\" is forbidden: User \"{sa}\" cannot get resource \"pods\" in API group \"\" in the namespace \"prod\""
            ),
        ),
        (
            "GET",
            "/api/v1/namespaces/prod/pods",
            format!(
                "pods is forbidden: User \"{sa}\" cannot list resource \"pods\" in API group \"\" in the namespace \"prod\""
            ),
        ),
        (
            "GET",
            "/api/v1/namespaces/prod/services/web/proxy/",
            format!(
                "services \"web\" is forbidden: User \"{sa}\" cannot get resource \"services/proxy\" in API group \"\" in the namespace \"prod\""
            ),
        ),
        (
            "POST",
            "/api/v1/namespaces/prod/serviceaccounts/prom/token",
            format!(
                "serviceaccounts \"prom\" is forbidden: User \"{sa}\" cannot create resource \"serviceaccounts/token\" in API group \"\" in the namespace \"prod\""
            ),
        ),
        (
            "GET",
            "/metrics",
            format!("forbidden: User \"{sa}\" cannot get path \"/metrics\""),
        ),
    ] {
        let r = https(&pg, method, path, Some(&token), &[], None, &[]);
        assert_eq!(r.code, 403, "{method} {path}: {}", r.body);
        assert_eq!(r.message(), message);
    }

    // TokenReview (as the admin) says who the token is.
    let tr = review(
        &pg,
        "/apis/authentication.k8s.io/v1/tokenreviews",
        &admin,
        &[],
        &format!(
            r#"{{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{{"token":"{token}"}}}}"#
        ),
    );
    assert_eq!(tr.code, 201, "{}", tr.body);
    let status = &tr.json()["status"];
    assert_eq!(status["authenticated"], true);
    assert_eq!(status["user"]["username"], sa);
    assert_eq!(
        status["user"]["groups"],
        serde_json::json!([
            "system:serviceaccounts",
            "system:serviceaccounts:prod",
            "system:authenticated"
        ])
    );
    assert!(
        !tr.body.contains(&token),
        "the review does not echo the token"
    );

    // Deleting the ServiceAccount revokes its tokens at once.
    pg.kubectl_ok(&["delete", "serviceaccount", "prom", "-n", "prod"]);
    let gone = wait_for_code(&pg, METRICS, &token, 401);
    assert_eq!(gone.message(), "Unauthorized");
    auth::assert_not_logged(&pg.log(), &token, "the ServiceAccount token");
}

#[test]
fn tokens_expire_and_audiences_scope_them() {
    let (pg, _dir) = setup();
    let admin = pg.token();

    // Kubernetes' lower bound on expirationSeconds.
    let short = token_request(&pg, "prod", "prom", r#"{"expirationSeconds":599}"#);
    assert_eq!(short.code, 422, "{}", short.body);
    assert_eq!(
        short.message(),
        "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"
    );
    let missing = token_request(&pg, "prod", "nobody", "{}");
    assert_eq!(missing.code, 404);
    assert_eq!(missing.message(), "serviceaccounts \"nobody\" not found");

    // A token for another audience is not one the API accepts, though TokenReview confirms it
    // for that audience (how a Prometheus-side proxy would check it).
    let aud = token_request(&pg, "prod", "prom", r#"{"audiences":["prometheus"]}"#);
    assert_eq!(aud.code, 201, "{}", aud.body);
    let aud_token = aud.json()["status"]["token"].as_str().unwrap().to_string();
    let normal = sa_token(&pg, "prod", "prom");
    wait_for_code(&pg, METRICS, &normal, 200);
    assert_eq!(get(&pg, METRICS, Some(&aud_token)).code, 401);
    let body = |t: &str, auds: &str| {
        format!(
            r#"{{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{{"token":"{t}","audiences":{auds}}}}}"#
        )
    };
    let r = review(
        &pg,
        "/apis/authentication.k8s.io/v1/tokenreviews",
        &admin,
        &[],
        &body(&aud_token, r#"["prometheus"]"#),
    );
    assert_eq!(r.json()["status"]["authenticated"], true, "{}", r.body);
    assert_eq!(
        r.json()["status"]["audiences"],
        serde_json::json!(["prometheus"])
    );
    let r = review(
        &pg,
        "/apis/authentication.k8s.io/v1/tokenreviews",
        &admin,
        &[],
        &body(&normal, r#"["prometheus"]"#),
    );
    assert!(
        r.json()["status"].get("authenticated").is_none(),
        "{}",
        r.body
    );

    // Expiry. TokenRequest's minimum is 10 minutes, so this token comes from the same signing
    // key with a 3-second life: it works, then it does not.
    let key_path = pg.state_dir.join(KEY_FILE);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777,
        0o600,
        "the signing key is private"
    );
    let uid = pg.kubectl_ok(&[
        "get",
        "sa",
        "prom",
        "-n",
        "prod",
        "-o",
        "jsonpath={.metadata.uid}",
    ]);
    let issuer = Issuer::new(
        SigningKey::load_or_create(&key_path).unwrap(),
        DEFAULT_ISSUER,
        vec![DEFAULT_ISSUER.into()],
    );
    let now = jiff::Timestamp::now().as_second();
    let (brief, exp) = issuer.issue(
        &TokenSpec {
            namespace: "prod".into(),
            name: "prom".into(),
            uid: uid.trim().to_string(),
            audiences: vec![DEFAULT_ISSUER.into()],
            expiration_seconds: 3,
            bound: None,
        },
        now,
    );
    let start = Instant::now();
    assert_eq!(
        get(&pg, METRICS, Some(&brief)).code,
        200,
        "valid before expiry"
    );
    let refused = wait_for_code(&pg, METRICS, &brief, 401);
    assert_eq!(refused.message(), "Unauthorized");
    assert!(
        jiff::Timestamp::now().as_second() >= exp,
        "refused only once expired"
    );
    assert!(start.elapsed() < Duration::from_secs(30));
    let r = review(
        &pg,
        "/apis/authentication.k8s.io/v1/tokenreviews",
        &admin,
        &[],
        &body(&brief, "[]"),
    );
    assert_eq!(
        r.json()["status"]["error"],
        "service account token has expired"
    );
    // The hour-long token still works: only the expired one stopped.
    assert_eq!(get(&pg, METRICS, Some(&normal)).code, 200);

    // A token signed by another key (another podgate's) is refused, though well-formed.
    let other = Issuer::new(
        SigningKey::load_or_create(&tempfile::tempdir().unwrap().path().join("k")).unwrap(),
        DEFAULT_ISSUER,
        vec![],
    );
    let (forged, _) = other.issue(
        &TokenSpec {
            namespace: "prod".into(),
            name: "prom".into(),
            uid: uid.trim().to_string(),
            audiences: vec![DEFAULT_ISSUER.into()],
            expiration_seconds: 600,
            bound: None,
        },
        jiff::Timestamp::now().as_second(),
    );
    assert_eq!(get(&pg, METRICS, Some(&forged)).code, 401);
}

#[test]
fn pod_bound_tokens_die_with_their_pod() {
    let (pg, dir) = setup();
    let admin = pg.token();
    let be = backend::start("127.1.6.12");
    auth::fake_pod_as(&pg, dir.path(), "prod", "bound-0", be, "prom");

    // web-0 runs as `default`: a token of prom cannot be bound to it.
    let r = token_request(
        &pg,
        "prod",
        "prom",
        r#"{"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"web-0"}}"#,
    );
    assert_eq!(r.code, 400, "{}", r.body);
    assert_eq!(
        r.message(),
        "cannot bind token for serviceaccount \"prom\" to pod running with different serviceaccount name."
    );

    let r = token_request(
        &pg,
        "prod",
        "prom",
        r#"{"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"bound-0"}}"#,
    );
    assert_eq!(r.code, 201, "{}", r.body);
    assert_eq!(r.json()["spec"]["boundObjectRef"]["name"], "bound-0");
    let token = r.json()["status"]["token"].as_str().unwrap().to_string();
    wait_for_code(&pg, METRICS, &token, 200);
    let tr = review(
        &pg,
        "/apis/authentication.k8s.io/v1/tokenreviews",
        &admin,
        &[],
        &format!(
            r#"{{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{{"token":"{token}"}}}}"#
        ),
    );
    let extra = &tr.json()["status"]["user"]["extra"];
    assert_eq!(
        extra["authentication.kubernetes.io/pod-name"],
        serde_json::json!(["bound-0"])
    );

    pg.kubectl_ok(&[
        "delete",
        "pod",
        "bound-0",
        "-n",
        "prod",
        "--grace-period=0",
        "--force",
    ]);
    wait_for_code(&pg, METRICS, &token, 401);
}

#[test]
fn kubectl_create_token_issues_a_working_token() {
    let (pg, _dir) = setup();
    let token = pg.kubectl_ok(&["create", "token", "prom", "-n", "prod", "--duration=15m"]);
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "{token}");
    wait_for_code(&pg, METRICS, token, 200);
    assert_eq!(
        get(
            &pg,
            "/api/v1/namespaces/default/pods/web-0/proxy/metrics",
            Some(token)
        )
        .code,
        403
    );
    let out = pg.kubectl(&["create", "token", "prom", "-n", "prod", "--duration=5m"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes"),
        "{stderr}"
    );
    auth::assert_not_logged(&pg.log(), token, "the ServiceAccount token");
}
