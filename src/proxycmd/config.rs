//! Where `podgate proxy` gets its cluster and credentials, as kubectl does: `--kubeconfig`,
//! else `$KUBECONFIG` (a `:`-separated list, merged), else `~/.kube/config`, else the in-cluster
//! service account; `--context`/`--cluster`/`--user` pick from the kubeconfig; `--server`,
//! `--token`, `--as` and `--as-group` override it. All loading is kube-rs's.

use anyhow::Context as _;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::cli::ProxyArgs;

/// Where the configuration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A kubeconfig file.
    Kubeconfig,
    /// The pod's service account (`KUBERNETES_SERVICE_HOST`, the mounted token and CA).
    InCluster,
}

/// Loads the configuration for `args`.
pub async fn load(args: &ProxyArgs) -> anyhow::Result<(kube::Config, Source)> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        cluster: args.cluster.clone(),
        user: args.user.clone(),
    };
    let (mut config, source) = if let Some(path) = &args.kubeconfig {
        let kc = Kubeconfig::read_from(path)
            .with_context(|| format!("reading the kubeconfig {}", path.display()))?;
        let config = kube::Config::from_custom_kubeconfig(kc, &options)
            .await
            .with_context(|| format!("loading the kubeconfig {}", path.display()))?;
        (config, Source::Kubeconfig)
    } else {
        match kube::Config::from_kubeconfig(&options).await {
            Ok(c) => (c, Source::Kubeconfig),
            Err(kubeconfig_err) => {
                let explicit = args.context.is_some()
                    || args.cluster.is_some()
                    || args.user.is_some()
                    || std::env::var_os("KUBECONFIG").is_some();
                if explicit {
                    return Err(
                        anyhow::Error::new(kubeconfig_err).context("loading the kubeconfig")
                    );
                }
                let config = kube::Config::incluster().map_err(|in_cluster| {
                    anyhow::anyhow!(
                        "no configuration: kubeconfig: {kubeconfig_err}; in-cluster: {in_cluster}"
                    )
                })?;
                (config, Source::InCluster)
            }
        }
    };
    if let Some(server) = &args.server {
        config.cluster_url = server
            .parse()
            .with_context(|| format!("parsing --server {server:?}"))?;
    }
    if let Some(token) = &args.token {
        config.auth_info.token = Some(token.clone().into());
        config.auth_info.token_file = None;
        config.auth_info.exec = None;
        config.auth_info.auth_provider = None;
        config.auth_info.username = None;
        config.auth_info.password = None;
    }
    if let Some(user) = &args.as_user {
        config.auth_info.impersonate = Some(user.clone());
    }
    if !args.as_group.is_empty() {
        config.auth_info.impersonate_groups = Some(args.as_group.clone());
    }
    if config.proxy_url.is_some() {
        tracing::warn!("the kubeconfig's proxy-url is not supported by podgate and is ignored");
    }
    Ok((config, source))
}
