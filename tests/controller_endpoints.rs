//! Endpoints and EndpointSlices through a real `podgate up` and the real kubectl: ready and
//! not-ready addresses, hostnames for the headless service of a StatefulSet, named ports,
//! `publishNotReadyAddresses`, and cleanup when the service goes.

mod common;
mod controller_support;

use common::wait_for;
use controller_support::{Cluster, UNSERVED_SCHEDULER};
use serde_json::{Value, json};

const MANIFEST: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {app: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 2
  podManagementPolicy: Parallel
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      schedulerName: $SCHEDULER
      containers:
      - name: web
        image: example/web:1
        ports:
        - name: http
          containerPort: 8080
"#;

/// Gives a pod an IP and a readiness, as a node agent would (the pods ask for a scheduler
/// nobody serves, so no node agent runs them; see `controller_support`).
fn running(c: &Cluster, pod: &str, ip: &str, ready: bool) {
    let patch = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}});
    c.patch_status(pod, &patch);
}

fn endpoints(c: &Cluster) -> Value {
    serde_json::from_str(&c.kubectl_ok(&["get", "endpoints", "web", "-o", "json"])).unwrap()
}

fn ips(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["ip"].as_str().map(String::from))
        .collect()
}

#[test]
fn endpoints_and_slices_follow_the_pods_of_a_headless_service() {
    let c = Cluster::start();
    c.apply(&MANIFEST.replace("$SCHEDULER", UNSERVED_SCHEDULER));
    wait_for("two pods", || {
        (c.active("app=web").len() == 2).then_some(())
    });
    running(&c, "web-0", "10.1.0.10", true);
    running(&c, "web-1", "10.1.0.11", false);
    let ep = wait_for("ready and not-ready addresses", || {
        let ep = endpoints(&c);
        let s = &ep["subsets"][0];
        (ips(&s["addresses"]) == ["10.1.0.10"] && ips(&s["notReadyAddresses"]) == ["10.1.0.11"])
            .then_some(ep)
    });
    let subset = &ep["subsets"][0];
    assert_eq!(subset["addresses"][0]["hostname"], "web-0");
    assert_eq!(subset["addresses"][0]["targetRef"]["name"], "web-0");
    assert_eq!(
        subset["ports"],
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
    );
    assert_eq!(
        ep["metadata"]["labels"]["service.kubernetes.io/headless"],
        ""
    );
    let table = c.kubectl_ok(&["get", "endpoints", "web"]);
    assert!(table.contains("10.1.0.10:8080"), "{table}");

    let slices: Value = serde_json::from_str(&c.kubectl_ok(&[
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=web",
        "-o",
        "json",
    ]))
    .unwrap();
    let items = slices["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{slices}");
    let slice = &items[0];
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(
        slice["ports"],
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
    );
    assert_eq!(slice["metadata"]["ownerReferences"][0]["kind"], "Service");
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    let conditions: Vec<(String, Value)> = slice["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["targetRef"]["name"].as_str().unwrap().to_string(),
                e["conditions"].clone(),
            )
        })
        .collect();
    assert_eq!(
        conditions,
        vec![
            (
                "web-0".to_string(),
                json!({"ready": true, "serving": true, "terminating": false})
            ),
            (
                "web-1".to_string(),
                json!({"ready": false, "serving": false, "terminating": false})
            ),
        ]
    );

    c.kubectl_ok(&[
        "patch",
        "service",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"publishNotReadyAddresses":true}}"#,
    ]);
    wait_for("every address published as ready", || {
        let s = &endpoints(&c)["subsets"][0];
        (ips(&s["addresses"]) == ["10.1.0.10", "10.1.0.11"] && s["notReadyAddresses"].is_null())
            .then_some(())
    });

    c.kubectl_ok(&["delete", "pod", "web-1"]);
    wait_for("web-1's address gone until it has one again", || {
        (ips(&endpoints(&c)["subsets"][0]["addresses"]) == ["10.1.0.10"]).then_some(())
    });

    c.kubectl_ok(&["delete", "service", "web"]);
    wait_for("endpoints and slices gone", || {
        let ep = c.kubectl(&["get", "endpoints", "web"]).status.success();
        let slices = c.kubectl_ok(&[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
            "-o",
            "name",
        ]);
        (!ep && slices.trim().is_empty()).then_some(())
    });
}
