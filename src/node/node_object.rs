//! This machine's Node object: registration, and the Ready heartbeat the kubelet posts every
//! `nodeStatusUpdateFrequency` (10s).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use tokio::sync::watch;

/// How often the Ready condition's heartbeat is refreshed.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// The Kubernetes minor version podgate's node agent reports.
pub const KUBE_VERSION: &str = "v1.35.0";

/// The `kubernetes.io/arch` value of this machine.
pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn os_image() -> String {
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

fn kernel_version() -> String {
    // SAFETY: utsname is plain old data; all-zero is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid out-pointer.
    if unsafe { libc::uname(&mut u) } != 0 {
        return String::new();
    }
    // SAFETY: uname NUL-terminates `release`.
    unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn memory_kib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn disk_bytes(path: &Path) -> u64 {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return 0;
    };
    // SAFETY: statvfs is plain old data; all-zero is a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid path and out-pointer.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return 0;
    }
    st.f_blocks as u64 * st.f_frsize as u64
}

/// The node's conditions, all healthy, with `now` as heartbeat and `since` as transition time.
pub fn conditions(now: Timestamp, since: Timestamp) -> Vec<NodeCondition> {
    let c = |type_: &str, status: &str, reason: &str, message: &str| NodeCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(Time(now)),
        last_transition_time: Some(Time(since)),
    };
    vec![
        c(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        c(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        c(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        c(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        ),
    ]
}

/// The Node object for this machine.
pub fn node(name: &str, log_port: u16, state_dir: &Path, now: Timestamp) -> Node {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut capacity = BTreeMap::new();
    capacity.insert("cpu".to_string(), Quantity(cpus.to_string()));
    capacity.insert(
        "memory".to_string(),
        Quantity(format!("{}Ki", memory_kib())),
    );
    capacity.insert("pods".to_string(), Quantity("110".into()));
    capacity.insert(
        "ephemeral-storage".to_string(),
        Quantity(disk_bytes(state_dir).to_string()),
    );
    let labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), name.to_string()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), arch().to_string()),
        (
            "node-role.kubernetes.io/control-plane".to_string(),
            String::new(),
        ),
    ]);
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels),
            ..Default::default()
        },
        spec: None,
        status: Some(NodeStatus {
            addresses: Some(vec![
                NodeAddress {
                    type_: "InternalIP".into(),
                    address: "127.0.0.1".into(),
                },
                NodeAddress {
                    type_: "Hostname".into(),
                    address: name.into(),
                },
            ]),
            allocatable: Some(capacity.clone()),
            capacity: Some(capacity),
            conditions: Some(conditions(now, now)),
            daemon_endpoints: Some(NodeDaemonEndpoints {
                kubelet_endpoint: Some(DaemonEndpoint {
                    port: i32::from(log_port),
                }),
            }),
            node_info: Some(NodeSystemInfo {
                architecture: arch().into(),
                boot_id: read_trim("/proc/sys/kernel/random/boot_id"),
                container_runtime_version: format!("podgate://{}", env!("CARGO_PKG_VERSION")),
                kernel_version: kernel_version(),
                kube_proxy_version: String::new(),
                kubelet_version: format!("{KUBE_VERSION}-podgate.{}", env!("CARGO_PKG_VERSION")),
                machine_id: read_trim("/etc/machine-id"),
                operating_system: "linux".into(),
                os_image: os_image(),
                system_uuid: read_trim("/sys/class/dmi/id/product_uuid"),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

fn status_patch(node: &Node) -> serde_json::Value {
    serde_json::json!({ "status": node.status })
}

/// Creates or updates the Node object; returns when it is registered.
pub async fn register(client: &kube::Client, node: &Node) -> Result<(), kube::Error> {
    let api: Api<Node> = Api::all(client.clone());
    let name = node.metadata.name.clone().unwrap_or_default();
    match api.create(&PostParams::default(), node).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let labels = serde_json::json!({ "metadata": { "labels": node.metadata.labels } });
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&labels))
                .await?;
        }
        Err(e) => return Err(e),
    }
    // The create may drop the status (as kube-apiserver can): always write it.
    api.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(&status_patch(node)),
    )
    .await?;
    Ok(())
}

/// Refreshes the heartbeat every [`HEARTBEAT`] until `shutdown`.
pub async fn heartbeat(
    client: kube::Client,
    name: String,
    since: Timestamp,
    mut shutdown: watch::Receiver<bool>,
) {
    let api: Api<Node> = Api::all(client);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(HEARTBEAT) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let body =
            serde_json::json!({ "status": { "conditions": conditions(Timestamp::now(), since) } });
        if let Err(e) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&body))
            .await
        {
            tracing::debug!(error = %e, "node heartbeat failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_object_publishes_the_log_endpoint_and_ready() {
        let now = Timestamp::UNIX_EPOCH;
        let n = node("box", 43210, Path::new("/"), now);
        let status = n.status.expect("status");
        assert_eq!(
            status
                .daemon_endpoints
                .and_then(|d| d.kubelet_endpoint)
                .map(|e| e.port),
            Some(43210)
        );
        let addrs = status.addresses.expect("addresses");
        assert_eq!(
            (addrs[0].type_.as_str(), addrs[0].address.as_str()),
            ("InternalIP", "127.0.0.1")
        );
        let ready = status
            .conditions
            .expect("conds")
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .expect("ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_deref()),
            ("True", Some("KubeletReady"))
        );
        assert_eq!(
            n.metadata
                .labels
                .expect("labels")
                .get("kubernetes.io/hostname")
                .map(String::as_str),
            Some("box")
        );
        let cap = status.capacity.expect("capacity");
        assert!(
            cap.get("cpu")
                .is_some_and(|q| q.0.parse::<usize>().is_ok_and(|n| n >= 1))
        );
        assert!(cap.get("memory").is_some_and(|q| q.0.ends_with("Ki")));
    }
}
