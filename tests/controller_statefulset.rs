//! The StatefulSet controller through a real `podgate up`, the real kubectl and kube-rs: the
//! acceptance scenarios of statefulset-spec.md §8. The pods ask for a scheduler nobody serves,
//! so the node agent leaves them alone and the tests make them Running, Ready, unready or
//! Failed with status patches (§8.0; see `controller_support`).

mod common;
mod controller_support;

use common::wait_for;
use controller_support::{
    Cluster, KubectlWatch, UNSERVED_SCHEDULER, is_ready, last_state, phase, pod_claims, revision,
};
use kube::ResourceExt;
use serde_json::{Value, json};

const SEL: &str = "foo=bar";

/// The e2e fixture (`NewStatefulSet`): set `ss`, labels foo=bar,baz=blah, headless service
/// `test`, container `webserver`; `spec` is merged over it; `claims` adds the `datadir` template.
fn set(replicas: i32, spec: Value, claims: bool) -> String {
    let mut s = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "ss", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "serviceName": "test",
            "selector": {"matchLabels": {"foo": "bar", "baz": "blah"}},
            "template": {
                "metadata": {"labels": {"foo": "bar", "baz": "blah"}},
                "spec": {
                    "schedulerName": UNSERVED_SCHEDULER,
                    "containers": [{"name": "webserver", "image": "example/httpd:1", "command": ["sleep", "3600"]}]
                }
            },
            "updateStrategy": {"type": "RollingUpdate"}
        }
    });
    if claims {
        s["spec"]["volumeClaimTemplates"] = json!([{
            "metadata": {"name": "datadir"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}
        }]);
        s["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] =
            json!([{"name": "datadir", "mountPath": "/data"}]);
    }
    merge(&mut s["spec"], spec);
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "test", "namespace": "default"},
        "spec": {"clusterIP": "None", "selector": {"foo": "bar", "baz": "blah"}, "ports": [{"name": "http", "port": 80}]}
    });
    let yaml = |v: &Value| serde_yaml_ng::to_string(v).expect("yaml");
    format!("{}---\n{}", yaml(&service), yaml(&s))
}

fn merge(a: &mut Value, b: Value) {
    match (a.as_object_mut(), b) {
        (Some(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (_, b) => *a = b,
    }
}

fn patch_sts(c: &Cluster, patch: Value) {
    c.kubectl_ok(&[
        "patch",
        "sts",
        "ss",
        "--type=merge",
        "-p",
        &patch.to_string(),
    ]);
}

fn set_image(c: &Cluster, image: &str) {
    c.kubectl_ok(&["set", "image", "sts/ss", &format!("webserver={image}")]);
}

fn status(c: &Cluster) -> Value {
    serde_json::to_value(c.sts("ss").status).unwrap_or(Value::Null)
}

fn int(v: &Value, field: &str) -> i64 {
    v[field].as_i64().unwrap_or(0)
}

/// Waits until the set's `status.<field>` is `want`.
fn wait_status(c: &Cluster, field: &str, want: i64) {
    wait_for(&format!("status.{field} = {want}"), || {
        (int(&status(c), field) == want).then_some(())
    });
}

/// Waits until the active pods are exactly `names`, making pods Ready as they appear.
fn settle(c: &Cluster, names: &[&str]) {
    wait_for(&format!("pods {names:?}"), || {
        c.ready_all(SEL);
        (c.all_ready(SEL)? == names).then_some(())
    });
}

/// Waits until `n` replicas are ready and the rollout (if any) is complete.
fn rolled_out(c: &Cluster, n: i64) -> Value {
    wait_for("the rollout to finish", || {
        c.ready_all(SEL);
        let st = status(c);
        (int(&st, "readyReplicas") == n
            && int(&st, "updatedReplicas") == n
            && st["currentRevision"] == st["updateRevision"])
            .then_some(st)
    })
}

fn images(c: &Cluster) -> Vec<String> {
    c.pods(SEL)
        .iter()
        .map(|p| {
            p.spec
                .as_ref()
                .and_then(|s| s.containers[0].image.clone())
                .unwrap_or_default()
        })
        .collect()
}

/// S1 (with X4 and the events): identities, hostnames, claims, and the same claims back after
/// scaling to zero and up again.
#[test]
fn s1_identity_hostnames_and_claims_survive_scale_to_zero() {
    let c = Cluster::start();
    c.apply(&set(3, json!({}), true));
    for i in 0..3 {
        let name = format!("ss-{i}");
        wait_for(&name, || c.pod(&name));
        let next = format!("ss-{}", i + 1);
        assert!(
            c.pod(&next).is_none(),
            "{next} exists before {name} is Ready"
        );
        c.ready(&name);
    }
    wait_status(&c, "readyReplicas", 3);
    let pods = c.pods(SEL);
    for (i, p) in pods.iter().enumerate() {
        let name = format!("ss-{i}");
        assert_eq!(p.name_any(), name);
        let spec = p.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some(name.as_str()));
        assert_eq!(spec.subdomain.as_deref(), Some("test"));
        assert_eq!(pod_claims(p), vec![format!("datadir-ss-{i}")]);
        let labels = p.labels();
        assert_eq!(labels["statefulset.kubernetes.io/pod-name"], name);
        assert_eq!(labels["apps.kubernetes.io/pod-index"], i.to_string());
        assert_eq!(
            labels["controller-revision-hash"],
            status(&c)["updateRevision"]
        );
    }
    let claims = wait_for("bound claims", || {
        let claims = c.claims();
        claims
            .values()
            .all(|cl| cl.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound"))
            .then_some(claims)
    });
    assert_eq!(
        claims.keys().collect::<Vec<_>>(),
        ["datadir-ss-0", "datadir-ss-1", "datadir-ss-2"]
    );
    assert_eq!(claims["datadir-ss-1"].labels()["foo"], "bar");
    let uids: Vec<_> = claims.values().map(|cl| cl.uid()).collect();

    let events = c.events_about("StatefulSet", "ss");
    for msg in [
        "create Claim datadir-ss-0 Pod ss-0 in StatefulSet ss success",
        "create Pod ss-0 in StatefulSet ss successful",
        "create Pod ss-2 in StatefulSet ss successful",
    ] {
        assert!(
            events.iter().any(|(ty, reason, m, from)| ty == "Normal"
                && reason == "SuccessfulCreate"
                && m == msg
                && from == "statefulset-controller"),
            "no event {msg:?} in {events:?}"
        );
    }
    let described = c.kubectl_ok(&["describe", "sts", "ss"]);
    assert!(
        described.contains("statefulset-controller  create Pod ss-1 in StatefulSet ss successful"),
        "{described}"
    );

    // X4: the pod-name label is restored on the same pod.
    let uid = c.pod("ss-1").unwrap().uid();
    c.kubectl_ok(&[
        "label",
        "pod",
        "ss-1",
        "statefulset.kubernetes.io/pod-name-",
    ]);
    wait_for("the pod-name label back", || {
        let p = c.pod("ss-1")?;
        (p.labels()
            .get("statefulset.kubernetes.io/pod-name")
            .map(String::as_str)
            == Some("ss-1"))
        .then_some(())
    });
    assert_eq!(c.pod("ss-1").unwrap().uid(), uid);

    c.kubectl_ok(&["scale", "sts", "ss", "--replicas=0"]);
    wait_for("scale to 0", || {
        (int(&status(&c), "replicas") == 0 && c.pods(SEL).is_empty()).then_some(())
    });
    assert_eq!(
        c.claims().values().map(|cl| cl.uid()).collect::<Vec<_>>(),
        uids,
        "claims are kept"
    );
    c.kubectl_ok(&["scale", "sts", "ss", "--replicas=3"]);
    settle(&c, &["ss-0", "ss-1", "ss-2"]);
    for (i, p) in c.pods(SEL).iter().enumerate() {
        assert_eq!(pod_claims(p), vec![format!("datadir-ss-{i}")]);
    }
    assert_eq!(
        c.claims().values().map(|cl| cl.uid()).collect::<Vec<_>>(),
        uids,
        "the same claims are re-attached to the same ordinals"
    );
}

/// S2: orphans are adopted, pods that stop matching are released, and re-adopted.
#[test]
fn s2_adopts_matching_orphans_and_releases_non_matching_pods() {
    let c = Cluster::start();
    c.apply(&set(1, json!({}), false));
    let pod = wait_for("ss-0", || c.pod("ss-0"));
    let set_uid = c.sts("ss").uid().unwrap();
    let owner = |p: &k8s_openapi::api::core::v1::Pod| {
        p.owner_references()
            .iter()
            .find(|r| r.controller == Some(true))
            .map(|r| (r.kind.clone(), r.name.clone(), r.uid.clone()))
    };
    assert_eq!(
        owner(&pod),
        Some(("StatefulSet".into(), "ss".into(), set_uid.clone()))
    );
    c.kubectl_ok(&[
        "patch",
        "pod",
        "ss-0",
        "--type=merge",
        "-p",
        r#"{"metadata":{"ownerReferences":null}}"#,
    ]);
    let adopted = wait_for("re-adoption", || {
        c.pod("ss-0").filter(|p| owner(p).is_some())
    });
    assert_eq!(owner(&adopted).map(|o| o.2), Some(set_uid.clone()));
    assert_eq!(
        adopted.uid(),
        pod.uid(),
        "the pod is adopted, not recreated"
    );

    c.kubectl_ok(&["label", "pod", "ss-0", "foo-", "baz-"]);
    wait_for("release", || {
        c.pod("ss-0").filter(|p| p.owner_references().is_empty())
    });
    c.kubectl_ok(&["label", "pod", "ss-0", "foo=bar", "baz=blah"]);
    let back = wait_for("adoption again", || {
        c.pod("ss-0").filter(|p| owner(p).is_some())
    });
    assert_eq!(back.uid(), pod.uid());
}

/// S3: a deleted pod is recreated even while its successor is unhealthy.
#[test]
fn s3_does_not_deadlock_when_a_predecessor_fails() {
    let c = Cluster::start();
    c.apply(&set(2, json!({}), false));
    wait_for("ss-0", || c.pod("ss-0"));
    c.unready("ss-0");
    c.observed("ss");
    assert_eq!(
        c.active(SEL),
        ["ss-0"],
        "exactly one pod while ss-0 is not Ready"
    );
    c.ready("ss-0");
    wait_for("ss-1", || c.pod("ss-1"));
    c.unready("ss-1");
    let old = c.pod("ss-0").unwrap().uid();
    c.kubectl_ok(&["delete", "pod", "ss-0", "--grace-period=0", "--force"]);
    let new = wait_for("ss-0 recreated", || {
        c.pod("ss-0").filter(|p| p.uid() != old)
    });
    assert_eq!(phase(&new), "Pending");
    c.ready("ss-0");
    wait_status(&c, "readyReplicas", 1);
    let pods = c.pods(SEL);
    assert_eq!(pods.len(), 2);
    assert!(is_ready(&pods[0]) && !is_ready(&pods[1]));
    c.ready("ss-1");
    wait_status(&c, "readyReplicas", 2);
}

/// S10: OrderedReady creation seen in a watch (each pod only after its predecessor is Running
/// and Ready), halting on an unhealthy pod, and scale-down from the highest ordinal, one at a
/// time, with readiness set by the test (controller_pods shows the same with real probes).
#[test]
fn s10_ordered_ready_scaling_in_a_watch_halts_on_unhealthy_pods() {
    let c = Cluster::start();
    let mut watch = KubectlWatch::start(&c, &["pods", "-l", SEL]);
    c.apply(&set(1, json!({}), false));
    wait_for("ss-0", || c.pod("ss-0"));
    c.ready("ss-0");
    wait_status(&c, "readyReplicas", 1);
    c.unready("ss-0");
    wait_status(&c, "readyReplicas", 0);
    c.kubectl_ok(&["scale", "sts", "ss", "--replicas=3"]);
    c.observed("ss");
    assert_eq!(
        c.active(SEL),
        ["ss-0"],
        "scale-up halts while ss-0 is unhealthy"
    );

    c.ready("ss-0");
    for name in ["ss-1", "ss-2"] {
        wait_for(name, || c.pod(name));
        c.ready(name);
    }
    wait_status(&c, "readyReplicas", 3);
    watch.wait_until("three ADDED events", |e| {
        e.iter().filter(|e| e.kind == "ADDED").count() >= 3
    });
    assert_eq!(watch.order("ADDED"), ["ss-0", "ss-1", "ss-2"]);
    for (n, prev) in [("ss-1", "ss-0"), ("ss-2", "ss-1")] {
        let at = watch
            .seen
            .iter()
            .position(|e| e.kind == "ADDED" && e.name() == n)
            .unwrap();
        let before = last_state(&watch.seen, prev, at).expect("predecessor seen");
        assert!(
            before.running_and_ready(),
            "{n} was created while {prev} was not Running and Ready"
        );
    }

    for name in ["ss-0", "ss-1", "ss-2"] {
        c.unready(name);
    }
    wait_status(&c, "readyReplicas", 0);
    c.kubectl_ok(&["scale", "sts", "ss", "--replicas=0"]);
    c.observed("ss");
    assert_eq!(
        c.active(SEL).len(),
        3,
        "scale-down halts while pods are unhealthy"
    );
    // Pods may go as soon as they are healthy, so make them Ready all at once.
    c.ready_all(SEL);
    wait_for("all gone", || c.pods(SEL).is_empty().then_some(()));
    watch.wait_until("three DELETED events", |e| {
        e.iter().filter(|e| e.kind == "DELETED").count() >= 3
    });
    assert_eq!(watch.order("DELETED"), ["ss-2", "ss-1", "ss-0"]);
}

/// S11: Parallel scales up and down at once despite unhealthy pods.
#[test]
fn s11_burst_scaling_runs_to_completion_with_unhealthy_pods() {
    let c = Cluster::start();
    c.apply(&set(1, json!({"podManagementPolicy": "Parallel"}), false));
    wait_for("ss-0", || c.pod("ss-0"));
    c.ready("ss-0");
    c.unready("ss-0");
    c.kubectl_ok(&["scale", "sts", "ss", "--replicas=3"]);
    wait_for("3 pods", || (c.active(SEL).len() == 3).then_some(()));
    c.ready_all(SEL);
    for name in ["ss-0", "ss-1", "ss-2"] {
        c.unready(name);
    }
    c.kubectl_ok(&["scale", "sts", "ss", "--replicas=0"]);
    wait_for("all gone", || {
        (c.pods(SEL).is_empty() && int(&status(&c), "replicas") == 0).then_some(())
    });
}

/// S4/S5: rolling update in reverse ordinal order, halted by an unready pod, and a rollback
/// that reuses the original revision.
#[test]
fn s4_s5_rolling_update_and_rollback_of_template_modifications() {
    let c = Cluster::start();
    let mut watch = KubectlWatch::start(&c, &["pods", "-l", SEL]);
    c.apply(&set(3, json!({}), true));
    let st = rolled_out(&c, 3);
    let original = st["updateRevision"].as_str().unwrap().to_string();
    assert!(c.pods(SEL).iter().all(|p| revision(p) == original));

    c.unready("ss-1");
    let uids: Vec<_> = c.pods(SEL).iter().map(|p| p.uid()).collect();
    set_image(&c, "example/httpd:2");
    let st = c.observed("ss").status.unwrap();
    let updated = st.update_revision.clone().unwrap();
    assert_ne!(updated, original);
    assert_eq!(st.current_revision.as_deref(), Some(original.as_str()));
    assert_eq!(
        c.pods(SEL).iter().map(|p| p.uid()).collect::<Vec<_>>(),
        uids,
        "no pod is replaced while ss-1 is unready"
    );

    c.ready("ss-1");
    let st = rolled_out(&c, 3);
    assert_eq!(st["currentRevision"], updated.as_str());
    assert_eq!(images(&c), ["example/httpd:2"; 3]);
    assert!(c.pods(SEL).iter().all(|p| revision(p) == updated));
    watch.wait_until("three DELETED events", |e| {
        e.iter().filter(|e| e.kind == "DELETED").count() >= 3
    });
    assert_eq!(watch.order("DELETED"), ["ss-2", "ss-1", "ss-0"]);

    c.unready("ss-1");
    set_image(&c, "example/httpd:1");
    let st = c.observed("ss").status.unwrap();
    assert_eq!(
        st.update_revision.as_deref(),
        Some(original.as_str()),
        "the old revision is reused"
    );
    assert_eq!(st.current_revision.as_deref(), Some(updated.as_str()));
    let revisions = c.kubectl_ok(&["get", "controllerrevisions", "-l", SEL, "-o", "name"]);
    assert_eq!(revisions.lines().count(), 2, "{revisions}");
    let number = c.jsonpath(&["controllerrevision", &original], "{.revision}");
    assert_eq!(number, "3");
    c.ready("ss-1");
    let st = rolled_out(&c, 3);
    assert_eq!(st["currentRevision"], original.as_str());
    assert_eq!(images(&c), ["example/httpd:1"; 3]);
}

/// S6 and must-show 4: canary with a partition, phased roll-out, recreation below the partition.
#[test]
fn s6_partition_canary_and_phased_rolling_update() {
    let c = Cluster::start();
    c.apply(&set(
        3,
        json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 3}}}),
        false,
    ));
    let st = rolled_out(&c, 3);
    let original = st["updateRevision"].as_str().unwrap().to_string();
    set_image(&c, "example/httpd:2");
    let updated = c.observed("ss").status.unwrap().update_revision.unwrap();
    assert_ne!(updated, original);
    assert!(
        c.pods(SEL).iter().all(|p| revision(p) == original),
        "partition 3: nothing changes"
    );

    let uids: Vec<_> = c.pods(SEL).iter().map(|p| p.uid()).collect();
    patch_sts(
        &c,
        json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 2}}}}),
    );
    wait_for("ss-2 updated", || {
        c.ready_all(SEL);
        let pods = c.pods(SEL);
        (pods.len() == 3 && revision(&pods[2]) == updated && is_ready(&pods[2])).then_some(())
    });
    assert_eq!(
        images(&c),
        ["example/httpd:1", "example/httpd:1", "example/httpd:2"]
    );
    let pods = c.pods(SEL);
    assert_eq!(
        [pods[0].uid(), pods[1].uid()],
        [uids[0].clone(), uids[1].clone()],
        "ss-0 and ss-1 are untouched"
    );
    let st = wait_for("one updated replica in the status", || {
        let st = status(&c);
        (int(&st, "updatedReplicas") == 1).then_some(st)
    });
    assert_eq!(st["currentRevision"], original.as_str());
    let rollout = c.kubectl_ok(&["rollout", "status", "sts/ss"]);
    assert!(
        rollout.contains("partitioned roll out complete: 1 new pods have been updated"),
        "{rollout}"
    );

    c.kubectl_ok(&["delete", "pod", "ss-0", "ss-2"]);
    wait_for("ss-0 and ss-2 recreated", || {
        c.ready_all(SEL);
        let pods = c.pods(SEL);
        (pods.len() == 3 && pods.iter().all(is_ready) && pods[0].uid() != uids[0]).then_some(())
    });
    let pods = c.pods(SEL);
    assert_eq!(
        revision(&pods[0]),
        original,
        "below the partition: the current revision"
    );
    assert_eq!(revision(&pods[2]), updated);

    patch_sts(
        &c,
        json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 1}}}}),
    );
    wait_for("ss-1 updated", || {
        c.ready_all(SEL);
        (revision(&c.pods(SEL)[1]) == updated).then_some(())
    });
    assert_eq!(revision(&c.pods(SEL)[0]), original);
    patch_sts(
        &c,
        json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}}),
    );
    let st = rolled_out(&c, 3);
    assert_eq!(st["currentRevision"], updated.as_str());
}

/// S7/S8: with partition 1, a terminating ss-0 held by a finalizer is not duplicated, and it
/// comes back at the old revision.
#[test]
fn s7_partition_one_and_a_terminating_pod_zero() {
    let c = Cluster::start();
    c.apply(&set(
        3,
        json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}}),
        false,
    ));
    let original = rolled_out(&c, 3)["updateRevision"]
        .as_str()
        .unwrap()
        .to_string();
    c.kubectl_ok(&[
        "patch",
        "pod",
        "ss-0",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/test-finalizer"]}}"#,
    ]);
    set_image(&c, "example/httpd:2");
    let st = wait_for("2 updated", || {
        c.ready_all(SEL);
        let st = status(&c);
        (int(&st, "updatedReplicas") == 2 && int(&st, "readyReplicas") == 3).then_some(st)
    });
    assert_eq!(int(&st, "replicas"), 3);
    assert_eq!(revision(&c.pods(SEL)[0]), original);

    let uid = c.pod("ss-0").unwrap().uid();
    c.kubectl_ok(&["delete", "pod", "ss-0", "--wait=false"]);
    c.fail("ss-0");
    wait_status(&c, "readyReplicas", 2);
    let names: Vec<String> = c.pods(SEL).iter().map(|p| p.name_any()).collect();
    assert_eq!(names, ["ss-0", "ss-1", "ss-2"], "no duplicate ss-0");
    assert_eq!(c.pod("ss-0").unwrap().uid(), uid);

    c.kubectl_ok(&[
        "patch",
        "pod",
        "ss-0",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    wait_for("ss-0 recreated", || {
        c.ready_all(SEL);
        let p = c.pod("ss-0")?;
        (p.uid() != uid && is_ready(&p)).then_some(())
    });
    assert_eq!(revision(&c.pod("ss-0").unwrap()), original);
    wait_status(&c, "readyReplicas", 3);
}

/// S9: OnDelete never replaces pods itself; deleted pods come back at the update revision.
#[test]
fn s9_on_delete_replaces_only_deleted_pods() {
    let c = Cluster::start();
    c.apply(&set(
        3,
        json!({"podManagementPolicy": "Parallel", "updateStrategy": {"type": "OnDelete"}}),
        false,
    ));
    settle(&c, &["ss-0", "ss-1", "ss-2"]);
    let original = c.observed("ss").status.unwrap().update_revision.unwrap();
    let uids: Vec<_> = c.pods(SEL).iter().map(|p| p.uid()).collect();
    set_image(&c, "example/httpd:2");
    let updated = c.observed("ss").status.unwrap().update_revision.unwrap();
    assert_ne!(updated, original);
    assert_eq!(
        c.pods(SEL).iter().map(|p| p.uid()).collect::<Vec<_>>(),
        uids,
        "nothing is touched"
    );
    c.kubectl_ok(&["delete", "pod", "ss-0", "ss-1", "ss-2"]);
    wait_for("all recreated", || {
        let pods = c.pods(SEL);
        (pods.len() == 3 && pods.iter().all(|p| !uids.contains(&p.uid()))).then_some(())
    });
    assert!(c.pods(SEL).iter().all(|p| revision(p) == updated));
    assert_eq!(images(&c), ["example/httpd:2"; 3]);
    assert_eq!(
        status(&c)["currentRevision"],
        original.as_str(),
        "OnDelete never advances currentRevision"
    );
}

/// S12: a Failed pod is deleted and recreated with the same name and a new uid.
#[test]
fn s12_recreates_a_failed_pod() {
    let c = Cluster::start();
    let mut watch = KubectlWatch::start(&c, &["pods", "-l", SEL]);
    c.apply(&set(1, json!({}), false));
    let old = wait_for("ss-0", || c.pod("ss-0")).uid();
    c.fail("ss-0");
    let new = wait_for("a new ss-0", || c.pod("ss-0").filter(|p| p.uid() != old));
    watch.wait_until("DELETED then ADDED", |e| {
        let deleted = e
            .iter()
            .position(|e| e.kind == "DELETED" && e.name() == "ss-0");
        let added = e
            .iter()
            .rposition(|e| e.kind == "ADDED" && e.name() == "ss-0");
        matches!((deleted, added), (Some(d), Some(a)) if d < a)
    });
    c.ready("ss-0");
    wait_for("Running", || {
        (phase(&c.pod("ss-0")?) == "Running").then_some(())
    });
    assert_ne!(new.uid(), old);
}

/// S13/S14: the scale subresource drives the controller; a collection delete by label.
#[test]
fn s13_s14_scale_subresource_and_collection_delete() {
    let c = Cluster::start();
    c.apply(&set(1, json!({"podManagementPolicy": "Parallel"}), false));
    settle(&c, &["ss-0"]);
    let scale: Value = serde_json::from_str(&c.kubectl_ok(&[
        "get",
        "--raw",
        "/apis/apps/v1/namespaces/default/statefulsets/ss/scale",
    ]))
    .unwrap();
    assert_eq!(
        (
            scale["spec"]["replicas"].as_i64(),
            scale["status"]["replicas"].as_i64()
        ),
        (Some(1), Some(1))
    );
    c.kubectl_ok(&[
        "patch",
        "sts",
        "ss",
        "--subresource=scale",
        "--type=merge",
        "-p",
        r#"{"spec":{"replicas":2}}"#,
    ]);
    c.kubectl_ok(&["label", "sts", "ss", "test-ss=patched"]);
    set_image(&c, "example/pause:1");
    let st = rolled_out(&c, 2);
    assert_eq!(int(&st, "replicas"), 2);
    assert_eq!(images(&c), ["example/pause:1"; 2]);
    let listed = c.kubectl_ok(&["get", "sts", "-A", "-l", "test-ss=patched", "-o", "name"]);
    assert_eq!(listed.trim(), "statefulset.apps/ss");
    let api: kube::Api<k8s_openapi::api::apps::v1::StatefulSet> =
        kube::Api::default_namespaced(c.client.clone());
    c.block_on(api.delete_collection(
        &Default::default(),
        &kube::api::ListParams::default().labels("test-ss=patched"),
    ))
    .unwrap();
    assert!(
        c.kubectl_ok(&["get", "sts", "-l", "test-ss=patched", "-o", "name"])
            .trim()
            .is_empty()
    );
    wait_for("pods collected", || c.pods(SEL).is_empty().then_some(()));
}

/// S16/S17: availability waits for minReadySeconds; OrderedReady waits for availability.
#[test]
fn s16_s17_min_ready_seconds_and_available_replicas() {
    let c = Cluster::start();
    c.apply(&set(2, json!({"minReadySeconds": 3600}), false));
    wait_for("ss-0", || c.pod("ss-0"));
    c.ready("ss-0");
    wait_status(&c, "readyReplicas", 1);
    let st = serde_json::to_value(c.observed("ss").status).unwrap();
    assert_eq!(int(&st, "availableReplicas"), 0);
    assert_eq!(
        c.active(SEL),
        ["ss-0"],
        "ss-1 waits for ss-0 to be available"
    );
    patch_sts(&c, json!({"spec": {"minReadySeconds": 0}}));
    wait_for("2 available", || {
        c.ready_all(SEL);
        (int(&status(&c), "availableReplicas") == 2).then_some(())
    });
    assert!(
        c.kubectl_ok(&["get", "sts", "ss", "-o", "yaml"])
            .contains("availableReplicas: 2")
    );
    // A short minReadySeconds turns into availability without any further change.
    patch_sts(&c, json!({"spec": {"minReadySeconds": 1}}));
    c.kubectl_ok(&["delete", "pod", "ss-1"]);
    wait_for("ss-1 again", || {
        c.pod("ss-1")
            .filter(|p| p.metadata.deletion_timestamp.is_none())
    });
    c.ready("ss-1");
    wait_status(&c, "availableReplicas", 2);
}

/// S25–S28: `ordinals.start` set, increased, decreased and removed.
#[test]
fn s25_to_s28_start_ordinal_moves_the_identities() {
    let c = Cluster::start();
    c.apply(&set(2, json!({}), false));
    settle(&c, &["ss-0", "ss-1"]);
    patch_sts(
        &c,
        json!({"spec": {"replicas": 3, "ordinals": {"start": 2}}}),
    );
    settle(&c, &["ss-2", "ss-3", "ss-4"]);
    wait_for("replicas == readyReplicas == 3", || {
        let st = status(&c);
        ((int(&st, "replicas"), int(&st, "readyReplicas")) == (3, 3)).then_some(())
    });
    patch_sts(&c, json!({"spec": {"replicas": 2}}));
    settle(&c, &["ss-2", "ss-3"]);
    patch_sts(&c, json!({"spec": {"ordinals": {"start": 4}}}));
    settle(&c, &["ss-4", "ss-5"]);
    let kept = c.pod("ss-4").unwrap().uid();
    patch_sts(&c, json!({"spec": {"ordinals": {"start": 3}}}));
    settle(&c, &["ss-3", "ss-4"]);
    assert_eq!(
        c.pod("ss-4").unwrap().uid(),
        kept,
        "ss-4 is kept when start decreases"
    );
    c.kubectl_ok(&[
        "patch",
        "sts",
        "ss",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/spec/ordinals"}]"#,
    ]);
    settle(&c, &["ss-0", "ss-1"]);
}

/// X5: maxUnavailable 2 with a partition: the two highest pods go together, ss-2 after them,
/// ss-0 and ss-1 never.
#[test]
fn x5_max_unavailable_deletes_several_pods_at_once() {
    let c = Cluster::start();
    c.apply(&set(
        5,
        json!({"podManagementPolicy": "Parallel",
               "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2, "maxUnavailable": 2}}}),
        false,
    ));
    settle(&c, &["ss-0", "ss-1", "ss-2", "ss-3", "ss-4"]);
    let uids: Vec<_> = c.pods(SEL).iter().map(|p| p.uid()).collect();
    set_image(&c, "example/httpd:2");
    let updated = c.observed("ss").status.unwrap().update_revision.unwrap();
    let first = wait_for("two pods replaced", || {
        let pods = c.pods(SEL);
        let replaced: Vec<String> = pods
            .iter()
            .filter(|p| !uids.contains(&p.uid()))
            .map(|p| p.name_any())
            .collect();
        (replaced.len() == 2 && pods.len() == 5).then_some(replaced)
    });
    assert_eq!(first, ["ss-3", "ss-4"], "the two highest ordinals go first");
    let pods = c.pods(SEL);
    assert_eq!(
        pods.iter().filter(|p| !is_ready(p)).count(),
        2,
        "at most two unavailable"
    );
    assert_eq!(
        pods[2].uid(),
        uids[2],
        "ss-2 waits while two pods are unavailable"
    );
    wait_for("ss-2 updated", || {
        c.ready_all(SEL);
        let pods = c.pods(SEL);
        (pods.len() == 5 && revision(&pods[2]) == updated && pods.iter().all(is_ready))
            .then_some(())
    });
    let pods = c.pods(SEL);
    assert_eq!(
        [pods[0].uid(), pods[1].uid()],
        [uids[0].clone(), uids[1].clone()]
    );
}

/// X6: a revision whose pod never becomes Ready blocks the rollout even after reverting;
/// deleting the stuck pod recreates it at the reverted revision.
#[test]
fn x6_forced_rollback_needs_the_stuck_pod_deleted() {
    let c = Cluster::start();
    c.apply(&set(3, json!({}), false));
    let original = rolled_out(&c, 3)["updateRevision"]
        .as_str()
        .unwrap()
        .to_string();
    set_image(&c, "example/broken:1");
    let bad = wait_for("ss-2 at the bad revision", || {
        c.pod("ss-2")
            .filter(|p| revision(p) != original && p.metadata.deletion_timestamp.is_none())
    });
    set_image(&c, "example/httpd:1");
    let st = c.observed("ss").status.unwrap();
    assert_eq!(st.update_revision.as_deref(), Some(original.as_str()));
    let still = c.pod("ss-2").unwrap();
    assert_eq!(
        still.uid(),
        bad.uid(),
        "reverting alone does not unstick the rollout"
    );
    assert_ne!(revision(&still), original);
    c.kubectl_ok(&["delete", "pod", "ss-2"]);
    let st = rolled_out(&c, 3);
    assert_eq!(st["currentRevision"], original.as_str());
    assert!(c.pods(SEL).iter().all(|p| revision(p) == original));
}

/// X7: the history limit keeps at most two old revisions; rollout history and undo work.
#[test]
fn x7_revision_history_limit_and_rollout_undo() {
    let c = Cluster::start();
    c.apply(&set(0, json!({"revisionHistoryLimit": 2}), false));
    c.observed("ss");
    for i in 2..=6 {
        c.kubectl_ok(&[
            "annotate",
            "sts",
            "ss",
            "--overwrite",
            &format!("kubernetes.io/change-cause=image {i}"),
        ]);
        set_image(&c, &format!("example/httpd:{i}"));
        c.observed("ss");
    }
    let revs = wait_for("history truncated", || {
        let out = c.kubectl_ok(&["get", "controllerrevisions", "-l", SEL, "-o", "name"]);
        (out.lines().count() <= 3).then_some(out)
    });
    assert_eq!(revs.lines().count(), 3, "{revs}");
    let history = c.kubectl_ok(&["rollout", "history", "sts/ss"]);
    assert!(
        history.contains("REVISION") && history.contains("image 6"),
        "{history}"
    );
    let current = c.observed("ss").status.unwrap().update_revision.unwrap();
    c.kubectl_ok(&["rollout", "undo", "sts/ss"]);
    let st = c.observed("ss");
    assert_eq!(
        st.spec.template.spec.as_ref().unwrap().containers[0]
            .image
            .as_deref(),
        Some("example/httpd:5")
    );
    let undone = st.status.unwrap().update_revision.unwrap();
    assert_ne!(undone, current);
    let count = c
        .kubectl_ok(&["get", "controllerrevisions", "-l", SEL, "-o", "name"])
        .lines()
        .count();
    assert!(count <= 3, "the undo reuses a revision");
}

/// X10: a set deleted in the foreground while ss-0 holds a finalizer only updates its status.
#[test]
fn x10_status_only_while_the_set_is_being_deleted() {
    let c = Cluster::start();
    c.apply(&set(3, json!({}), true));
    settle(&c, &["ss-0", "ss-1", "ss-2"]);
    wait_status(&c, "readyReplicas", 3);
    c.kubectl_ok(&[
        "patch",
        "pod",
        "ss-0",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
    ]);
    c.kubectl_ok(&[
        "delete",
        "sts",
        "ss",
        "--cascade=foreground",
        "--wait=false",
    ]);
    wait_for("ss-1 and ss-2 gone", || {
        let names: Vec<String> = c.pods(SEL).iter().map(|p| p.name_any()).collect();
        (names == ["ss-0"]).then_some(())
    });
    let set = c.sts("ss");
    assert!(set.metadata.deletion_timestamp.is_some());
    assert!(
        c.pod("ss-1").is_none(),
        "nothing is recreated while the set is being deleted"
    );
    wait_status(&c, "replicas", 1);
    c.kubectl_ok(&[
        "patch",
        "pod",
        "ss-0",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    wait_for("the set gone", || {
        (!c.kubectl(&["get", "sts", "ss"]).status.success()).then_some(())
    });
    assert!(c.pods(SEL).is_empty());
}

/// A restart of `podgate up` keeps every pod, claim and revision: the template serialises to
/// the same revision name, so nothing is rolled.
#[test]
fn a_restart_keeps_identities_claims_and_revisions() {
    let mut c = Cluster::start();
    c.apply(&set(2, json!({}), true));
    settle(&c, &["ss-0", "ss-1"]);
    let revision = c.observed("ss").status.unwrap().update_revision.unwrap();
    let pods: Vec<_> = c.pods(SEL).iter().map(|p| p.uid()).collect();
    let claims: Vec<_> = c.claims().values().map(|cl| cl.uid()).collect();
    c.restart();
    c.kubectl_ok(&["annotate", "sts", "ss", "example.com/poke=1"]);
    let st = wait_for("a sync after the restart", || {
        let s = c.sts("ss");
        let seen = s
            .metadata
            .annotations
            .as_ref()?
            .contains_key("example.com/poke");
        let st = s.status?;
        (seen && st.ready_replicas == Some(2)).then_some(st)
    });
    c.observed("ss");
    assert_eq!(st.update_revision.as_deref(), Some(revision.as_str()));
    assert_eq!(st.current_revision.as_deref(), Some(revision.as_str()));
    assert_eq!(
        c.pods(SEL).iter().map(|p| p.uid()).collect::<Vec<_>>(),
        pods
    );
    assert_eq!(
        c.claims().values().map(|cl| cl.uid()).collect::<Vec<_>>(),
        claims
    );
    let revs = c.kubectl_ok(&["get", "controllerrevisions", "-o", "name"]);
    assert_eq!(revs.lines().count(), 1, "{revs}");
}

/// X1–X3 and S15: validation messages, immutable fields, defaults, and the status endpoint.
#[test]
fn x1_x2_x3_s15_validation_immutability_defaults_and_status() {
    let c = Cluster::start();
    let refused = |spec: Value, msg: &str| {
        let mut s: Value =
            serde_yaml_ng::from_str(set(1, spec, false).split("---").nth(1).unwrap()).unwrap();
        s["metadata"]["name"] = json!("bad");
        let out = c.with_stdin("create", &s.to_string());
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success() && err.contains(msg),
            "want {msg:?}, got {err}"
        );
    };
    refused(
        json!({"template": {"spec": {"restartPolicy": "Never"}}}),
        r#"spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always""#,
    );
    refused(
        json!({"replicas": -1}),
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
    );
    refused(
        json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}}}),
        "cannot be 0",
    );
    refused(
        json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": -1}}}),
        "spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0",
    );
    refused(
        json!({"ordinals": {"start": -1}}),
        "spec.ordinals.start: Invalid value: -1: must be greater than or equal to 0",
    );
    refused(
        json!({"selector": {"matchLabels": {"foo": "other"}}}),
        "`selector` does not match template `labels`",
    );
    refused(json!({"selector": null}), "spec.selector: Required value");

    c.apply(&set(0, json!({"updateStrategy": null}), true));
    let yaml = c.kubectl_ok(&["get", "sts", "ss", "-o", "yaml"]);
    for want in [
        "podManagementPolicy: OrderedReady",
        "revisionHistoryLimit: 10",
        "whenDeleted: Retain",
        "partition: 0",
    ] {
        assert!(yaml.contains(want), "missing {want} in {yaml}");
    }
    let out = c.kubectl(&["patch", "sts", "ss", "--type=json", "-p",
        r#"[{"op":"replace","path":"/spec/volumeClaimTemplates/0/spec/resources/requests/storage","value":"2Mi"}]"#]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec: Forbidden: updates to statefulset spec for fields other than"),
        "{err}"
    );
    let out = c.kubectl(&[
        "patch",
        "sts",
        "ss",
        "--type=merge",
        "-p",
        r#"{"spec":{"serviceName":"other"}}"#,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("spec: Forbidden: updates to statefulset spec for fields other than"),
        "{err}"
    );
    let generation = c.jsonpath(&["sts", "ss"], "{.metadata.generation}");
    patch_sts(&c, json!({"spec": {"minReadySeconds": 3}}));
    assert_ne!(
        c.jsonpath(&["sts", "ss"], "{.metadata.generation}"),
        generation
    );

    // S15: the status endpoint takes a merge patch (the controller may rewrite it later).
    let patched = c.kubectl_ok(&[
        "patch",
        "sts",
        "ss",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"conditions":[{"type":"StatusPatched","status":"True"}]}}"#,
        "-o",
        "jsonpath={.status.conditions[0].type}",
    ]);
    assert_eq!(patched, "StatusPatched");
    let status: Value = serde_json::from_str(&c.kubectl_ok(&[
        "get",
        "--raw",
        "/apis/apps/v1/namespaces/default/statefulsets/ss/status",
    ]))
    .unwrap();
    assert_eq!(status["kind"], "StatefulSet");
}
