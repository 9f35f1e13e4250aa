//! `podgate up` driven by the real kubectl: the everyday API flows and their exact texts.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use common::{Podgate, manifest, wait_for};

const WEB: &str = include_str!("../deploy/examples/web.yaml");

const NO_SELECTOR: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: bad
spec:
  serviceName: bad
  template:
    metadata:
      labels:
        app: bad
    spec:
      containers:
      - name: c
        image: x
        command: ["sleep", "1000"]
"#;

#[test]
fn kubectl_everyday_flow() {
    let pg = Podgate::start(&[]);
    let dir = tempfile::tempdir().unwrap();

    let ns = pg.kubectl_ok(&["get", "ns"]);
    for name in ["default", "kube-system"] {
        assert!(
            ns.lines()
                .any(|l| l.starts_with(name) && l.contains("Active")),
            "{ns}"
        );
    }

    let web = manifest(dir.path(), "web.yaml", WEB);
    let applied = pg.kubectl_ok(&["apply", "-f", web.to_str().unwrap()]);
    assert!(applied.contains("service/web created"), "{applied}");
    assert!(
        applied.contains("statefulset.apps/web created"),
        "{applied}"
    );
    // The Service's resourceVersion (no controller writes Services) and the set's generation
    // (its status changes as the controller creates pods, its spec must not). kubectl says
    // "configured" for the set, as it does against Kubernetes: volumeClaimTemplates is an atomic
    // list and the server stored defaults inside it (volumeMode, status.phase), so kubectl sends
    // the list again, which the server finds equal and does not write.
    let versions = || {
        pg.kubectl_ok(&[
            "get",
            "svc/web",
            "sts/web",
            "-o",
            "jsonpath={.items[0].metadata.resourceVersion} {.items[1].metadata.generation}",
        ])
    };
    let before = versions();
    let again = pg.kubectl_ok(&["apply", "-f", web.to_str().unwrap()]);
    assert!(again.contains("service/web unchanged"), "{again}");
    assert_eq!(
        before,
        versions(),
        "re-applying the same manifest writes nothing"
    );

    let listed = pg.kubectl_ok(&["get", "sts,svc,pods,pvc"]);
    assert!(
        listed.contains("NAME")
            && listed.contains("READY")
            && listed.contains("statefulset.apps/web"),
        "{listed}"
    );
    assert!(
        listed.contains("service/web") && listed.contains("None"),
        "{listed}"
    );

    // Defaults filled in, as Kubernetes does.
    let yaml = pg.kubectl_ok(&["get", "sts", "web", "-o", "yaml"]);
    for expected in [
        "replicas: 2",
        "podManagementPolicy: OrderedReady",
        "revisionHistoryLimit: 10",
        "type: RollingUpdate",
        "partition: 0",
        "whenDeleted: Retain",
        "whenScaled: Retain",
        "terminationGracePeriodSeconds: 30",
    ] {
        assert!(yaml.contains(expected), "missing {expected:?} in\n{yaml}");
    }

    // The scale subresource.
    let scaled = pg.kubectl_ok(&["scale", "sts", "web", "--replicas=3"]);
    assert!(scaled.contains("statefulset.apps/web scaled"), "{scaled}");
    let replicas = pg.kubectl_ok(&[
        "get",
        "sts",
        "web",
        "-o",
        "jsonpath={.spec.replicas} {.metadata.generation}",
    ]);
    assert_eq!(replicas, "3 2");

    // Merge, JSON and strategic patches.
    pg.kubectl_ok(&[
        "patch",
        "sts",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"minReadySeconds":5}}"#,
    ]);
    pg.kubectl_ok(&[
        "patch",
        "sts",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/revisionHistoryLimit","value":4}]"#,
    ]);
    pg.kubectl_ok(&[
        "patch",
        "sts",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"podgate/pet:2"}]}}}}"#,
    ]);
    let patched = pg.kubectl_ok(&[
        "get", "sts", "web", "-o",
        "jsonpath={.spec.minReadySeconds} {.spec.revisionHistoryLimit} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort}",
    ]);
    assert_eq!(
        patched, "5 4 podgate/pet:2 8080",
        "the strategic patch merges the container by name"
    );

    pg.kubectl_ok(&["label", "sts", "web", "tier=db"]);
    let labelled = pg.kubectl_ok(&["get", "sts", "-l", "tier=db", "-o", "name"]);
    assert_eq!(labelled.trim(), "statefulset.apps/web");
    assert_eq!(
        pg.kubectl_ok(&["get", "sts", "-l", "tier=web", "-o", "name"])
            .trim(),
        ""
    );

    let deleted = pg.kubectl_ok(&["delete", "sts", "web"]);
    assert!(
        deleted.contains("statefulset.apps \"web\" deleted"),
        "{deleted}"
    );
    let gone = pg.kubectl(&["get", "sts", "web"]);
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("statefulsets.apps \"web\" not found"));
}

#[test]
fn invalid_statefulsets_get_kubernetes_messages() {
    let pg = Podgate::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let bad = manifest(dir.path(), "bad.yaml", NO_SELECTOR);
    let out = pg.kubectl(&["apply", "-f", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("The StatefulSet \"bad\" is invalid"), "{err}");
    assert!(err.contains("* spec.selector: Required value"), "{err}");
    assert!(
        err.contains("* spec.template.metadata.labels: Invalid value: {\"app\":\"bad\"}: `selector` does not match template `labels`"),
        "{err}"
    );
    assert!(
        pg.kubectl_ok(&["get", "sts", "-o", "name"])
            .trim()
            .is_empty(),
        "nothing was stored"
    );

    let web = manifest(dir.path(), "web.yaml", WEB);
    pg.kubectl_ok(&["apply", "-f", web.to_str().unwrap()]);
    let out = pg.kubectl(&[
        "patch",
        "sts",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"serviceName":"other"}}"#,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec: Forbidden: updates to statefulset spec for fields other than"),
        "{err}"
    );
    assert_eq!(
        pg.kubectl_ok(&["get", "sts", "web", "-o", "jsonpath={.spec.serviceName}"]),
        "web"
    );

    let dup = pg.kubectl(&["create", "-f", web.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&dup.stderr).contains("services \"web\" already exists"));
}

#[test]
fn get_pods_watch_prints_concurrent_changes() {
    let pg = Podgate::start(&[]);
    let mut watch = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(pg.kubeconfig())
        .args(["get", "pods", "-w", "--output-watch-events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = watch.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let pod = manifest(
        dir.path(),
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: lone\nspec:\n  containers:\n  - name: c\n    image: x\n    command: [sleep, '100']\n",
    );
    // kubectl prints the (empty) header only when the first event arrives, so create until seen.
    let mut seen = Vec::new();
    pg.kubectl_ok(&["create", "-f", pod.to_str().unwrap()]);
    wait_for("the ADDED line", || {
        while let Ok(l) = rx.try_recv() {
            seen.push(l);
        }
        seen.iter()
            .any(|l| l.contains("ADDED") && l.contains("lone"))
            .then_some(())
    });
    pg.kubectl_ok(&["label", "pod", "lone", "x=y"]);
    wait_for("the MODIFIED line", || {
        while let Ok(l) = rx.try_recv() {
            seen.push(l);
        }
        seen.iter()
            .any(|l| l.contains("MODIFIED") && l.contains("lone"))
            .then_some(())
    });
    let headers = seen.iter().filter(|l| l.contains("NAME")).count();
    assert_eq!(headers, 1, "one header line: {seen:?}");
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn unauthenticated_requests_are_refused() {
    let pg = Podgate::start(&[]);
    let (code, body) = common::http_get(pg.port, "/api/v1/namespaces").unwrap();
    assert_eq!(code, 401);
    assert!(body.contains("\"reason\":\"Unauthorized\""), "{body}");
    let bearer = format!("Bearer {}", pg.token());
    let (code, _) = common::http_request(
        pg.port,
        "GET",
        "/api/v1/namespaces",
        &[("Authorization", "Bearer wrong")],
        b"",
    )
    .unwrap();
    assert_eq!(code, 401);
    let (code, body) = common::http_request(
        pg.port,
        "GET",
        "/api/v1/namespaces",
        &[("Authorization", &bearer)],
        b"",
    )
    .unwrap();
    assert_eq!(code, 200, "{body}");
    let mode = |f: &str| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(pg.state_dir.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    for f in ["token", "kubeconfig", "tokens.csv", "ca.key"] {
        assert_eq!(mode(f), 0o600, "{f}");
    }
}

#[test]
fn kubectl_generator_commands_send_protobuf_and_work() {
    let pg = Podgate::start(&[]);
    pg.kubectl_ok(&["create", "configmap", "cfg", "--from-literal=a=b"]);
    assert_eq!(
        pg.kubectl_ok(&["get", "cm", "cfg", "-o", "jsonpath={.data.a}"]),
        "b"
    );
    pg.kubectl_ok(&["create", "secret", "generic", "s", "--from-literal=p=q"]);
    assert_eq!(
        pg.kubectl_ok(&["get", "secret", "s", "-o", "jsonpath={.data.p}"]),
        "cQ=="
    );
    pg.kubectl_ok(&["create", "namespace", "team"]);
    assert!(pg.kubectl_ok(&["get", "ns", "team"]).contains("Active"));
    pg.kubectl_ok(&[
        "run",
        "p",
        "--image=nginx",
        "--port=8080",
        "--env=A=1",
        "--command",
        "--",
        "sleep",
        "100",
    ]);
    let pod = pg.kubectl_ok(&["get", "pod", "p", "-o", "jsonpath={.spec.containers[0].command} {.spec.containers[0].env[0].value} {.metadata.labels.run}"]);
    assert_eq!(pod, r#"["sleep","100"] 1 p"#);
    pg.kubectl_ok(&[
        "expose",
        "pod",
        "p",
        "--port",
        "80",
        "--target-port",
        "8080",
    ]);
    assert_eq!(
        pg.kubectl_ok(&[
            "get",
            "svc",
            "p",
            "-o",
            "jsonpath={.spec.ports[0].targetPort} {.spec.selector.run}"
        ]),
        "8080 p"
    );
}
