//! `kubectl exec` against `podgate up`, with the real kubectl over both of its protocols
//! (WebSocket `v5.channel.k8s.io`, and SPDY when `KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`):
//! output, exit codes, stdin with end of file, the container's own host name and volume,
//! container defaulting and its errors, and RBAC on `pods/exec`.

mod common;

use std::process::{Command, Output, Stdio};

use common::{Podgate, manifest, wait_for};

const APP: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: nginx
spec:
  clusterIP: None
  selector:
    app: web
  ports:
  - name: web
    port: 80
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: nginx
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "exec sleep 3600"]
        env:
        - name: GREETING
          value: hello from web
        volumeMounts:
        - name: data
          mountPath: /var/data
      - name: side
        image: busybox
        command: ["sh", "-c", "exec sleep 3600"]
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: ["ReadWriteOnce"]
      resources:
        requests:
          storage: 10Mi
"#;

/// Which protocol kubectl uses.
#[derive(Clone, Copy, Debug)]
enum Protocol {
    WebSocket,
    Spdy,
}

fn kubectl(pg: &Podgate, protocol: Protocol, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig").arg(pg.kubeconfig()).args(args);
    if let Protocol::Spdy = protocol {
        cmd.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false");
    }
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run kubectl");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input).expect("write stdin");
    }
    child.wait_with_output().expect("kubectl output")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn running_ready(pg: &Podgate, pod: &str) {
    wait_for(&format!("{pod} Running and Ready"), || {
        let out = pg.kubectl(&[
            "get",
            "pod",
            pod,
            "-o",
            "jsonpath={.status.phase}/{.status.conditions[?(@.type==\"Ready\")].status}",
        ]);
        (text(&out.stdout) == "Running/True").then_some(())
    });
}

#[test]
fn kubectl_exec_runs_commands_in_the_container() {
    let pg = Podgate::start(&["--no-dns"]);
    let dir = pg.state_dir.parent().expect("tmp").to_path_buf();
    pg.kubectl_ok(&[
        "apply",
        "-f",
        manifest(&dir, "app.yaml", APP).to_str().expect("path"),
    ]);
    running_ready(&pg, "web-0");

    for protocol in [Protocol::WebSocket, Protocol::Spdy] {
        let what = format!("{protocol:?}");
        // Output, the container's environment, and its host name (the pod's name).
        let out = kubectl(
            &pg,
            protocol,
            &[
                "exec",
                "web-0",
                "-c",
                "main",
                "--",
                "sh",
                "-c",
                "echo $GREETING; hostname",
            ],
            None,
        );
        assert!(out.status.success(), "{what}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.starts_with("hello from web\n"), "{what}: {stdout:?}");
        if !stdout.contains("web-0") {
            // Without namespaces (PODGATE_ISOLATION=none) the host name is the machine's.
            assert!(
                pg.log().contains("namespaces are not available"),
                "{what}: {stdout:?}"
            );
        }

        // Exit codes reach kubectl's own exit status with its message.
        let out = kubectl(
            &pg,
            protocol,
            &["exec", "web-0", "-c", "main", "--", "sh", "-c", "exit 3"],
            None,
        );
        assert_eq!(out.status.code(), Some(3), "{what}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("command terminated with exit code 3"),
            "{what}: {}",
            text(&out.stderr)
        );
        let out = kubectl(
            &pg,
            protocol,
            &[
                "exec",
                "web-0",
                "-c",
                "main",
                "--",
                "sh",
                "-c",
                "no-such-command-here",
            ],
            None,
        );
        assert_eq!(
            out.status.code(),
            Some(127),
            "{what}: {}",
            text(&out.stderr)
        );
        // A program that does not exist is the runtime's error and code.
        let out = kubectl(
            &pg,
            protocol,
            &["exec", "web-0", "-c", "main", "--", "no-such-program"],
            None,
        );
        assert_eq!(
            out.status.code(),
            Some(126),
            "{what}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("executable file not found in $PATH"),
            "{what}: {}",
            text(&out.stderr)
        );

        // Stdin up to end of file: `cat` sees the input and ends.
        let input = format!("line one {what}\nline two\n");
        let out = kubectl(
            &pg,
            protocol,
            &["exec", "-i", "web-0", "-c", "main", "--", "cat"],
            Some(input.as_bytes()),
        );
        assert!(out.status.success(), "{what}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), input, "{what}");

        // Standard error stays apart from standard output.
        let out = kubectl(
            &pg,
            protocol,
            &[
                "exec",
                "web-0",
                "-c",
                "main",
                "--",
                "sh",
                "-c",
                "echo out; echo err >&2",
            ],
            None,
        );
        assert_eq!(text(&out.stdout), "out\n", "{what}");
        assert!(text(&out.stderr).contains("err\n"), "{what}");
    }

    // A file written under the volume's mount path lands in the claim: it is there again
    // after the pod is re-created.
    let out = kubectl(
        &pg,
        Protocol::WebSocket,
        &[
            "exec",
            "web-0",
            "-c",
            "main",
            "--",
            "sh",
            "-c",
            "echo kept > /var/data/note; cat /var/data/note",
        ],
        None,
    );
    assert_eq!(text(&out.stdout), "kept\n", "{}", text(&out.stderr));
    let uid = pg.kubectl_ok(&["get", "pod", "web-0", "-o", "jsonpath={.metadata.uid}"]);
    pg.kubectl_ok(&["delete", "pod", "web-0", "--wait=false"]);
    wait_for("web-0 re-created", || {
        let out = pg.kubectl(&["get", "pod", "web-0", "-o", "jsonpath={.metadata.uid}"]);
        let now = text(&out.stdout);
        (!now.is_empty() && now != uid).then_some(())
    });
    running_ready(&pg, "web-0");
    let out = kubectl(
        &pg,
        Protocol::Spdy,
        &["exec", "web-0", "-c", "main", "--", "cat", "/var/data/note"],
        None,
    );
    assert_eq!(text(&out.stdout), "kept\n", "{}", text(&out.stderr));

    // kube-apiserver's checks and texts.
    let out = kubectl(
        &pg,
        Protocol::WebSocket,
        &["exec", "web-0", "-c", "nope", "--", "true"],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("container nope is not valid for pod web-0"),
        "{}",
        text(&out.stderr)
    );
    let out = kubectl(
        &pg,
        Protocol::WebSocket,
        &["exec", "nothing-here", "--", "true"],
        None,
    );
    assert!(
        text(&out.stderr).contains("pods \"nothing-here\" not found"),
        "{}",
        text(&out.stderr)
    );
    // Without -c kubectl picks the first container and says so.
    let out = kubectl(
        &pg,
        Protocol::WebSocket,
        &["exec", "web-0", "--", "true"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("Defaulted container \"main\" out of: main, side"),
        "{}",
        text(&out.stderr)
    );
}
