//! Claims, volumes, retention policies, garbage collection and namespace deletion through a
//! real `podgate up`, the real kubectl and kube-rs (statefulset-spec.md S18–S24, X8, X9;
//! issue 4's claim binding and reclaim policies). The StatefulSet pods ask for a scheduler
//! nobody serves and get their status from the test (see `controller_support`), except in the
//! unbindable-claim scenario, where the node agent schedules and runs the pod.

mod common;
mod controller_support;

use std::collections::BTreeMap;

use common::{pod_http as http, wait_for};
use controller_support::{
    Cluster, UNSERVED_SCHEDULER, is_ready, pet_container, pod_claims, real_pods,
};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::ResourceExt;
use serde_json::{Value, json};

const SEL: &str = "foo=bar";

/// A Parallel set `ss` with `datadir` claims and `policy` as its retention policy.
fn set(replicas: i32, policy: Value) -> String {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "ss", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "serviceName": "test",
            "podManagementPolicy": "Parallel",
            "persistentVolumeClaimRetentionPolicy": policy,
            "selector": {"matchLabels": {"foo": "bar"}},
            "template": {
                "metadata": {"labels": {"foo": "bar"}},
                "spec": {"schedulerName": UNSERVED_SCHEDULER,
                         "containers": [{"name": "webserver", "image": "example/httpd:1",
                                         "volumeMounts": [{"name": "datadir", "mountPath": "/data"}]}]}
            },
            "volumeClaimTemplates": [{"metadata": {"name": "datadir"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}}]
        }
    })
    .to_string()
}

/// Each claim's ownerReferences as (kind, name, controller).
fn refs(c: &Cluster) -> BTreeMap<String, Vec<(String, String, bool)>> {
    c.claims()
        .into_iter()
        .map(|(n, cl)| {
            let r = cl
                .owner_references()
                .iter()
                .map(|r| (r.kind.clone(), r.name.clone(), r.controller == Some(true)))
                .collect();
            (n, r)
        })
        .collect()
}

fn claim_uids(c: &Cluster) -> BTreeMap<String, Option<String>> {
    c.claims()
        .into_iter()
        .map(|(n, cl)| (n, cl.uid()))
        .collect()
}

fn settle(c: &Cluster, n: usize) {
    wait_for(&format!("{n} pods and claims"), || {
        c.ready_all(SEL);
        (c.all_ready(SEL)?.len() == n && c.claims().len() >= n).then_some(())
    });
}

fn set_ref() -> (String, String, bool) {
    ("StatefulSet".into(), "ss".into(), true)
}

/// S18: with `whenDeleted: Delete` each claim is controlled by the set alone, and goes with it.
#[test]
fn s18_when_deleted_delete_removes_the_claims_with_the_set() {
    let c = Cluster::start();
    c.apply(&set(
        3,
        json!({"whenDeleted": "Delete", "whenScaled": "Retain"}),
    ));
    settle(&c, 3);
    let want: BTreeMap<String, Vec<(String, String, bool)>> = (0..3)
        .map(|i| (format!("datadir-ss-{i}"), vec![set_ref()]))
        .collect();
    wait_for("set refs on the claims", || {
        (refs(&c) == want).then_some(())
    });
    let set_uid = c.sts("ss").uid();
    let claims = c.claims();
    let r = &claims["datadir-ss-0"].owner_references()[0];
    assert_eq!(
        (r.uid.clone(), r.block_owner_deletion),
        (set_uid.unwrap(), Some(true))
    );
    c.kubectl_ok(&["delete", "sts", "ss"]);
    wait_for("claims and pods gone", || {
        (c.claims().is_empty() && c.pods(SEL).is_empty()).then_some(())
    });
}

/// S19 and X9: with `whenScaled: Delete` the claims of removed ordinals get a pod ref and go
/// with their pods; scaling straight back waits for them and makes fresh claims.
#[test]
fn s19_x9_when_scaled_delete_removes_claims_of_removed_ordinals() {
    let c = Cluster::start();
    c.apply(&set(
        3,
        json!({"whenDeleted": "Retain", "whenScaled": "Delete"}),
    ));
    settle(&c, 3);
    assert!(refs(&c).values().all(Vec::is_empty), "in range: no refs");
    let before = claim_uids(&c);
    c.kubectl_ok(&["scale", "sts", "ss", "--replicas=1"]);
    wait_for("only datadir-ss-0", || {
        (c.claim_names() == ["datadir-ss-0"] && c.active(SEL) == ["ss-0"]).then_some(())
    });
    assert_eq!(claim_uids(&c)["datadir-ss-0"], before["datadir-ss-0"]);

    c.kubectl_ok(&["scale", "sts", "ss", "--replicas=3"]);
    settle(&c, 3);
    let after = claim_uids(&c);
    assert_eq!(after.len(), 3);
    assert_eq!(after["datadir-ss-0"], before["datadir-ss-0"]);
    for n in ["datadir-ss-1", "datadir-ss-2"] {
        assert_ne!(after[n], before[n], "{n} is a fresh claim");
    }
    // X9 straight away: scale down and up without waiting.
    let before = claim_uids(&c);
    c.kubectl_ok(&["scale", "sts", "ss", "--replicas=1"]);
    wait_for("ss-2's claim marked for its pod", || {
        let r = refs(&c);
        r.get("datadir-ss-2")
            .is_none_or(|v| v.iter().any(|(k, _, _)| k == "Pod"))
            .then_some(())
    });
    c.kubectl_ok(&["scale", "sts", "ss", "--replicas=3"]);
    settle(&c, 3);
    let after = claim_uids(&c);
    assert_ne!(
        after["datadir-ss-2"], before["datadir-ss-2"],
        "the stale claim was replaced"
    );
    let pod = c.pod("ss-2").unwrap();
    assert_eq!(pod_claims(&pod), ["datadir-ss-2"]);
}

fn config_map(c: &Cluster, name: &str) -> String {
    c.apply(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "b"}}).to_string());
    c.jsonpath(&["configmap", name], "{.metadata.uid}")
}

/// S20: a claim with another controller is left alone by `whenScaled: Delete`.
#[test]
fn s20_a_claim_owned_by_another_controller_is_not_deleted() {
    let c = Cluster::start();
    c.apply(&set(
        3,
        json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
    ));
    settle(&c, 3);
    let uid = config_map(&c, "owner");
    let foreign = json!({"metadata": {"ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid, "controller": true}
    ]}});
    c.kubectl_ok(&[
        "patch",
        "pvc",
        "datadir-ss-1",
        "--type=merge",
        "-p",
        &foreign.to_string(),
    ]);
    c.kubectl_ok(&[
        "patch",
        "sts",
        "ss",
        "--type=merge",
        "-p",
        r#"{"spec":{"persistentVolumeClaimRetentionPolicy":{"whenScaled":"Delete"}}}"#,
    ]);
    // A Pending pod has its claims checked: the foreign controller is reported.
    c.patch_status("ss-1", &json!({"status": {"phase": "Pending"}}));
    wait_for("the ConflictingController event", || {
        c.events_about("StatefulSet", "ss")
            .iter()
            .any(|(ty, reason, m, _)| {
                ty == "Warning"
                    && reason == "ConflictingController"
                    && m == "PersistentVolumeClaim datadir-ss-1 has a conflicting OwnerReference that acts as a manging controller, the retention policy is ignored for this claim"
            })
            .then_some(())
    });
    c.kubectl_ok(&["scale", "sts", "ss", "--replicas=0"]);
    wait_for("only datadir-ss-1", || {
        (c.claim_names() == ["datadir-ss-1"] && c.pods(SEL).is_empty()).then_some(())
    });
    assert_eq!(
        refs(&c)["datadir-ss-1"],
        vec![("ConfigMap".into(), "owner".into(), true)]
    );
    c.kubectl_ok(&[
        "patch",
        "pvc",
        "datadir-ss-1",
        "--type=merge",
        "-p",
        r#"{"metadata":{"ownerReferences":null}}"#,
    ]);
    c.kubectl_ok(&["scale", "sts", "ss", "--replicas=2"]);
    settle(&c, 2);
    wait_for("claims 0 and 1", || {
        (c.claim_names() == ["datadir-ss-0", "datadir-ss-1"]).then_some(())
    });
    c.kubectl_ok(&["scale", "sts", "ss", "--replicas=1"]);
    wait_for("only claim 0", || {
        (c.claim_names() == ["datadir-ss-0"]).then_some(())
    });
}

/// S21/S22: claims of an orphaned (then re-adopted) pod still follow the policy.
#[test]
fn s21_s22_claims_follow_the_policy_after_a_pod_is_adopted() {
    let c = Cluster::start();
    c.apply(&set(
        3,
        json!({"whenDeleted": "Delete", "whenScaled": "Delete"}),
    ));
    settle(&c, 3);
    wait_for("set refs", || {
        refs(&c).values().all(|r| r == &[set_ref()]).then_some(())
    });
    c.kubectl_ok(&[
        "patch",
        "pod",
        "ss-2",
        "--type=merge",
        "-p",
        r#"{"metadata":{"ownerReferences":[]}}"#,
    ]);
    let uid = c.pod("ss-2").unwrap().uid();
    c.kubectl_ok(&["scale", "sts", "ss", "--replicas=1"]);
    wait_for("only claim 0", || {
        (c.claim_names() == ["datadir-ss-0"] && c.active(SEL) == ["ss-0"]).then_some(())
    });
    assert!(
        c.pod("ss-2").is_none_or(|p| p.uid() != uid),
        "the adopted ss-2 was scaled away"
    );
    c.kubectl_ok(&["scale", "sts", "ss", "--replicas=3"]);
    settle(&c, 3);
    wait_for("set refs again", || {
        refs(&c).values().all(|r| r == &[set_ref()]).then_some(())
    });
    c.kubectl_ok(&[
        "patch",
        "pod",
        "ss-2",
        "--type=merge",
        "-p",
        r#"{"metadata":{"ownerReferences":[]}}"#,
    ]);
    c.kubectl_ok(&["delete", "sts", "ss"]);
    wait_for("no claims left", || c.claims().is_empty().then_some(()));
}

/// S23: foreign refs are kept, stale refs untouched, non-controller refs to the set fixed.
#[test]
fn s23_claims_with_other_owners() {
    let c = Cluster::start();
    c.apply(&set(4, json!({})));
    settle(&c, 4);
    let cm = config_map(&c, "owner");
    let foreign = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": cm});
    c.kubectl_ok(&[
        "patch",
        "pvc",
        "datadir-ss-1",
        "--type=merge",
        "-p",
        &json!({"metadata": {"ownerReferences": [foreign]}}).to_string(),
    ]);
    let stale = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "unknown",
                       "uid": "9d86d6ae-4e06-4ff1-bc55-f77f52e272e9", "controller": true});
    c.kubectl_ok(&[
        "patch",
        "pvc",
        "datadir-ss-3",
        "--type=merge",
        "-p",
        &json!({"metadata": {"ownerReferences": [stale], "finalizers": ["keep-with/stale-ref"]}})
            .to_string(),
    ]);
    c.kubectl_ok(&[
        "patch",
        "sts",
        "ss",
        "--type=merge",
        "-p",
        r#"{"spec":{"persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete"}}}"#,
    ]);
    let want = |n: &str| -> Vec<(String, String, bool)> {
        match n {
            "datadir-ss-1" => vec![("ConfigMap".into(), "owner".into(), false), set_ref()],
            "datadir-ss-3" => vec![("StatefulSet".into(), "unknown".into(), true)],
            _ => vec![set_ref()],
        }
    };
    wait_for("the refs of S23 step 2", || {
        refs(&c).iter().all(|(n, r)| r == &want(n)).then_some(())
    });
    // A non-controller ref to the set is turned back into a controller ref.
    let set_uid = c.sts("ss").uid().unwrap();
    c.kubectl_ok(&["patch", "pvc", "datadir-ss-0", "--type=merge", "-p",
        &json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "ss",
                "uid": set_uid, "controller": false, "blockOwnerDeletion": true}]}}).to_string()]);
    c.kubectl_ok(&["patch", "sts", "ss", "--type=merge", "-p",
        r#"{"spec":{"persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete","whenScaled":"Delete"}}}"#]);
    wait_for("claim 0 controlled again", || {
        (refs(&c)["datadir-ss-0"] == [set_ref()]).then_some(())
    });
    c.kubectl_ok(&["delete", "sts", "ss"]);
    wait_for("claims 0 and 2 deleted", || {
        (c.claim_names() == ["datadir-ss-1", "datadir-ss-3"]).then_some(())
    });
}

/// S24: a claim deleted while its pod is Pending is created again.
#[test]
fn s24_claim_recreated_while_the_pod_is_pending() {
    let c = Cluster::start();
    c.apply(&set(1, json!({})));
    wait_for("ss-0 and its claim", || {
        (c.pod("ss-0").is_some() && c.claims().len() == 1).then_some(())
    });
    let old = claim_uids(&c)["datadir-ss-0"].clone();
    c.kubectl_ok(&["delete", "pvc", "datadir-ss-0"]);
    wait_for("a new claim", || {
        claim_uids(&c)
            .get("datadir-ss-0")
            .filter(|u| **u != old)
            .map(|_| ())
    });
    c.ready_all(SEL);
    wait_for("ss-0 running", || c.pod("ss-0").filter(is_ready));
}

/// X8: `--cascade=orphan` keeps pods and revisions; the same set adopts them again.
#[test]
fn x8_orphan_delete_and_readopt() {
    let c = Cluster::start();
    let manifest = set(3, json!({}));
    c.apply(&manifest);
    settle(&c, 3);
    let uids: Vec<_> = c.pods(SEL).iter().map(|p| p.uid()).collect();
    let revision = c.observed("ss").status.unwrap().update_revision.unwrap();
    let out = c.kubectl_ok(&["delete", "sts", "ss", "--cascade=orphan"]);
    assert!(out.contains("statefulset.apps \"ss\" deleted"), "{out}");
    wait_for("the set gone, pods orphaned", || {
        let gone = !c.kubectl(&["get", "sts", "ss"]).status.success();
        let pods = c.pods(SEL);
        (gone && pods.len() == 3 && pods.iter().all(|p| p.owner_references().is_empty()))
            .then_some(())
    });
    let revs = c.kubectl_ok(&[
        "get",
        "controllerrevisions",
        "-o",
        "jsonpath={.items[*].metadata.ownerReferences}",
    ]);
    assert!(!revs.contains("uid"), "revisions are orphaned too: {revs}");
    c.apply(&manifest);
    let set_uid = c.sts("ss").uid().unwrap();
    wait_for("re-adopted", || {
        let pods = c.pods(SEL);
        pods.iter()
            .all(|p| p.owner_references().iter().any(|r| r.uid == set_uid))
            .then_some(())
    });
    assert_eq!(
        c.pods(SEL).iter().map(|p| p.uid()).collect::<Vec<_>>(),
        uids,
        "same pods, no restarts"
    );
    assert_eq!(
        c.observed("ss").status.unwrap().update_revision.unwrap(),
        revision
    );
    let names = c.kubectl_ok(&["get", "controllerrevisions", "-o", "name"]);
    assert_eq!(names.lines().count(), 1, "{names}");
}

fn claim_phase(cl: &PersistentVolumeClaim) -> String {
    cl.status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default()
}

/// Must-show 5, with the node agent running the pod: a claim of a missing class stays Pending
/// with an event, its pod stays Pending and unbound with the scheduler's message; creating the
/// class binds the claim, clears the condition, and the pod runs with its data on the claim.
#[test]
fn a_claim_that_cannot_bind_keeps_its_pod_pending_until_the_class_exists() {
    let _turn = real_pods();
    let c = Cluster::start();
    let mut s: Value = serde_json::from_str(&set(1, json!({}))).unwrap();
    s["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] = json!("fast");
    let template = &mut s["spec"]["template"]["spec"];
    template.as_object_mut().unwrap().remove("schedulerName");
    template["containers"] = json!([pet_container(
        "datadir",
        json!({"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1})
    )]);
    c.apply(&s.to_string());
    let msg = "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
    let pending = wait_for("the scheduler's message", || {
        let p = c.pod("ss-0")?;
        let cond = p
            .status
            .clone()?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "PodScheduled")?;
        (cond.status == "False"
            && cond.reason.as_deref() == Some("Unschedulable")
            && cond.message.as_deref() == Some(msg))
        .then_some(p)
    });
    assert_eq!(controller_support::phase(&pending), "Pending");
    assert!(
        pending.spec.as_ref().unwrap().node_name.is_none(),
        "not bound to the node while its claim is unbound"
    );
    assert!(c.pod_processes().is_empty(), "nothing runs");
    assert_eq!(claim_phase(&c.claims()["datadir-ss-0"]), "Pending");
    let events = c.events_about("PersistentVolumeClaim", "datadir-ss-0");
    assert!(
        events.iter().any(|(ty, reason, m, from)| ty == "Warning"
            && reason == "ProvisioningFailed"
            && m == "storageclass.storage.k8s.io \"fast\" not found"
            && from == "persistentvolume-controller"),
        "{events:?}"
    );
    let described = c.kubectl_ok(&["describe", "pod", "ss-0"]);
    assert!(
        described.contains("FailedScheduling") && described.contains("default-scheduler"),
        "{described}"
    );
    assert!(
        described.contains("pod has unbound immediate PersistentVolumeClaims"),
        "{described}"
    );

    c.apply(r#"{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast"}, "provisioner": "podgate.io/local"}"#);
    let claim = wait_for("the claim bound", || {
        c.claims()
            .remove("datadir-ss-0")
            .filter(|cl| claim_phase(cl) == "Bound")
    });
    let pv = claim.spec.unwrap().volume_name.unwrap();
    let volume = c.pg.state_dir.join("volumes").join(&pv);
    assert!(volume.is_dir());
    let pod = wait_for("ss-0 Running and Ready on the node", || {
        c.pod("ss-0")
            .filter(|p| controller_support::phase(p) == "Running" && is_ready(p))
    });
    let conditions = pod.status.clone().unwrap().conditions.unwrap();
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "PodScheduled" && c.status == "True"),
        "{conditions:?}"
    );
    let procs = c.pod_processes();
    assert_eq!(procs.len(), 1, "one podgate pet process: {procs:?}");
    assert_eq!(
        (procs[0].hostname.as_str(), procs[0].uid.clone()),
        ("ss-0", pod.uid().unwrap())
    );
    let ip = pod.status.unwrap().pod_ip.unwrap();
    let (code, body) = http(&ip, 8080, "POST", "on the claim").expect("POST to ss-0");
    assert_eq!((code, body.as_str()), (200, "Data stored on pod ss-0\n"));
    assert_eq!(
        std::fs::read_to_string(volume.join("kubia.txt")).unwrap(),
        "on the claim",
        "the pod writes to the volume its claim is bound to"
    );
}

/// Static volumes bind by class, size and access modes; Retain keeps data, Recycle wipes and
/// re-offers, Delete (default class) removes the directory and the volume.
#[test]
fn volumes_bind_statically_and_follow_their_reclaim_policy() {
    let c = Cluster::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = |n: &str| {
        let d = tmp.path().join(n);
        std::fs::create_dir_all(&d).unwrap();
        d.to_string_lossy().into_owned()
    };
    let pv = |name: &str, size: &str, modes: Value, policy: &str, path: String| {
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
               "spec": {"storageClassName": "manual", "capacity": {"storage": size}, "accessModes": modes,
                        "persistentVolumeReclaimPolicy": policy, "hostPath": {"path": path}}})
        .to_string()
    };
    c.apply(&pv(
        "pv-big",
        "10Gi",
        json!(["ReadWriteOnce"]),
        "Retain",
        dir("big"),
    ));
    c.apply(&pv(
        "pv-retain",
        "1Gi",
        json!(["ReadWriteOnce"]),
        "Retain",
        dir("retain"),
    ));
    c.apply(&pv(
        "pv-recycle",
        "2Gi",
        json!(["ReadWriteMany"]),
        "Recycle",
        dir("recycle"),
    ));
    let claim = |name: &str, class: Option<&str>, size: &str, mode: &str| {
        let mut v = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
                           "spec": {"accessModes": [mode], "resources": {"requests": {"storage": size}}}});
        if let Some(class) = class {
            v["spec"]["storageClassName"] = json!(class);
        }
        v.to_string()
    };
    c.apply(&claim("c-retain", Some("manual"), "1Gi", "ReadWriteOnce"));
    c.apply(&claim("c-recycle", Some("manual"), "1Gi", "ReadWriteMany"));
    c.apply(&claim("c-dynamic", None, "5Mi", "ReadWriteOnce"));
    let bound = wait_for("three bound claims", || {
        let claims = c.claims();
        (claims.len() == 3 && claims.values().all(|cl| claim_phase(cl) == "Bound"))
            .then_some(claims)
    });
    let volume = |n: &str| bound[n].spec.as_ref().unwrap().volume_name.clone().unwrap();
    assert_eq!(
        volume("c-retain"),
        "pv-retain",
        "the smallest fitting volume"
    );
    assert_eq!(
        volume("c-recycle"),
        "pv-recycle",
        "the only ReadWriteMany one"
    );
    assert_eq!(
        bound["c-dynamic"]
            .spec
            .as_ref()
            .unwrap()
            .storage_class_name
            .as_deref(),
        Some("local")
    );
    let dynamic = volume("c-dynamic");
    let dynamic_dir = c.pg.state_dir.join("volumes").join(&dynamic);
    assert!(dynamic_dir.is_dir());
    let table = c.kubectl_ok(&["get", "pv", "pv-retain"]);
    assert!(
        table.contains("Bound") && table.contains("default/c-retain"),
        "{table}"
    );

    std::fs::write(tmp.path().join("retain/data"), "keep").unwrap();
    std::fs::write(tmp.path().join("recycle/data"), "wipe").unwrap();
    std::fs::write(dynamic_dir.join("data"), "gone").unwrap();
    c.kubectl_ok(&["delete", "pvc", "c-retain", "c-recycle", "c-dynamic"]);
    wait_for("reclaimed", || {
        let retain = c.jsonpath(&["pv", "pv-retain"], "{.status.phase}");
        let recycle = c.jsonpath(&["pv", "pv-recycle"], "{.status.phase} {.spec.claimRef}");
        let dynamic_gone = !c.kubectl(&["get", "pv", &dynamic]).status.success();
        (retain == "Released" && recycle.trim() == "Available" && dynamic_gone).then_some(())
    });
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("retain/data")).unwrap(),
        "keep"
    );
    assert_eq!(
        std::fs::read_dir(tmp.path().join("recycle"))
            .unwrap()
            .count(),
        0
    );
    assert!(
        !dynamic_dir.exists(),
        "the provisioned directory is removed"
    );
    assert_eq!(
        c.jsonpath(&["pv", "pv-big"], "{.status.phase}"),
        "Available"
    );
}

/// The collector's three propagation policies on a plain kind (ConfigMaps owning ConfigMaps).
#[test]
fn garbage_collection_background_foreground_and_orphan() {
    let c = Cluster::start();
    let child = |name: &str, parent: &str, uid: &str, finalizers: Value| {
        c.apply(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "finalizers": finalizers,
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": parent, "uid": uid, "blockOwnerDeletion": true}]}})
            .to_string());
    };
    let exists = |n: &str| c.kubectl(&["get", "configmap", n]).status.success();
    let p1 = config_map(&c, "parent-bg");
    child("child-bg", "parent-bg", &p1, json!([]));
    c.kubectl_ok(&["delete", "configmap", "parent-bg"]);
    wait_for("background: the child goes", || {
        (!exists("child-bg")).then_some(())
    });

    let p2 = config_map(&c, "parent-fg");
    child("child-fg", "parent-fg", &p2, json!(["example.com/hold"]));
    c.kubectl_ok(&[
        "delete",
        "configmap",
        "parent-fg",
        "--cascade=foreground",
        "--wait=false",
    ]);
    wait_for("foreground: the parent waits for the child", || {
        let child_deleting = !c
            .jsonpath(&["configmap", "child-fg"], "{.metadata.deletionTimestamp}")
            .is_empty();
        let parent = c.jsonpath(&["configmap", "parent-fg"], "{.metadata.finalizers}");
        (child_deleting && parent.contains("foregroundDeletion")).then_some(())
    });
    c.kubectl_ok(&[
        "patch",
        "configmap",
        "child-fg",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    wait_for("both gone", || {
        (!exists("child-fg") && !exists("parent-fg")).then_some(())
    });

    let p3 = config_map(&c, "parent-or");
    child("child-or", "parent-or", &p3, json!([]));
    c.kubectl_ok(&["delete", "configmap", "parent-or", "--cascade=orphan"]);
    wait_for("orphaned", || {
        let refs = c.jsonpath(&["configmap", "child-or"], "{.metadata.ownerReferences}");
        (!exists("parent-or") && !refs.contains("uid")).then_some(())
    });
}

/// Deleting a namespace deletes its content, reports what holds it, then removes it.
#[test]
fn namespace_deletion_empties_then_removes_the_namespace() {
    let c = Cluster::start();
    c.apply(r#"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scratch"}}"#);
    let mut s: Value = serde_json::from_str(&set(2, json!({}))).unwrap();
    s["metadata"]["namespace"] = json!("scratch");
    c.apply(&s.to_string());
    c.apply(r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "namespace": "scratch", "finalizers": ["example.com/hold"]}}"#);
    wait_for("pods in scratch", || {
        let out = c.kubectl_ok(&["get", "pods", "-n", "scratch", "-o", "name"]);
        (out.lines().count() == 2).then_some(())
    });
    c.kubectl_ok(&["delete", "namespace", "scratch", "--wait=false"]);
    let status = wait_for("only the held configmap left", || {
        let left = c.kubectl_ok(&[
            "get",
            "sts,pods,pvc,configmaps",
            "-n",
            "scratch",
            "-o",
            "name",
        ]);
        let status = c.jsonpath(&["namespace", "scratch"], "{.status}");
        (left.trim() == "configmap/held"
            && status.contains("example.com/hold in 1 resource instances"))
        .then_some(status)
    });
    assert!(status.contains("Terminating"), "{status}");
    assert!(status.contains("NamespaceFinalizersRemaining"), "{status}");
    c.kubectl_ok(&[
        "patch",
        "configmap",
        "held",
        "-n",
        "scratch",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    wait_for("the namespace gone", || {
        (!c.kubectl(&["get", "namespace", "scratch"]).status.success()).then_some(())
    });
}
