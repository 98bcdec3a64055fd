//! Settings of the SSH executor ([`SshConfig`]) and the node attributes that
//! override them (`username`, `hostname`, `ssh-host-key-policy`,
//! `ssh-connect-timeout`, `ssh-command-timeout`).

use crate::error::{node_error, SshError};
use crate::known_hosts::HostKeyPolicy;
use crate::pool::Target;
use foredeck_core::{Node, Result};
use std::time::Duration;

/// Settings of an [`SshExecutor`].
#[derive(Clone, Debug)]
pub struct SshConfig {
    /// User for nodes without `username` (default `root`).
    pub default_user: String,
    /// Port for nodes whose `hostname` has none (default 22).
    pub default_port: u16,
    /// Bound on TCP connect, SSH handshake and authentication together
    /// (default 10 s).
    pub connect_timeout: Duration,
    /// Channels open at once on one connection (default 10, sshd's
    /// `MaxSessions`). More requests wait for a free channel.
    pub max_sessions: usize,
    /// Connections open at once (default: no bound). A new connection beyond
    /// it first closes the least recently used idle one; when all are in use
    /// it opens anyway. Each connection holds a file descriptor: bound this
    /// below the process's open-files limit for fan-outs over many nodes.
    pub max_connections: Option<usize>,
    /// An unused connection is closed after this long (default 60 s).
    pub idle_timeout: Duration,
    /// A keepalive is sent after this long without traffic (default 15 s).
    pub keepalive_interval: Duration,
    /// The connection is dropped after this many unanswered keepalives
    /// (default 3).
    pub keepalive_max: usize,
    /// Host-key policy for nodes without `ssh-host-key-policy`.
    pub host_key_policy: HostKeyPolicy,
    /// Time between `SIGTERM` and `SIGKILL` when a command is aborted or
    /// times out (default 2 s, whole seconds on the node).
    pub kill_grace: Duration,
    /// Directory on the node for script files (default `/tmp`); the node
    /// attribute `file-copy-destination-dir` overrides it.
    pub temp_dir: String,
}

impl Default for SshConfig {
    fn default() -> Self {
        SshConfig {
            default_user: "root".into(),
            default_port: 22,
            connect_timeout: Duration::from_secs(10),
            max_sessions: 10,
            max_connections: None,
            idle_timeout: Duration::from_secs(60),
            keepalive_interval: Duration::from_secs(15),
            keepalive_max: 3,
            host_key_policy: HostKeyPolicy::AcceptNew,
            kill_grace: Duration::from_secs(2),
            temp_dir: "/tmp".into(),
        }
    }
}

/// A duration in milliseconds from a node attribute, as Rundeck writes
/// `ssh-connect-timeout` and `ssh-command-timeout`; 0 means none.
pub(crate) fn millis_attribute(node: &Node, name: &str) -> Result<Option<Duration>> {
    let Some(raw) = node.attribute(name).map(|v| v.trim().to_owned()) else {
        return Ok(None);
    };
    if raw.is_empty() {
        return Ok(None);
    }
    match raw.parse::<u64>() {
        Ok(0) => Ok(None),
        Ok(ms) => Ok(Some(Duration::from_millis(ms))),
        Err(_) => Err(node_error(
            node,
            format!("node attribute {name}={raw:?} is not a number of milliseconds"),
        )),
    }
}

/// Where and as whom to connect for `node`: its `hostname`, `username` and
/// `ssh-host-key-policy`, else the configured defaults.
pub(crate) fn target(config: &SshConfig, node: &Node) -> Result<Target> {
    let (host, port) = node
        .host_port()
        .filter(|(h, _)| !h.is_empty())
        .ok_or_else(|| node_error(node, "node has no hostname"))?;
    let user = node
        .username()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or(&config.default_user)
        .to_owned();
    Ok(Target {
        user,
        host,
        port: port.unwrap_or(config.default_port),
        policy: policy(config, node)?,
    })
}

/// The node's `ssh-host-key-policy`, else the configured one.
fn policy(config: &SshConfig, node: &Node) -> Result<HostKeyPolicy> {
    match node
        .attribute("ssh-host-key-policy")
        .filter(|p| !p.trim().is_empty())
    {
        Some(p) => p.parse().map_err(|e: SshError| e.on(node)),
        None => Ok(config.host_key_policy),
    }
}
