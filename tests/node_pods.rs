//! The node agent of `podgate up`, driven through the real `podgate` binary and `kubectl`:
//! pods are real local processes with their pod name as host name, their own loopback IP and
//! their claim mounted; readiness follows probes; crashing containers back off; deletion is
//! graceful; logs work with `kubectl logs`; a `kill -9` of podgate runs every pod again, once.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::{Podgate, manifest, pod_http as http, wait_for};

/// Every `podgate up` hands out pod IPs from 127.1.0.1: tests in this file run one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn apply(pg: &Podgate, dir: &Path, name: &str, yaml: &str) {
    let path = manifest(dir, name, yaml);
    pg.kubectl_ok(&["apply", "-f", path.to_str().expect("path")]);
}

fn jsonpath(pg: &Podgate, pod: &str, path: &str) -> String {
    let out = pg.kubectl(&["get", "pod", pod, "-o", &format!("jsonpath={path}")]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_jsonpath(pg: &Podgate, pod: &str, path: &str, want: &str) {
    wait_for(&format!("{pod} {path} = {want}"), || {
        (jsonpath(pg, pod, path) == want).then_some(())
    });
}

/// Live processes whose environment has `key=value`.
fn processes_with(key: &str, value: &str) -> Vec<u32> {
    let needle = format!("{key}={value}");
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')
                        .map(|(_, r)| r.trim_start().starts_with('Z'))
                })
                .unwrap_or(true);
            !zombie && env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes())
        })
        .collect()
}

fn container_processes(pg: &Podgate, pod: &str, container: &str) -> Vec<u32> {
    let uid = jsonpath(pg, pod, "{.metadata.uid}");
    assert!(!uid.is_empty(), "pod {pod} has a uid");
    processes_with("PODGATE_CONTAINER", &format!("{uid}/{container}"))
}

/// The directory of the volume a claim is bound to (the volumes controller binds it to a
/// `local` hostPath volume under the state dir).
fn claim_dir(pg: &Podgate, claim: &str) -> PathBuf {
    let pv = pg.kubectl_ok(&["get", "pvc", claim, "-o", "jsonpath={.spec.volumeName}"]);
    assert!(!pv.is_empty(), "{claim} is bound");
    let path = pg.kubectl_ok(&[
        "get",
        "pv",
        &pv,
        "-o",
        "jsonpath={.spec.hostPath.path}{.spec.local.path}",
    ]);
    PathBuf::from(path)
}

const PET: &str = r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data-kubia-0
spec:
  accessModes: ["ReadWriteOnce"]
  resources:
    requests:
      storage: 1Mi
---
apiVersion: v1
kind: Pod
metadata:
  name: kubia-0
  labels:
    app: kubia
spec:
  hostname: kubia-0
  subdomain: kubia
  containers:
  - name: kubia
    image: luksa/kubia-pet
    command: ["podgate", "pet", "--data-dir", "/var/data"]
    env:
    - name: POD_IP
      valueFrom:
        fieldRef:
          fieldPath: status.podIP
    ports:
    - containerPort: 8080
    readinessProbe:
      httpGet:
        path: /
        port: 8080
      periodSeconds: 1
    volumeMounts:
    - name: data
      mountPath: /var/data
  volumes:
  - name: data
    persistentVolumeClaim:
      claimName: data-kubia-0
"#;

#[test]
fn a_pet_pod_is_reachable_on_its_ip_with_its_name_and_claim_and_survives_kill_9() {
    let _one = lock();
    let mut pg = Podgate::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    apply(&pg, dir.path(), "pet.yaml", PET);
    wait_jsonpath(
        &pg,
        "kubia-0",
        "{.status.conditions[?(@.type==\"Ready\")].status}",
        "True",
    );
    let node = pg.kubectl_ok(&[
        "get",
        "nodes",
        "-o",
        "jsonpath={.items[0].status.conditions[?(@.type==\"Ready\")].status}",
    ]);
    assert_eq!(node, "True");
    let ip = jsonpath(&pg, "kubia-0", "{.status.podIP}");
    assert!(
        ip.starts_with("127.") && ip != "127.0.0.1",
        "own loopback IP: {ip}"
    );
    assert_eq!(jsonpath(&pg, "kubia-0", "{.status.hostIP}"), "127.0.0.1");

    let (status, body) = http(&ip, 8080, "GET", "").expect("GET");
    assert_eq!(
        (status, body.as_str()),
        (
            200,
            "You've hit kubia-0\nData stored on this pod: No data posted yet\n"
        )
    );
    let (status, body) = http(&ip, 8080, "POST", "Hey there!").expect("POST");
    assert_eq!(
        (status, body.as_str()),
        (200, "Data stored on pod kubia-0\n")
    );
    let stored = claim_dir(&pg, "data-kubia-0").join("kubia.txt");
    assert_eq!(
        std::fs::read_to_string(&stored).expect("claim file"),
        "Hey there!"
    );
    assert!(
        !Path::new("/var/data/kubia.txt").exists(),
        "the host's /var/data is untouched"
    );

    // kill -9: the next start reaps the old process and runs the pod again, exactly once.
    let old = container_processes(&pg, "kubia-0", "kubia");
    assert_eq!(old.len(), 1, "one podgate pet process: {old:?}");
    pg.kill9();
    pg.spawn(&[]);
    wait_for("kubia-0 restarted", || {
        let now = container_processes(&pg, "kubia-0", "kubia");
        (now.len() == 1 && now != old).then_some(())
    });
    wait_jsonpath(
        &pg,
        "kubia-0",
        "{.status.conditions[?(@.type==\"Ready\")].status}",
        "True",
    );
    let ip = jsonpath(&pg, "kubia-0", "{.status.podIP}");
    let (_, body) = http(&ip, 8080, "GET", "").expect("GET after restart");
    assert_eq!(
        body,
        "You've hit kubia-0\nData stored on this pod: Hey there!\n"
    );
    assert_eq!(
        container_processes(&pg, "kubia-0", "kubia").len(),
        1,
        "never two process trees"
    );
}

#[test]
fn readiness_follows_an_http_probe() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("python3 is not installed; skipping");
        return;
    }
    let _one = lock();
    let pg = Podgate::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    apply(
        &pg,
        dir.path(),
        "probe.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: probed
spec:
  containers:
  - name: web
    image: python
    command: ["sh", "-c", "touch /srv/www/healthz && cd /srv/www && exec python3 -m http.server --bind $POD_IP 8080"]
    readinessProbe:
      httpGet:
        path: /healthz
        port: 8080
      periodSeconds: 1
      failureThreshold: 1
    volumeMounts:
    - name: www
      mountPath: /srv/www
  volumes:
  - name: www
    emptyDir: {}
"#,
    );
    let ready = "{.status.conditions[?(@.type==\"Ready\")].status}";
    wait_jsonpath(&pg, "probed", ready, "True");
    let uid = jsonpath(&pg, "probed", "{.metadata.uid}");
    let healthz = pg
        .state_dir
        .join("node/pods")
        .join(&uid)
        .join("volumes/empty-dir/www/healthz");
    std::fs::remove_file(&healthz).expect("break the probe");
    wait_jsonpath(&pg, "probed", ready, "False");
    // The event is posted beside the status update, not before it: wait for it too.
    wait_for("the probe failure event", || {
        let events = pg.kubectl_ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=probed",
            "-o",
            "jsonpath={.items[*].message}",
        ]);
        events
            .contains("Readiness probe failed: HTTP probe failed with statuscode: 404")
            .then_some(())
    });
    std::fs::write(&healthz, "").expect("repair the probe");
    wait_jsonpath(&pg, "probed", ready, "True");
}

#[test]
fn crashing_containers_back_off_and_never_means_failed() {
    let _one = lock();
    let pg = Podgate::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    apply(
        &pg,
        dir.path(),
        "crash.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: crasher
spec:
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo attempt; exit 2"]
---
apiVersion: v1
kind: Pod
metadata:
  name: once
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "exit 7"]
"#,
    );
    wait_jsonpath(&pg, "once", "{.status.phase}", "Failed");
    assert_eq!(
        jsonpath(
            &pg,
            "once",
            "{.status.containerStatuses[0].state.terminated.exitCode}"
        ),
        "7"
    );
    assert_eq!(
        jsonpath(&pg, "once", "{.status.containerStatuses[0].restartCount}"),
        "0"
    );

    // Back-off grows: 10s after the second crash, then 20s.
    let waiting = "{.status.containerStatuses[0].state.waiting.message}";
    wait_for("back-off 10s", || {
        jsonpath(&pg, "crasher", waiting)
            .starts_with("back-off 10s restarting failed container=c pod=crasher_default(")
            .then_some(())
    });
    wait_for("back-off 20s", || {
        jsonpath(&pg, "crasher", waiting)
            .starts_with("back-off 20s ")
            .then_some(())
    });
    let restarts: u32 = jsonpath(
        &pg,
        "crasher",
        "{.status.containerStatuses[0].restartCount}",
    )
    .parse()
    .expect("count");
    assert!(restarts >= 2, "restartCount {restarts}");
    assert_eq!(
        jsonpath(
            &pg,
            "crasher",
            "{.status.containerStatuses[0].state.waiting.reason}"
        ),
        "CrashLoopBackOff"
    );
    assert_eq!(
        jsonpath(
            &pg,
            "crasher",
            "{.status.containerStatuses[0].lastState.terminated.exitCode}"
        ),
        "2"
    );
    let previous = pg.kubectl_ok(&["logs", "crasher", "--previous"]);
    assert_eq!(previous, "attempt\n");
    let table = pg.kubectl_ok(&["get", "pod", "crasher"]);
    assert!(table.contains("CrashLoopBackOff"), "{table}");
}

#[test]
fn deletion_is_graceful_unless_forced() {
    let _one = lock();
    let pg = Podgate::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let pod = |name: &str| {
        format!(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  terminationGracePeriodSeconds: 4
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "trap 'echo got SIGTERM' TERM; echo up; while true; do sleep 0.2; done"]
"#
        )
    };
    apply(&pg, dir.path(), "a.yaml", &pod("stubborn"));
    apply(&pg, dir.path(), "b.yaml", &pod("forced"));
    for name in ["stubborn", "forced"] {
        wait_jsonpath(&pg, name, "{.status.phase}", "Running");
        wait_for("up", || {
            pg.kubectl_ok(&["logs", name]).contains("up").then_some(())
        });
    }

    let stubborn = container_processes(&pg, "stubborn", "c");
    assert!(!stubborn.is_empty());
    let uid = jsonpath(&pg, "stubborn", "{.metadata.uid}");
    pg.kubectl_ok(&["delete", "pod", "stubborn", "--wait=false"]);
    wait_for("SIGTERM delivered", || {
        pg.kubectl_ok(&["logs", "stubborn"])
            .contains("got SIGTERM")
            .then_some(())
    });
    // The process ignores SIGTERM: it and the Pod object stay until the grace period ends.
    assert!(
        !processes_with("PODGATE_CONTAINER", &format!("{uid}/c")).is_empty(),
        "not killed before the grace period"
    );
    assert_eq!(
        jsonpath(&pg, "stubborn", "{.metadata.uid}"),
        uid,
        "the pod object waits for its processes"
    );
    wait_for("stubborn gone", || {
        (!pg.kubectl(&["get", "pod", "stubborn"]).status.success()).then_some(())
    });
    assert!(
        processes_with("PODGATE_CONTAINER", &format!("{uid}/c")).is_empty(),
        "SIGKILL after the grace period"
    );

    let forced_uid = jsonpath(&pg, "forced", "{.metadata.uid}");
    pg.kubectl_ok(&["delete", "pod", "forced", "--force", "--grace-period=0"]);
    wait_for("forced processes killed", || {
        processes_with("PODGATE_CONTAINER", &format!("{forced_uid}/c"))
            .is_empty()
            .then_some(())
    });
}

#[test]
fn kubectl_logs_follow_previous_and_tail() {
    let _one = lock();
    let pg = Podgate::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    apply(
        &pg,
        dir.path(),
        "logs.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: talker
spec:
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo line $i; sleep 0.1; done; exit 1"]
"#,
    );
    wait_jsonpath(&pg, "talker", "{.status.phase}", "Running");
    // -f streams until the container ends.
    let followed = pg.kubectl_ok(&["logs", "-f", "talker"]);
    let want: String = (1..=30).map(|i| format!("line {i}\n")).collect();
    assert!(
        followed.ends_with("line 30\n") && want.contains(followed.as_str()),
        "{followed}"
    );
    wait_for("a restart", || {
        (jsonpath(&pg, "talker", "{.status.containerStatuses[0].restartCount}") != "0")
            .then_some(())
    });
    let previous = pg.kubectl_ok(&["logs", "talker", "--previous"]);
    assert_eq!(previous, want);
    let tail = pg.kubectl_ok(&["logs", "talker", "--previous", "--tail=2"]);
    assert_eq!(tail, "line 29\nline 30\n");
    let stamped = pg.kubectl_ok(&["logs", "talker", "--previous", "--tail=1", "--timestamps"]);
    assert!(stamped.ends_with("Z line 30\n"), "{stamped}");
    let recent = pg.kubectl_ok(&["logs", "talker", "--previous", "--since=1h"]);
    assert_eq!(recent, want);
}

#[test]
fn a_container_without_command_says_what_to_write() {
    let _one = lock();
    let pg = Podgate::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    apply(
        &pg,
        dir.path(),
        "nginx.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: nginx\n    image: nginx:1.27\n",
    );
    wait_jsonpath(
        &pg,
        "web",
        "{.status.containerStatuses[0].state.waiting.reason}",
        "CreateContainerConfigError",
    );
    let message = jsonpath(
        &pg,
        "web",
        "{.status.containerStatuses[0].state.waiting.message}",
    );
    assert!(
        message.contains("has no command") && message.contains("command: [\"podgate\", \"pet\"]"),
        "{message}"
    );
    let describe = pg.kubectl_ok(&["describe", "pod", "web"]);
    assert!(describe.contains("has no command"), "{describe}");
    let logs = pg.kubectl(&["logs", "web"]);
    assert!(!logs.status.success());
    assert!(
        String::from_utf8_lossy(&logs.stderr)
            .contains("is waiting to start: CreateContainerConfigError")
    );
}
