//! The command line: `podgate up`, `podgate proxy`, `podgate pet`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// A Kubernetes API-server proxy and pod access gateway for stateful applications.
#[derive(Debug, Parser)]
#[command(name = "podgate", version, about)]
pub struct Cli {
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true, env = "PODGATE_LOG_JSON")]
    pub log_json: bool,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the embedded control plane and the gateway in one process.
    Up {
        /// Manifest file or folder to apply at start (create or update); repeatable.
        #[arg(short = 'f', long = "filename")]
        files: Vec<PathBuf>,
        /// Address to serve the API and the gateway on.
        #[arg(long, default_value = "127.0.0.1:8001")]
        listen: SocketAddr,
        /// Where state (database, token, kubeconfig, pod data) lives.
        #[arg(long, env = "PODGATE_STATE_DIR", default_value = ".podgate")]
        state_dir: PathBuf,
        /// How long proxy requests wait for their pod to be serving when they carry no
        /// `X-Podgate-Wait` header (e.g. `10s`; default: fail at once, as Kubernetes does).
        #[arg(long, value_parser = parse_wait)]
        proxy_wait: Option<std::time::Duration>,
        /// Do not rewrite `Location` headers and HTML links in proxied responses.
        #[arg(long)]
        no_rewrite: bool,
        /// Authentication and TLS.
        #[command(flatten)]
        auth: crate::up::auth::AuthOptions,
        /// Cluster DNS.
        #[command(flatten)]
        dns: Box<crate::up::DnsArgs>,
        /// How long an exec, attach or port-forward session may sit with no data before it
        /// is closed (the kubelet's flag of the same name).
        #[arg(long, value_parser = parse_wait, default_value = "4h")]
        streaming_connection_idle_timeout: std::time::Duration,
    },
    /// A drop-in `kubectl proxy` for real clusters: the API passes through with the
    /// kubeconfig's credentials, pods|services/…/proxy go through the API server or straight
    /// to the pods.
    Proxy(Box<ProxyArgs>),
    /// The demo stateful app: stores POSTed data in its data dir, answers GET with it.
    Pet {
        /// Address to listen on (default `$POD_IP:8080`).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Where the data is kept.
        #[arg(long, default_value = "/var/data")]
        data_dir: PathBuf,
    },
}

fn parse_wait(s: &str) -> Result<std::time::Duration, String> {
    crate::gateway::forward::parse_duration(s)
        .ok_or_else(|| format!("invalid duration {s:?} (use e.g. 500ms, 10s, 2m)"))
}

/// Which way `pods|services/{id}/proxy/…` requests take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProxyMode {
    /// Through the API server's own proxy subresource (works wherever the API server does).
    Apiserver,
    /// Straight to the pods, resolved from a watch cache (pod IPs must be reachable).
    Direct,
    /// `direct` when running in a cluster (in-cluster credentials), `apiserver` otherwise.
    Auto,
}

/// Which pod addresses the direct mode may dial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PodNetwork {
    /// Global unicast addresses only, as kube-apiserver requires.
    Cluster,
    /// 127.0.0.0/8 except 127.0.0.1 (pods of `podgate up`).
    Loopback,
}

/// The flags of `podgate proxy`: kubectl proxy's, with kubectl's defaults, then podgate's.
#[derive(Debug, Clone, clap::Args)]
pub struct ProxyArgs {
    /// The port on which to run the proxy. Set to 0 to pick a random port.
    #[arg(short = 'p', long, default_value_t = 8001)]
    pub port: u16,
    /// The IP address on which to serve on.
    #[arg(long, default_value = "127.0.0.1")]
    pub address: String,
    /// Unix socket on which to run the proxy.
    #[arg(short = 'u', long, default_value = "")]
    pub unix_socket: String,
    /// Prefix to serve the proxied API under.
    #[arg(long, default_value = "/")]
    pub api_prefix: String,
    /// Also serve static files from the given directory under the specified prefix.
    #[arg(short = 'w', long, default_value = "")]
    pub www: String,
    /// Prefix to serve static files under, if static file directory is specified.
    #[arg(short = 'P', long, default_value = "/static/")]
    pub www_prefix: String,
    /// Regular expression for paths that the proxy should accept.
    #[arg(long, default_value = crate::gateway::filter::DEFAULT_ACCEPT_PATHS)]
    pub accept_paths: String,
    /// Regular expression for paths that the proxy should reject. Paths specified here will be
    /// rejected even accepted by --accept-paths.
    #[arg(long, default_value = crate::gateway::filter::DEFAULT_REJECT_PATHS)]
    pub reject_paths: String,
    /// Regular expression for hosts that the proxy should accept.
    #[arg(long, default_value = crate::gateway::filter::DEFAULT_ACCEPT_HOSTS)]
    pub accept_hosts: String,
    /// Regular expression for HTTP methods that the proxy should reject (example
    /// --reject-methods='POST,PUT,PATCH').
    #[arg(long, default_value = crate::gateway::filter::DEFAULT_REJECT_METHODS)]
    pub reject_methods: String,
    /// If true, disable request filtering in the proxy. This is dangerous, and can leave you
    /// vulnerable to XSRF attacks, when used with an accessible port.
    #[arg(long)]
    pub disable_filter: bool,
    /// keepalive specifies the keep-alive period for an active network connection (upgraded
    /// connections). 0 means the 15s default, a negative value disables it.
    #[arg(long, default_value = "0", allow_hyphen_values = true)]
    pub keepalive: String,
    /// If true, enables automatic path appending of the kube context server path to each
    /// request.
    #[arg(long)]
    pub append_server_path: bool,

    /// Path to the kubeconfig file to use (default: $KUBECONFIG, ~/.kube/config, then the
    /// in-cluster service account).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The name of the kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
    /// The name of the kubeconfig cluster to use.
    #[arg(long)]
    pub cluster: Option<String>,
    /// The name of the kubeconfig user to use.
    #[arg(long)]
    pub user: Option<String>,
    /// The address and port of the Kubernetes API server (overrides the kubeconfig).
    #[arg(short = 's', long)]
    pub server: Option<String>,
    /// Bearer token for authentication to the API server (overrides the kubeconfig).
    #[arg(long)]
    pub token: Option<String>,
    /// Username to impersonate for the operation.
    #[arg(long = "as")]
    pub as_user: Option<String>,
    /// Group to impersonate for the operation; repeatable.
    #[arg(long = "as-group")]
    pub as_group: Vec<String>,
    /// Accepted for kubectl compatibility; like kubectl proxy, it does not limit proxied
    /// requests.
    #[arg(long)]
    pub request_timeout: Option<String>,

    /// Which way pods|services/{id}/proxy requests take.
    #[arg(long, value_enum, default_value_t = ProxyMode::Auto)]
    pub mode: ProxyMode,
    /// Which pod addresses the direct mode may dial (`loopback` for `podgate up`'s pods).
    #[arg(long, value_enum, default_value_t = PodNetwork::Cluster)]
    pub pod_network: PodNetwork,
    /// Direct mode: how long proxy requests wait for their pod to be serving when they carry
    /// no `X-Podgate-Wait` header (default: fail at once, as Kubernetes does).
    #[arg(long, value_parser = parse_wait)]
    pub proxy_wait: Option<std::time::Duration>,
    /// Direct mode: do not rewrite `Location` headers and HTML links in proxied responses.
    #[arg(long)]
    pub no_rewrite: bool,
    /// Authenticate clients with bearer tokens from this file (kube-apiserver's
    /// `--token-auth-file` CSV format: token,user,uid[,"group1,group2"]).
    #[arg(long, conflicts_with = "delegated_auth")]
    pub token_auth_file: Option<PathBuf>,
    /// Authenticate clients' bearer tokens with TokenReviews and authorize every request with
    /// SubjectAccessReviews against the cluster.
    #[arg(long)]
    pub delegated_auth: bool,
    /// Audiences for the TokenReviews of --delegated-auth (default: the API server's).
    #[arg(long, value_delimiter = ',')]
    pub auth_token_audiences: Vec<String>,
    /// Serve without client authentication on an address other than loopback.
    #[arg(long)]
    pub allow_unauthenticated: bool,
    /// Serve HTTPS (and plain HTTP) with this certificate chain (PEM).
    #[arg(long, requires = "tls_private_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// The private key (PEM) for --tls-cert-file.
    #[arg(long, requires = "tls_cert_file")]
    pub tls_private_key_file: Option<PathBuf>,
    /// Also serve /healthz, /livez, /readyz and /metrics (podgate's own) on this address.
    #[arg(long)]
    pub admin_address: Option<SocketAddr>,
}
