//! Bodies encoded with prost the way Go's client writes them, decoded back to JSON.

use std::collections::BTreeMap;

use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::authentication::v1 as authn;
use k8s_pb::api::authorization::v1 as authz;
use k8s_pb::api::autoscaling::v1 as autoscaling;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::rbac::v1 as rbac;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{Value, json};

use super::decode;

/// Kubernetes' envelope around `raw`.
fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s(api_version),
            kind: s(kind),
        }),
        raw: Some(raw),
        content_encoding: s(""),
        content_type: s(""),
    };
    [b"k8s\0".as_slice(), &unknown.encode_to_vec()].concat()
}

fn body<M: Message>(api_version: &str, kind: &str, message: &M) -> Vec<u8> {
    envelope(api_version, kind, message.encode_to_vec())
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn qty(v: &str) -> Quantity {
    Quantity { string: s(v) }
}

fn int(v: i32) -> IntOrString {
    IntOrString {
        r#type: Some(0),
        int_val: Some(v),
        str_val: s(""),
    }
}

/// ObjectMeta as Go writes it: every non-pointer field present, zero or not.
fn go_meta(name: &str, namespace: &str) -> Option<meta::ObjectMeta> {
    Some(meta::ObjectMeta {
        name: s(name),
        generate_name: s(""),
        namespace: s(namespace),
        self_link: s(""),
        uid: s(""),
        resource_version: s(""),
        generation: Some(0),
        creation_timestamp: Some(meta::Time::default()),
        ..Default::default()
    })
}

/// A Container as Go writes one with only `name`, `image` and `command` set.
fn go_container(name: &str, image: &str, command: &[&str]) -> core::Container {
    core::Container {
        name: s(name),
        image: s(image),
        command: strings(command),
        working_dir: s(""),
        resources: Some(core::ResourceRequirements::default()),
        termination_message_path: s(""),
        termination_message_policy: s(""),
        image_pull_policy: s(""),
        stdin: Some(false),
        stdin_once: Some(false),
        tty: Some(false),
        ..Default::default()
    }
}

fn decoded(bytes: &[u8]) -> Value {
    match decode(bytes) {
        Ok(v) => v,
        Err(e) => panic!("decode failed: {} {}", e.code, e.message),
    }
}

#[test]
fn configmap_from_kubectl_create_configmap() {
    let cm = core::ConfigMap {
        metadata: go_meta("x", ""),
        data: map(&[("a", "b")]),
        ..Default::default()
    };
    assert_eq!(
        decoded(&body("v1", "ConfigMap", &cm)),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "b"}})
    );
}

#[test]
fn secret_data_is_base64_and_immutable_false_is_kept() {
    let secret = core::Secret {
        metadata: go_meta("s", "team"),
        immutable: Some(false),
        data: [
            ("p".to_string(), b"q".to_vec()),
            ("bin".to_string(), vec![0, 255]),
        ]
        .into(),
        r#type: s("Opaque"),
        ..Default::default()
    };
    assert_eq!(
        decoded(&body("v1", "Secret", &secret)),
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "team"},
            "immutable": false,
            "data": {"bin": "AP8=", "p": "cQ=="},
            "type": "Opaque",
        })
    );
}

#[test]
fn namespace_and_service_account() {
    let ns = core::Namespace {
        metadata: go_meta("n", ""),
        spec: Some(core::NamespaceSpec::default()),
        status: Some(core::NamespaceStatus {
            phase: s(""),
            ..Default::default()
        }),
    };
    assert_eq!(
        decoded(&body("v1", "Namespace", &ns)),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}, "spec": {}, "status": {}})
    );
    let sa = core::ServiceAccount {
        metadata: go_meta("sa", "default"),
        automount_service_account_token: Some(false),
        image_pull_secrets: vec![core::LocalObjectReference { name: s("regcred") }],
        ..Default::default()
    };
    assert_eq!(
        decoded(&body("v1", "ServiceAccount", &sa)),
        json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "sa", "namespace": "default"},
            "imagePullSecrets": [{"name": "regcred"}],
            "automountServiceAccountToken": false,
        })
    );
}

#[test]
fn pod_from_kubectl_run() {
    let pod = core::Pod {
        metadata: Some(meta::ObjectMeta {
            labels: map(&[("run", "p")]),
            ..go_meta("p", "").unwrap()
        }),
        spec: Some(core::PodSpec {
            containers: vec![go_container("p", "nginx", &["sleep", "100"])],
            restart_policy: s("Always"),
            dns_policy: s("ClusterFirst"),
            service_account_name: s(""),
            node_name: s(""),
            host_network: Some(false),
            hostname: s(""),
            scheduler_name: s(""),
            priority_class_name: s(""),
            ..Default::default()
        }),
        status: Some(core::PodStatus {
            phase: s(""),
            qos_class: s(""),
            ..Default::default()
        }),
    };
    assert_eq!(
        decoded(&body("v1", "Pod", &pod)),
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"run": "p"}},
            "spec": {
                "containers": [{"name": "p", "image": "nginx", "command": ["sleep", "100"], "resources": {}}],
                "restartPolicy": "Always",
                "dnsPolicy": "ClusterFirst",
            },
            "status": {},
        })
    );
}

#[test]
fn pod_spec_commonly_written_fields() {
    let container = core::Container {
        args: strings(&["--port", "8080"]),
        ports: vec![core::ContainerPort {
            name: s("http"),
            host_port: Some(0),
            container_port: Some(8080),
            protocol: s("TCP"),
            host_ip: s(""),
        }],
        env: vec![
            core::EnvVar {
                name: s("MODE"),
                value: s("prod"),
                value_from: None,
            },
            core::EnvVar {
                name: s("PASSWORD"),
                value: s(""),
                value_from: Some(core::EnvVarSource {
                    secret_key_ref: Some(core::SecretKeySelector {
                        local_object_reference: Some(core::LocalObjectReference { name: s("db") }),
                        key: s("password"),
                        optional: Some(false),
                    }),
                    ..Default::default()
                }),
            },
            core::EnvVar {
                name: s("POD_IP"),
                value: s(""),
                value_from: Some(core::EnvVarSource {
                    field_ref: Some(core::ObjectFieldSelector {
                        api_version: s("v1"),
                        field_path: s("status.podIP"),
                    }),
                    ..Default::default()
                }),
            },
        ],
        env_from: vec![core::EnvFromSource {
            prefix: s(""),
            config_map_ref: Some(core::ConfigMapEnvSource {
                local_object_reference: Some(core::LocalObjectReference {
                    name: s("settings"),
                }),
                optional: None,
            }),
            secret_ref: None,
        }],
        resources: Some(core::ResourceRequirements {
            limits: [("memory".to_string(), qty("256Mi"))].into(),
            requests: [("cpu".to_string(), qty("100m"))].into(),
            claims: vec![],
        }),
        volume_mounts: vec![core::VolumeMount {
            name: s("data"),
            read_only: Some(false),
            mount_path: s("/data"),
            sub_path: s(""),
            sub_path_expr: s(""),
            ..Default::default()
        }],
        readiness_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                http_get: Some(core::HttpGetAction {
                    path: s("/healthz"),
                    port: Some(IntOrString {
                        r#type: Some(1),
                        int_val: Some(0),
                        str_val: s("http"),
                    }),
                    host: s(""),
                    scheme: s("HTTP"),
                    http_headers: vec![],
                }),
                ..Default::default()
            }),
            initial_delay_seconds: Some(0),
            timeout_seconds: Some(0),
            period_seconds: Some(5),
            success_threshold: Some(0),
            failure_threshold: Some(0),
            termination_grace_period_seconds: None,
        }),
        liveness_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                tcp_socket: Some(core::TcpSocketAction {
                    port: Some(int(8080)),
                    host: s(""),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        security_context: Some(core::SecurityContext {
            run_as_user: Some(0),
            allow_privilege_escalation: Some(false),
            capabilities: Some(core::Capabilities {
                add: vec![],
                drop: strings(&["ALL"]),
            }),
            ..Default::default()
        }),
        ..go_container("app", "registry.local/app:1", &[])
    };
    let spec = core::PodSpec {
        containers: vec![container],
        init_containers: vec![go_container("init", "busybox", &["true"])],
        volumes: vec![
            core::Volume {
                name: s("data"),
                volume_source: Some(core::VolumeSource {
                    persistent_volume_claim: Some(core::PersistentVolumeClaimVolumeSource {
                        claim_name: s("data-0"),
                        read_only: Some(false),
                    }),
                    ..Default::default()
                }),
            },
            core::Volume {
                name: s("scratch"),
                volume_source: Some(core::VolumeSource {
                    empty_dir: Some(core::EmptyDirVolumeSource {
                        medium: s(""),
                        size_limit: Some(qty("1Gi")),
                    }),
                    ..Default::default()
                }),
            },
            core::Volume {
                name: s("host"),
                volume_source: Some(core::VolumeSource {
                    host_path: Some(core::HostPathVolumeSource {
                        path: s("/var/log"),
                        r#type: s("Directory"),
                    }),
                    ..Default::default()
                }),
            },
            core::Volume {
                name: s("conf"),
                volume_source: Some(core::VolumeSource {
                    config_map: Some(core::ConfigMapVolumeSource {
                        local_object_reference: Some(core::LocalObjectReference {
                            name: s("settings"),
                        }),
                        items: vec![core::KeyToPath {
                            key: s("a"),
                            path: s("a.conf"),
                            mode: None,
                        }],
                        default_mode: Some(0o644),
                        optional: None,
                    }),
                    ..Default::default()
                }),
            },
        ],
        restart_policy: s("OnFailure"),
        termination_grace_period_seconds: Some(0),
        node_selector: map(&[("disk", "ssd")]),
        service_account_name: s("runner"),
        automount_service_account_token: Some(false),
        security_context: Some(core::PodSecurityContext {
            fs_group: Some(0),
            ..Default::default()
        }),
        tolerations: vec![core::Toleration {
            key: s("dedicated"),
            operator: s("Equal"),
            value: s("db"),
            effect: s("NoSchedule"),
            toleration_seconds: None,
        }],
        image_pull_secrets: vec![core::LocalObjectReference { name: s("regcred") }],
        ..Default::default()
    };
    let pod = core::Pod {
        metadata: go_meta("app", "default"),
        spec: Some(spec),
        status: None,
    };
    let got = decoded(&body("v1", "Pod", &pod));
    assert_eq!(
        got["spec"]["containers"][0],
        json!({
            "name": "app",
            "image": "registry.local/app:1",
            "args": ["--port", "8080"],
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
            "env": [
                {"name": "MODE", "value": "prod"},
                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password", "optional": false}}},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
            ],
            "envFrom": [{"configMapRef": {"name": "settings"}}],
            "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m"}},
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"}, "periodSeconds": 5},
            "livenessProbe": {"tcpSocket": {"port": 8080}},
            "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
        })
    );
    assert_eq!(
        got["spec"]["volumes"],
        json!([
            {"name": "data", "persistentVolumeClaim": {"claimName": "data-0"}},
            {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "host", "hostPath": {"path": "/var/log", "type": "Directory"}},
            {"name": "conf", "configMap": {"name": "settings", "items": [{"key": "a", "path": "a.conf"}], "defaultMode": 420}},
        ])
    );
    let mut rest = got["spec"].clone();
    for key in ["containers", "volumes"] {
        rest.as_object_mut().map(|m| m.remove(key));
    }
    assert_eq!(
        rest,
        json!({
            "initContainers": [{"name": "init", "image": "busybox", "command": ["true"], "resources": {}}],
            "restartPolicy": "OnFailure",
            "terminationGracePeriodSeconds": 0,
            "nodeSelector": {"disk": "ssd"},
            "serviceAccountName": "runner",
            "automountServiceAccountToken": false,
            "securityContext": {"fsGroup": 0},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}],
            "imagePullSecrets": [{"name": "regcred"}],
        })
    );
    assert_eq!(
        got["metadata"],
        json!({"name": "app", "namespace": "default"})
    );
    assert!(got.get("status").is_none());
}

#[test]
fn service_from_kubectl_expose() {
    let svc = core::Service {
        metadata: Some(meta::ObjectMeta {
            labels: map(&[("run", "p")]),
            ..go_meta("p", "").unwrap()
        }),
        spec: Some(core::ServiceSpec {
            ports: vec![
                core::ServicePort {
                    name: s(""),
                    protocol: s("TCP"),
                    port: Some(80),
                    target_port: Some(int(80)),
                    node_port: Some(0),
                    app_protocol: None,
                },
                core::ServicePort {
                    name: s("metrics"),
                    protocol: s("TCP"),
                    port: Some(9090),
                    target_port: Some(int(0)),
                    node_port: Some(0),
                    app_protocol: s("http"),
                },
            ],
            selector: map(&[("run", "p")]),
            cluster_ip: s(""),
            r#type: s(""),
            session_affinity: s(""),
            health_check_node_port: Some(0),
            publish_not_ready_addresses: Some(false),
            ..Default::default()
        }),
        status: Some(core::ServiceStatus {
            load_balancer: Some(core::LoadBalancerStatus::default()),
            conditions: vec![],
        }),
    };
    assert_eq!(
        decoded(&body("v1", "Service", &svc)),
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "p", "labels": {"run": "p"}},
            "spec": {
                "ports": [
                    {"protocol": "TCP", "port": 80, "targetPort": 80},
                    {"name": "metrics", "protocol": "TCP", "appProtocol": "http", "port": 9090},
                ],
                "selector": {"run": "p"},
            },
            "status": {"loadBalancer": {}},
        })
    );
}

#[test]
fn token_request_and_token_review() {
    let tr = authn::TokenRequest {
        metadata: go_meta("sa", "default"),
        spec: Some(authn::TokenRequestSpec {
            audiences: strings(&["https://kubernetes.default.svc"]),
            expiration_seconds: Some(3600),
            bound_object_ref: Some(authn::BoundObjectReference {
                kind: s("Pod"),
                api_version: s("v1"),
                name: s("p"),
                u_id: s("1234"),
            }),
        }),
        status: Some(authn::TokenRequestStatus {
            token: s(""),
            expiration_timestamp: Some(meta::Time::default()),
        }),
    };
    assert_eq!(
        decoded(&body("authentication.k8s.io/v1", "TokenRequest", &tr)),
        json!({
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "metadata": {"name": "sa", "namespace": "default"},
            "spec": {
                "audiences": ["https://kubernetes.default.svc"],
                "expirationSeconds": 3600,
                "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "1234"},
            },
            "status": {},
        })
    );
    let review = authn::TokenReview {
        metadata: go_meta("", ""),
        spec: Some(authn::TokenReviewSpec {
            token: s("abc"),
            audiences: vec![],
        }),
        status: Some(authn::TokenReviewStatus {
            authenticated: Some(false),
            user: Some(authn::UserInfo {
                username: s(""),
                uid: s(""),
                ..Default::default()
            }),
            audiences: vec![],
            error: s(""),
        }),
    };
    assert_eq!(
        decoded(&body("authentication.k8s.io/v1", "TokenReview", &review)),
        json!({
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "metadata": {}, "spec": {"token": "abc"}, "status": {"user": {}},
        })
    );
}

#[test]
fn access_reviews_from_kubectl_auth_can_i() {
    let ssar = authz::SelfSubjectAccessReview {
        metadata: go_meta("", ""),
        spec: Some(authz::SelfSubjectAccessReviewSpec {
            resource_attributes: Some(authz::ResourceAttributes {
                namespace: s("default"),
                verb: s("create"),
                group: s(""),
                version: s(""),
                resource: s("pods"),
                subresource: s(""),
                name: s(""),
                ..Default::default()
            }),
            non_resource_attributes: None,
        }),
        status: Some(authz::SubjectAccessReviewStatus {
            allowed: Some(false),
            denied: Some(false),
            reason: s(""),
            evaluation_error: s(""),
        }),
    };
    assert_eq!(
        decoded(&body(
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview",
            &ssar
        )),
        json!({
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "metadata": {},
            "spec": {"resourceAttributes": {"namespace": "default", "verb": "create", "resource": "pods"}},
            "status": {"allowed": false},
        })
    );
    let sar = authz::SubjectAccessReview {
        metadata: go_meta("", ""),
        spec: Some(authz::SubjectAccessReviewSpec {
            non_resource_attributes: Some(authz::NonResourceAttributes {
                path: s("/healthz"),
                verb: s("get"),
            }),
            user: s("alice"),
            groups: strings(&["dev"]),
            extra: [(
                "scopes".to_string(),
                authz::ExtraValue {
                    items: strings(&["a", "b"]),
                },
            )]
            .into(),
            uid: s(""),
            resource_attributes: None,
        }),
        status: None,
    };
    assert_eq!(
        decoded(&body(
            "authorization.k8s.io/v1",
            "SubjectAccessReview",
            &sar
        ))["spec"],
        json!({
            "nonResourceAttributes": {"path": "/healthz", "verb": "get"},
            "user": "alice", "groups": ["dev"], "extra": {"scopes": ["a", "b"]},
        })
    );
    let rules = authz::SelfSubjectRulesReview {
        metadata: go_meta("", ""),
        spec: Some(authz::SelfSubjectRulesReviewSpec {
            namespace: s("team"),
        }),
        status: Some(authz::SubjectRulesReviewStatus {
            incomplete: Some(false),
            ..Default::default()
        }),
    };
    assert_eq!(
        decoded(&body(
            "authorization.k8s.io/v1",
            "SelfSubjectRulesReview",
            &rules
        )),
        json!({
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
            "metadata": {}, "spec": {"namespace": "team"},
            "status": {"resourceRules": [], "nonResourceRules": [], "incomplete": false},
        })
    );
}

#[test]
fn event_times_and_binding() {
    let time = meta::Time {
        seconds: Some(1_700_000_000),
        nanos: Some(0),
    };
    let event = core::Event {
        metadata: go_meta("p.1", "default"),
        involved_object: Some(core::ObjectReference {
            kind: s("Pod"),
            namespace: s("default"),
            name: s("p"),
            uid: s(""),
            api_version: s("v1"),
            resource_version: s(""),
            field_path: s(""),
        }),
        reason: s("Started"),
        message: s("Started container p"),
        source: Some(core::EventSource {
            component: s("kubelet"),
            host: s(""),
        }),
        first_timestamp: Some(time),
        last_timestamp: Some(time),
        count: Some(1),
        r#type: s("Normal"),
        event_time: Some(meta::MicroTime {
            seconds: Some(1_700_000_000),
            nanos: Some(250_000_000),
        }),
        reporting_component: s(""),
        reporting_instance: s(""),
        action: s(""),
        ..Default::default()
    };
    assert_eq!(
        decoded(&body("v1", "Event", &event)),
        json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "p.1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "p", "apiVersion": "v1"},
            "reason": "Started",
            "message": "Started container p",
            "source": {"component": "kubelet"},
            "firstTimestamp": "2023-11-14T22:13:20Z",
            "lastTimestamp": "2023-11-14T22:13:20Z",
            "count": 1,
            "type": "Normal",
            "eventTime": "2023-11-14T22:13:20.250000Z",
        })
    );
    let binding = core::Binding {
        metadata: go_meta("p", "default"),
        target: Some(core::ObjectReference {
            kind: s("Node"),
            name: s("node-1"),
            ..Default::default()
        }),
    };
    assert_eq!(
        decoded(&body("v1", "Binding", &binding)),
        json!({
            "apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": "p", "namespace": "default"},
            "target": {"kind": "Node", "name": "node-1"},
        })
    );
}

#[test]
fn scale_keeps_zero_replicas() {
    let scale = autoscaling::Scale {
        metadata: go_meta("db", "default"),
        spec: Some(autoscaling::ScaleSpec { replicas: Some(0) }),
        status: Some(autoscaling::ScaleStatus {
            replicas: Some(0),
            selector: s(""),
        }),
    };
    assert_eq!(
        decoded(&body("autoscaling/v1", "Scale", &scale)),
        json!({
            "apiVersion": "autoscaling/v1", "kind": "Scale",
            "metadata": {"name": "db", "namespace": "default"},
            "spec": {"replicas": 0},
            "status": {"replicas": 0},
        })
    );
}

#[test]
fn statefulset_with_template_and_claim_templates() {
    let labels = map(&[("app", "db")]);
    let sts = apps::StatefulSet {
        metadata: go_meta("db", "default"),
        spec: Some(apps::StatefulSetSpec {
            replicas: Some(0),
            selector: Some(meta::LabelSelector {
                match_labels: labels.clone(),
                match_expressions: vec![],
            }),
            template: Some(core::PodTemplateSpec {
                metadata: Some(meta::ObjectMeta {
                    labels: labels.clone(),
                    ..go_meta("", "").unwrap()
                }),
                spec: Some(core::PodSpec {
                    containers: vec![core::Container {
                        volume_mounts: vec![core::VolumeMount {
                            name: s("data"),
                            mount_path: s("/var/lib/db"),
                            ..Default::default()
                        }],
                        ..go_container("db", "postgres:16", &[])
                    }],
                    ..Default::default()
                }),
            }),
            volume_claim_templates: vec![core::PersistentVolumeClaim {
                metadata: go_meta("data", ""),
                spec: Some(core::PersistentVolumeClaimSpec {
                    access_modes: strings(&["ReadWriteOnce"]),
                    resources: Some(core::VolumeResourceRequirements {
                        requests: [("storage".to_string(), qty("1Gi"))].into(),
                        limits: BTreeMap::new(),
                    }),
                    storage_class_name: s(""),
                    volume_name: s(""),
                    ..Default::default()
                }),
                status: None,
            }],
            service_name: s("db"),
            pod_management_policy: s("Parallel"),
            update_strategy: Some(apps::StatefulSetUpdateStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::RollingUpdateStatefulSetStrategy {
                    partition: Some(0),
                    max_unavailable: None,
                }),
            }),
            min_ready_seconds: Some(0),
            ..Default::default()
        }),
        status: Some(apps::StatefulSetStatus {
            replicas: Some(0),
            ..Default::default()
        }),
    };
    assert_eq!(
        decoded(&body("apps/v1", "StatefulSet", &sts)),
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "default"},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{
                        "name": "db", "image": "postgres:16", "resources": {},
                        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/db"}],
                    }]},
                },
                "volumeClaimTemplates": [{
                    "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                        "storageClassName": "",
                    },
                }],
                "serviceName": "db",
                "podManagementPolicy": "Parallel",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            },
            "status": {"replicas": 0},
        })
    );
}

#[test]
fn role_binding_from_kubectl_create_rolebinding() {
    let rb = rbac::RoleBinding {
        metadata: go_meta("read", "team"),
        subjects: vec![rbac::Subject {
            kind: s("ServiceAccount"),
            api_group: s(""),
            name: s("runner"),
            namespace: s("team"),
        }],
        role_ref: Some(rbac::RoleRef {
            api_group: s("rbac.authorization.k8s.io"),
            kind: s("Role"),
            name: s("reader"),
        }),
    };
    assert_eq!(
        decoded(&body("rbac.authorization.k8s.io/v1", "RoleBinding", &rb)),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "read", "namespace": "team"},
            "subjects": [{"kind": "ServiceAccount", "name": "runner", "namespace": "team"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        })
    );
}

#[test]
fn metadata_fields_round_trip() {
    let cm = core::ConfigMap {
        metadata: Some(meta::ObjectMeta {
            generate_name: s("cfg-"),
            resource_version: s("42"),
            uid: s("u-1"),
            generation: Some(3),
            creation_timestamp: Some(meta::Time {
                seconds: Some(0),
                nanos: Some(0),
            }),
            deletion_grace_period_seconds: Some(0),
            annotations: map(&[("note", "")]),
            finalizers: strings(&["example.com/keep"]),
            owner_references: vec![meta::OwnerReference {
                api_version: s("apps/v1"),
                kind: s("StatefulSet"),
                name: s("db"),
                uid: s("u-0"),
                controller: Some(true),
                block_owner_deletion: Some(false),
            }],
            managed_fields: vec![meta::ManagedFieldsEntry {
                manager: s("kubectl"),
                operation: s("Update"),
                api_version: s("v1"),
                fields_type: s("FieldsV1"),
                fields_v1: Some(meta::FieldsV1 {
                    raw: Some(br#"{"f:data":{}}"#.to_vec()),
                }),
                ..Default::default()
            }],
            ..go_meta("", "ns").unwrap()
        }),
        ..Default::default()
    };
    assert_eq!(
        decoded(&body("v1", "ConfigMap", &cm))["metadata"],
        json!({
            "generateName": "cfg-",
            "namespace": "ns",
            "uid": "u-1",
            "resourceVersion": "42",
            "generation": 3,
            "creationTimestamp": "1970-01-01T00:00:00Z",
            "deletionGracePeriodSeconds": 0,
            "annotations": {"note": ""},
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "u-0",
                "controller": true, "blockOwnerDeletion": false,
            }],
            "finalizers": ["example.com/keep"],
            "managedFields": [{
                "manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}},
            }],
        })
    );
}

#[test]
fn errors_table() {
    let nfs_pod = core::Pod {
        metadata: go_meta("p", ""),
        spec: Some(core::PodSpec {
            volumes: vec![core::Volume {
                name: s("share"),
                volume_source: Some(core::VolumeSource {
                    nfs: Some(core::NfsVolumeSource {
                        server: s("nas"),
                        path: s("/x"),
                        read_only: Some(false),
                    }),
                    ..Default::default()
                }),
            }],
            ..Default::default()
        }),
        status: None,
    };
    let bad_port = core::Service {
        spec: Some(core::ServiceSpec {
            ports: vec![core::ServicePort {
                target_port: Some(IntOrString {
                    r#type: Some(9),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let cases: Vec<(&str, Vec<u8>, u16, &[&str])> = vec![
        (
            "no magic",
            b"{\"kind\":\"ConfigMap\"}".to_vec(),
            400,
            &["expected prefix [107 56 115 0]"],
        ),
        (
            "truncated envelope",
            b"k8s\0\x0a\x05\x0a".to_vec(),
            400,
            &["could not be decoded as protobuf"],
        ),
        (
            "garbage raw",
            envelope("v1", "ConfigMap", vec![0x0a, 0x09, 0x01]),
            400,
            &["could not be decoded as protobuf"],
        ),
        (
            "no kind",
            envelope("v1", "", vec![]),
            400,
            &["Object 'Kind' is missing"],
        ),
        (
            "unknown kind",
            envelope("apps/v1", "Deployment", vec![]),
            415,
            &[
                "does not decode apps/v1 Deployment from protobuf",
                "kubectl apply -f",
            ],
        ),
        (
            "unsupported volume",
            body("v1", "Pod", &nfs_pod),
            415,
            &["Volume.nfs", "kubectl apply -f"],
        ),
        (
            "bad IntOrString",
            body("v1", "Service", &bad_port),
            400,
            &["IntOrString has unknown type 9"],
        ),
    ];
    for (name, bytes, code, needles) in cases {
        let err = decode(&bytes).expect_err(name);
        assert_eq!(err.code, code, "{name}: {}", err.message);
        for needle in needles {
            assert!(
                err.message.contains(needle),
                "{name}: {:?} lacks {needle:?}",
                err.message
            );
        }
    }
}

#[test]
fn gzip_content_encoding_is_refused() {
    let mut unknown =
        Unknown::decode(&body("v1", "ConfigMap", &core::ConfigMap::default())[4..]).unwrap();
    unknown.content_encoding = s("gzip");
    let bytes = [b"k8s\0".as_slice(), &unknown.encode_to_vec()].concat();
    let err = decode(&bytes).unwrap_err();
    assert_eq!(err.code, 415);
    assert!(err.message.contains("\"gzip\""), "{}", err.message);
}
