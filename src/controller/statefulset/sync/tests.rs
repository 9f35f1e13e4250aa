//! The ordering rules of one sync against an in-memory fake of the API.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use serde_json::{Value, json};

use super::*;

/// Pods by name, and the log of writes.
#[derive(Default)]
struct Fake {
    pods: Mutex<BTreeMap<String, Pod>>,
    log: Mutex<Vec<String>>,
}

impl Control for Fake {
    async fn create_pod(&self, _: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        let mut created = pod.clone();
        created.metadata.uid = Some(format!("uid-{}", pod.name_any()));
        created.status = Some(serde_json::from_value(json!({"phase": "Pending"})).unwrap());
        self.pods.lock().insert(pod.name_any(), created);
        self.log
            .lock()
            .push(format!("create {} {}", pod.name_any(), revision_of(pod)));
        Ok(())
    }
    async fn create_missing_claims(&self, _: &StatefulSet, _: &Pod) -> Result<(), Error> {
        Ok(())
    }
    async fn update_pod(&self, _: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        self.log.lock().push(format!("update {}", pod.name_any()));
        Ok(())
    }
    async fn delete_pod(&self, _: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        self.pods.lock().remove(&pod.name_any());
        self.log.lock().push(format!("delete {}", pod.name_any()));
        Ok(())
    }
    fn claims_stale(&self, _: &StatefulSet, _: &Pod) -> bool {
        false
    }
    fn claims_match_policy(&self, _: &StatefulSet, _: &Pod) -> bool {
        true
    }
    async fn fix_claims_for_policy(&self, _: &StatefulSet, _: &Pod) -> Result<(), Error> {
        Ok(())
    }
}

fn revision_of(pod: &Pod) -> String {
    super::identity::revision_of(pod).to_string()
}

impl Fake {
    fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock())
    }

    fn set_phase(&self, name: &str, phase: &str, ready: bool) {
        let mut pods = self.pods.lock();
        let pod = pods.get_mut(name).expect("pod");
        pod.status = Some(
            serde_json::from_value(json!({
                "phase": phase,
                "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]
            }))
            .unwrap(),
        );
    }

    fn ready_all(&self) {
        let names: Vec<String> = self.pods.lock().keys().cloned().collect();
        for n in names {
            self.set_phase(&n, "Running", true);
        }
    }

    fn names(&self) -> Vec<String> {
        self.pods.lock().keys().cloned().collect()
    }
}

fn set(extra: Value) -> StatefulSet {
    let mut v = json!({
        "metadata": {"name": "ss", "namespace": "ns", "uid": "set-uid", "generation": 1},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"foo": "bar"}},
            "template": {"metadata": {"labels": {"foo": "bar"}}, "spec": {"containers": [{"name": "c", "image": "v1"}]}},
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
        }
    });
    merge(&mut v["spec"], extra);
    serde_json::from_value(v).unwrap()
}

fn merge(a: &mut Value, b: Value) {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        for (k, v) in b {
            match a.get_mut(&k) {
                Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                _ => {
                    a.insert(k, v);
                }
            }
        }
    }
}

/// Runs one sync of `s` over the fake's pods with revisions `current` and `update`.
fn step(fake: &Fake, s: &StatefulSet, current: &str, update: &str) -> StatefulSetStatus {
    let pods: Vec<Pod> = fake.pods.lock().values().cloned().collect();
    let with_image = |image: &str| {
        let mut x = s.clone();
        x.spec.template.spec.as_mut().unwrap().containers[0].image = Some(image.to_string());
        x
    };
    let plan = Plan {
        set: s,
        current_set: with_image(current),
        update_set: with_image(update),
        current_revision: current.to_string(),
        update_revision: update.to_string(),
        collision_count: 0,
        pods,
        now: Timestamp::now(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (status, result) = rt.block_on(sync(fake, plan));
    result.expect("sync");
    status
}

#[test]
fn ordered_ready_creates_one_pod_at_a_time_in_order() {
    let fake = Fake::default();
    let s = set(json!({}));
    step(&fake, &s, "v1", "v1");
    assert_eq!(fake.take_log(), vec!["create ss-0 v1"]);
    step(&fake, &s, "v1", "v1");
    assert!(fake.take_log().is_empty(), "ss-0 is Pending: nothing more");
    fake.set_phase("ss-0", "Running", false);
    step(&fake, &s, "v1", "v1");
    assert!(
        fake.take_log().is_empty(),
        "ss-0 is not Ready: nothing more"
    );
    fake.set_phase("ss-0", "Running", true);
    step(&fake, &s, "v1", "v1");
    assert_eq!(fake.take_log(), vec!["create ss-1 v1"]);
    fake.ready_all();
    step(&fake, &s, "v1", "v1");
    assert_eq!(fake.take_log(), vec!["create ss-2 v1"]);
    fake.ready_all();
    let status = step(&fake, &s, "v1", "v1");
    assert!(fake.take_log().is_empty());
    assert_eq!(
        (
            status.replicas,
            status.ready_replicas,
            status.current_replicas,
            status.updated_replicas
        ),
        (3, Some(3), Some(3), Some(3))
    );
}

#[test]
fn parallel_creates_every_missing_pod_at_once() {
    let fake = Fake::default();
    let s = set(json!({"podManagementPolicy": "Parallel"}));
    step(&fake, &s, "v1", "v1");
    let mut log = fake.take_log();
    log.sort();
    assert_eq!(
        log,
        vec!["create ss-0 v1", "create ss-1 v1", "create ss-2 v1"]
    );
}

#[test]
fn scale_down_deletes_the_highest_ordinal_first_and_waits() {
    let fake = Fake::default();
    let three = set(json!({"podManagementPolicy": "Parallel"}));
    step(&fake, &three, "v1", "v1");
    fake.ready_all();
    fake.take_log();
    let one = set(json!({"replicas": 1}));
    step(&fake, &one, "v1", "v1");
    assert_eq!(fake.take_log(), vec!["delete ss-2"]);
    step(&fake, &one, "v1", "v1");
    assert_eq!(fake.take_log(), vec!["delete ss-1"]);
    step(&fake, &one, "v1", "v1");
    assert!(fake.take_log().is_empty());
    assert_eq!(fake.names(), vec!["ss-0"]);
}

#[test]
fn an_unhealthy_pod_halts_scale_down_but_not_in_parallel() {
    let fake = Fake::default();
    step(
        &fake,
        &set(json!({"podManagementPolicy": "Parallel"})),
        "v1",
        "v1",
    );
    fake.ready_all();
    fake.set_phase("ss-0", "Running", false);
    fake.take_log();
    step(&fake, &set(json!({"replicas": 1})), "v1", "v1");
    assert!(fake.take_log().is_empty(), "ss-0 is unready: no deletion");
    step(
        &fake,
        &set(json!({"replicas": 1, "podManagementPolicy": "Parallel"})),
        "v1",
        "v1",
    );
    let mut log = fake.take_log();
    log.sort();
    assert_eq!(log, vec!["delete ss-1", "delete ss-2"]);
}

#[test]
fn the_first_unhealthy_condemned_pod_may_go_to_avoid_a_deadlock() {
    let fake = Fake::default();
    step(
        &fake,
        &set(json!({"podManagementPolicy": "Parallel"})),
        "v1",
        "v1",
    );
    fake.ready_all();
    fake.set_phase("ss-2", "Running", false);
    fake.take_log();
    step(&fake, &set(json!({"replicas": 2})), "v1", "v1");
    assert_eq!(fake.take_log(), vec!["delete ss-2"]);
}

#[test]
fn a_failed_pod_is_deleted_then_recreated_with_the_same_name() {
    let fake = Fake::default();
    let s = set(json!({"replicas": 1}));
    step(&fake, &s, "v1", "v1");
    fake.set_phase("ss-0", "Failed", false);
    fake.take_log();
    step(&fake, &s, "v1", "v1");
    assert_eq!(fake.take_log(), vec!["delete ss-0"]);
    step(&fake, &s, "v1", "v1");
    assert_eq!(fake.take_log(), vec!["create ss-0 v1"]);
}

#[test]
fn rolling_update_replaces_from_the_top_and_respects_the_partition() {
    let fake = Fake::default();
    let s = set(json!({"podManagementPolicy": "Parallel"}));
    step(&fake, &s, "v1", "v1");
    fake.ready_all();
    fake.take_log();
    let status = step(&fake, &s, "v1", "v2");
    assert_eq!(fake.take_log(), vec!["delete ss-2"]);
    assert_eq!(status.current_replicas, Some(2), "the deletion is counted");
    step(&fake, &s, "v1", "v2");
    assert_eq!(fake.take_log(), vec!["create ss-2 v2"]);
    fake.ready_all();
    step(&fake, &s, "v1", "v2");
    assert_eq!(fake.take_log(), vec!["delete ss-1"]);

    let fake = Fake::default();
    let partitioned = set(
        json!({"podManagementPolicy": "Parallel", "updateStrategy": {"rollingUpdate": {"partition": 2}}}),
    );
    step(&fake, &partitioned, "v1", "v1");
    fake.ready_all();
    fake.take_log();
    step(&fake, &partitioned, "v1", "v2");
    assert_eq!(fake.take_log(), vec!["delete ss-2"]);
    step(&fake, &partitioned, "v1", "v2");
    assert_eq!(fake.take_log(), vec!["create ss-2 v2"]);
    fake.ready_all();
    step(&fake, &partitioned, "v1", "v2");
    assert!(
        fake.take_log().is_empty(),
        "ss-0 and ss-1 are below the partition"
    );
    // A deleted pod below the partition comes back at the current revision.
    fake.pods.lock().remove("ss-0");
    step(&fake, &partitioned, "v1", "v2");
    assert_eq!(fake.take_log(), vec!["create ss-0 v1"]);
}

#[test]
fn on_delete_never_deletes_for_an_update_and_recreates_at_the_update_revision() {
    let fake = Fake::default();
    let s = set(
        json!({"podManagementPolicy": "Parallel", "updateStrategy": {"type": "OnDelete", "rollingUpdate": null}}),
    );
    step(&fake, &s, "v1", "v1");
    fake.ready_all();
    fake.take_log();
    step(&fake, &s, "v1", "v2");
    assert!(fake.take_log().is_empty());
    fake.pods.lock().remove("ss-1");
    step(&fake, &s, "v1", "v2");
    assert_eq!(fake.take_log(), vec!["create ss-1 v2"]);
}

#[test]
fn the_start_ordinal_moves_the_range() {
    let fake = Fake::default();
    let s =
        set(json!({"replicas": 2, "ordinals": {"start": 3}, "podManagementPolicy": "Parallel"}));
    step(&fake, &s, "v1", "v1");
    let mut log = fake.take_log();
    log.sort();
    assert_eq!(log, vec!["create ss-3 v1", "create ss-4 v1"]);
    fake.ready_all();
    let s =
        set(json!({"replicas": 2, "ordinals": {"start": 2}, "podManagementPolicy": "Parallel"}));
    step(&fake, &s, "v1", "v1");
    let mut log = fake.take_log();
    log.sort();
    assert_eq!(log, vec!["create ss-2 v1", "delete ss-4"]);
}

#[test]
fn a_set_being_deleted_only_gets_its_status() {
    let fake = Fake::default();
    let mut s = set(json!({}));
    s.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        Timestamp::now(),
    ));
    let status = step(&fake, &s, "v1", "v1");
    assert!(fake.take_log().is_empty());
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(status.replicas, 0);
}

#[test]
fn a_broken_identity_is_repaired_in_place() {
    let fake = Fake::default();
    let s = set(json!({"replicas": 1}));
    step(&fake, &s, "v1", "v1");
    fake.ready_all();
    fake.pods
        .lock()
        .get_mut("ss-0")
        .unwrap()
        .labels_mut()
        .remove(super::identity::POD_NAME_LABEL);
    fake.take_log();
    step(&fake, &s, "v1", "v1");
    assert_eq!(fake.take_log(), vec!["update ss-0"]);
}
