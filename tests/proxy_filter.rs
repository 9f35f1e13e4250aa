//! `podgate proxy` against kubectl proxy's rules, end to end in front of `podgate up`: the filter
//! table (accepted, or `403 Forbidden\n`), custom lists, `--disable-filter`, `--api-prefix`,
//! `--www`, unclean paths, `--unix-socket`, kubectl's flag errors, the refusal to expose the proxy
//! without client authentication, and `--token-auth-file`.

mod common;
#[path = "common/proxy.rs"]
mod proxy_harness;

use common::Podgate;
use proxy_harness::{ProxyProcess, raw_request, run_expecting_exit};

const FORBIDDEN: &str = "Forbidden\n";

fn assert_forbidden(what: &str, (code, head, body): (u16, String, String)) {
    assert_eq!(code, 403, "{what}: {body}");
    assert_eq!(body, FORBIDDEN, "{what}");
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("content-type: text/plain; charset=utf-8"),
        "{what}: {head}"
    );
    assert!(head.contains("x-content-type-options: nosniff"), "{what}");
}

fn assert_passed(what: &str, (code, _, body): (u16, String, String)) {
    assert!(
        code != 403 && code != 0,
        "{what}: expected the API's answer, got {code} {body}"
    );
}

/// kubectl's filter table, sent as real requests: (method, path, Host, accepted).
#[test]
fn the_default_filter_behaves_as_kubectl_proxys() {
    let pg = Podgate::start(&[]);
    let px = ProxyProcess::start(&pg, &[]);
    let port = px.port();
    const NS: &str = "/api/v1/namespaces/default/pods";
    let local = format!("127.0.0.1:{port}");
    let localhost = format!("localhost:{port}");
    let v6 = format!("[::1]:{port}");
    let table: Vec<(&str, String, &str, bool)> = vec![
        ("GET", "/api/v1/pods".into(), &local, true),
        ("GET", "/api/v1/pods".into(), &localhost, true),
        ("GET", "/api/v1/pods".into(), "localhost", true),
        ("GET", "/api/v1/pods".into(), "[::1]", true),
        // kubectl answers 403 here (kubernetes/kubernetes#77496); podgate accepts.
        ("GET", "/api/v1/pods".into(), &v6, true),
        ("GET", format!("{NS}/foo"), &localhost, true),
        ("GET", format!("{NS}/attachfoo"), &localhost, true),
        ("GET", format!("{NS}/execfoo"), &localhost, true),
        ("GET", format!("{NS}/foo/exec"), &local, false),
        ("GET", format!("{NS}/foo/attach"), &local, false),
        (
            "POST",
            format!("{NS}/foo/exec?command=sh"),
            &localhost,
            false,
        ),
        ("GET", format!("{NS}/foo/%65xec"), &localhost, false),
        (
            "GET",
            format!("{NS}/foo/proxy/attachments"),
            &localhost,
            false,
        ),
        ("GET", format!("{NS}/foo/portforward"), &localhost, true),
        ("GET", "/api/v1/pods".into(), "evil.com", false),
        ("GET", "/api/v1/pods".into(), "localhost.evil.com", false),
        ("GET", "/api/v1/pods".into(), "127a0b0c1", false),
        ("GET", "/api/v1/pods".into(), "127.0.0.2", false),
        ("GET", "/version".into(), &localhost, true),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps".into(),
            &localhost,
            true,
        ),
        ("PUT", format!("{NS}/somepod"), &localhost, true),
        ("PATCH", format!("{NS}/somepod"), &localhost, true),
        ("DELETE", format!("{NS}/somepod"), &localhost, true),
    ];
    for (method, path, host, accepted) in &table {
        let what = format!("{method} {path} Host: {host}");
        let got = px.request(method, path, host, &[]);
        if *accepted {
            assert_passed(&what, got);
        } else {
            assert_forbidden(&what, got);
        }
    }
    // An accepted request is the API server's own answer.
    let (code, _, body) = px.request("GET", "/api/v1/namespaces", &local, &[]);
    assert_eq!(code, 200);
    assert!(body.contains("\"kind\":\"NamespaceList\""), "{body}");
    // As with kubectl, a client's own Authorization goes to the API server instead of the
    // kubeconfig's credentials.
    let (code, _, body) = px.request(
        "GET",
        "/api/v1/namespaces",
        &local,
        &[("authorization", "Bearer not-a-token")],
    );
    assert_eq!(code, 401, "{body}");
}

#[test]
fn custom_lists_and_disabled_filter() {
    let pg = Podgate::start(&[]);
    let strict = ProxyProcess::start(
        &pg,
        &[
            "--accept-paths=^/api/",
            "--reject-methods=POST,PUT,PATCH",
            "--reject-paths=/secrets",
            "--accept-hosts=^proxy\\.example$",
        ],
    );
    let h = "proxy.example";
    assert_passed("GET /api", strict.request("GET", "/api/v1/pods", h, &[]));
    assert_forbidden("path", strict.request("GET", "/apis/apps/v1", h, &[]));
    assert_forbidden("method", strict.request("POST", "/api/v1/pods", h, &[]));
    assert_forbidden(
        "reject path",
        strict.request("GET", "/api/v1/secrets", h, &[]),
    );
    assert_forbidden(
        "host",
        strict.request("GET", "/api/v1/pods", "localhost", &[]),
    );

    // An empty --accept-hosts accepts nothing (kubectl since v1.21).
    let none = ProxyProcess::start(&pg, &["--accept-hosts="]);
    assert_forbidden("empty accept-hosts", none.get("/api/v1/pods"));

    let open = ProxyProcess::start(&pg, &["--disable-filter"]);
    assert_passed(
        "disabled",
        open.request("GET", "/api/v1/pods", "evil.com", &[]),
    );
    assert!(
        open.log()
            .contains("Request filter disabled, your proxy is vulnerable to XSRF attacks"),
        "{}",
        open.log()
    );
}

#[test]
fn prefixes_static_files_and_unclean_paths() {
    let pg = Podgate::start(&[]);
    let www = tempfile::tempdir().unwrap();
    std::fs::write(www.path().join("test.txt"), "This is test data").unwrap();
    let www_dir = www.path().to_str().unwrap();
    let px = ProxyProcess::start(
        &pg,
        &[
            "--api-prefix=/custom",
            "--www",
            www_dir,
            "--www-prefix=/files",
        ],
    );
    let (code, _, body) = px.get("/custom/api/v1/namespaces");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("NamespaceList"));
    let (code, _, body) = px.get("/api/v1/namespaces");
    assert_eq!((code, body.as_str()), (404, "404 page not found\n"));
    let (code, _, body) = px.get("/files/test.txt");
    assert_eq!((code, body.as_str()), (200, "This is test data"));
    // Static files are not filtered (as in kubectl); the API is.
    let h = "evil.com";
    assert_eq!(px.request("GET", "/files/test.txt", h, &[]).0, 200);
    assert_forbidden("api", px.request("GET", "/custom/api/v1/pods", h, &[]));
    // Unclean paths are redirected to their clean form before the filter sees them.
    let (code, head, _) = px.get("/custom/api/v1/namespaces/default/pods/x/./exec");
    assert_eq!(code, 301);
    assert!(
        head.contains("location: /custom/api/v1/namespaces/default/pods/x/exec"),
        "{head}"
    );

    // --api-prefix=/api/ keeps the prefix and serves only /api.
    let api_only = ProxyProcess::start(&pg, &["--api-prefix=/api/"]);
    assert_eq!(api_only.get("/api/v1/namespaces").0, 200);
    let (code, _, body) = api_only.get("/apis/apps/v1");
    assert_eq!((code, body.as_str()), (404, "404 page not found\n"));
}

#[test]
fn unix_socket() {
    use std::os::unix::fs::PermissionsExt;
    let pg = Podgate::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("proxy.sock");
    // A stale socket is replaced.
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    let px = ProxyProcess::start(&pg, &["--unix-socket", sock.to_str().unwrap()]);
    assert_eq!(px.serving_on, sock.to_str().unwrap());
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the socket is for its owner only");
    let stream = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    let (code, _, body) = raw_request(stream, "GET", "/api/v1/namespaces", "localhost", &[]);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("NamespaceList"));
}

#[test]
fn kubectls_flag_errors_and_the_exposure_refusal() {
    let pg = Podgate::start(&[]);
    let kc = pg.kubeconfig();
    let kc = kc.to_str().unwrap();
    let (code, err) = run_expecting_exit(&["--kubeconfig", kc, "-u", "/tmp/x.sock", "-p", "9"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("cannot set --unix-socket and --port at the same time"),
        "{err}"
    );
    let (code, err) = run_expecting_exit(&["--kubeconfig", kc, "--accept-paths=("]);
    assert_ne!(code, 0);
    assert!(err.contains("Error compiling re: "), "{err}");
    let (code, err) = run_expecting_exit(&["--kubeconfig", kc, "--address", "0.0.0.0", "-p", "0"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("refusing to serve on 0.0.0.0 without client authentication"),
        "{err}"
    );
}

#[test]
fn token_auth_beyond_loopback() {
    let pg = Podgate::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "t0ken,alice,1001,\"viewers\"\n").unwrap();
    let px = ProxyProcess::start(
        &pg,
        &[
            "--address",
            "0.0.0.0",
            "--accept-hosts=.*",
            "--token-auth-file",
            tokens.to_str().unwrap(),
        ],
    );
    assert!(px.serving_on.starts_with("0.0.0.0:"), "{}", px.serving_on);
    let (code, _, body) = px.get("/api/v1/namespaces");
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("\"reason\":\"Unauthorized\""), "{body}");
    let (code, _, _) = px.request(
        "GET",
        "/api/v1/namespaces",
        "localhost",
        &[("authorization", "Bearer wrong")],
    );
    assert_eq!(code, 401);
    // With a known token, the request goes on with the proxy's credentials.
    let (code, _, body) = px.request(
        "GET",
        "/api/v1/namespaces",
        "localhost",
        &[("authorization", "Bearer t0ken")],
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("NamespaceList"));
}
