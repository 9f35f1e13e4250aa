//! `podgate up`: the embedded control plane (store, API server, controllers, node agent) with
//! the gateway in front, in one process.

pub mod auth;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use rand::Rng;
use serde_json::Value;
use tokio::sync::watch;

use crate::apiserver::{ApiConfig, ApiServer, registry};
use crate::cluster::ClusterView;
use crate::gateway::forward::{Proxy, ProxyOptions};
use crate::gateway::resolve::{AddressPolicy, Resolver};
use crate::gateway::{self};
use crate::secrets::write_secret;
use crate::store::{self, Store};
use auth::{AuthOptions, UpAuth, load_tokens};

/// Options of `podgate up`.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The state directory.
    pub state_dir: PathBuf,
    /// Manifests to apply at start (files or folders).
    pub manifests: Vec<PathBuf>,
    /// How the pod and service proxy behaves.
    pub proxy: ProxyOptions,
    /// Authentication and TLS.
    pub auth: AuthOptions,
    /// Cluster DNS.
    pub dns: DnsArgs,
    /// How long a streaming session may sit idle.
    pub streaming_connection_idle_timeout: std::time::Duration,
}

/// The cluster DNS flags of `podgate up`.
#[derive(Debug, Clone, clap::Args)]
pub struct DnsArgs {
    /// Where the cluster DNS serves (UDP and TCP). Pods' resolv.conf names this address, and
    /// their resolvers use port 53.
    #[arg(
        id = "cluster_dns",
        long = "cluster-dns",
        visible_alias = "dns-listen",
        default_value = "127.0.0.10:53"
    )]
    pub listen: SocketAddr,
    /// Serve no cluster DNS; pods get the host's resolver.
    #[arg(long)]
    pub no_dns: bool,
    /// The cluster's DNS zone.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// The resolver configuration whose nameservers answer names outside the cluster zone,
    /// and which pods with `dnsPolicy: Default` get.
    #[arg(long, default_value = "/etc/resolv.conf")]
    pub dns_resolv_conf: PathBuf,
}

/// Namespaces that exist from the start.
const SYSTEM_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// The admin user written into the token file on first start.
const ADMIN_USER: &str = "podgate-admin";

/// Runs `podgate up` until SIGINT or SIGTERM.
pub async fn run(opts: UpOptions) -> anyhow::Result<()> {
    // Secrets, the database, logs and volumes live here: only podgate's user may enter.
    crate::secrets::private_dir(&opts.state_dir)?;
    let token = ensure_token(&opts.state_dir)?;
    let tokens = load_tokens(
        &opts.state_dir.join("tokens.csv"),
        opts.auth.token_auth_file.as_deref(),
    )?;
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("listening on {}", opts.listen))?;
    let listen = listener.local_addr()?;
    let mut hosts = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if !listen.ip().is_unspecified() {
        hosts.push(listen.ip().to_string());
    }
    hosts.extend(opts.auth.tls_san.iter().cloned());
    let tls = crate::tls::for_up(&opts.state_dir, &hosts, opts.auth.tls_files())?;
    write_kubeconfig(&opts.state_dir, listen, &token, &tls.ca_pem)?;

    let db = opts.state_dir.join("state.db");
    crate::secrets::private_file(&db).with_context(|| format!("opening {}", db.display()))?;
    let store =
        tokio::task::spawn_blocking(move || Store::open(&db, store::DEFAULT_HISTORY)).await??;
    let api = ApiServer::new(
        store,
        ApiConfig {
            server_address: listen.to_string(),
        },
    );
    // The API server's credential toward the node agent's endpoints.
    let node_key = crate::secrets::NodeKey::generate();
    api.set_node_key(node_key.clone());
    let client = kube::Client::new(api.clone(), "default");
    let auth = UpAuth::start(&opts.state_dir, tokens, &client, &api)?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let readiness = gateway::Readiness::default();
    let metrics = gateway::metrics::Metrics::new();
    let cluster = ClusterView::start_with_namespaces(client.clone());
    let dns = start_dns(&cluster, &opts.dns).await;
    let pod_dns = crate::node::PodDns {
        nameserver: dns.as_ref().map(|d| d.addr.ip()),
        cluster_domain: opts.dns.cluster_domain.trim_end_matches('.').to_string(),
        host_resolv_conf: std::fs::read_to_string(&opts.dns.dns_resolv_conf).unwrap_or_default(),
    };
    let resolver = Arc::new(Resolver {
        cluster: cluster.clone(),
        policy: AddressPolicy::Loopback,
        load: Default::default(),
    });
    let proxy = Arc::new(Proxy::new(resolver, opts.proxy.clone(), metrics.clone()));
    let stack = gateway::stack(gateway::GatewayParts {
        api: tower::util::BoxCloneSyncService::new(api.clone()),
        authn: auth.authn.clone(),
        authz: auth.authz.clone(),
        readiness: readiness.clone(),
        proxy: Some(proxy),
        metrics: metrics.clone(),
    });
    let server = tokio::spawn(gateway::server::serve(
        listener,
        stack,
        Some(tls.server_config.clone()),
        Default::default(),
        metrics.open_connections.clone(),
        shutdown_rx.clone(),
    ));

    ensure_namespaces(&client).await?;
    auth.bootstrap(&client).await?;
    cluster.ready().await;
    // The bundled controllers start here.
    let controllers = crate::controller::start(
        client.clone(),
        crate::controller::Options {
            state_dir: opts.state_dir.clone(),
        },
    );
    // The node agent starts here.
    let node_agent = tokio::spawn(crate::node::run(
        client.clone(),
        crate::node::NodeConfig {
            node_name: crate::node::default_node_name(),
            state_dir: opts.state_dir.clone(),
            bin_dir: crate::node::current_bin_dir(),
            pod_cidr_base: std::net::Ipv4Addr::new(127, 1, 0, 1),
            dns: pod_dns,
            key: node_key,
            streaming_idle_timeout: opts.streaming_connection_idle_timeout,
        },
        shutdown_rx.clone(),
    ));
    for path in &opts.manifests {
        apply_path(&client, path)
            .await
            .with_context(|| format!("applying {}", path.display()))?;
    }
    readiness.set_ready();
    tracing::info!(
        address = %listen,
        kubeconfig = %opts.state_dir.join("kubeconfig").display(),
        "podgate is up"
    );
    println!("podgate is serving on https://{listen} (and plain http on the same port)");
    println!(
        "  kubectl --kubeconfig {} get pods",
        opts.state_dir.join("kubeconfig").display()
    );
    println!(
        "  curl -H \"Authorization: Bearer $(cat {})\" http://{listen}/api/v1/namespaces/default/pods",
        opts.state_dir.join("token").display()
    );
    if let Some(d) = &dns {
        let port = if d.addr.port() == 53 {
            String::new()
        } else {
            format!(" -p {}", d.addr.port())
        };
        println!(
            "  cluster DNS on {}: dig @{}{port} <service>.<namespace>.svc.{}",
            d.addr,
            d.addr.ip(),
            opts.dns.cluster_domain.trim_end_matches('.')
        );
    }

    wait_for_signal().await;
    tracing::info!("shutting down");
    let _ = shutdown_tx.send(true);
    match node_agent.await {
        Ok(Err(e)) => tracing::error!(error = %e, "the node agent failed"),
        Err(e) => tracing::error!(error = %e, "the node agent panicked"),
        Ok(Ok(())) => {}
    }
    controllers.shutdown().await;
    if let Some(d) = dns {
        d.stop();
    }
    let _ = server.await;
    Ok(())
}

/// Starts the cluster DNS unless disabled. When it cannot bind (port 53 needs privilege, or
/// the address is taken) podgate runs on without it, says so once, and pods get the host's
/// resolver.
async fn start_dns(cluster: &ClusterView, args: &DnsArgs) -> Option<crate::dns::Dns> {
    if args.no_dns {
        return None;
    }
    let opts = crate::dns::DnsOptions {
        listen: args.listen,
        cluster_domain: args.cluster_domain.clone(),
        resolv_conf: args.dns_resolv_conf.clone(),
    };
    match crate::dns::start(cluster.clone(), opts).await {
        Ok(d) => Some(d),
        Err(e) => {
            let denied = e
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied);
            let hint = if denied {
                " (to allow port 53: `setcap cap_net_bind_service=+ep` on the podgate binary, \
                 or `sysctl net.ipv4.ip_unprivileged_port_start=53`)"
            } else {
                ""
            };
            tracing::warn!(
                "cluster DNS is off: cannot serve on {}: {e}{hint}; pods use the host's resolver",
                args.listen
            );
            None
        }
    }
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

/// The admin token: read from `<state>/token`, or generated and written (0600) on first start,
/// together with the token file kube-apiserver's `--token-auth-file` format uses.
fn ensure_token(state_dir: &Path) -> anyhow::Result<String> {
    let path = state_dir.join("token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        let t = t.trim().to_string();
        if !t.is_empty() {
            return Ok(t);
        }
    }
    let bytes: [u8; 32] = rand::rng().random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_secret(&path, format!("{token}\n").as_bytes())?;
    write_secret(
        &state_dir.join("tokens.csv"),
        format!("{token},{ADMIN_USER},{ADMIN_USER},\"system:masters\"\n").as_bytes(),
    )?;
    Ok(token)
}

/// Writes `<state>/kubeconfig` (0600) pointing at the listen address over HTTPS (kubectl sends
/// tokens only over TLS), trusting podgate's CA, with the admin token.
fn write_kubeconfig(
    state_dir: &Path,
    listen: SocketAddr,
    token: &str,
    ca_pem: &str,
) -> anyhow::Result<()> {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let host = match listen.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        ip => ip.to_string(),
    };
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: podgate\n  cluster:\n    server: https://{host}:{port}\n    certificate-authority-data: {ca}\ncontexts:\n- name: podgate\n  context:\n    cluster: podgate\n    user: {ADMIN_USER}\n    namespace: default\ncurrent-context: podgate\nusers:\n- name: {ADMIN_USER}\n  user:\n    token: {token}\n",
        port = listen.port()
    );
    Ok(write_secret(
        &state_dir.join("kubeconfig"),
        text.as_bytes(),
    )?)
}

async fn ensure_namespaces(client: &kube::Client) -> anyhow::Result<()> {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    for name in SYSTEM_NAMESPACES {
        let ns: k8s_openapi::api::core::v1::Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))?;
        match api.create(&PostParams::default(), &ns).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Every manifest document under `path` (a file or a folder of `.yaml`/`.yml`/`.json` files).
pub fn read_manifests(path: &Path) -> anyhow::Result<Vec<Value>> {
    let mut files = Vec::new();
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        files.extend(entries.into_iter().filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        }));
    } else {
        files.push(path.to_path_buf());
    }
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v: Value = serde::Deserialize::deserialize(doc)
                .with_context(|| format!("parsing {}", file.display()))?;
            if v.is_null() {
                continue;
            }
            match v.get("kind").and_then(Value::as_str) {
                Some("List") => docs.extend(v["items"].as_array().cloned().unwrap_or_default()),
                _ => docs.push(v),
            }
        }
    }
    Ok(docs)
}

async fn apply_path(client: &kube::Client, path: &Path) -> anyhow::Result<()> {
    for doc in read_manifests(path)? {
        apply_one(client, doc).await?;
    }
    Ok(())
}

/// Creates the object, or replaces it when it exists.
async fn apply_one(client: &kube::Client, doc: Value) -> anyhow::Result<()> {
    let api_version = doc
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let kind = doc
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
    let def = registry::RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
        .with_context(|| format!("podgate does not serve {kind} in {api_version}"))?;
    let ar = ApiResource {
        group: def.group.into(),
        version: def.version.into(),
        api_version: def.api_version(),
        kind: def.kind.into(),
        plural: def.plural.into(),
    };
    // As `kubectl apply` would, so a later `kubectl apply` of the same file says `unchanged`.
    let doc = crate::machinery::applied::with_last_applied(doc, def.namespaced, "default");
    let mut obj: DynamicObject = serde_json::from_value(doc)?;
    let name = obj.metadata.name.clone().unwrap_or_default();
    let api: Api<DynamicObject> = if def.namespaced {
        let ns = obj
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        Api::namespaced_with(client.clone(), &ns, &ar)
    } else {
        Api::all_with(client.clone(), &ar)
    };
    match api.create(&PostParams::default(), &obj).await {
        Ok(_) => tracing::info!(%kind, %name, "created"),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let current = api.get(&name).await?;
            obj.metadata.resource_version = current.metadata.resource_version;
            api.replace(&name, &PostParams::default(), &obj).await?;
            tracing::info!(%kind, %name, "updated");
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
