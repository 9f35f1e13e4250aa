//! The `podgate` binary: parses the command line and runs the library.

use clap::Parser;
use podgate::cli::{Cli, Command};
use podgate::gateway::forward::ProxyOptions;
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if cli.log_json {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .json()
            .with_writer(std::io::stderr)
            .init();
    } else {
        // Colour codes only for a terminal: `podgate up 2> file` gets plain text.
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Up {
                files,
                listen,
                state_dir,
                proxy_wait,
                no_rewrite,
                auth,
                dns,
                streaming_connection_idle_timeout,
            } => {
                let proxy = ProxyOptions {
                    rewrite: !no_rewrite,
                    default_wait: proxy_wait,
                };
                podgate::up::run(podgate::up::UpOptions {
                    listen,
                    state_dir,
                    manifests: files,
                    proxy,
                    auth,
                    dns: *dns,
                    streaming_connection_idle_timeout,
                })
                .await
            }
            Command::Proxy(args) => podgate::proxycmd::run(*args).await,
            Command::Pet { listen, data_dir } => podgate::pet::run(listen, data_dir).await,
        }
    })
}
