//! Interactive kubectl against `podgate up`, at a real pseudo-terminal: `kubectl exec -it`
//! with window resizes, `kubectl run -it --rm --restart=Never` (create, wait, attach with a
//! tty, delete), and `kubectl run -i` with piped stdin (`stdinOnce`).

mod common;
#[path = "common/terminal.rs"]
mod terminal;

use std::process::{Command, Stdio};

use common::{Podgate, manifest, wait_for};
use terminal::Terminal;

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: shell
spec:
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "exec sleep 3600"]
"#;

fn kubectl_on_terminal(pg: &Podgate, args: &[&str], websockets: bool) -> Terminal {
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig").arg(pg.kubeconfig()).args(args);
    if !websockets {
        cmd.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false");
    }
    Terminal::spawn(cmd, 80, 24)
}

/// Processes running `sleep 31`, the command the terminal test interrupts.
fn sleeps_running() -> usize {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == b"sleep\x0031\x00"))
        .count()
}

fn phase(pg: &Podgate, pod: &str) -> String {
    let out = pg.kubectl(&["get", "pod", pod, "-o", "jsonpath={.status.phase}"]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn exec_it_is_a_terminal_that_follows_the_window() {
    let pg = Podgate::start(&["--no-dns"]);
    let dir = pg.state_dir.parent().expect("tmp").to_path_buf();
    pg.kubectl_ok(&[
        "apply",
        "-f",
        manifest(&dir, "pod.yaml", POD).to_str().expect("path"),
    ]);
    wait_for("shell Running", || {
        (phase(&pg, "shell") == "Running").then_some(())
    });

    for websockets in [true, false] {
        let mut term = kubectl_on_terminal(&pg, &["exec", "-it", "shell", "--", "sh"], websockets);
        // The size kubectl found on its terminal reached the command's.
        term.type_keys("stty size; echo size-$((20+1))\r");
        term.wait_for_text("24 80\r\n");
        term.wait_for_text("size-21");
        // A window change reaches it too (kubectl sends it on SIGWINCH).
        term.resize(132, 50);
        wait_for("the new size inside", || {
            term.type_keys("stty size\r");
            std::thread::sleep(std::time::Duration::from_millis(100));
            term.screen().contains("50 132\r\n").then_some(())
        });
        // Keystrokes go through the terminal's line discipline (^C interrupts the shell's
        // foreground command, not kubectl), and the exit code comes back.
        term.type_keys("sleep 31\r");
        wait_for("the remote sleep to run", || {
            (sleeps_running() > 0).then_some(())
        });
        term.type_keys("\u{3}");
        wait_for("^C to stop the remote sleep", || {
            (sleeps_running() == 0).then_some(())
        });
        term.type_keys("echo after-$((40+2))\r");
        term.wait_for_text("after-42");
        term.type_keys("exit 7\r");
        let status = term.wait();
        assert_eq!(
            status.code(),
            Some(7),
            "websockets={websockets}: {}",
            term.screen()
        );
    }
}

#[test]
fn run_it_rm_attaches_to_a_shell_and_deletes_the_pod() {
    let pg = Podgate::start(&["--no-dns"]);
    let mut term = kubectl_on_terminal(
        &pg,
        &[
            "run",
            "-i",
            "--tty",
            "--rm",
            "--restart=Never",
            "--image=busybox",
            "dns-test",
            "--command",
            "--",
            "sh",
        ],
        true,
    );
    term.wait_for_text("If you don't see a command prompt, try pressing enter.");
    term.type_keys("echo inside-$((6*7)) $(hostname)\r");
    term.wait_for_text("inside-42");
    term.type_keys("exit\r");
    let status = term.wait();
    assert!(status.success(), "{}", term.screen());
    assert!(
        term.screen().contains("pod \"dns-test\" deleted"),
        "{}",
        term.screen()
    );
    let out = pg.kubectl(&["get", "pod", "dns-test"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pods \"dns-test\" not found"),
        "the pod is gone"
    );
}

#[test]
fn run_i_with_piped_stdin_closes_it_once_and_gets_the_output() {
    let pg = Podgate::start(&["--no-dns"]);
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(pg.kubeconfig())
        .args([
            "run",
            "-i",
            "--rm",
            "--restart=Never",
            "--image=busybox",
            "reader",
            "--command",
            "--",
            "sh",
            "-c",
            "while read l; do echo got:$l; done; echo done",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl run");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"one\ntwo\n").expect("write");
    }
    let out = child.wait_with_output().expect("kubectl run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("got:one\ngot:two\ndone\n"), "{stdout}");
}

#[test]
fn attach_joins_the_output_of_a_running_container() {
    let pg = Podgate::start(&["--no-dns"]);
    let dir = pg.state_dir.parent().expect("tmp").to_path_buf();
    let ticker = r#"
apiVersion: v1
kind: Pod
metadata:
  name: ticker
spec:
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done"]
"#;
    pg.kubectl_ok(&[
        "apply",
        "-f",
        manifest(&dir, "ticker.yaml", ticker)
            .to_str()
            .expect("path"),
    ]);
    wait_for("ticker Running", || {
        (phase(&pg, "ticker") == "Running").then_some(())
    });
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(pg.kubeconfig())
        .args(["attach", "ticker"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl attach");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    wait_for("two ticks through attach", || {
        use std::io::Read;
        let mut buf = [0u8; 256];
        let n = stdout.read(&mut buf).ok()?;
        seen.extend_from_slice(&buf[..n]);
        (String::from_utf8_lossy(&seen).matches("tick-").count() >= 2).then_some(())
    });
    let _ = child.kill();
    let _ = child.wait();
}
