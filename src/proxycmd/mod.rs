//! `podgate proxy`: a drop-in `kubectl proxy` in front of a real cluster.
//!
//! Phases: check the flags (kubectl's rules and texts) → load the cluster configuration →
//! refuse to expose the proxy without client authentication → build the gateway (pass-through
//! to the API server, and the direct pod proxy when asked) → listen → print `Starting to serve
//! on …` → serve until SIGINT/SIGTERM.

pub mod config;
pub mod duration;
pub mod exposure;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;

use crate::auth::{ClientAuth, TokenFile, delegated::Delegated};
use crate::cli::{PodNetwork, ProxyArgs, ProxyMode};
use crate::cluster::ClusterView;
use crate::gateway::filter::FilterRules;
use crate::gateway::forward::{Proxy, ProxyOptions};
use crate::gateway::prefix::Prefixes;
use crate::gateway::resolve::{AddressPolicy, Resolver};
use crate::gateway::upstream::{ApiUpstream, UpstreamOptions};
use crate::gateway::www::StaticFiles;
use crate::gateway::{self, Readiness};

/// kubectl's default `--port`.
pub const DEFAULT_PORT: u16 = 8001;

/// Where the proxy listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A unix socket path.
    Unix(PathBuf),
}

/// Runs `podgate proxy` until SIGINT or SIGTERM.
pub async fn run(args: ProxyArgs) -> anyhow::Result<()> {
    // Phase: check the flags, as kubectl's Complete and Validate do.
    if args.port != DEFAULT_PORT && !args.unix_socket.is_empty() {
        anyhow::bail!("cannot set --unix-socket and --port at the same time");
    }
    let keepalive = keepalive(&args.keepalive)?;
    let prefixes = Prefixes::new(&args.api_prefix, &args.www_prefix);
    let filter = if args.disable_filter {
        if args.unix_socket.is_empty() {
            tracing::warn!(
                "Request filter disabled, your proxy is vulnerable to XSRF attacks, please be cautious"
            );
        }
        None
    } else {
        if args.reject_paths.is_empty() || args.reject_methods.is_empty() {
            tracing::warn!(
                "Request filter has been relaxed, your proxy may be vulnerable to attacks, please be cautious"
            );
        }
        Some(FilterRules::new(
            &args.accept_paths,
            &args.reject_paths,
            &args.accept_hosts,
            &args.reject_methods,
        )?)
    };
    let www = static_dir(&args.www);

    // Phase: the cluster and the proxy's credentials.
    let (kube_config, source) = config::load(&args).await?;
    let mode = match (args.mode, source) {
        (ProxyMode::Auto, config::Source::InCluster) => ProxyMode::Direct,
        (ProxyMode::Auto, config::Source::Kubeconfig) => ProxyMode::Apiserver,
        (m, _) => m,
    };

    // Phase: who may use the proxy, and whether it may listen where it was told to.
    let listen = if args.unix_socket.is_empty() {
        Listen::Tcp(exposure::resolve_address(&args.address, args.port).await?)
    } else {
        Listen::Unix(PathBuf::from(&args.unix_socket))
    };
    let client_auth = client_auth(&args, &kube_config)?;
    if let Listen::Tcp(addr) = &listen {
        exposure::check(addr.ip(), client_auth.is_none(), args.allow_unauthenticated)?;
    }
    let tls = match (&args.tls_cert_file, &args.tls_private_key_file) {
        (Some(cert), Some(key)) => Some(crate::tls::from_files(cert, key)?),
        _ => None,
    };

    // Phase: the gateway.
    let metrics = gateway::metrics::Metrics::new();
    let readiness = Readiness::default();
    let api = ApiUpstream::new(
        &kube_config,
        &UpstreamOptions {
            append_server_path: args.append_server_path,
            keepalive,
        },
    )?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let admin = match args.admin_address {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening on {addr} (--admin-address)"))?;
            tracing::info!(address = %listener.local_addr()?, "serving health and metrics");
            Some(tokio::spawn(gateway::server::serve(
                listener,
                gateway::admin_stack(readiness.clone(), metrics.clone()),
                None,
                Default::default(),
                metrics.open_connections.clone(),
                shutdown_rx.clone(),
            )))
        }
        None => None,
    };
    let proxy = match mode {
        ProxyMode::Direct => {
            let policy = match args.pod_network {
                PodNetwork::Cluster => AddressPolicy::Cluster,
                PodNetwork::Loopback => AddressPolicy::Loopback,
            };
            let client = kube::Client::try_from(kube_config.clone())
                .context("building the cluster client")?;
            let cluster = ClusterView::start(client);
            wait_for_cluster_view(&cluster).await;
            let resolver = Arc::new(Resolver {
                cluster,
                policy,
                load: Default::default(),
            });
            let options = ProxyOptions {
                rewrite: !args.no_rewrite,
                default_wait: args.proxy_wait,
            };
            Some(Arc::new(Proxy::new(resolver, options, metrics.clone())))
        }
        _ => None,
    };
    tracing::info!(
        server = %kube_config.cluster_url,
        mode = if proxy.is_some() { "direct" } else { "apiserver" },
        "proxying"
    );
    let stack = gateway::proxy_stack(gateway::ProxyStackParts {
        api: tower::util::BoxCloneSyncService::new(api),
        client_auth,
        filter,
        prefixes,
        www,
        proxy,
        metrics: metrics.clone(),
    });

    // Phase: listen, say where, serve.
    let server = match &listen {
        Listen::Tcp(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening on {addr}"))?;
            println!("Starting to serve on {}", listener.local_addr()?);
            // Without TLS of its own (in a cluster, behind its Service), tokens arrive in plain
            // HTTP by design; with TLS, plain-HTTP credentials from other hosts are refused.
            let limits = gateway::server::ServerLimits {
                remote_plain_credentials: tls.is_none(),
                ..Default::default()
            };
            tokio::spawn(gateway::server::serve(
                listener,
                stack,
                tls,
                limits,
                metrics.open_connections.clone(),
                shutdown_rx.clone(),
            ))
        }
        Listen::Unix(path) => {
            let listener = listen_unix(path)?;
            println!("Starting to serve on {}", path.display());
            tokio::spawn(gateway::server::serve_unix(
                listener,
                stack,
                Default::default(),
                metrics.open_connections.clone(),
                shutdown_rx.clone(),
            ))
        }
    };
    readiness.set_ready();

    wait_for_signal().await;
    tracing::info!("shutting down");
    let _ = shutdown_tx.send(true);
    let _ = server.await;
    if let Some(admin) = admin {
        let _ = admin.await;
    }
    if let Listen::Unix(path) = &listen {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// `--keepalive`: zero keeps Go's 15 s default, a negative value disables keep-alive.
fn keepalive(s: &str) -> anyhow::Result<Option<Duration>> {
    let d = duration::parse_go_duration(s).with_context(|| {
        format!("invalid argument {s:?} for \"--keepalive\" flag: time: invalid duration {s:?}")
    })?;
    Ok((!d.negative).then_some(d.duration))
}

/// `--www`: served when set; a missing or non-directory path only logs a warning, as kubectl.
fn static_dir(dir: &str) -> Option<StaticFiles> {
    if dir.is_empty() {
        return None;
    }
    match std::fs::metadata(dir) {
        Err(e) => tracing::warn!("Failed to stat static file directory {dir}: {e}"),
        Ok(m) if !m.is_dir() => tracing::warn!("Static file directory {dir} is not a directory"),
        Ok(_) => {}
    }
    Some(StaticFiles::new(dir))
}

/// The client authentication the flags ask for.
fn client_auth(args: &ProxyArgs, config: &kube::Config) -> anyhow::Result<ClientAuth> {
    if let Some(path) = &args.token_auth_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading --token-auth-file {}", path.display()))?;
        let tokens = TokenFile::parse(&text)?;
        if tokens.is_empty() {
            anyhow::bail!("--token-auth-file {} holds no tokens", path.display());
        }
        return Ok(ClientAuth::Tokens(Arc::new(tokens)));
    }
    if args.delegated_auth {
        let client =
            kube::Client::try_from(config.clone()).context("building the review client")?;
        return Ok(ClientAuth::Delegated(Arc::new(Delegated::new(
            client,
            args.auth_token_audiences.clone(),
        ))));
    }
    Ok(ClientAuth::None)
}

/// Waits for the watch caches of the direct mode, saying so when it takes long (a missing RBAC
/// rule shows up here as a wait that never ends, with the watch errors logged).
async fn wait_for_cluster_view(cluster: &ClusterView) {
    let ready = cluster.ready();
    tokio::pin!(ready);
    let mut waited = 0u64;
    loop {
        tokio::select! {
            _ = &mut ready => return,
            _ = tokio::time::sleep(Duration::from_secs(10)) => {
                waited += 10;
                tracing::warn!(
                    seconds = waited,
                    "still waiting for the first list of pods, services, endpointslices and statefulsets (check the RBAC rules in deploy/kubernetes)"
                );
            }
        }
    }
}

/// Listens on a unix socket as kubectl does: a stale socket is removed first, and the socket is
/// for its owner only.
fn listen_unix(path: &Path) -> anyhow::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && meta.file_type().is_socket()
    {
        let _ = std::fs::remove_file(path);
    }
    let listener = tokio::net::UnixListener::bind(path)
        .with_context(|| format!("listening on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", path.display()))?;
    Ok(listener)
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_follows_go() {
        assert_eq!(keepalive("0").unwrap(), Some(Duration::ZERO));
        assert_eq!(keepalive("30s").unwrap(), Some(Duration::from_secs(30)));
        assert_eq!(keepalive("-1s").unwrap(), None);
        let err = keepalive("30").unwrap_err().to_string();
        assert!(err.contains("--keepalive"), "{err}");
    }
}
