//! SSH settings shared by the commands that run steps (`run`, `exec`).

use anyhow::bail;
use clap::Args;
use foredeck_ssh::{
    ConfigCredentials, FileKnownHosts, HostKeyPolicy, MemoryKnownHosts, SshConfig, SshExecutor,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct SshArgs {
    /// Private key for SSH nodes (nodes may name their own with `ssh-keypath`).
    #[arg(
        long,
        visible_alias = "key",
        value_name = "FILE",
        env = "FOREDECK_SSH_KEY"
    )]
    pub(super) ssh_key: Option<PathBuf>,
    /// Log in with the keys of the ssh-agent at SSH_AUTH_SOCK (when no
    /// --ssh-key is given, and for nodes with `ssh-authentication: agent`).
    #[arg(long)]
    pub(super) ssh_agent: bool,
    /// Name of an environment variable holding the SSH password (used when
    /// no key is given, or for nodes with `ssh-authentication: password`).
    #[arg(long, value_name = "VAR")]
    pub(super) ssh_password_env: Option<String>,
    /// Known host keys file (OpenSSH format). `run` and `exec` read it and
    /// add learned keys to it; `serve` reads it beside its database, learns
    /// new keys into the database only, and refuses a host whose key differs
    /// between the two.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "foredeck-data/known_hosts",
        env = "FOREDECK_SSH_KNOWN_HOSTS"
    )]
    ssh_known_hosts: PathBuf,
    /// Host-key policy: strict, accept-new or off (nodes may override it with
    /// `ssh-host-key-policy`).
    #[arg(long, value_name = "POLICY", default_value = "accept-new")]
    pub(super) ssh_host_key_policy: String,
    /// User for nodes without `username`.
    #[arg(long, value_name = "USER", default_value = "root")]
    pub(super) ssh_user: String,
    /// Data directory whose key store holds secrets named by the node
    /// attributes `ssh-key-storage-path` / `ssh-password-storage-path`.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "foredeck-data",
        env = "FOREDECK_DATA_DIR"
    )]
    pub(super) data_dir: PathBuf,
    /// Seconds allowed for TCP connect, handshake and authentication.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub(super) ssh_connect_timeout: u64,
}

impl SshArgs {
    /// The SSH executor these settings describe. Nothing connects yet.
    pub async fn executor(&self) -> anyhow::Result<SshExecutor> {
        let policy = self.policy()?;
        let known_hosts: Arc<dyn foredeck_ssh::KnownHosts> = if policy == HostKeyPolicy::Off {
            Arc::new(MemoryKnownHosts::new())
        } else {
            // created with its directory when the first key is learned
            Arc::new(FileKnownHosts::new(&self.ssh_known_hosts))
        };
        // key storage, when the data directory has a store
        let keys = if self.data_dir.join("foredeck.db").exists() {
            let store = foredeck_store::SqlStore::open_data_dir(&self.data_dir).await?;
            let master = foredeck_store::MasterKey::load_or_create(&self.data_dir)?;
            Some(foredeck_store::KeyStorage::new(Arc::new(store), &master))
        } else {
            None
        };
        self.build(policy, keys, known_hosts)
    }

    /// The SSH executor of a server: secrets from its key storage, known
    /// hosts from `--ssh-known-hosts` (read only) and its store (shared by
    /// every server on one database, where new keys are learned).
    pub fn executor_on(
        &self,
        store: Arc<dyn foredeck::Store>,
        master: &foredeck_store::MasterKey,
    ) -> anyhow::Result<SshExecutor> {
        let policy = self.policy()?;
        let known_hosts: Arc<dyn foredeck_ssh::KnownHosts> = if policy == HostKeyPolicy::Off {
            Arc::new(MemoryKnownHosts::new())
        } else {
            Arc::new(foredeck_ssh::LayeredKnownHosts::new(
                &self.ssh_known_hosts,
                Arc::new(foredeck::known_hosts::StoreKnownHosts::new(store.clone())),
            ))
        };
        let keys = foredeck_store::KeyStorage::new(store, master);
        self.build(policy, Some(keys), known_hosts)
    }

    /// The data directory (`--data-dir`).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    fn policy(&self) -> anyhow::Result<HostKeyPolicy> {
        self.ssh_host_key_policy
            .parse()
            .map_err(|e| anyhow::anyhow!("--ssh-host-key-policy: {e}"))
    }

    fn build(
        &self,
        policy: HostKeyPolicy,
        keys: Option<foredeck_store::KeyStorage>,
        known_hosts: Arc<dyn foredeck_ssh::KnownHosts>,
    ) -> anyhow::Result<SshExecutor> {
        let mut creds = ConfigCredentials::new();
        if let Some(key) = &self.ssh_key {
            creds = creds.with_key_file(key);
        }
        if self.ssh_agent {
            creds = creds.with_agent(None);
        }
        if let Some(var) = &self.ssh_password_env {
            let Ok(pw) = std::env::var(var) else {
                bail!("--ssh-password-env: environment variable {var} is not set");
            };
            creds = creds.with_password(pw);
        }
        let config = SshConfig {
            max_connections: connection_bound(),
            default_user: self.ssh_user.clone(),
            connect_timeout: Duration::from_secs(self.ssh_connect_timeout.max(1)),
            host_key_policy: policy,
            ..SshConfig::default()
        };
        let creds: Arc<dyn foredeck_ssh::Credentials> = match keys {
            Some(keys) => Arc::new(foredeck::credentials::KeyStorageCredentials::new(
                keys,
                Arc::new(creds),
            )),
            None => Arc::new(creds),
        };
        Ok(SshExecutor::with_config(config, creds, known_hosts))
    }
}

/// Pooled connections kept below the open-files limit (main raised the soft
/// limit to the hard one), leaving room for the process's other files.
fn connection_bound() -> Option<usize> {
    use nix::sys::resource::{getrlimit, Resource};
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    let soft = usize::try_from(soft).ok()?;
    Some(soft.saturating_sub(64).max(16))
}
