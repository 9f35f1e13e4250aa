//! Issue 6, must-show 3, through a real `podgate up`: `kubectl auth can-i get pods/proxy
//! --as=…` answers as RBAC says. kubectl sends a SelfSubjectAccessReview with
//! `Impersonate-User`/`Impersonate-Group`; the same requests are made here with the real
//! kubectl and, byte for byte what it asks, as JSON.

#[path = "common/auth.rs"]
mod auth;
mod common;

use auth::{apply, https, review};
use common::{Podgate, manifest, wait_for};

const PROM: &str = "prom-can-i-5d1e8f";

const RBAC: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: scraper, namespace: prod}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: proxy-reader, namespace: default}
rules:
- apiGroups: [""]
  resources: ["pods/proxy"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: prom-proxy-reader, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: proxy-reader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: prom}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: scraper-proxy-reader, namespace: prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects:
- {kind: ServiceAccount, name: scraper}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: viewers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: viewers}
"#;

fn start() -> (Podgate, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let tokens = manifest(dir.path(), "tokens.csv", &format!("{PROM},prom,prom-uid\n"));
    let pg = Podgate::start(&["--token-auth-file", tokens.to_str().unwrap()]);
    apply(&pg, dir.path(), "rbac.yaml", RBAC);
    (pg, dir)
}

/// (as user, as groups, verb, resource, subresource, namespace, allowed)
type Question = (
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
);

const QUESTIONS: &[Question] = &[
    ("prom", &[], "get", "pods", "proxy", "default", true),
    ("prom", &[], "create", "pods", "proxy", "default", false),
    ("prom", &[], "get", "pods", "proxy", "prod", false),
    ("prom", &[], "get", "services", "proxy", "default", false),
    ("prom", &[], "get", "pods", "", "default", false),
    (
        "system:serviceaccount:prod:scraper",
        &[],
        "get",
        "pods",
        "proxy",
        "prod",
        true,
    ),
    (
        "system:serviceaccount:prod:scraper",
        &[],
        "get",
        "pods",
        "proxy",
        "default",
        false,
    ),
    ("alice", &["viewers"], "list", "pods", "", "prod", true),
    ("alice", &["viewers"], "get", "pods", "proxy", "prod", false),
    ("alice", &[], "list", "pods", "", "prod", false),
];

fn ssar(verb: &str, resource: &str, sub: &str, ns: &str) -> String {
    format!(
        r#"{{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{{"resourceAttributes":{{"namespace":"{ns}","verb":"{verb}","resource":"{resource}","subresource":"{sub}"}}}}}}"#
    )
}

#[test]
fn self_subject_access_reviews_with_impersonation_answer_as_rbac_says() {
    let (pg, _dir) = start();
    let admin = pg.token();
    let path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    // The bindings reach the cache a moment after they are written.
    wait_for("the RBAC cache", || {
        let r = review(
            &pg,
            path,
            &admin,
            &[("Impersonate-User", "prom")],
            &ssar("get", "pods", "proxy", "default"),
        );
        (r.json()["status"]["allowed"] == true).then_some(())
    });
    for (user, groups, verb, resource, sub, ns, allowed) in QUESTIONS {
        let mut headers = vec![("Impersonate-User", *user)];
        headers.extend(groups.iter().map(|g| ("Impersonate-Group", *g)));
        let r = review(&pg, path, &admin, &headers, &ssar(verb, resource, sub, ns));
        assert_eq!(r.code, 201, "{}", r.body);
        let v = r.json();
        assert_eq!(v["kind"], "SelfSubjectAccessReview");
        assert_eq!(
            v["status"]["allowed"], *allowed,
            "can {user} {groups:?} {verb} {resource}/{sub} in {ns}? {}",
            r.body
        );
    }

    // The reason names the binding that allowed it, as kube-apiserver's RBAC does.
    let r = review(
        &pg,
        path,
        &admin,
        &[("Impersonate-User", "prom")],
        &ssar("get", "pods", "proxy", "default"),
    );
    assert_eq!(
        r.json()["status"]["reason"],
        "RBAC: allowed by RoleBinding \"prom-proxy-reader/default\" of Role \"proxy-reader\" to User \"prom\""
    );

    // A user asking for itself needs no impersonation.
    let r = review(
        &pg,
        path,
        PROM,
        &[],
        &ssar("get", "pods", "proxy", "default"),
    );
    assert_eq!(r.json()["status"]["allowed"], true, "{}", r.body);

    // Only those allowed to impersonate may --as.
    let r = review(
        &pg,
        path,
        PROM,
        &[("Impersonate-User", "alice")],
        &ssar("get", "pods", "", "default"),
    );
    assert_eq!(r.code, 403);
    assert_eq!(
        r.message(),
        "users \"alice\" is forbidden: User \"prom\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
    );

    // SubjectAccessReview asks about anyone (as a delegating proxy does), for those allowed.
    let sar = r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"prom","resourceAttributes":{"namespace":"default","verb":"get","resource":"pods","subresource":"proxy"}}}"#;
    let r = review(
        &pg,
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        &admin,
        &[],
        sar,
    );
    assert_eq!(r.code, 201);
    assert_eq!(r.json()["status"]["allowed"], true);
    let r = review(
        &pg,
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        PROM,
        &[],
        sar,
    );
    assert_eq!(r.code, 403);
    assert_eq!(
        r.message(),
        "subjectaccessreviews.authorization.k8s.io is forbidden: User \"prom\" cannot create resource \"subjectaccessreviews\" in API group \"authorization.k8s.io\" at the cluster scope"
    );

    // Rules review (kubectl auth can-i --list) lists what the binding grants.
    let r = review(
        &pg,
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        PROM,
        &[],
        r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview","spec":{"namespace":"default"}}"#,
    );
    assert_eq!(r.code, 201, "{}", r.body);
    let rules = r.json()["status"]["resourceRules"].to_string();
    assert!(rules.contains(r#""resources":["pods/proxy"]"#), "{rules}");

    // Discovery lists the review APIs, create-only.
    let d = https(
        &pg,
        "GET",
        "/apis/authorization.k8s.io/v1",
        Some(PROM),
        &[],
        None,
        &[],
    );
    assert_eq!(d.code, 200);
    let list = d.json();
    let ssar = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "selfsubjectaccessreviews")
        .expect("selfsubjectaccessreviews in discovery");
    assert_eq!(ssar["verbs"], serde_json::json!(["create"]));
}

#[test]
fn kubectl_auth_can_i_answers_as_rbac_says() {
    let (pg, _dir) = start();
    wait_for("the RBAC cache", || {
        let out = pg.kubectl(&[
            "auth",
            "can-i",
            "get",
            "pods",
            "--subresource=proxy",
            "--as=prom",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("UnsupportedMediaType"),
            "kubectl sends protobuf review bodies: {stderr}"
        );
        out.status.success().then_some(())
    });
    for (user, groups, verb, resource, sub, ns, allowed) in QUESTIONS {
        // kubectl names a subresource with --subresource (`pods/proxy` would be the pod
        // named "proxy", see below).
        let mut args = vec![
            "auth".to_string(),
            "can-i".into(),
            verb.to_string(),
            resource.to_string(),
            format!("--subresource={sub}"),
            "-n".into(),
            ns.to_string(),
            format!("--as={user}"),
        ];
        args.extend(groups.iter().map(|g| format!("--as-group={g}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = pg.kubectl(&args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let want = if *allowed { "yes" } else { "no" };
        assert_eq!(
            stdout.trim(),
            want,
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.success(), *allowed, "kubectl's exit status");
    }
    // `kubectl auth can-i get pods/proxy` reads TYPE/NAME: the pod named "proxy". RBAC answers
    // that question too: prom may not get pods, a viewer may.
    for (groups, want) in [(vec![], "no"), (vec!["--as-group=viewers"], "yes")] {
        let mut args = vec!["auth", "can-i", "get", "pods/proxy", "--as=prom"];
        args.extend(groups);
        let out = pg.kubectl(&args);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            want,
            "kubectl {args:?}"
        );
    }
    // Non-resource URLs and the rules list.
    let out = pg.kubectl(&["auth", "can-i", "get", "/metrics", "--as=prom"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no");
    let out = pg.kubectl(&[
        "auth",
        "can-i",
        "get",
        "/metrics",
        "--as=prom",
        "--as-group=system:monitoring",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "yes");
    let list = pg.kubectl_ok(&["auth", "can-i", "--list", "--as=prom"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with("pods/proxy ") && l.contains("[get]")),
        "{list}"
    );

    // kubectl auth whoami (SelfSubjectReview) through impersonation.
    let out = pg.kubectl_ok(&[
        "auth",
        "whoami",
        "--as=prom",
        "--as-group=viewers",
        "-o",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"]["userInfo"]["username"], "prom");
    assert_eq!(
        v["status"]["userInfo"]["groups"],
        serde_json::json!(["viewers", "system:authenticated"])
    );
}
