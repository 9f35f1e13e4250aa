//! The whole product end to end: `podgate up -f deploy/examples/kubia.yaml` runs a StatefulSet
//! whose pods are real `podgate pet` processes; curl-style requests reach each ordinal by name,
//! shard keys pin to ordinals, data survives re-creation and scaling down and up again (the
//! kubia flow of issue 4), and /metrics counts per ordinal.

mod common;

use common::{Podgate, http_request, wait_for};

fn get(pg: &Podgate, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let bearer = format!("Bearer {}", pg.token());
    let mut h = vec![("Authorization", bearer.as_str())];
    h.extend_from_slice(headers);
    http_request(pg.port, "GET", path, &h, b"").unwrap_or((0, String::new()))
}

fn post(pg: &Podgate, ordinal: &str, data: &str) -> (u16, String) {
    let bearer = format!("Bearer {}", pg.token());
    http_request(
        pg.port,
        "POST",
        &format!("/api/v1/namespaces/default/pods/{ordinal}/proxy/"),
        &[("Authorization", &bearer)],
        data.as_bytes(),
    )
    .unwrap_or((0, String::new()))
}

fn ready_pods(pg: &Podgate) -> String {
    pg.kubectl_ok(&[
        "get", "pods", "-l", "app=kubia", "-o",
        "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Ready\")].status} {end}",
    ])
}

#[test]
fn kubia_ordinals_shards_and_metrics() {
    let kubia = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/examples/kubia.yaml");
    let pg = Podgate::start(&["-f", kubia]);
    wait_for("kubia-0 and kubia-1 Ready", || {
        let s = ready_pods(&pg);
        (s.contains("kubia-0=True") && s.contains("kubia-1=True")).then_some(())
    });

    // One specific ordinal, by name.
    for ordinal in ["kubia-0", "kubia-1"] {
        let (code, body) = get(
            &pg,
            &format!("/api/v1/namespaces/default/pods/{ordinal}/proxy/"),
            &[],
        );
        assert_eq!(code, 200, "{body}");
        assert!(body.contains(&format!("You've hit {ordinal}")), "{body}");
    }
    for (ordinal, data) in [
        ("kubia-0", "ordinal zero's data"),
        ("kubia-1", "ordinal one's data"),
    ] {
        let (code, body) = post(&pg, ordinal, data);
        assert_eq!(code, 200, "{body}");
        assert!(
            body.contains(&format!("Data stored on pod {ordinal}")),
            "{body}"
        );
    }

    // Shard keys pin to one ordinal, and say which.
    let ordinal_of = |key: &str| -> String {
        let out = std::process::Command::new("curl")
            .args(["-s", "-D", "-", "-o", "/dev/null", "-H"])
            .arg(format!("Authorization: Bearer {}", pg.token()))
            .args(["-H", &format!("X-Podgate-Shard-Key: {key}")])
            .arg(format!(
                "http://127.0.0.1:{}/api/v1/namespaces/default/services/kubia:http/proxy/",
                pg.port
            ))
            .output()
            .unwrap();
        let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
        head.lines()
            .find_map(|l| l.strip_prefix("x-podgate-ordinal: "))
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let mut spread = std::collections::HashSet::new();
    for i in 0..20 {
        let key = format!("customer-{i}");
        let first = ordinal_of(&key);
        assert!(
            first == "0" || first == "1",
            "ordinal header for {key}: {first:?}"
        );
        assert_eq!(
            ordinal_of(&key),
            first,
            "the same key goes to the same ordinal"
        );
        spread.insert(first);
    }
    assert_eq!(spread.len(), 2, "keys spread over both ordinals");

    // Re-created with a new UID, same name, same data.
    let uid = pg.kubectl_ok(&["get", "pod", "kubia-1", "-o", "jsonpath={.metadata.uid}"]);
    pg.kubectl_ok(&["delete", "pod", "kubia-1"]);
    let (code, body) = get(
        &pg,
        "/api/v1/namespaces/default/pods/kubia-1/proxy/",
        &[("X-Podgate-Wait", "60s")],
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("ordinal one's data"), "{body}");
    let new_uid = pg.kubectl_ok(&["get", "pod", "kubia-1", "-o", "jsonpath={.metadata.uid}"]);
    assert_ne!(uid, new_uid);

    // Metrics parse as Prometheus text and count requests per ordinal.
    let (code, text) = get(&pg, "/metrics", &[]);
    assert_eq!(code, 200);
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text");
    let per_ordinal = |ordinal: &str| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == "podgate_requests_total")
            .filter(|s| {
                s.labels.get("statefulset") == Some("kubia")
                    && s.labels.get("ordinal") == Some(ordinal)
            })
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
            .sum()
    };
    assert!(per_ordinal("0") >= 2.0, "{text}");
    assert!(per_ordinal("1") >= 3.0, "{text}");

    // Scaled to 1, kubia-1 goes and its claim stays Bound; scaled to 2, its data is back.
    let claim = |what: &str| {
        pg.kubectl_ok(&[
            "get",
            "pvc",
            "data-kubia-1",
            "-o",
            &format!("jsonpath={what}"),
        ])
    };
    let claim_uid = claim("{.metadata.uid}");
    pg.kubectl_ok(&["scale", "sts", "kubia", "--replicas=1"]);
    wait_for("kubia-1 gone", || {
        (!pg.kubectl(&["get", "pod", "kubia-1"]).status.success()).then_some(())
    });
    assert_eq!(ready_pods(&pg).trim(), "kubia-0=True");
    assert_eq!(claim("{.status.phase}"), "Bound");
    assert_eq!(claim("{.metadata.uid}"), claim_uid, "the same claim");
    let (code, body) = get(&pg, "/api/v1/namespaces/default/pods/kubia-0/proxy/", &[]);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("ordinal zero's data"), "{body}");
    pg.kubectl_ok(&["scale", "sts", "kubia", "--replicas=2"]);
    let (code, body) = get(
        &pg,
        "/api/v1/namespaces/default/pods/kubia-1/proxy/",
        &[("X-Podgate-Wait", "60s")],
    );
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("You've hit kubia-1") && body.contains("ordinal one's data"),
        "{body}"
    );
    let volume = pg.kubectl_ok(&[
        "get",
        "pod",
        "kubia-1",
        "-o",
        "jsonpath={.spec.volumes[?(@.name==\"data\")].persistentVolumeClaim.claimName}",
    ]);
    assert_eq!(volume, "data-kubia-1");
    assert_eq!(claim("{.metadata.uid}"), claim_uid, "the same claim again");
}
