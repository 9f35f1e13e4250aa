//! kubectl's OpenAPI-driven commands against `podgate up`: the documents themselves, `explain`,
//! re-applying and diffing unchanged manifests, `kind: List`, strict field validation and
//! `edit` with an invalid change.

mod common;

use std::process::{Command, Output};

use common::{Podgate, manifest};
use podgate::apiserver::registry::RESOURCES;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

const EVERY_KIND: &str = include_str!("fixtures/every_kind.yaml");
const WEB: &str = include_str!("../deploy/examples/web.yaml");

const LIST: &str = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: listed
  data:
    a: b
"#;

const MISSPELLED: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: misspelled
spec:
  repplicas: 2
  serviceName: misspelled
  selector:
    matchLabels: {app: misspelled}
  template:
    metadata:
      labels: {app: misspelled}
    spec:
      containers:
      - name: c
        image: x
"#;

const EMPTY_DIR_VOLUME: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: volumes
  namespace: every-kind
spec:
  serviceName: volumes
  replicas: 0
  selector:
    matchLabels: {app: volumes}
  template:
    metadata:
      labels: {app: volumes}
    spec:
      containers:
      - name: c
        image: podgate/pet
        volumeMounts:
        - name: scratch
          mountPath: /scratch
      volumes:
      - name: scratch
        emptyDir: {}
"#;

const MISSPELLED_ROLE: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: misspelled
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get"]
  verbz: ["list"]
"#;

/// The `/openapi/v3` index key of a group version.
fn gv_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn openapi_documents_carry_every_kind_and_kubectl_explain_reads_them() {
    let pg = Podgate::start(&[]);
    let index: Value =
        serde_json::from_str(&pg.kubectl_ok(&["get", "--raw", "/openapi/v3"])).expect("index");
    for def in RESOURCES {
        let key = gv_key(def.group, def.version);
        let url = index["paths"][&key]["serverRelativeURL"]
            .as_str()
            .unwrap_or_else(|| panic!("{key} missing from {index}"));
        let body = pg.kubectl(&["get", "--raw", url]).stdout;
        let digest: String = Sha512::digest(&body)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        assert!(url.ends_with(&format!("?hash={digest}")), "{url}");
        let doc: Value = serde_json::from_slice(&body).expect("document parses");
        let gvk = json!({"group": def.group, "kind": def.kind, "version": def.version});
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        assert!(
            schemas
                .values()
                .any(|s| s["x-kubernetes-group-version-kind"]
                    .as_array()
                    .is_some_and(|a| a.contains(&gvk))),
            "no schema of {key} carries {gvk}"
        );

        let api_version = format!("--api-version={}", def.api_version());
        let explained = pg.kubectl_ok(&["explain", def.plural, &api_version]);
        assert!(
            explained
                .lines()
                .any(|l| l.starts_with("KIND:") && l.ends_with(&format!(" {}", def.kind))),
            "{explained}"
        );
        assert!(explained.contains("FIELDS:\n"), "{explained}");
    }

    let rolling = pg.kubectl_ok(&["explain", "sts.spec.updateStrategy.rollingUpdate"]);
    assert!(
        rolling.contains("FIELD: rollingUpdate <RollingUpdateStatefulSetStrategy>"),
        "{rolling}"
    );
    assert!(rolling.contains("  partition\t<integer>\n"), "{rolling}");
    let containers = pg.kubectl_ok(&["explain", "pods.spec.containers", "--recursive"]);
    assert!(
        containers.contains("FIELD: containers <[]Container>"),
        "{containers}"
    );
    assert!(
        containers.contains("  name\t<string> -required-\n"),
        "{containers}"
    );
    assert!(
        containers.contains("    containerPort\t<integer> -required-\n"),
        "{containers}"
    );
    let modes = pg.kubectl_ok(&["explain", "pvc.spec.accessModes"]);
    assert!(modes.contains("FIELD: accessModes <[]string>"), "{modes}");
    let missing = pg.kubectl(&["explain", "sts.spec.nosuchfield"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("error: field \"nosuchfield\" does not exist"),
        "{}",
        text(&missing)
    );

    // The Swagger 2.0 fallback: a protobuf Document whose first field is `swagger: "2.0"`.
    let v2 = pg.kubectl(&["get", "--raw", "/openapi/v2"]).stdout;
    assert!(v2.starts_with(b"\x0a\x032.0"), "{v2:?}");
}

#[test]
fn kubectl_apply_diff_list_strict_validation_and_edit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let every = manifest(dir.path(), "every_kind.yaml", EVERY_KIND);
    let every = every.to_str().expect("path");
    let web = manifest(dir.path(), "web.yaml", WEB);
    let web = web.to_str().expect("path");
    let pg = Podgate::start(&["-f", every, "-f", web]);
    assert!(
        !pg.log().contains('\u{1b}'),
        "colour codes in a log file:\n{}",
        pg.log()
    );

    // `up -f` wrote kubectl's last-applied record, so kubectl finds nothing to change.
    let again = pg.kubectl_ok(&["apply", "-f", every]);
    let documents = EVERY_KIND.matches("\nkind: ").count();
    assert_eq!(again.lines().count(), documents, "{again}");
    assert!(again.lines().all(|l| l.ends_with(" unchanged")), "{again}");
    let again = pg.kubectl_ok(&["apply", "-f", every]);
    assert!(again.lines().all(|l| l.ends_with(" unchanged")), "{again}");

    for file in [every, web] {
        let unchanged = pg.kubectl(&["diff", "-f", file]);
        assert_eq!(unchanged.status.code(), Some(0), "{}", text(&unchanged));
        assert!(unchanged.stdout.is_empty(), "{}", text(&unchanged));
    }
    // volumeClaimTemplates is an atomic list holding server defaults (volumeMode,
    // status.phase), so kubectl re-sends it and says `configured`, as against Kubernetes; the
    // server finds nothing new and does not write.
    let generation = || pg.kubectl_ok(&["get", "sts/web", "-o", "jsonpath={.metadata.generation}"]);
    let before = generation();
    let again = pg.kubectl_ok(&["apply", "-f", web]);
    assert_eq!(
        again,
        "service/web unchanged\nstatefulset.apps/web configured\n"
    );
    assert_eq!(generation(), before);
    let claim = pg.kubectl_ok(&[
        "get",
        "sts/web",
        "-o",
        "jsonpath={.spec.volumeClaimTemplates[0]}",
    ]);
    let claim: Value = serde_json::from_str(&claim).expect("claim json");
    assert_eq!(claim.get("apiVersion"), None, "{claim}");
    assert_eq!(claim.get("kind"), None, "{claim}");
    assert_eq!(claim["spec"]["volumeMode"], "Filesystem", "{claim}");
    assert_eq!(claim["status"]["phase"], "Pending", "{claim}");
    let changed = manifest(
        dir.path(),
        "changed.yaml",
        &EVERY_KIND.replace("\n  k: v\n", "\n  k: v2\n"),
    );
    let diff = pg.kubectl(&["diff", "-f", changed.to_str().expect("path")]);
    assert_eq!(diff.status.code(), Some(1), "{}", text(&diff));
    let shown = String::from_utf8_lossy(&diff.stdout);
    assert!(
        shown.contains("\n-  k: v\n") && shown.contains("\n+  k: v2\n"),
        "{shown}"
    );
    assert_eq!(
        pg.kubectl_ok(&[
            "get",
            "-n",
            "every-kind",
            "cm/cm",
            "-o",
            "jsonpath={.data.k}"
        ]),
        "v"
    );

    // PodSpec.volumes is `merge,retainKeys`: applying a new source to a volume that kubectl
    // did not apply before (so no last-applied record says what to delete) makes kubectl tell
    // the server which keys to keep, and the old source goes rather than merging with the new.
    let volumes = manifest(dir.path(), "volumes.yaml", EMPTY_DIR_VOLUME);
    pg.kubectl_ok(&["create", "-f", volumes.to_str().expect("path")]);
    let config_map_volume = EMPTY_DIR_VOLUME.replace(
        "        emptyDir: {}\n",
        "        configMap:\n          name: cm\n",
    );
    let volumes = manifest(dir.path(), "volumes.yaml", &config_map_volume);
    let switched = pg.kubectl_ok(&["apply", "-f", volumes.to_str().expect("path")]);
    assert_eq!(switched.trim(), "statefulset.apps/volumes configured");
    let stored = pg.kubectl_ok(&[
        "get",
        "-n",
        "every-kind",
        "sts/volumes",
        "-o",
        "jsonpath={.spec.template.spec.volumes}",
    ]);
    let stored: Value = serde_json::from_str(&stored).expect("volumes json");
    assert_eq!(
        stored,
        json!([{"name": "scratch", "configMap": {"name": "cm", "defaultMode": 420}}])
    );

    let list = manifest(dir.path(), "list.yaml", LIST);
    let list = list.to_str().expect("path");
    let created = pg.kubectl_ok(&["apply", "-f", list]);
    assert_eq!(created.trim(), "configmap/listed created");
    let again = pg.kubectl_ok(&["apply", "-f", list]);
    assert_eq!(again.trim(), "configmap/listed unchanged");

    let bad = manifest(dir.path(), "bad.yaml", MISSPELLED);
    let bad = bad.to_str().expect("path");
    let refused = pg.kubectl(&["create", "--validate=strict", "-f", bad]);
    assert!(!refused.status.success());
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr).trim(),
        format!(
            "Error from server (BadRequest): error when creating \"{bad}\": StatefulSet in version \
             \"v1\" cannot be handled as a StatefulSet: strict decoding error: unknown field \"spec.repplicas\""
        ),
    );

    // A kind stored as given is checked against its type all the same.
    let role = manifest(dir.path(), "role.yaml", MISSPELLED_ROLE);
    let role = role.to_str().expect("path");
    let refused = pg.kubectl(&["create", "--validate=strict", "-f", role]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(
            "Role in version \"v1\" cannot be handled as a Role: strict decoding error: \
             unknown field \"rules[0].verbz\""
        ),
        "{}",
        text(&refused)
    );
    let warned = pg.kubectl(&["create", "--validate=warn", "-f", role]);
    assert!(warned.status.success(), "{}", text(&warned));
    assert!(
        String::from_utf8_lossy(&warned.stderr)
            .contains("Warning: unknown field \"rules[0].verbz\""),
        "{}",
        text(&warned)
    );
    let stored = pg.kubectl_ok(&["get", "role/misspelled", "-o", "jsonpath={.rules}"]);
    let stored: Value = serde_json::from_str(&stored).expect("rules json");
    assert_eq!(
        stored,
        json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}])
    );

    // An editor that makes the replica count negative (and changes nothing when kubectl
    // reopens the file with the server's error).
    let editor = manifest(
        dir.path(),
        "editor.sh",
        "#!/bin/sh\nsed -i 's/^  replicas: 0$/  replicas: -1/' \"$1\"\n",
    );
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let edit = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(pg.kubeconfig())
        .args(["edit", "-n", "every-kind", "statefulset/set"])
        .env("KUBE_EDITOR", &editor)
        .env("TMPDIR", dir.path())
        .output()
        .expect("kubectl edit");
    assert!(!edit.status.success());
    let said = text(&edit);
    assert!(
        said.contains("error: statefulsets.apps \"set\" is invalid"),
        "{said}"
    );
    assert!(
        said.contains("error: Edit cancelled, no valid changes were saved."),
        "{said}"
    );
    assert_eq!(
        pg.kubectl_ok(&[
            "get",
            "-n",
            "every-kind",
            "sts/set",
            "-o",
            "jsonpath={.spec.replicas}"
        ]),
        "0"
    );
}
