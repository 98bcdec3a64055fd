//! `foredeck known-hosts`: the host keys the server has learned, in the
//! database of the embedded data directory (the `--ssh-known-hosts` file is
//! the operator's own and is edited by hand).

use anyhow::Context;
use clap::{Args, Subcommand};
use foredeck::store::prelude::*;
use foredeck_store::SqlStore;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct KnownHostsArgs {
    /// Data directory holding `foredeck.db`.
    #[arg(
        long,
        env = "FOREDECK_DATA_DIR",
        default_value = "foredeck-data",
        global = true
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: KnownHostsCommand,
}

#[derive(Debug, Subcommand)]
enum KnownHostsCommand {
    /// Print the learned key of a host and its SHA256 fingerprint.
    Show {
        /// `host`, or `[host]:port` for a port other than 22.
        host: String,
    },
    /// Forget the learned key of a host (the next connection learns or
    /// refuses it again, as the host key policy says).
    Forget {
        /// `host`, or `[host]:port` for a port other than 22.
        host: String,
    },
}

pub async fn run(a: KnownHostsArgs) -> anyhow::Result<u8> {
    let store = SqlStore::open_data_dir(&a.data_dir)
        .await
        .with_context(|| format!("opening the store in {}", a.data_dir.display()))?;
    match a.command {
        KnownHostsCommand::Show { host } => match store.get_known_host(&host).await? {
            Some(key) => {
                println!("{host} {key}");
                println!("{}", foredeck_ssh::fingerprint(&key));
                Ok(0)
            }
            None => {
                eprintln!("{host}: no key learned in {}", a.data_dir.display());
                Ok(1)
            }
        },
        KnownHostsCommand::Forget { host } => {
            if store.delete_known_host(&host).await? {
                println!("forgot the learned key of {host}");
                Ok(0)
            } else {
                eprintln!("{host}: no key learned in {}", a.data_dir.display());
                Ok(1)
            }
        }
    }
}
