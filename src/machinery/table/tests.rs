//! Table tests of the printers against kube-apiserver's output.

use super::*;

fn now() -> Timestamp {
    "2024-05-01T12:00:00Z"
        .parse()
        .expect("valid test timestamp")
}

/// An RFC 3339 timestamp `secs` seconds before `now()`.
fn ago(secs: i64) -> String {
    let t = Timestamp::from_second(now().as_second() - secs).expect("in range");
    t.to_string()
}

fn cells(resource: &str, obj: &Value) -> Vec<Value> {
    let table = to_table(resource, &[obj], IncludeObject::None, json!({}), now());
    table["rows"][0]["cells"]
        .as_array()
        .expect("cells array")
        .clone()
}

fn column_names(resource: &str) -> Vec<(String, i64)> {
    let table = to_table(resource, &[], IncludeObject::None, json!({}), now());
    table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().expect("name").to_string(),
                c["priority"].as_i64().expect("priority"),
            )
        })
        .collect()
}

#[test]
fn human_duration_table() {
    let cases: &[(i64, &str)] = &[
        (-2, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (1, "1s"),
        (70, "70s"),
        (119, "119s"),
        (120, "2m"),
        (121, "2m1s"),
        (190, "3m10s"),
        (599, "9m59s"),
        (600, "10m"),
        (601, "10m"),
        (70 * 60, "70m"),
        (3 * 3600 - 1, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 60, "3h1m"),
        (8 * 3600 - 1, "7h59m"),
        (8 * 3600, "8h"),
        (8 * 3600 + 59 * 60, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (49 * 3600, "2d1h"),
        (8 * 24 * 3600 - 1, "7d23h"),
        (8 * 24 * 3600, "8d"),
        ((8 * 24 + 2) * 3600, "8d"),
        (367 * 24 * 3600, "367d"),
        (2 * 365 * 24 * 3600 - 1, "729d"),
        (2 * 365 * 24 * 3600, "2y"),
        ((365 * 2 * 24 + 25) * 3600, "2y1d"),
        (8 * 365 * 24 * 3600 - 1, "7y364d"),
        (8 * 365 * 24 * 3600, "8y"),
        (9 * 365 * 24 * 3600, "9y"),
    ];
    for (secs, want) in cases {
        assert_eq!(human_duration(*secs), *want, "human_duration({secs})");
    }
}

#[test]
fn subsecond_age_truncates_toward_zero() {
    let created =
        json!({"metadata": {"name": "a", "creationTimestamp": "2024-05-01T12:00:01.500000Z"}});
    // now - created = -1.5s → int(-1.5) = -1 → "0s" (Go), not "<invalid>".
    assert_eq!(cells("configmaps", &created)[2], json!("0s"));
    let future = json!({"metadata": {"name": "a", "creationTimestamp": "2024-05-01T12:00:03Z"}});
    assert_eq!(cells("configmaps", &future)[2], json!("<invalid>"));
    let missing = json!({"metadata": {"name": "a"}});
    assert_eq!(cells("configmaps", &missing)[2], json!("<unknown>"));
}

#[test]
fn table_envelope_and_include_object() {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "default", "resourceVersion": "42",
                     "creationTimestamp": ago(60), "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        "status": {"phase": "Pending"}
    });
    let meta = json!({"resourceVersion": "100", "continue": "abc"});
    let t = to_table(
        "pods",
        &[&pod],
        IncludeObject::Metadata,
        meta.clone(),
        now(),
    );
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(t["metadata"], meta);
    assert_eq!(t["columnDefinitions"].as_array().map(Vec::len), Some(9));
    assert_eq!(
        t["columnDefinitions"][0],
        json!({"name": "Name", "type": "string", "format": "name", "description": D_NAME, "priority": 0})
    );
    let object = &t["rows"][0]["object"];
    assert_eq!(object["kind"], "PartialObjectMetadata");
    assert_eq!(object["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(object["metadata"], pod["metadata"]);
    assert!(object.get("spec").is_none());

    let t = to_table("pods", &[&pod], IncludeObject::Object, Value::Null, now());
    assert_eq!(t["rows"][0]["object"], pod);
    assert_eq!(t["metadata"], json!({}));
    let t = to_table("pods", &[&pod], IncludeObject::None, json!({}), now());
    assert_eq!(t["rows"][0]["object"], Value::Null);
    assert!(t["rows"][0].get("conditions").is_none());

    let empty = to_table("pods", &[], IncludeObject::Metadata, json!({}), now());
    assert_eq!(empty["rows"], json!([]));
}

#[test]
fn include_object_parse() {
    assert_eq!(IncludeObject::parse(""), Some(IncludeObject::Metadata));
    assert_eq!(
        IncludeObject::parse("Metadata"),
        Some(IncludeObject::Metadata)
    );
    assert_eq!(IncludeObject::parse("None"), Some(IncludeObject::None));
    assert_eq!(IncludeObject::parse("Object"), Some(IncludeObject::Object));
    assert_eq!(IncludeObject::parse("object"), None);
}

fn pod(spec: Value, status: Value) -> Value {
    json!({
        "metadata": {"name": "p", "creationTimestamp": ago(3600)},
        "spec": spec,
        "status": status,
    })
}

/// (READY, STATUS, RESTARTS) of a pod.
fn pod_summary(p: &Value) -> (String, String, String) {
    let c = cells("pods", p);
    let text = |i: usize| c[i].as_str().expect("string cell").to_string();
    (text(1), text(2), text(3))
}

fn running(ready: bool) -> Value {
    json!({"name": "app", "ready": ready, "restartCount": 0,
           "state": {"running": {"startedAt": ago(100)}}})
}

#[test]
fn pod_status_cases() {
    let one = json!({"containers": [{"name": "app", "image": "nginx"}]});
    let two_init = json!({
        "initContainers": [{"name": "init-a", "image": "busybox"}, {"name": "init-b", "image": "busybox"}],
        "containers": [{"name": "app", "image": "nginx"}]
    });
    let cases: Vec<(&str, Value, (&str, &str, &str))> = vec![
        (
            "running and ready",
            pod(
                one.clone(),
                json!({"phase": "Running", "containerStatuses": [running(true)]}),
            ),
            ("1/1", "Running", "0"),
        ),
        (
            "running not ready",
            pod(
                one.clone(),
                json!({"phase": "Running", "containerStatuses": [running(false)]}),
            ),
            ("0/1", "Running", "0"),
        ),
        (
            "pending without status",
            pod(one.clone(), json!({})),
            ("0/1", "Pending", "0"),
        ),
        (
            "container creating",
            pod(
                one.clone(),
                json!({"phase": "Pending", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
            ),
            ("0/1", "ContainerCreating", "0"),
        ),
        (
            "crash loop with last restart",
            pod(
                one.clone(),
                json!({"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 5,
                 "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(42)}}}]}),
            ),
            ("0/1", "CrashLoopBackOff", "5 (42s ago)"),
        ),
        (
            "restarts without termination time",
            pod(
                one.clone(),
                json!({"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 2,
                 "state": {"running": {"startedAt": ago(10)}}}]}),
            ),
            ("1/1", "Running", "2"),
        ),
        (
            "completed",
            pod(
                one.clone(),
                json!({"phase": "Succeeded", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
            ),
            ("0/1", "Completed", "0"),
        ),
        (
            "terminated without reason, exit code",
            pod(
                one.clone(),
                json!({"phase": "Failed", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 137}}}]}),
            ),
            ("0/1", "ExitCode:137", "0"),
        ),
        (
            "terminated without reason, signal",
            pod(
                one.clone(),
                json!({"phase": "Failed", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0, "signal": 9}}}]}),
            ),
            ("0/1", "Signal:9", "0"),
        ),
        (
            "completed container next to a running one, pod not ready",
            pod(
                json!({"containers": [{"name": "job"}, {"name": "app"}]}),
                json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                       "containerStatuses": [
                    {"name": "job", "ready": false, "restartCount": 0,
                     "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    running(true)]}),
            ),
            ("1/2", "NotReady", "0"),
        ),
        (
            "completed container next to a running one, pod ready",
            pod(
                json!({"containers": [{"name": "job"}, {"name": "app"}]}),
                json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [
                    {"name": "job", "ready": false, "restartCount": 0,
                     "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    running(true)]}),
            ),
            ("1/2", "Running", "0"),
        ),
        (
            "first init container running",
            pod(
                two_init.clone(),
                json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "init-a", "ready": false, "restartCount": 0, "state": {"running": {}}},
                {"name": "init-b", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "PodInitializing"}}}]}),
            ),
            ("0/1", "Init:0/2", "0"),
        ),
        (
            "second init container pending",
            pod(
                two_init.clone(),
                json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "init-a", "ready": true, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "init-b", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "PodInitializing"}}}]}),
            ),
            ("0/1", "Init:1/2", "0"),
        ),
        (
            "init crash loop",
            pod(
                two_init.clone(),
                json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "init-a", "ready": false, "restartCount": 3,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(5)}}}],
                "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "PodInitializing"}}}]}),
            ),
            ("0/1", "Init:CrashLoopBackOff", "3 (5s ago)"),
        ),
        (
            "init error",
            pod(
                two_init.clone(),
                json!({"phase": "Failed", "initContainerStatuses": [
                {"name": "init-a", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]}),
            ),
            ("0/1", "Init:Error", "0"),
        ),
        (
            "init exit code without reason",
            pod(
                two_init.clone(),
                json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "init-a", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 3}}}]}),
            ),
            ("0/1", "Init:ExitCode:3", "0"),
        ),
        (
            "init signal without reason",
            pod(
                two_init.clone(),
                json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "init-a", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 1, "signal": 15}}}]}),
            ),
            ("0/1", "Init:Signal:15", "0"),
        ),
        (
            "evicted",
            pod(
                one.clone(),
                json!({"phase": "Failed", "reason": "Evicted", "message": "low on memory"}),
            ),
            ("0/1", "Evicted", "0"),
        ),
        (
            "scheduling gated",
            pod(
                one.clone(),
                json!({"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
            ),
            ("0/1", "SchedulingGated", "0"),
        ),
        (
            "sidecar counts as a container",
            pod(
                json!({"initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
                       "containers": [{"name": "app"}]}),
                json!({"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
                       "initContainerStatuses": [{"name": "proxy", "ready": true, "started": true,
                         "restartCount": 1, "state": {"running": {}},
                         "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(300)}}}],
                       "containerStatuses": [running(true)]}),
            ),
            ("2/2", "Running", "1 (5m ago)"),
        ),
    ];
    for (label, p, (ready, status, restarts)) in cases {
        let (r, st, rs) = pod_summary(&p);
        assert_eq!(
            (r.as_str(), st.as_str(), rs.as_str()),
            (ready, status, restarts),
            "{label}"
        );
    }
}

#[test]
fn pod_terminating_and_unknown() {
    let mut p = pod(
        json!({"containers": [{"name": "app"}]}),
        json!({"phase": "Running", "containerStatuses": [running(true)]}),
    );
    p["metadata"]["deletionTimestamp"] = json!(ago(1));
    assert_eq!(pod_summary(&p).1, "Terminating");
    p["status"]["reason"] = json!("NodeLost");
    assert_eq!(pod_summary(&p).1, "Unknown");
    // A terminal pod being deleted keeps its status.
    let mut done = pod(
        json!({"containers": [{"name": "app"}]}),
        json!({"phase": "Succeeded",
        "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
    );
    done["metadata"]["deletionTimestamp"] = json!(ago(1));
    assert_eq!(pod_summary(&done).1, "Completed");
}

#[test]
fn pod_wide_cells_and_row_conditions() {
    let p = json!({
        "metadata": {"name": "web-1", "creationTimestamp": ago(49 * 3600)},
        "spec": {"nodeName": "node-a", "containers": [{"name": "app"}],
                 "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]},
        "status": {"phase": "Running", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.7"}, {"ip": "fd00::7"}],
                   "conditions": [{"type": "example.com/lb", "status": "True"}, {"type": "example.com/dns", "status": "False"}],
                   "containerStatuses": [running(true)]}
    });
    assert_eq!(
        cells("pods", &p),
        vec![
            json!("web-1"),
            json!("1/1"),
            json!("Running"),
            json!("0"),
            json!("2d1h"),
            json!("10.0.0.7"),
            json!("node-a"),
            json!("<none>"),
            json!("1/2")
        ]
    );
    let legacy = json!({"metadata": {"name": "x"}, "spec": {"containers": []},
                        "status": {"phase": "Running", "podIP": "10.0.0.9"}});
    let c = cells("pods", &legacy);
    assert_eq!(
        (c[5].clone(), c[6].clone(), c[8].clone()),
        (json!("10.0.0.9"), json!("<none>"), json!("<none>"))
    );

    let done = pod(
        json!({"containers": [{"name": "app"}]}),
        json!({"phase": "Succeeded"}),
    );
    let t = to_table("pods", &[&done], IncludeObject::None, json!({}), now());
    assert_eq!(
        t["rows"][0]["conditions"],
        json!([{"type": "Completed", "status": "True", "reason": "Succeeded",
                "message": "The pod has completed successfully."}])
    );
    let failed = pod(
        json!({"containers": [{"name": "app"}]}),
        json!({"phase": "Failed"}),
    );
    let t = to_table("pods", &[&failed], IncludeObject::None, json!({}), now());
    assert_eq!(t["rows"][0]["conditions"][0]["message"], "The pod failed.");
}

#[test]
fn statefulset_cells() {
    let sts = json!({
        "metadata": {"name": "web", "creationTimestamp": ago(600)},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "nginx", "image": "nginx:1.27"}, {"name": "sidecar", "image": "busybox"}]}}},
        "status": {"replicas": 3, "readyReplicas": 2}
    });
    assert_eq!(
        cells("statefulsets", &sts),
        vec![
            json!("web"),
            json!("2/3"),
            json!("10m"),
            json!("nginx,sidecar"),
            json!("nginx:1.27,busybox")
        ]
    );
    let defaulted =
        json!({"metadata": {"name": "db"}, "spec": {"template": {"spec": {"containers": []}}}});
    assert_eq!(cells("statefulsets", &defaulted)[1], json!("0/1"));
    assert_eq!(
        column_names("statefulsets"),
        vec![
            ("Name".into(), 0),
            ("Ready".into(), 0),
            ("Age".into(), 0),
            ("Containers".into(), 1),
            ("Images".into(), 1)
        ]
    );
}

#[test]
fn service_cells() {
    let svc = json!({
        "metadata": {"name": "web", "creationTimestamp": ago(7200)},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                           {"name": "dns", "port": 53, "protocol": "UDP"}],
                 "selector": {"app": "web", "tier": "front"}}
    });
    assert_eq!(
        cells("services", &svc),
        vec![
            json!("web"),
            json!("ClusterIP"),
            json!("10.96.0.10"),
            json!("<none>"),
            json!("80/TCP,53/UDP"),
            json!("120m"),
            json!("app=web,tier=front")
        ]
    );
    let headless = json!({"metadata": {"name": "web-hl"},
        "spec": {"clusterIP": "None", "ports": [{"port": 80}], "selector": {"app": "web"}}});
    let c = cells("services", &headless);
    assert_eq!(
        (c[1].clone(), c[2].clone(), c[4].clone()),
        (json!("ClusterIP"), json!("None"), json!("80/TCP"))
    );

    let node_port = json!({"metadata": {"name": "np"}, "spec": {"type": "NodePort", "clusterIPs": ["10.96.1.1"],
        "externalIPs": ["1.2.3.4"], "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}});
    let c = cells("services", &node_port);
    assert_eq!(
        (c[3].clone(), c[4].clone(), c[6].clone()),
        (json!("1.2.3.4"), json!("80:30080/TCP"), json!("<none>"))
    );

    let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.1.2"], "ports": []},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "a-very-long-hostname.example.com"}]}}});
    let c = cells("services", &lb);
    assert_eq!(
        (c[3].clone(), c[4].clone()),
        (
            json!("203.0.113.9,a-very-long-hostname.example.com"),
            json!("<none>")
        )
    );
    let pending = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer"}});
    assert_eq!(cells("services", &pending)[3], json!("<pending>"));
    let external = json!({"metadata": {"name": "ext"}, "spec": {"type": "ExternalName", "externalName": "db.example.com"}});
    let c = cells("services", &external);
    assert_eq!(
        (c[2].clone(), c[3].clone()),
        (json!("<none>"), json!("db.example.com"))
    );
}

#[test]
fn endpoints_cells() {
    let ep = json!({
        "metadata": {"name": "web", "creationTimestamp": ago(30)},
        "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                     "ports": [{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}]},
                    {"addresses": [{"ip": "fd00::5"}], "ports": [{"port": 443}]}]
    });
    assert_eq!(
        cells("endpoints", &ep),
        vec![
            json!("web"),
            json!("10.0.0.1:80,10.0.0.2:80,10.0.0.1:9090 + 2 more..."),
            json!("30s")
        ]
    );
    let small = json!({"metadata": {"name": "a"}, "subsets": [{"addresses": [{"ip": "fd00::5"}], "ports": [{"port": 443}]}]});
    assert_eq!(cells("endpoints", &small)[1], json!("[fd00::5]:443"));
    let headless =
        json!({"metadata": {"name": "a"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]});
    assert_eq!(cells("endpoints", &headless)[1], json!("10.0.0.1"));
    let empty = json!({"metadata": {"name": "a"}});
    assert_eq!(cells("endpoints", &empty)[1], json!("<none>"));
    let not_ready = json!({"metadata": {"name": "a"}, "subsets": [{"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]});
    assert_eq!(cells("endpoints", &not_ready)[1], json!(""));
}

#[test]
fn endpointslice_cells() {
    let slice = json!({
        "metadata": {"name": "web-abc12", "creationTimestamp": ago(90)},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]},
                      {"addresses": ["10.0.0.3"]}, {"addresses": ["10.0.0.4"]}]
    });
    assert_eq!(
        cells("endpointslices", &slice),
        vec![
            json!("web-abc12"),
            json!("IPv4"),
            json!("80"),
            json!("10.0.0.1,10.0.0.2,10.0.0.3 + 1 more..."),
            json!("90s")
        ]
    );
    let unset = json!({"metadata": {"name": "s"}, "addressType": "IPv6",
        "ports": [{"name": "grpc"}, {}], "endpoints": []});
    let c = cells("endpointslices", &unset);
    assert_eq!(
        (c[2].clone(), c[3].clone()),
        (json!("grpc,*"), json!("<unset>"))
    );
}

#[test]
fn core_event_cells() {
    let ev = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "web-0.17c1", "creationTimestamp": ago(300)},
        "involvedObject": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{nginx}"},
        "reason": "Pulled", "message": "  Successfully pulled image \"nginx\"\n",
        "source": {"component": "kubelet", "host": "node-a"},
        "firstTimestamp": ago(300), "lastTimestamp": ago(20), "count": 4, "type": "Normal"
    });
    assert_eq!(
        cells("events", &ev),
        vec![
            json!("20s"),
            json!("Normal"),
            json!("Pulled"),
            json!("pod/web-0"),
            json!("spec.containers{nginx}"),
            json!("kubelet, node-a"),
            json!("Successfully pulled image \"nginx\""),
            json!("5m"),
            json!(4),
            json!("web-0.17c1")
        ]
    );
    let cols = column_names("events");
    assert_eq!(cols[0], ("Last Seen".to_string(), 0));
    assert_eq!(cols[4], ("Subobject".to_string(), 1));
    assert_eq!(cols[9], ("Name".to_string(), 1));
}

#[test]
fn event_series_and_defaults() {
    let ev = json!({
        "metadata": {"name": "e"},
        "involvedObject": {"kind": "StatefulSet"},
        "eventTime": ago(400), "series": {"count": 7, "lastObservedTime": ago(3)},
        "reportingComponent": "statefulset-controller", "reportingInstance": "podgate",
        "type": "Warning", "reason": "FailedCreate", "message": "boom"
    });
    let c = cells("events", &ev);
    assert_eq!(c[0], json!("3s"));
    assert_eq!(c[3], json!("statefulset"));
    assert_eq!(c[5], json!("statefulset-controller, podgate"));
    assert_eq!(c[7], json!("6m40s"));
    assert_eq!(c[8], json!(7));
    let singleton =
        json!({"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p"}});
    let c = cells("events", &singleton);
    assert_eq!(
        (c[0].clone(), c[7].clone(), c[8].clone()),
        (json!("<unknown>"), json!("<unknown>"), json!(1))
    );
}

#[test]
fn events_k8s_io_event_cells() {
    let ev = json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "web.1"},
        "eventTime": ago(120), "reportingController": "podgate/statefulset", "reportingInstance": "pg-1",
        "action": "Create", "reason": "SuccessfulCreate", "type": "Normal",
        "regarding": {"kind": "StatefulSet", "name": "web", "namespace": "default"},
        "note": "create Pod web-0 in StatefulSet web successful"
    });
    assert_eq!(
        cells("events", &ev),
        vec![
            json!("2m"),
            json!("Normal"),
            json!("SuccessfulCreate"),
            json!("statefulset/web"),
            json!(""),
            json!("podgate/statefulset, pg-1"),
            json!("create Pod web-0 in StatefulSet web successful"),
            json!("2m"),
            json!(1),
            json!("web.1")
        ]
    );
    let deprecated = json!({
        "apiVersion": "events.k8s.io/v1", "metadata": {"name": "x"},
        "regarding": {"kind": "Pod", "name": "p"}, "note": "n",
        "deprecatedFirstTimestamp": ago(3600), "deprecatedLastTimestamp": ago(60), "deprecatedCount": 9,
        "deprecatedSource": {"component": "kubelet"}
    });
    let c = cells("events", &deprecated);
    assert_eq!(
        (c[0].clone(), c[5].clone(), c[7].clone(), c[8].clone()),
        (json!("60s"), json!("kubelet"), json!("60m"), json!(9))
    );
}

#[test]
fn namespace_cells() {
    let ns = json!({"metadata": {"name": "default", "creationTimestamp": ago(10 * 24 * 3600)}, "status": {"phase": "Active"}});
    assert_eq!(
        cells("namespaces", &ns),
        vec![json!("default"), json!("Active"), json!("10d")]
    );
    let terminating = json!({"metadata": {"name": "old"}, "status": {"phase": "Terminating"}});
    assert_eq!(cells("namespaces", &terminating)[1], json!("Terminating"));
    let bare = json!({"metadata": {"name": "new"}});
    assert_eq!(cells("namespaces", &bare)[1], json!("Active"));
}

#[test]
fn node_cells() {
    let node = json!({
        "metadata": {"name": "node-a", "creationTimestamp": ago(3 * 24 * 3600),
                     "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker",
                                "node-role.kubernetes.io/": "x", "kubernetes.io/hostname": "node-a"}},
        "spec": {"unschedulable": true},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            "addresses": [{"type": "Hostname", "address": "node-a"}, {"type": "InternalIP", "address": "192.168.1.10"}],
            "nodeInfo": {"kubeletVersion": "v1.35.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "kernelVersion": "6.1.0-18-amd64", "containerRuntimeVersion": "containerd://1.7.13"}
        }
    });
    assert_eq!(
        cells("nodes", &node),
        vec![
            json!("node-a"),
            json!("Ready,SchedulingDisabled"),
            json!("control-plane,worker"),
            json!("3d"),
            json!("v1.35.0"),
            json!("192.168.1.10"),
            json!("<none>"),
            json!("Debian GNU/Linux 12 (bookworm)"),
            json!("6.1.0-18-amd64"),
            json!("containerd://1.7.13")
        ]
    );
    let bare = json!({"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
    let c = cells("nodes", &bare);
    assert_eq!(
        (c[1].clone(), c[2].clone(), c[7].clone()),
        (json!("NotReady"), json!("<none>"), json!("<unknown>"))
    );
    let none = json!({"metadata": {"name": "n"}});
    assert_eq!(cells("nodes", &none)[1], json!("Unknown"));
}

#[test]
fn pvc_cells() {
    let bound = json!({
        "metadata": {"name": "data-web-0", "creationTimestamp": ago(5 * 3600)},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                 "storageClassName": "standard", "volumeName": "pvc-1234", "volumeMode": "Filesystem"},
        "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteOnce"],
                   "capacity": {"storage": "1024Mi"}}
    });
    assert_eq!(
        cells("persistentvolumeclaims", &bound),
        vec![
            json!("data-web-0"),
            json!("Bound"),
            json!("pvc-1234"),
            json!("1Gi"),
            json!("RWO,RWOP"),
            json!("standard"),
            json!("<unset>"),
            json!("5h"),
            json!("Filesystem")
        ]
    );
    let pending = json!({"metadata": {"name": "data-web-1",
                                      "annotations": {"volume.beta.kubernetes.io/storage-class": "legacy"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                 "storageClassName": "standard", "volumeAttributesClassName": "gold"}});
    assert_eq!(
        cells("persistentvolumeclaims", &pending),
        vec![
            json!("data-web-1"),
            json!("Pending"),
            json!(""),
            json!(""),
            json!(""),
            json!("legacy"),
            json!("gold"),
            json!("<unknown>"),
            json!("Filesystem")
        ]
    );
    let mut deleting = pending.clone();
    deleting["metadata"]["deletionTimestamp"] = json!(ago(1));
    assert_eq!(
        cells("persistentvolumeclaims", &deleting)[1],
        json!("Terminating")
    );
    assert_eq!(
        column_names("persistentvolumeclaims")[8],
        ("VolumeMode".to_string(), 1)
    );
}

#[test]
fn pv_cells() {
    let pv = json!({
        "metadata": {"name": "pvc-1234", "creationTimestamp": ago(5 * 3600)},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadOnlyMany"],
                 "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "standard",
                 "claimRef": {"namespace": "default", "name": "data-web-0"}, "volumeMode": "Block"},
        "status": {"phase": "Bound"}
    });
    assert_eq!(
        cells("persistentvolumes", &pv),
        vec![
            json!("pvc-1234"),
            json!("10Gi"),
            json!("ROX,RWX"),
            json!("Delete"),
            json!("Bound"),
            json!("default/data-web-0"),
            json!("standard"),
            json!("<unset>"),
            json!(""),
            json!("5h"),
            json!("Block")
        ]
    );
    let bare = json!({"metadata": {"name": "v"}, "spec": {}, "status": {"phase": "Failed", "reason": "Recycler"}});
    let c = cells("persistentvolumes", &bare);
    assert_eq!(
        (
            c[1].clone(),
            c[3].clone(),
            c[4].clone(),
            c[5].clone(),
            c[8].clone(),
            c[10].clone()
        ),
        (
            json!("0"),
            json!("Retain"),
            json!("Failed"),
            json!(""),
            json!("Recycler"),
            json!("Filesystem")
        )
    );
}

#[test]
fn storageclass_cells() {
    let sc = json!({
        "metadata": {"name": "standard", "creationTimestamp": ago(100),
                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "podgate.io/local", "reclaimPolicy": "Retain",
        "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": true
    });
    assert_eq!(
        cells("storageclasses", &sc),
        vec![
            json!("standard (default)"),
            json!("podgate.io/local"),
            json!("Retain"),
            json!("WaitForFirstConsumer"),
            json!(true),
            json!("100s")
        ]
    );
    let bare = json!({"metadata": {"name": "slow", "annotations": {"storageclass.beta.kubernetes.io/is-default-class": "false"}},
                      "provisioner": "x"});
    assert_eq!(
        cells("storageclasses", &bare)[..5],
        [
            json!("slow"),
            json!("x"),
            json!("Delete"),
            json!("Immediate"),
            json!(false)
        ]
    );
}

#[test]
fn small_resources_cells() {
    let cm = json!({"metadata": {"name": "kube-root-ca.crt", "creationTimestamp": ago(86400)},
                    "data": {"ca.crt": "x"}, "binaryData": {"blob": "AA=="}});
    assert_eq!(
        cells("configmaps", &cm),
        vec![json!("kube-root-ca.crt"), json!(2), json!("24h")]
    );

    let sa = json!({"metadata": {"name": "default", "creationTimestamp": ago(86400)}, "secrets": [{"name": "t"}]});
    assert_eq!(
        cells("serviceaccounts", &sa),
        vec![json!("default"), json!(1), json!("24h")]
    );
    let sa0 = json!({"metadata": {"name": "builder"}});
    assert_eq!(cells("serviceaccounts", &sa0)[1], json!(0));

    let secret = json!({"metadata": {"name": "tls", "creationTimestamp": ago(60)}, "type": "kubernetes.io/tls",
                        "data": {"tls.crt": "x", "tls.key": "y"}});
    assert_eq!(
        cells("secrets", &secret),
        vec![
            json!("tls"),
            json!("kubernetes.io/tls"),
            json!(2),
            json!("60s")
        ]
    );
    let opaque = json!({"metadata": {"name": "s"}});
    assert_eq!(cells("secrets", &opaque)[1..3], [json!("Opaque"), json!(0)]);

    let lease = json!({"metadata": {"name": "podgate-leader", "creationTimestamp": ago(60)},
                       "spec": {"holderIdentity": "pg-1_abc", "leaseDurationSeconds": 15}});
    assert_eq!(
        cells("leases", &lease),
        vec![json!("podgate-leader"), json!("pg-1_abc"), json!("60s")]
    );
    let free = json!({"metadata": {"name": "l"}, "spec": {}});
    assert_eq!(cells("leases", &free)[1], json!(""));
}

#[test]
fn controllerrevision_cells() {
    let cr = json!({
        "metadata": {"name": "web-7d9c8b6f5", "creationTimestamp": ago(600),
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "other"},
                                         {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": true}]},
        "revision": 2, "data": {}
    });
    assert_eq!(
        cells("controllerrevisions", &cr),
        vec![
            json!("web-7d9c8b6f5"),
            json!("statefulset.apps/web"),
            json!(2),
            json!("10m")
        ]
    );
    let core = json!({"metadata": {"name": "r", "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p", "controller": true}]}, "revision": 1});
    assert_eq!(cells("controllerrevisions", &core)[1], json!("pod/p"));
    let orphan = json!({"metadata": {"name": "r"}, "revision": 1});
    assert_eq!(cells("controllerrevisions", &orphan)[1], json!("<none>"));
}

#[test]
fn rolebinding_cells() {
    let rb = json!({
        "metadata": {"name": "podgate-admin", "creationTimestamp": ago(600)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
        "subjects": [{"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                     {"kind": "Group", "name": "devs"},
                     {"kind": "ServiceAccount", "name": "builder", "namespace": "ci"}]
    });
    let want = vec![
        json!("podgate-admin"),
        json!("ClusterRole/admin"),
        json!("10m"),
        json!("alice, bob"),
        json!("devs"),
        json!("ci/builder"),
    ];
    assert_eq!(cells("rolebindings", &rb), want);
    assert_eq!(cells("clusterrolebindings", &rb), want);
    let rb_cols = to_table("rolebindings", &[], IncludeObject::None, json!({}), now());
    let crb_cols = to_table(
        "clusterrolebindings",
        &[],
        IncludeObject::None,
        json!({}),
        now(),
    );
    assert_eq!(
        rb_cols["columnDefinitions"][3]["description"],
        "Users in the roleBinding"
    );
    assert_eq!(
        crb_cols["columnDefinitions"][3]["description"],
        "Users in the clusterRoleBinding"
    );
}

#[test]
fn default_table_for_roles_and_unknown_resources() {
    let role = json!({"metadata": {"name": "pod-reader", "creationTimestamp": "2024-04-30T08:15:00Z"}, "rules": []});
    assert_eq!(
        cells("roles", &role),
        vec![json!("pod-reader"), json!("2024-04-30T08:15:00Z")]
    );
    let micro =
        json!({"metadata": {"name": "cr", "creationTimestamp": "2024-04-30T10:15:00.123+02:00"}});
    assert_eq!(
        cells("clusterroles", &micro),
        vec![json!("cr"), json!("2024-04-30T08:15:00Z")]
    );
    let missing = json!({"metadata": {"name": "x"}});
    assert_eq!(
        cells("widgets", &missing),
        vec![json!("x"), json!("0001-01-01T00:00:00Z")]
    );
    let t = to_table("clusterroles", &[], IncludeObject::None, json!({}), now());
    assert_eq!(
        t["columnDefinitions"][1],
        json!({"name": "Created At", "type": "date", "format": "", "description": D_CREATED, "priority": 0})
    );
}

#[test]
fn column_sets_per_resource() {
    let names = |r: &str| {
        column_names(r)
            .into_iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>()
            .join("|")
    };
    let cases = [
        (
            "pods",
            "Name|Ready|Status|Restarts|Age|IP|Node|Nominated Node|Readiness Gates",
        ),
        (
            "services",
            "Name|Type|Cluster-IP|External-IP|Port(s)|Age|Selector",
        ),
        ("endpoints", "Name|Endpoints|Age"),
        ("endpointslices", "Name|AddressType|Ports|Endpoints|Age"),
        (
            "events",
            "Last Seen|Type|Reason|Object|Subobject|Source|Message|First Seen|Count|Name",
        ),
        ("namespaces", "Name|Status|Age"),
        (
            "nodes",
            "Name|Status|Roles|Age|Version|Internal-IP|External-IP|OS-Image|Kernel-Version|Container-Runtime",
        ),
        (
            "persistentvolumeclaims",
            "Name|Status|Volume|Capacity|Access Modes|StorageClass|VolumeAttributesClass|Age|VolumeMode",
        ),
        (
            "persistentvolumes",
            "Name|Capacity|Access Modes|Reclaim Policy|Status|Claim|StorageClass|VolumeAttributesClass|Reason|Age|VolumeMode",
        ),
        (
            "storageclasses",
            "Name|Provisioner|ReclaimPolicy|VolumeBindingMode|AllowVolumeExpansion|Age",
        ),
        ("configmaps", "Name|Data|Age"),
        ("controllerrevisions", "Name|Controller|Revision|Age"),
        ("serviceaccounts", "Name|Secrets|Age"),
        ("secrets", "Name|Type|Data|Age"),
        ("rolebindings", "Name|Role|Age|Users|Groups|ServiceAccounts"),
        ("leases", "Name|Holder|Age"),
        ("roles", "Name|Created At"),
    ];
    for (resource, want) in cases {
        assert_eq!(names(resource), want, "{resource}");
    }
    let wide: Vec<String> = column_names("nodes")
        .into_iter()
        .filter(|(_, p)| *p == 1)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        wide,
        [
            "Internal-IP",
            "External-IP",
            "OS-Image",
            "Kernel-Version",
            "Container-Runtime"
        ]
    );
}

#[test]
fn cell_count_matches_columns() {
    let obj = json!({"metadata": {"name": "x"}});
    for resource in [
        "pods",
        "statefulsets",
        "services",
        "endpoints",
        "endpointslices",
        "events",
        "namespaces",
        "nodes",
        "persistentvolumeclaims",
        "persistentvolumes",
        "storageclasses",
        "configmaps",
        "controllerrevisions",
        "serviceaccounts",
        "secrets",
        "rolebindings",
        "clusterrolebindings",
        "leases",
        "roles",
        "anything",
    ] {
        assert_eq!(
            cells(resource, &obj).len(),
            column_names(resource).len(),
            "{resource}"
        );
    }
}

#[test]
fn quantity_canonical_form() {
    let cases = [
        ("1Gi", "1Gi"),
        ("1024Mi", "1Gi"),
        ("1536Mi", "1536Mi"),
        ("1.5Gi", "1536Mi"),
        ("0.5Gi", "512Mi"),
        ("2048Ki", "2Mi"),
        ("100Ki", "100Ki"),
        ("512", "512"),
        ("1024", "1024"),
        ("10G", "10G"),
        ("1.5G", "1500M"),
        ("1000M", "1G"),
        ("0.5", "500m"),
        ("1000m", "1"),
        ("100m", "100m"),
        ("1e3", "1e3"),
        ("1E3", "1e3"),
        ("1.5e3", "1500"),
        ("0", "0"),
        ("0Gi", "0"),
        ("0.0000000001", "1n"),
        ("-1Gi", "-1Gi"),
        ("1.1Gi", "1181116006400m"),
        ("0.5Ki", "512"),
        ("10k", "10k"),
        ("12E", "12E"),
        ("junk", "junk"),
        ("1Zi", "1Zi"),
    ];
    for (input, want) in cases {
        assert_eq!(canonical_quantity(input), want, "{input}");
    }
}
