//! `dvpd`: the DVP daemon.
//!
//! * `dvpd up` runs every role (API server, controllers, node agent) in one process on an
//!   embedded store under the data dir, and writes `DATA/kubeconfig` for kubectl and `d8`.
//! * `dvpd node` runs only the node agent against a remote API (`--kubeconfig`).
//! * `dvpd crds` prints the CustomResourceDefinitions of the resource model.

mod client;
mod node;
mod paths;
mod pki;
mod up;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "dvpd",
    version,
    about = "Deckhouse-style virtualization platform daemon"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole platform in one process (embedded store, one local node).
    Up(up::UpArgs),
    /// Print the CustomResourceDefinitions (multi-document YAML).
    Crds,
    /// Run only the node agent against the API of a kubeconfig.
    Node(node::NodeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds => {
            print!("{}", dvp_api::registry::crds_yaml());
            Ok(())
        }
        Command::Node(args) => {
            init_logging();
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(node::run(args))
        }
        Command::Up(args) => {
            init_logging();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(up::run(args))
        }
    }
}

/// Logs to stderr, filtered by `DVPD_LOG` (default `info`).
fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DVPD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
}
