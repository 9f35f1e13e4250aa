//! The StatefulSet controller with the node agent of `podgate up`: pods are scheduled, run as
//! real `podgate pet` processes and made Ready by real readiness probes; kubectl drives and
//! watches. OrderedReady creation and one-at-a-time scale-down are checked in a pod watch, and
//! at most one pod per identity is checked against the OS's process list under repeated forced
//! deletion.

mod common;
mod controller_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use common::{pod_http as http, wait_for};
use controller_support::{
    Cluster, KubectlWatch, PodProcess, first_event, is_ready, last_state, node_processes,
    pet_container, phase, real_pods,
};
use kube::ResourceExt;
use serde_json::{Value, json};

const SEL: &str = "app=web";

/// Headless service `web` and StatefulSet `web` of pods running `container`, with a `data`
/// claim each.
fn web(replicas: i32, policy: &str, container: Value) -> String {
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 8080}]}
    });
    let set = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "serviceName": "web",
            "podManagementPolicy": policy,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [container]}
            },
            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}}]
        }
    });
    let yaml = |v: &Value| serde_yaml_ng::to_string(v).expect("yaml");
    format!("{}---\n{}", yaml(&service), yaml(&set))
}

/// Must-show 3: with OrderedReady, `web-1` is created only after `web-0` is Running and Ready
/// — Ready from its own readiness probe, which passes once the pod holds data — and scale-down
/// removes the highest ordinal first, marking the next one for deletion only after the
/// previous one is gone (its process stopped and its object removed by the node agent).
#[test]
fn ordered_ready_follows_real_readiness_and_scales_down_one_at_a_time() {
    let _turn = real_pods();
    let c = Cluster::start();
    let mut watch = KubectlWatch::start(&c, &["pods", "-l", SEL]);
    // The probe runs inside the container, on its own claim.
    let holds_data =
        json!({"exec": {"command": ["test", "-f", "/var/data/kubia.txt"]}, "periodSeconds": 1});
    c.apply(&web(3, "OrderedReady", pet_container("data", holds_data)));

    for i in 0..3 {
        let name = format!("web-{i}");
        let ip = wait_for(&format!("{name} Running"), || c.running_ip(&name));
        wait_for(&format!("{name}'s readiness probe failing"), || {
            c.events_about("Pod", &name)
                .iter()
                .any(|(ty, reason, m, _)| {
                    ty == "Warning"
                        && reason == "Unhealthy"
                        && m.starts_with("Readiness probe failed")
                })
                .then_some(())
        });
        assert!(!is_ready(&c.pod(&name).unwrap()), "{name} is not Ready yet");
        assert_eq!(
            c.active(SEL).len(),
            i + 1,
            "no pod after {name} while it is Running but not Ready"
        );
        let data = format!("{name}'s data");
        let (code, body) = wait_for(&format!("{name} answering"), || {
            http(&ip, 8080, "POST", &data)
        });
        assert_eq!((code, body), (200, format!("Data stored on pod {name}\n")));
        wait_for(&format!("{name} Ready"), || {
            c.pod(&name).filter(is_ready).map(|_| ())
        });
    }
    wait_for("3 ready replicas", || {
        let ready = c.sts("web").status?.ready_replicas;
        (ready == Some(3)).then_some(())
    });
    // Each pod is its own process, with its own host name and its own data.
    let procs = c.pod_processes();
    let hostnames: BTreeSet<&str> = procs.iter().map(|p| p.hostname.as_str()).collect();
    assert_eq!(procs.len(), 3, "{procs:?}");
    assert_eq!(hostnames, BTreeSet::from(["web-0", "web-1", "web-2"]));
    for i in 0..3 {
        let ip = c.running_ip(&format!("web-{i}")).expect("running");
        let (_, body) = http(&ip, 8080, "GET", "").expect("GET");
        assert_eq!(
            body,
            format!("You've hit web-{i}\nData stored on this pod: web-{i}'s data\n")
        );
    }

    watch.wait_until("three ADDED events", |e| {
        e.iter().filter(|e| e.kind == "ADDED").count() >= 3
    });
    assert_eq!(watch.order("ADDED"), ["web-0", "web-1", "web-2"]);
    for (next, prev) in [("web-1", "web-0"), ("web-2", "web-1")] {
        let added = first_event(&watch.seen, next, |e| e.kind == "ADDED").unwrap();
        let before = last_state(&watch.seen, prev, added).expect("predecessor seen");
        assert!(
            before.running_and_ready(),
            "{next} was created while {prev} was not Running and Ready"
        );
        let waited = watch.seen[..added]
            .iter()
            .any(|e| e.name() == prev && phase(&e.pod()) == "Running" && !is_ready(&e.pod()));
        assert!(
            waited,
            "{prev} was seen Running but not Ready before {next} was created"
        );
    }

    c.kubectl_ok(&["scale", "sts", "web", "--replicas=0"]);
    wait_for("every web pod and process gone", || {
        (c.pods(SEL).is_empty() && c.pod_processes().is_empty()).then_some(())
    });
    watch.wait_until("three DELETED events", |e| {
        e.iter().filter(|e| e.kind == "DELETED").count() >= 3
    });
    assert_eq!(watch.order("DELETED"), ["web-2", "web-1", "web-0"]);
    for (gone, next) in [("web-2", "web-1"), ("web-1", "web-0")] {
        let deleted = first_event(&watch.seen, gone, |e| e.kind == "DELETED").unwrap();
        let marked = first_event(&watch.seen, next, |e| e.terminating()).unwrap();
        assert!(
            deleted < marked,
            "{next} was marked for deletion before {gone} was gone"
        );
    }
    let claims = c.claims();
    for i in 0..3 {
        let claim = &claims[&format!("data-web-{i}")];
        let bound = claim.status.as_ref().and_then(|s| s.phase.as_deref());
        assert_eq!(bound, Some("Bound"), "claims stay after scale-down");
    }
}

/// What a [`Sampler`] saw.
#[derive(Debug, Default)]
struct Samples {
    /// How many times the process list was read.
    scans: usize,
    /// Pod uids seen running, by host name.
    incarnations: BTreeMap<String, BTreeSet<String>>,
    /// Live processes of two incarnations of one pod seen at once: (host name, uids).
    overlaps: BTreeSet<(String, BTreeSet<String>)>,
}

/// Reads the node agent's processes from the OS over and over in a background thread.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Samples>,
}

impl Sampler {
    fn start(node_dir: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut samples = Samples::default();
            // A safety stop, should the test never get to finish the sampler.
            let deadline = std::time::Instant::now() + Duration::from_secs(600);
            while !flag.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
                let scan = node_processes(&node_dir);
                samples.scans += 1;
                for p in &scan {
                    samples
                        .incarnations
                        .entry(p.hostname.clone())
                        .or_default()
                        .insert(p.uid.clone());
                }
                samples.overlaps.extend(overlaps(&scan));
                std::thread::sleep(Duration::from_millis(5));
            }
            samples
        });
        Self { stop, thread }
    }

    fn finish(self) -> Samples {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("sampler")
    }
}

/// The host names for which one scan shows processes of two pod uids alive at the same moment.
/// A scan reads one process after another, so a process read early may have died before a
/// later one started: a pair counts only when the earlier-read process is still alive after
/// the scan (it was then alive throughout, including when the later one was read).
fn overlaps(scan: &[PodProcess]) -> Vec<(String, BTreeSet<String>)> {
    let mut out = Vec::new();
    for (i, early) in scan.iter().enumerate() {
        let later: BTreeSet<String> = scan[i + 1..]
            .iter()
            .filter(|p| p.hostname == early.hostname && p.uid != early.uid)
            .map(|p| p.uid.clone())
            .collect();
        if !later.is_empty() && early.alive() {
            let mut uids = later;
            uids.insert(early.uid.clone());
            out.push((early.hostname.clone(), uids));
        }
    }
    out
}

/// Must-show 6: `kubectl delete pod --force --grace-period=0` of every pod, repeated while the
/// controller is recreating them and rolling out a new template (and once while the pods are
/// already shutting down gracefully), never leaves processes of two incarnations of one pod
/// name alive at the same moment, as the OS's process list shows. The pods take a second to
/// exit after SIGTERM, so a replacement started before its predecessor is gone would be seen.
#[test]
fn forced_deletion_never_runs_two_incarnations_of_one_pod() {
    let _turn = real_pods();
    let c = Cluster::start();
    let serving = json!({"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1});
    let mut container = pet_container("data", serving);
    container["command"] = json!([
        "sh",
        "-c",
        "trap 'sleep 1; exit 0' TERM; podgate pet --data-dir /var/data & wait"
    ]);
    c.apply(&web(3, "Parallel", container));
    let names = ["web-0", "web-1", "web-2"];
    wait_for("three Ready pods", || {
        (c.all_ready(SEL)? == names).then_some(())
    });
    let sampler = Sampler::start(c.node_dir());
    let mut known: BTreeSet<String> = c.pods(SEL).iter().filter_map(|p| p.uid()).collect();
    let delete = |extra: &[&str]| {
        let mut args = vec!["delete", "pod", "--ignore-not-found", "--wait=false"];
        args.extend(names);
        args.extend(extra);
        c.kubectl_ok(&args);
    };
    for round in 0..6 {
        if round == 3 {
            // A rolling update on top: the controller deletes and recreates pods itself too.
            c.kubectl_ok(&[
                "patch",
                "sts",
                "web",
                "--type=merge",
                "-p",
                r#"{"spec":{"template":{"metadata":{"annotations":{"example.com/round":"3"}}}}}"#,
            ]);
        }
        if round == 4 {
            // Forced while a graceful deletion is under way.
            delete(&[]);
            wait_for("three pods shutting down", || {
                let pods = c.pods(SEL);
                (pods.len() == 3 && pods.iter().all(|p| p.metadata.deletion_timestamp.is_some()))
                    .then_some(())
            });
        }
        delete(&["--force", "--grace-period=0"]);
        // Some rounds delete again as soon as the replacements exist (their processes may be
        // starting); the others wait until the replacements run.
        let must_run = round % 2 == 1;
        let fresh = wait_for(&format!("round {round}'s replacements"), || {
            let pods = c.pods(SEL);
            let fresh = pods.len() == 3
                && pods.iter().all(|p| {
                    p.metadata.deletion_timestamp.is_none()
                        && !known.contains(&p.uid().unwrap_or_default())
                        && (!must_run || phase(p) == "Running")
                });
            fresh.then_some(pods)
        });
        known.extend(fresh.iter().filter_map(|p| p.uid()));
    }
    wait_for("the rollout to finish", || {
        let st = c.sts("web").status?;
        (st.ready_replicas == Some(3)
            && st.updated_replicas == Some(3)
            && st.current_revision == st.update_revision)
            .then_some(())
    });
    // Settled: the processes of each pod are those of the incarnation the API shows.
    wait_for("the processes of the current pods only", || {
        let want: BTreeMap<String, BTreeSet<String>> = c
            .pods(SEL)
            .iter()
            .map(|p| (p.name_any(), BTreeSet::from([p.uid().unwrap_or_default()])))
            .collect();
        let mut got: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for p in c.pod_processes() {
            got.entry(p.hostname).or_default().insert(p.uid);
        }
        (got == want).then_some(())
    });
    let samples = sampler.finish();
    assert!(
        samples.overlaps.is_empty(),
        "two incarnations of one pod ran at once: {:?}",
        samples.overlaps
    );
    for name in names {
        let seen = samples.incarnations.get(name).map_or(0, BTreeSet::len);
        assert!(
            seen >= 4,
            "the sampler saw {seen} incarnations of {name} run ({} scans)",
            samples.scans
        );
    }
}
