//! `foredeck keys`: the key store of the embedded data directory.

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use foredeck::KeyType;
use foredeck_store::{KeyStorage, MasterKey, SqlStore};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct KeysArgs {
    /// Data directory holding `foredeck.db` and `master.key`.
    #[arg(
        long,
        env = "FOREDECK_DATA_DIR",
        default_value = "foredeck-data",
        global = true
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Store or replace an entry (content from a file, or `-` for stdin).
    Put {
        /// Path such as keys/project/ops/db.pem
        path: String,
        /// What the entry holds.
        #[arg(long = "type", value_enum)]
        key_type: Kind,
        /// File with the content; `-` reads standard input.
        #[arg(long)]
        file: PathBuf,
    },
    /// List entries under a prefix (default: all), without their content.
    List {
        /// Prefix such as keys/project/ops
        #[arg(default_value = "keys")]
        prefix: String,
    },
    /// Delete an entry.
    Delete {
        /// Path of the entry.
        path: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    /// A password (never readable).
    Password,
    /// A private key (never readable).
    Private,
    /// A public key.
    Public,
}

fn label(t: KeyType) -> &'static str {
    match t {
        KeyType::Password => "password",
        KeyType::Private => "private",
        KeyType::Public => "public",
    }
}

pub async fn run(a: KeysArgs) -> anyhow::Result<u8> {
    let store = SqlStore::open_data_dir(&a.data_dir)
        .await
        .with_context(|| format!("opening the store in {}", a.data_dir.display()))?;
    let master = MasterKey::load_or_create(&a.data_dir)?;
    let keys = KeyStorage::new(Arc::new(store), &master);
    match a.command {
        KeysCommand::Put {
            path,
            key_type,
            file,
        } => {
            let mut data = Vec::new();
            if file.as_os_str() == "-" {
                std::io::stdin()
                    .take(foredeck_store::keys::MAX_SECRET_BYTES as u64 + 1)
                    .read_to_end(&mut data)?;
            } else {
                let meta = std::fs::metadata(&file).with_context(|| file.display().to_string())?;
                if meta.len() > foredeck_store::keys::MAX_SECRET_BYTES as u64 {
                    bail!(
                        "{}: {} bytes, the limit is {}",
                        file.display(),
                        meta.len(),
                        foredeck_store::keys::MAX_SECRET_BYTES
                    );
                }
                data = std::fs::read(&file).with_context(|| file.display().to_string())?;
            }
            let key_type = match key_type {
                Kind::Password => KeyType::Password,
                Kind::Private => KeyType::Private,
                Kind::Public => KeyType::Public,
            };
            let info = keys.put(&path, key_type, &data).await?;
            println!("stored {} ({})", info.path, label(info.key_type));
        }
        KeysCommand::List { prefix } => {
            for k in keys.list(&prefix).await? {
                println!(
                    "{}\t{}\t{}",
                    k.path,
                    label(k.key_type),
                    k.modified.to_rfc3339()
                );
            }
        }
        KeysCommand::Delete { path } => {
            keys.delete(&path).await?;
            println!("deleted {path}");
        }
    }
    Ok(0)
}
