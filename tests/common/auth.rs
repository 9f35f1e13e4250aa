//! Helpers for the auth tests: HTTPS requests with curl, verified against podgate's CA;
//! manifests applied with kubectl; ServiceAccount tokens from the TokenRequest API.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{Podgate, manifest, wait_for};

/// One HTTPS exchange: status code and body.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    /// HTTP status (0 when curl failed, e.g. the TLS handshake).
    pub code: u16,
    /// The body.
    pub body: String,
}

impl Reply {
    /// The body as JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// `message` of a Status body.
    pub(crate) fn message(&self) -> String {
        self.json()["message"].as_str().unwrap_or("").to_string()
    }
}

/// A request over HTTPS to `pg`, the server verified with `<state>/ca.crt`; `extra` are more
/// curl arguments (e.g. `--cert`). The body goes through stdin.
pub(crate) fn https(
    pg: &Podgate,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&str>,
    extra: &[&str],
) -> Reply {
    let ca = pg.state_dir.join("ca.crt");
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "30", "-o", "-", "-w", "\n%{http_code}"])
        .arg("--cacert")
        .arg(&ca)
        .args(["-X", method]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    for (k, v) in headers {
        cmd.args(["-H", &format!("{k}: {v}")]);
    }
    if body.is_some() {
        cmd.args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "@-",
        ]);
    }
    cmd.args(extra)
        .arg(format!("https://127.0.0.1:{}{path}", pg.port))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run curl");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        if let Some(b) = body {
            stdin.write_all(b.as_bytes()).expect("write body");
        }
    }
    let out = child.wait_with_output().expect("curl output");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    Reply {
        code: code.trim().parse().unwrap_or(0),
        body: body.to_string(),
    }
}

/// `GET path` with `token`.
pub(crate) fn get(pg: &Podgate, path: &str, token: Option<&str>) -> Reply {
    https(pg, "GET", path, token, &[], None, &[])
}

/// Polls `GET path` with `token` until it answers `code`.
pub(crate) fn wait_for_code(pg: &Podgate, path: &str, token: &str, code: u16) -> Reply {
    wait_for(&format!("{path} to answer {code}"), || {
        let r = get(pg, path, Some(token));
        (r.code == code).then_some(r)
    })
}

/// Writes `yaml` to `dir/name` and applies it with the admin kubeconfig.
pub(crate) fn apply(pg: &Podgate, dir: &Path, name: &str, yaml: &str) {
    let f = manifest(dir, name, yaml);
    pg.kubectl_ok(&["apply", "-f", f.to_str().unwrap()]);
}

/// `POST …/serviceaccounts/{sa}/token` with `spec` (JSON) as the admin: the reply.
pub(crate) fn token_request(pg: &Podgate, namespace: &str, sa: &str, spec: &str) -> Reply {
    let body = format!(
        r#"{{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{spec}}}"#
    );
    https(
        pg,
        "POST",
        &format!("/api/v1/namespaces/{namespace}/serviceaccounts/{sa}/token"),
        Some(&pg.token()),
        &[],
        Some(&body),
        &[],
    )
}

/// A fresh token for ServiceAccount `namespace/sa` (default audience, one hour).
pub(crate) fn sa_token(pg: &Podgate, namespace: &str, sa: &str) -> String {
    let r = token_request(pg, namespace, sa, "{}");
    assert_eq!(r.code, 201, "{}", r.body);
    r.json()["status"]["token"]
        .as_str()
        .expect("status.token")
        .to_string()
}

/// `POST` a review object (JSON) to `path` with `token` and extra headers; the reply.
pub(crate) fn review(
    pg: &Podgate,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    https(pg, "POST", path, Some(token), headers, Some(body), &[])
}

/// Asserts that no line of `log` contains `secret`.
pub(crate) fn assert_not_logged(log: &str, secret: &str, what: &str) {
    assert!(
        !log.contains(secret),
        "{what} appears in the log:\n{}",
        log.lines()
            .filter(|l| l.contains(secret))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// A client certificate for `cn` (organization `org`, if any) issued by podgate's CA in the
/// state dir; returns the certificate and key PEM files written to `dir`.
pub(crate) fn client_cert(
    pg: &Podgate,
    dir: &Path,
    cn: &str,
    org: Option<&str>,
) -> (std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let ca_key = std::fs::read_to_string(pg.state_dir.join("ca.key")).expect("ca.key");
    let ca_key = KeyPair::from_pem(&ca_key).expect("CA key");
    // The CA's own parameters (as podgate made it): the issuer name and key identify it.
    let mut ca = CertificateParams::default();
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name.push(DnType::CommonName, "podgate-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let issuer = Issuer::new(ca, ca_key);
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    if let Some(o) = org {
        params.distinguished_name.push(DnType::OrganizationName, o);
    }
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &issuer).expect("sign");
    let cert_path = dir.join(format!("{cn}.crt"));
    let key_path = dir.join(format!("{cn}.key"));
    std::fs::write(&cert_path, cert.pem()).expect("write cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("write key");
    (cert_path, key_path)
}

/// A kubeconfig for `pg` that authenticates with a client certificate instead of the token.
pub(crate) fn cert_kubeconfig(
    pg: &Podgate,
    dir: &Path,
    cert: &Path,
    key: &Path,
) -> std::path::PathBuf {
    use base64::Engine;
    let b64 = |p: &Path| {
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(p).expect("read pem"))
    };
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: podgate\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority-data: {ca}\ncontexts:\n- name: podgate\n  context:\n    cluster: podgate\n    user: cert\n    namespace: default\ncurrent-context: podgate\nusers:\n- name: cert\n  user:\n    client-certificate-data: {c}\n    client-key-data: {k}\n",
        port = pg.port,
        ca = b64(&pg.state_dir.join("ca.crt")),
        c = b64(cert),
        k = b64(key),
    );
    manifest(dir, "cert-kubeconfig", &text)
}

/// Runs kubectl with `kubeconfig`.
pub(crate) fn kubectl_with(kubeconfig: &Path, args: &[&str]) -> std::process::Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("run kubectl")
}

/// Creates a Running, Ready pod `namespace/name` on a node no agent runs, whose IP and port
/// are `addr` (so the gateway proxies to a backend the test started).
pub(crate) fn fake_pod(
    pg: &Podgate,
    dir: &Path,
    namespace: &str,
    name: &str,
    addr: std::net::SocketAddr,
) {
    fake_pod_as(pg, dir, namespace, name, addr, "default")
}

/// [`fake_pod`] running as ServiceAccount `sa`.
pub(crate) fn fake_pod_as(
    pg: &Podgate,
    dir: &Path,
    namespace: &str,
    name: &str,
    addr: std::net::SocketAddr,
    sa: &str,
) {
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  serviceAccountName: {sa}\n  nodeName: elsewhere\n  containers:\n  - name: c\n    image: x\n    command: [x]\n    ports:\n    - name: http\n      containerPort: {port}\n",
        port = addr.port()
    );
    apply(pg, dir, &format!("{namespace}-{name}.yaml"), &yaml);
    let status = format!(
        r#"{{"status":{{"phase":"Running","podIP":"{ip}","podIPs":[{{"ip":"{ip}"}}],"conditions":[{{"type":"Ready","status":"True"}}]}}}}"#,
        ip = addr.ip()
    );
    pg.kubectl_ok(&[
        "patch",
        "pod",
        name,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status,
    ]);
}
