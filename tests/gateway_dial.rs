//! What the gateway dials: only addresses a pod of the cluster state holds. Hand-written
//! EndpointSlices (and Endpoints) that point at podgate's own API port, at a host service, at a
//! pod of another namespace or at a pod that does not exist are refused with Kubernetes' 503
//! `no endpoints available for service`, and the address is never dialed; a terminated pod's
//! address is not dialed either. Honest endpoints serve exactly as before.

#[path = "common/backend.rs"]
mod backend;
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Podgate, manifest, wait_for};
use serde_json::Value;

/// A host service the gateway must never reach: counts the connections it accepts and answers
/// each with `200 host service`.
fn host_service(ip: &str) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind((ip, 0)).expect("bind the host service");
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            count.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut c) = conn {
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf);
                let _ = c.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\nconnection: close\r\n\r\nhost service",
                );
            }
        }
    });
    (addr, accepted)
}

/// A pod in `namespace` bound to a node no agent runs, whose status (`phase`, IP `ip`) is
/// written as a node would write it.
fn pod(pg: &Podgate, dir: &std::path::Path, namespace: &str, name: &str, ip: &str, phase: &str) {
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  nodeName: elsewhere\n  containers:\n  - name: c\n    image: x\n    command: [x]\n"
    );
    let f = manifest(dir, &format!("{namespace}-{name}.yaml"), &yaml);
    pg.kubectl_ok(&["apply", "-f", f.to_str().unwrap()]);
    let status = format!(
        r#"{{"status":{{"phase":"{phase}","podIP":"{ip}","podIPs":[{{"ip":"{ip}"}}],"conditions":[{{"type":"Ready","status":"True"}}]}}}}"#
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

/// A selector-less Service `name` (port 80 named `http`) and one hand-written EndpointSlice
/// with one ready endpoint at `addr` naming `target_ref` (a YAML flow map, or none); with
/// `with_endpoints`, the matching hand-written Endpoints too, as a user writes both.
fn service(
    pg: &Podgate,
    dir: &std::path::Path,
    name: &str,
    addr: SocketAddr,
    target_ref: Option<&str>,
    with_endpoints: bool,
) {
    let (ip, port) = (addr.ip(), addr.port());
    let target = target_ref.map_or(String::new(), |r| format!("\n  targetRef: {r}"));
    let mut text = format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  clusterIP: None\n  ports:\n  - name: http\n    port: 80\n    targetPort: {port}\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {name}-hand\n  labels:\n    kubernetes.io/service-name: {name}\naddressType: IPv4\nports:\n- name: http\n  port: {port}\n  protocol: TCP\nendpoints:\n- addresses: [\"{ip}\"]\n  conditions: {{ready: true}}{target}\n"
    );
    if with_endpoints {
        let target = target_ref.map_or(String::new(), |r| format!(", targetRef: {r}"));
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: Endpoints\nmetadata:\n  name: {name}\nsubsets:\n- addresses: [{{ip: \"{ip}\"{target}}}]\n  ports: [{{name: http, port: {port}}}]\n"
        ));
    }
    let f = manifest(dir, &format!("{name}.yaml"), &text);
    pg.kubectl_ok(&["apply", "-f", f.to_str().unwrap()]);
}

/// `kubectl get --raw` of a proxy path: (success, stdout, stderr).
fn raw(pg: &Podgate, path: &str) -> (bool, String, String) {
    let out = pg.kubectl(&["get", "--raw", path]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_gateway_dials_only_addresses_that_pods_hold() {
    // On every address, so the API port is reachable on addresses the address policy allows
    // (127.9.9.9:<port> is podgate's own API).
    let pg = Podgate::start_with("0.0.0.0:0", &[], &[]);
    let dir = tempfile::tempdir().unwrap();
    let token = pg.token();
    let api = SocketAddr::from(([127, 9, 9, 9], pg.port));
    let (elsewhere, reached) = host_service("127.3.0.1");
    let honest_backend = backend::start("127.1.4.1");
    let victim_backend = backend::start("127.1.4.2");

    pod(
        &pg,
        dir.path(),
        "default",
        "honest-0",
        "127.1.4.1",
        "Running",
    );
    pg.kubectl_ok(&["create", "namespace", "other"]);
    pod(&pg, dir.path(), "other", "victim", "127.1.4.2", "Running");
    // A finished pod whose address went back to the pool, where a host service now listens.
    pod(
        &pg,
        dir.path(),
        "default",
        "done-0",
        "127.3.0.1",
        "Succeeded",
    );

    // Endpoints that point where no pod of theirs is.
    let honest_ref = "{kind: Pod, namespace: default, name: honest-0}";
    service(&pg, dir.path(), "to-api", api, Some(honest_ref), true);
    service(&pg, dir.path(), "no-ref", elsewhere, None, true);
    let victim_ref = "{kind: Pod, namespace: other, name: victim}";
    service(
        &pg,
        dir.path(),
        "other-ns",
        victim_backend,
        Some(victim_ref),
        false,
    );
    let ghost_ref = "{kind: Pod, namespace: default, name: ghost}";
    service(&pg, dir.path(), "ghost", elsewhere, Some(ghost_ref), false);
    let node_ref = "{kind: Node, name: honest-0}";
    service(
        &pg,
        dir.path(),
        "not-a-pod",
        elsewhere,
        Some(node_ref),
        false,
    );
    // Written last: once it serves, the slices above are in the gateway's cache too.
    service(
        &pg,
        dir.path(),
        "honest",
        honest_backend,
        Some(honest_ref),
        false,
    );

    // Honest endpoints and pods serve as before, through kubectl.
    let echo = wait_for("the honest service to serve", || {
        let (ok, out, _) = raw(
            &pg,
            "/api/v1/namespaces/default/services/honest:http/proxy/x",
        );
        ok.then_some(out)
    });
    let echo: Value = serde_json::from_str(&echo).unwrap();
    assert_eq!(echo["uri"], "/x", "{echo}");
    assert_eq!(echo["backend"], honest_backend.to_string());
    let (ok, _, err) = raw(
        &pg,
        &format!(
            "/api/v1/namespaces/default/pods/honest-0:{}/proxy/",
            honest_backend.port()
        ),
    );
    assert!(ok, "{err}");

    // Every forged endpoint: Kubernetes' 503, as kubectl shows it and as a Status.
    for svc in ["to-api", "no-ref", "other-ns", "ghost", "not-a-pod"] {
        let path = format!("/api/v1/namespaces/default/services/{svc}:http/proxy/readyz");
        let (ok, out, err) = wait_for(&format!("service {svc} in the cache"), || {
            let r = raw(&pg, &path);
            (!r.2.contains("NotFound")).then_some(r)
        });
        assert!(!ok, "{svc} was proxied: {out}");
        assert_eq!(
            err.trim(),
            format!(
                "Error from server (ServiceUnavailable): no endpoints available for service \"{svc}\""
            ),
            "{svc}"
        );
        let (code, body) = common::http_request(
            pg.port,
            "GET",
            &path,
            &[("Authorization", &format!("Bearer {token}"))],
            b"",
        )
        .unwrap();
        let status: Value = serde_json::from_str(&body).expect("a Status");
        assert_eq!(
            (code, status["kind"].as_str(), status["reason"].as_str()),
            (503, Some("Status"), Some("ServiceUnavailable")),
            "{svc}: {body}"
        );
    }

    // A terminated pod's address is not its own any more.
    let path = format!(
        "/api/v1/namespaces/default/pods/done-0:{}/proxy/",
        elsewhere.port()
    );
    let (ok, out, err) = wait_for("done-0's status in the cache", || {
        let r = raw(&pg, &path);
        (!r.2.contains("address not allowed") && !r.2.contains("NotFound")).then_some(r)
    });
    assert!(!ok, "a terminated pod was proxied: {out}");
    assert_eq!(
        err.trim(),
        "Error from server (ServiceUnavailable): error trying to reach service: pod \"done-0\" has terminated"
    );

    // The victim pod itself still serves through its own namespace.
    let (ok, _, err) = raw(
        &pg,
        &format!(
            "/api/v1/namespaces/other/pods/victim:{}/proxy/",
            victim_backend.port()
        ),
    );
    assert!(ok, "{err}");
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "the host service was dialed"
    );
}
