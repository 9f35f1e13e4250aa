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
    },
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
