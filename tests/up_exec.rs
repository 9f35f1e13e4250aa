//! `kubectl exec` against `podgate up`, with the real kubectl over both of its protocols
//! (WebSocket `v5.channel.k8s.io`, and SPDY when `KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`):
//! output, exit codes, stdin with end of file, the container's own host name and volume,
//! container defaulting and its errors, and RBAC on `pods/exec`.

mod common;

use std::process::{Command, Output, Stdio};

use common::{Podgate, http_request, manifest, wait_for};

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

/// Runs kubectl, asserting success; returns its stdout.
fn kubectl_succeeds(pg: &Podgate, protocol: Protocol, args: &[&str]) -> String {
    let out = kubectl(pg, protocol, args, None);
    assert!(
        out.status.success(),
        "{protocol:?} {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
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

const RBAC: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: default}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
- apiGroups: [""]
  resources: [pods/exec]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: reader}
"#;

#[test]
fn exec_needs_create_on_pods_exec_and_the_node_takes_only_the_api_servers_key() {
    let pg = Podgate::start(&["--no-dns"]);
    let dir = pg.state_dir.parent().expect("tmp").to_path_buf();
    pg.kubectl_ok(&[
        "apply",
        "-f",
        manifest(&dir, "app.yaml", APP).to_str().expect("path"),
    ]);
    pg.kubectl_ok(&[
        "apply",
        "-f",
        manifest(&dir, "rbac.yaml", RBAC).to_str().expect("path"),
    ]);
    running_ready(&pg, "web-0");
    wait_for("the reader's role", || {
        pg.kubectl(&["auth", "can-i", "get", "pods", "--as=reader"])
            .status
            .success()
            .then_some(())
    });
    // `get` on pods/exec is not enough, over either protocol: a WebSocket exec is a GET,
    // and podgate asks for `create` as the SPDY POST does.
    for protocol in [Protocol::WebSocket, Protocol::Spdy] {
        let out = kubectl(
            &pg,
            protocol,
            &["exec", "web-0", "-c", "main", "--as=reader", "--", "true"],
            None,
        );
        assert!(!out.status.success(), "{protocol:?}");
        assert!(
            text(&out.stderr).contains(
                "Error from server (Forbidden): pods \"web-0\" is forbidden: User \"reader\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"default\""
            ),
            "{protocol:?}: {}",
            text(&out.stderr)
        );
    }

    // The node's endpoint answers only the API server: no credential of a user opens it.
    let port = pg.kubectl_ok(&[
        "get",
        "nodes",
        "-o",
        "jsonpath={.items[0].status.daemonEndpoints.kubeletEndpoint.Port}",
    ]);
    let port: u16 = port.trim().parse().expect("node port");
    let admin = format!("Bearer {}", pg.token());
    for headers in [vec![], vec![("Authorization", admin.as_str())]] {
        for path in [
            "/exec/default/web-0/main?command=id&stdout=true",
            "/containerLogs/default/web-0/main",
        ] {
            let (status, _) =
                http_request(port, "GET", path, &headers, b"").expect("node endpoint");
            assert_eq!(status, 401, "{path} with {headers:?}");
        }
    }
}

#[test]
fn kubectl_cp_copies_files_and_directories_both_ways() {
    let pg = Podgate::start(&["--no-dns"]);
    let dir = pg.state_dir.parent().expect("tmp").to_path_buf();
    pg.kubectl_ok(&[
        "apply",
        "-f",
        manifest(&dir, "app.yaml", APP).to_str().expect("path"),
    ]);
    running_ready(&pg, "web-0");
    let local = dir.join("local");
    std::fs::create_dir_all(local.join("tree/sub")).expect("mkdir");
    std::fs::write(local.join("one.txt"), "first file\n").expect("write");
    std::fs::write(local.join("tree/a.txt"), "tree a\n").expect("write");
    let big: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(local.join("tree/sub/big.bin"), &big).expect("write");

    let tree = local.join("tree");
    let (file, tree) = (
        local.join("one.txt").to_str().expect("path").to_string(),
        tree.to_str().expect("path").to_string(),
    );
    for protocol in [Protocol::WebSocket, Protocol::Spdy] {
        let what = format!("{protocol:?}");
        let dest = format!("/var/data/{what}");
        let run = |args: &[&str]| kubectl_succeeds(&pg, protocol, args);
        run(&["exec", "web-0", "-c", "main", "--", "mkdir", "-p", &dest]);
        // Into the pod: a file, and a directory.
        run(&["cp", "-c", "main", &file, &format!("web-0:{dest}/one.txt")]);
        run(&["cp", "-c", "main", &tree, &format!("web-0:{dest}/tree")]);
        let inside = run(&[
            "exec",
            "web-0",
            "-c",
            "main",
            "--",
            "sh",
            "-c",
            &format!("cat {dest}/one.txt {dest}/tree/a.txt; wc -c < {dest}/tree/sub/big.bin"),
        ]);
        assert_eq!(inside, "first file\ntree a\n2000000\n", "{what}");

        // Out of the pod: the directory comes back byte for byte.
        let back = dir.join(format!("back-{what}"));
        run(&[
            "cp",
            "-c",
            "main",
            &format!("web-0:{dest}/tree"),
            back.to_str().expect("path"),
        ]);
        assert_eq!(
            std::fs::read_to_string(back.join("a.txt")).expect("a.txt"),
            "tree a\n"
        );
        assert_eq!(
            std::fs::read(back.join("sub/big.bin")).expect("big.bin"),
            big,
            "{what}"
        );
    }
}

/// Processes whose command line is exactly `words`.
fn processes_running(words: &[&str]) -> usize {
    let wanted: Vec<u8> = words.iter().flat_map(|w| w.bytes().chain([0])).collect();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == wanted))
        .count()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn sessions_the_client_kills_leave_no_process_or_fd_behind() {
    let pg = Podgate::start(&["--no-dns"]);
    let dir = pg.state_dir.parent().expect("tmp").to_path_buf();
    pg.kubectl_ok(&[
        "apply",
        "-f",
        manifest(&dir, "app.yaml", APP).to_str().expect("path"),
    ]);
    running_ready(&pg, "web-0");
    // One finished session first, so the connection pools are as they stay.
    let out = kubectl(
        &pg,
        Protocol::WebSocket,
        &["exec", "web-0", "-c", "main", "--", "true"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Measured right after a session: a leak of even one descriptor per session below
    // shows as fifty.
    let baseline = open_fds(pg.pid());
    let marker = ["sleep", "4242"];
    for i in 0..50 {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(pg.kubeconfig())
            .args(["exec", "-i", "web-0", "-c", "main", "--", "sleep", "4242"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if i % 2 == 1 {
            cmd.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false");
        }
        let mut child = cmd.spawn().expect("kubectl exec");
        wait_for("the exec'd command to run", || {
            (processes_running(&marker) > 0).then_some(())
        });
        child.kill().expect("kill kubectl");
        let _ = child.wait();
        wait_for("the exec'd command to be gone", || {
            (processes_running(&marker) == 0).then_some(())
        });
    }
    wait_for("podgate's descriptors back where they were", || {
        (open_fds(pg.pid()) <= baseline).then_some(())
    });
}

#[test]
fn a_pod_sees_its_volume_but_not_podgates_state_dir() {
    let pg = Podgate::start(&["--no-dns"]);
    let dir = pg.state_dir.parent().expect("tmp").to_path_buf();
    pg.kubectl_ok(&[
        "apply",
        "-f",
        manifest(&dir, "app.yaml", APP).to_str().expect("path"),
    ]);
    running_ready(&pg, "web-0");
    if pg.log().contains("namespaces are not available") {
        eprintln!("skipped: no mount namespaces here, pods share the host's file system");
        return;
    }
    let state = pg.state_dir.canonicalize().expect("state dir");
    let state = state.to_str().expect("path");
    let script = format!(
        "echo mine > /var/data/mine && cat /var/data/mine; ls -A {state} | wc -l; cat {state}/token || echo no-token; cat {state}/ca.key || echo no-key"
    );
    let out = kubectl(
        &pg,
        Protocol::WebSocket,
        &["exec", "web-0", "-c", "main", "--", "sh", "-c", &script],
        None,
    );
    assert_eq!(
        text(&out.stdout),
        "mine\n0\nno-token\nno-key\n",
        "{}",
        text(&out.stderr)
    );
}
