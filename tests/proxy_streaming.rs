//! Exec through `podgate proxy` in front of `podgate up`, with the real kubectl: refused by
//! kubectl proxy's default `--reject-paths`, and spliced through to the pod once they are
//! opened, over WebSocket and SPDY.

mod common;
#[path = "common/proxy.rs"]
mod proxy;

use std::process::Command;

use common::{Podgate, manifest, wait_for};
use proxy::ProxyProcess;

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web-0
spec:
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "exec sleep 3600"]
"#;

fn kubectl_through(proxy: &ProxyProcess, websockets: bool, args: &[&str]) -> std::process::Output {
    let empty = tempfile::NamedTempFile::new().expect("kubeconfig");
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig")
        .arg(empty.path())
        .arg("--server")
        .arg(format!("http://127.0.0.1:{}", proxy.port()))
        .args(args);
    if !websockets {
        cmd.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false");
    }
    cmd.output().expect("kubectl")
}

#[test]
fn exec_passes_through_podgate_proxy_once_its_filter_allows_it() {
    let pg = Podgate::start(&["--no-dns"]);
    let dir = pg.state_dir.parent().expect("tmp").to_path_buf();
    pg.kubectl_ok(&[
        "apply",
        "-f",
        manifest(&dir, "pod.yaml", POD).to_str().expect("path"),
    ]);
    wait_for("web-0 Running", || {
        let out = pg.kubectl(&["get", "pod", "web-0", "-o", "jsonpath={.status.phase}"]);
        (out.stdout == b"Running").then_some(())
    });

    // kubectl proxy's default filter refuses exec and attach.
    let guarded = ProxyProcess::start(&pg, &[]);
    let out = kubectl_through(&guarded, true, &["exec", "web-0", "--", "echo", "hi"]);
    assert!(
        !out.status.success(),
        "exec through the default filter is refused"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Forbidden"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let open = ProxyProcess::start(&pg, &["--reject-paths=^/nothing-is-rejected$"]);
    for websockets in [true, false] {
        let out = kubectl_through(
            &open,
            websockets,
            &[
                "exec",
                "web-0",
                "--",
                "sh",
                "-c",
                "echo through the proxy; exit 4",
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "through the proxy\n",
            "websockets={websockets}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(4), "websockets={websockets}");
    }
}
