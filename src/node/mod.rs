//! The local node agent of `podgate up`: this machine as a Kubernetes node whose pods are
//! real local processes.
//!
//! It registers a Node and keeps it Ready, binds unscheduled pods to it, gives each pod a
//! loopback IP, runs containers as process groups in private mount and UTS namespaces (where
//! the OS allows), with volumes bound at their mount paths, probes, restarts with back-off,
//! graceful termination, and logs served on a kubelet-style endpoint. It talks to the API only
//! through `kube::Client`.
//!
//! Processes carry `PODGATE_NODE_DIR=<state>/node` in their environment: a node agent that
//! starts after a killed run finds the leftovers by it and stops them before starting the pods
//! again, so a pod never runs twice.

pub mod backoff;
pub mod binder;
pub mod container;
pub mod env;
pub mod events;
pub mod expand;
pub mod ipam;
pub mod logs;
pub mod logserver;
pub mod mounts;
pub mod node_object;
pub mod pods;
pub mod podstatus;
pub mod probe;
pub mod process;
pub(crate) mod stream;
pub mod task;
pub mod volumes;
pub mod worker;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use tokio::sync::watch;

use self::ipam::IpAllocator;
use self::process::{IsolationMode, MARK_NODE};
use self::worker::Shared;

/// Environment variable that limits pod isolation: `none` (no namespaces) or `user` (user
/// namespaces even as root); anything else uses the best the OS allows.
pub const ISOLATION_ENV: &str = "PODGATE_ISOLATION";

/// The isolation to use, given what the OS allows and the `PODGATE_ISOLATION` setting.
pub fn choose_isolation(detected: IsolationMode, setting: Option<&str>) -> IsolationMode {
    match (setting, detected) {
        (Some("none"), _) => IsolationMode::None,
        (Some("user"), IsolationMode::Namespaces) => {
            if IsolationMode::user_namespaces_work() {
                IsolationMode::UserNamespaces
            } else {
                detected
            }
        }
        _ => detected,
    }
}

/// Where and as what the node agent runs.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The Node's name, e.g. the machine's host name.
    pub node_name: String,
    /// podgate's state dir; the agent owns `<state_dir>/node/` (pods, logs, claims).
    pub state_dir: PathBuf,
    /// Directory of the running podgate binary, first on the pods' `PATH`.
    pub bin_dir: PathBuf,
    /// The first pod IP, e.g. 127.1.0.1 (never 127.0.0.1).
    pub pod_cidr_base: Ipv4Addr,
    /// The cluster's DNS, as kubelet's `--cluster-dns` and `--cluster-domain`.
    pub dns: PodDns,
}

/// What the node agent writes into pods' resolv.conf and hosts files.
#[derive(Debug, Clone)]
pub struct PodDns {
    /// The cluster DNS server (kubelet's `--cluster-dns`); `None` when there is none, and pods
    /// with `dnsPolicy: ClusterFirst` get the host's resolver as kubelet does then.
    pub nameserver: Option<std::net::IpAddr>,
    /// The cluster zone, e.g. `cluster.local`.
    pub cluster_domain: String,
    /// The host's resolver configuration (kubelet's `--resolv-conf`), for `dnsPolicy: Default`.
    pub host_resolv_conf: String,
}

/// The Node name for this machine: its host name, lower-cased, with characters a Node name
/// cannot have replaced by `-` (`localhost` when there is none).
pub fn default_node_name() -> String {
    let raw = process::hostname().to_lowercase();
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| c == '-' || c == '.');
    if trimmed.is_empty() {
        "localhost".to_string()
    } else {
        trimmed.chars().take(253).collect()
    }
}

/// The directory of the running executable (for [`NodeConfig::bin_dir`]).
pub fn current_bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/usr/local/bin"))
}

/// Why the node agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A directory of the state dir could not be created.
    #[error("creating {path}: {source}")]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The log endpoint could not listen.
    #[error("starting the container log endpoint: {0}")]
    LogEndpoint(#[source] std::io::Error),
}

/// Runs the node agent until `shutdown` flips to true. Leftover processes of a killed earlier
/// run are stopped first; on shutdown every pod's processes are stopped (SIGTERM, then SIGKILL
/// after at most 10 seconds) and the Pod objects are left as they are, so the next start runs
/// the same pods again.
pub async fn run(
    client: kube::Client,
    config: NodeConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), NodeError> {
    let node_dir = config.state_dir.join("node");
    for dir in [node_dir.join("pods"), node_dir.join("claims")] {
        std::fs::create_dir_all(&dir).map_err(|source| NodeError::StateDir {
            path: dir.clone(),
            source,
        })?;
    }
    let node_dir = std::fs::canonicalize(&node_dir).unwrap_or(node_dir);

    let mark = node_dir.display().to_string();
    let reaped = process::kill_marked(MARK_NODE, move |v| v == mark, Duration::from_secs(10)).await;
    if reaped > 0 {
        tracing::info!(
            processes = reaped,
            "stopped processes left by a previous run"
        );
    }

    let detected = tokio::task::spawn_blocking(IsolationMode::detect)
        .await
        .unwrap_or(IsolationMode::None);
    let isolation = choose_isolation(detected, std::env::var(ISOLATION_ENV).ok().as_deref());
    match isolation {
        IsolationMode::Namespaces => {
            tracing::info!("pods run in their own mount and UTS namespaces")
        }
        IsolationMode::UserNamespaces => {
            tracing::info!("pods run in user, mount and UTS namespaces")
        }
        IsolationMode::None => tracing::warn!(
            "namespaces are not available: pods share this machine's file system and host name; \
             their events say where each volume is"
        ),
    }

    let registry: worker::Registry = Default::default();
    let (log_addr, _log_server) = logserver::start(registry.clone(), shutdown.clone())
        .await
        .map_err(NodeError::LogEndpoint)?;
    let since = Timestamp::now();
    let node = node_object::node(&config.node_name, log_addr.port(), &config.state_dir, since);
    let mut delay = Duration::from_millis(200);
    loop {
        match node_object::register(&client, &node).await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(error = %e, "registering node {} failed; retrying", config.node_name);
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.wait_for(|s| *s) => return Ok(()),
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    tracing::info!(node = %config.node_name, logs = %log_addr, "node registered");
    let heartbeat = task::AbortOnDrop::spawn(node_object::heartbeat(
        client.clone(),
        config.node_name.clone(),
        since,
        shutdown.clone(),
    ));

    let shared = Arc::new(Shared {
        recorder: events::Recorder::new(client.clone(), "kubelet", &config.node_name),
        client,
        node_name: config.node_name.clone(),
        node_dir,
        bin_dir: config.bin_dir.clone(),
        host_ip: Ipv4Addr::LOCALHOST,
        isolation,
        log_limits: logs::LogLimits::default(),
        registry,
        dns: config.dns.clone(),
    });
    pods::supervise(shared, IpAllocator::new(config.pod_cidr_base), shutdown).await;
    heartbeat.abort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_name_is_a_valid_name() {
        let name = default_node_name();
        assert!(!name.is_empty());
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        );
        assert!(current_bin_dir().is_absolute());
    }

    #[test]
    fn isolation_setting_table() {
        use IsolationMode as M;
        let cases = [
            (M::Namespaces, None, M::Namespaces),
            (M::Namespaces, Some("none"), M::None),
            (M::UserNamespaces, Some("none"), M::None),
            (M::None, Some("user"), M::None),
            (M::UserNamespaces, Some("auto"), M::UserNamespaces),
        ];
        for (detected, setting, want) in cases {
            assert_eq!(
                choose_isolation(detected, setting),
                want,
                "{detected:?} {setting:?}"
            );
        }
    }
}
