//! Issue 6, must-show 4, through a real `podgate up`: HTTPS with the CA podgate generates on
//! first start (kubectl with the written kubeconfig, curl with `--cacert`), with a certificate
//! of one's own (`--tls-cert-file`/`--tls-private-key-file`), and client certificates issued by
//! podgate's CA authenticating as CN = user, O = groups.

#[path = "common/auth.rs"]
mod auth;
mod common;

use std::os::unix::fs::PermissionsExt;

use auth::{apply, https, kubectl_with};
use base64::Engine;
use common::{Podgate, wait_for};

fn kubeconfig_ca(pg: &Podgate) -> String {
    let text = std::fs::read_to_string(pg.kubeconfig()).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("certificate-authority-data:"))
        .expect("certificate-authority-data");
    let b64 = line.split_once(':').unwrap().1.trim();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn the_generated_ca_serves_kubectl_and_curl() {
    let mut pg = Podgate::start(&["--tls-san", "podgate.example"]);
    let token = pg.token();
    let ca = std::fs::read_to_string(pg.state_dir.join("ca.crt")).unwrap();
    assert_eq!(kubeconfig_ca(&pg), ca, "the kubeconfig trusts podgate's CA");
    let kubeconfig = std::fs::read_to_string(pg.kubeconfig()).unwrap();
    assert!(kubeconfig.contains(&format!("server: https://127.0.0.1:{}", pg.port)));

    // kubectl verifies the server with the kubeconfig's CA and sends its token.
    let out = pg.kubectl_ok(&["get", "namespaces", "-o", "name"]);
    assert!(out.contains("namespace/default"), "{out}");

    // curl with --cacert, by IP, by name, and by an extra --tls-san name.
    let r = https(
        &pg,
        "GET",
        "/api/v1/namespaces",
        Some(&token),
        &[],
        None,
        &[],
    );
    assert_eq!(r.code, 200, "{}", r.body);
    let resolve = format!("podgate.example:{}:127.0.0.1", pg.port);
    for url in [
        format!("https://localhost:{}/readyz", pg.port),
        format!("https://podgate.example:{}/readyz", pg.port),
    ] {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(pg.state_dir.join("ca.crt"))
            .args(["--resolve", &resolve, &url])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "ok",
            "{url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Without podgate's CA, the server is not trusted.
    let out = std::process::Command::new("curl")
        .args(["-sS", &format!("https://127.0.0.1:{}/readyz", pg.port)])
        .output()
        .unwrap();
    assert!(!out.status.success(), "an unknown CA must not verify");

    // Secrets are the owner's only.
    for f in ["ca.key", "sa.key", "token", "tokens.csv", "kubeconfig"] {
        let mode = std::fs::metadata(pg.state_dir.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }

    // The CA is made once: a restart serves a new certificate from the same CA.
    pg.terminate();
    pg.spawn(&[]);
    assert_eq!(
        std::fs::read_to_string(pg.state_dir.join("ca.crt")).unwrap(),
        ca
    );
    assert_eq!(kubeconfig_ca(&pg), ca);
    pg.kubectl_ok(&["get", "namespaces"]);
}

#[test]
fn client_certificates_authenticate_as_cn_and_o() {
    let dir = tempfile::tempdir().unwrap();
    let pg = Podgate::start(&[]);

    // CN = user; no O, so only system:authenticated.
    let (cert, key) = auth::client_cert(&pg, dir.path(), "carol", None);
    let whoami = |cert: &std::path::Path, key: &std::path::Path| {
        https(
            &pg,
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            None,
            &[],
            Some(r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#),
            &[
                "--cert",
                cert.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ],
        )
    };
    let r = whoami(&cert, &key);
    assert_eq!(r.code, 201, "{}", r.body);
    assert_eq!(r.json()["status"]["userInfo"]["username"], "carol");
    assert_eq!(
        r.json()["status"]["userInfo"]["groups"],
        serde_json::json!(["system:authenticated"])
    );

    // kubectl with the certificate in its kubeconfig: RBAC applies to carol.
    let kc = auth::cert_kubeconfig(&pg, dir.path(), &cert, &key);
    let out = kubectl_with(&kc, &["get", "pods"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("pods is forbidden: User \"carol\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""),
        "{stderr}"
    );
    apply(
        &pg,
        dir.path(),
        "carol.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: carol-view, namespace: default}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects:\n- {apiGroup: rbac.authorization.k8s.io, kind: User, name: carol}\n",
    );
    wait_for("carol's binding", || {
        kubectl_with(&kc, &["get", "pods"])
            .status
            .success()
            .then_some(())
    });
    let out = kubectl_with(&kc, &["get", "secrets"]);
    assert!(!out.status.success(), "view does not read secrets");

    // O = groups: system:masters may do anything.
    let (cert, key) = auth::client_cert(&pg, dir.path(), "dave", Some("system:masters"));
    let r = whoami(&cert, &key);
    assert_eq!(
        r.json()["status"]["userInfo"]["groups"],
        serde_json::json!(["system:masters", "system:authenticated"])
    );
    let kc = auth::cert_kubeconfig(&pg, dir.path(), &cert, &key);
    let out = kubectl_with(&kc, &["get", "secrets", "-A"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A certificate from another CA fails the handshake.
    let other = Podgate::start(&[]);
    let (cert, key) = auth::client_cert(&other, dir.path(), "mallory", Some("system:masters"));
    let r = whoami(&cert, &key);
    assert_eq!(r.code, 0, "no HTTP exchange: {}", r.body);
}

#[test]
fn a_certificate_of_ones_own_is_served() {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, SanType,
    };
    let dir = tempfile::tempdir().unwrap();
    // An organisation's CA and a serving certificate it issued for 127.0.0.1.
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, "example corp CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name
        .push(DnType::CommonName, "podgate.example");
    leaf.subject_alt_names = vec![SanType::IpAddress("127.0.0.1".parse().unwrap())];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    let chain = common::manifest(
        dir.path(),
        "chain.pem",
        &format!("{}{}", leaf_cert.pem(), ca_cert.pem()),
    );
    let key = common::manifest(dir.path(), "key.pem", &leaf_key.serialize_pem());

    let pg = Podgate::start(&[
        "--tls-cert-file",
        chain.to_str().unwrap(),
        "--tls-private-key-file",
        key.to_str().unwrap(),
    ]);
    assert_eq!(
        kubeconfig_ca(&pg).trim(),
        ca_cert.pem().trim(),
        "the kubeconfig trusts the chain's top certificate"
    );
    pg.kubectl_ok(&["get", "namespaces"]);
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "--cacert",
            dir.path().join("ca.pem").to_str().unwrap(),
        ])
        .arg(format!("https://127.0.0.1:{}/readyz", pg.port))
        .output()
        .unwrap();
    assert!(!out.status.success(), "no ca.pem written yet: must fail");
    let ca_file = common::manifest(dir.path(), "ca.pem", &ca_cert.pem());
    let out = std::process::Command::new("curl")
        .args(["-sS", "--cacert", ca_file.to_str().unwrap()])
        .arg(format!("https://127.0.0.1:{}/readyz", pg.port))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // podgate's own CA is not the serving CA now.
    let r = https(&pg, "GET", "/readyz", None, &[], None, &[]);
    assert_eq!(
        r.code, 0,
        "podgate's CA does not verify the given certificate"
    );

    // Client certificates of podgate's CA still authenticate.
    let (cert, ckey) = auth::client_cert(&pg, dir.path(), "erin", Some("system:masters"));
    let out = std::process::Command::new("curl")
        .args(["-sS", "--cacert", ca_file.to_str().unwrap()])
        .args([
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            ckey.to_str().unwrap(),
        ])
        .arg(format!(
            "https://127.0.0.1:{}/api/v1/namespaces/default/secrets",
            pg.port
        ))
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(body.contains("\"kind\":\"SecretList\""), "{body}");
}
