//! The SSH executor for Foredeck, on [russh](https://docs.rs/russh).
//!
//! [`SshExecutor`] runs node steps over SSH:
//!
//! - **Pool**: one connection per (user, host, port, host-key policy), shared by all requests
//!   through up to [`SshConfig::max_sessions`] channels; more requests wait for
//!   a free channel. Idle connections close after [`SshConfig::idle_timeout`],
//!   or sooner, least recently used first, when [`SshConfig::max_connections`]
//!   would be exceeded; keepalives notice dead ones, which are replaced on
//!   next use.
//! - **Auth**: a [`Credentials`] resolver gives a key, a password or an
//!   ssh-agent (its keys tried in turn) per node
//!   ([`ConfigCredentials`] from configuration; the `foredeck` crate's
//!   resolver reads key storage).
//! - **Host keys**: a [`KnownHosts`] store ([`MemoryKnownHosts`],
//!   [`FileKnownHosts`], [`StoreKnownHosts`], [`LayeredKnownHosts`]) and a [`HostKeyPolicy`] per executor, overridden per
//!   node by the attribute `ssh-host-key-policy` (`strict`, `accept-new` (the
//!   default), `off`).
//! - **Timeouts**: TCP connect, handshake and authentication together are
//!   bounded by [`SshConfig::connect_timeout`]; `req.timeout` bounds the step.
//! - **Abort and timeout** end the remote command: the command runs under a
//!   small shell wrapper whose watcher kills the session's process group when
//!   the channel's input closes (the executor sends EOF on abort; sshd closes it
//!   when the connection drops), because sshd neither kills a non-pty
//!   session's processes when its channel closes nor always honours `signal`
//!   requests (which are sent too). No pty is requested, so stdout and stderr
//!   stay apart.
//! - **Scripts** are copied to `/tmp/foredeck-<uuid><ext>` (mode 700) over an
//!   exec channel, run as [`foredeck_core::LocalExecutor`] runs them, and
//!   removed afterwards, also after a failure or an abort.
//! - **Environment**: `req.env` is exported by the command line itself
//!   (`export K='V'`), so it works when sshd refuses `SendEnv`.
//! - **sudo**: on nodes with `sudo-command-enabled: true`, a command matching
//!   `sudo-command-pattern` runs on a pty (without echo; stderr then joins
//!   stdout) and sudo's password prompt is answered with
//!   [`Credentials::sudo_password`] (Rundeck's `sudo-password-storage-path`),
//!   never shown in the output; a refused password or a prompt that does not
//!   come fails the step instead of waiting (see the `sudo-*` attributes in
//!   the module `sudo`). Aborting such a command closes its channel: sshd
//!   hangs up the terminal.
//!
//! Node attributes used: `hostname` (`host`, `host:port`, `[v6]:port`),
//! `username`, `ssh-host-key-policy`, `ssh-connect-timeout` and
//! `ssh-command-timeout` (milliseconds, as in Rundeck; the step's own timeout
//! wins), `file-copy-destination-dir`, the `sudo-*` attributes, and those of
//! the credentials resolver.
//!
//! Commands run through the login shell of the node's user, which must
//! understand POSIX `sh` syntax (sh, bash, dash, ksh, zsh). Host keys and user
//! keys may be Ed25519, ECDSA or RSA (`rsa-sha2-256/512`), in OpenSSH or PEM
//! format, encrypted with a passphrase or not.
//!
//! ```no_run
//! use foredeck_ssh::{ConfigCredentials, FileKnownHosts, SshConfig, SshExecutor};
//! use std::sync::Arc;
//!
//! let ssh = SshExecutor::with_config(
//!     SshConfig::default(),
//!     Arc::new(ConfigCredentials::new().with_key_file("/etc/foredeck/id_ed25519")),
//!     Arc::new(FileKnownHosts::new("/var/lib/foredeck/known_hosts")),
//! );
//! // `ssh` implements `foredeck_core::Executor`: register it for nodes whose
//! // `node-executor` is `ssh`.
//! # drop(ssh);
//! ```

#![deny(missing_docs)]

mod auth;
mod command;
mod known_hosts;
mod pool;
mod sudo;

pub use auth::{Auth, ConfigCredentials, Credentials};
pub use known_hosts::{
    fingerprint, host_label, FileKnownHosts, HostKeyPolicy, KnownHosts, LayeredKnownHosts,
    MemoryKnownHosts, StoreKnownHosts,
};
pub use pool::PoolStats;

use async_trait::async_trait;
use foredeck_core::executor::{
    Executor, LineSplitter, NodeCommand, NodeOutcome, NodeRequest, OutputSink,
};
use foredeck_core::{shell_quote, Error, Node, Result, Stream};
use pool::{Client, Lease, Pool, Target};
use russh::client::{self, Msg};
use russh::{Channel, ChannelMsg, Pty, Sig};
use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use sudo::{Responder, SudoSettings};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

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

/// Runs node steps over SSH. Cheap to clone: clones share the pool.
#[derive(Clone, Debug)]
pub struct SshExecutor {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: SshConfig,
    credentials: Arc<dyn Credentials>,
    known_hosts: Arc<dyn KnownHosts>,
    client_config: Arc<client::Config>,
    pool: Pool,
}

/// Why a step stopped before its command ended by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Aborted,
    TimedOut,
}

impl SshExecutor {
    /// An executor with default settings, keys learned in memory only.
    pub fn new(credentials: impl Credentials + 'static) -> Self {
        Self::with_config(
            SshConfig::default(),
            Arc::new(credentials),
            Arc::new(MemoryKnownHosts::new()),
        )
    }

    /// An executor with these settings, credentials and known hosts.
    pub fn with_config(
        config: SshConfig,
        credentials: Arc<dyn Credentials>,
        known_hosts: Arc<dyn KnownHosts>,
    ) -> Self {
        let preferred = russh::Preferred {
            // curve25519 first: the post-quantum exchange costs much more CPU
            // on both sides and many nodes are contacted at once
            kex: Cow::Owned(vec![
                russh::kex::CURVE25519,
                russh::kex::CURVE25519_PRE_RFC_8731,
                russh::kex::MLKEM768X25519_SHA256,
                russh::kex::DH_GEX_SHA256,
                russh::kex::DH_G16_SHA512,
                russh::kex::DH_G14_SHA256,
                russh::kex::EXTENSION_SUPPORT_AS_CLIENT,
                russh::kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT,
            ]),
            ..russh::Preferred::default()
        };
        let client_config = client::Config {
            keepalive_interval: Some(config.keepalive_interval),
            keepalive_max: config.keepalive_max,
            inactivity_timeout: None,
            nodelay: true,
            preferred,
            ..client::Config::default()
        };
        let pool = Pool::new(
            config.max_sessions,
            config.max_connections,
            config.idle_timeout,
        );
        SshExecutor {
            inner: Arc::new(Inner {
                config,
                credentials,
                known_hosts,
                client_config: Arc::new(client_config),
                pool,
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &SshConfig {
        &self.inner.config
    }

    /// Counters of the connection pool.
    pub fn pool_stats(&self) -> PoolStats {
        self.inner.pool.stats()
    }
}

fn node_error(node: &Node, message: impl Into<String>) -> Error {
    Error::Executor {
        node: node.name.clone(),
        message: message.into(),
    }
}

/// A duration in milliseconds from a node attribute, as Rundeck writes
/// `ssh-connect-timeout` and `ssh-command-timeout`; 0 means none.
fn millis_attribute(node: &Node, name: &str) -> Result<Option<Duration>> {
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

/// The name of a signal as `NodeOutcome` reports it (`TERM`).
fn signal_name(sig: &Sig) -> String {
    match sig {
        Sig::ABRT => "ABRT".into(),
        Sig::ALRM => "ALRM".into(),
        Sig::FPE => "FPE".into(),
        Sig::HUP => "HUP".into(),
        Sig::ILL => "ILL".into(),
        Sig::INT => "INT".into(),
        Sig::KILL => "KILL".into(),
        Sig::PIPE => "PIPE".into(),
        Sig::QUIT => "QUIT".into(),
        Sig::SEGV => "SEGV".into(),
        Sig::TERM => "TERM".into(),
        Sig::USR1 => "USR1".into(),
        Sig::Custom(name) => name.trim_start_matches("SIG").to_owned(),
    }
}

/// Waits for `fut` unless the step is aborted or its deadline passes first.
async fn bounded<F: std::future::Future>(
    fut: F,
    abort: &CancellationToken,
    deadline: Option<Instant>,
) -> std::result::Result<F::Output, Stop> {
    tokio::select! {
        r = fut => Ok(r),
        _ = abort.cancelled() => Err(Stop::Aborted),
        _ = sleep_until(deadline) => Err(Stop::TimedOut),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn stopped(stop: Stop) -> NodeOutcome {
    NodeOutcome {
        aborted: stop == Stop::Aborted,
        timed_out: stop == Stop::TimedOut,
        ..NodeOutcome::default()
    }
}

/// Runs `cmd` on a fresh channel feeding it `data` as stdin; fails with its
/// stderr unless it exits 0.
async fn feed(
    channel: &mut Channel<Msg>,
    cmd: &str,
    data: &[u8],
) -> std::result::Result<(), String> {
    channel
        .exec(true, cmd)
        .await
        .map_err(|e| format!("cannot start `{cmd}`: {e}"))?;
    let sent = channel.data(data).await;
    if sent.is_ok() {
        let _ = channel.eof().await;
    }
    let mut status = None;
    let mut stderr = Vec::new();
    while let Some(msg) = channel.wait().await {
        match msg {
            ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
            ChannelMsg::ExtendedData { data, .. } | ChannelMsg::Data { data }
                if stderr.len() < 4096 =>
            {
                stderr.extend_from_slice(&data)
            }
            _ => {}
        }
    }
    let stderr = String::from_utf8_lossy(&stderr).trim().to_owned();
    match (status, sent) {
        (Some(0), Ok(())) => Ok(()),
        (Some(0), Err(e)) => Err(format!("sending data failed: {e}")),
        (Some(code), _) => Err(format!("`{cmd}` exited with {code}: {stderr}")),
        (None, _) => Err(format!("`{cmd}` ended without exit status: {stderr}")),
    }
}

/// Removes a script file on the node when dropped while armed (the step's
/// future was dropped before it could clean up).
struct RemoteFile {
    conn: Option<Arc<pool::Conn>>,
    path: String,
}

impl RemoteFile {
    async fn remove(mut self) -> std::result::Result<(), String> {
        match self.conn.take() {
            Some(conn) => remove_file(&conn, &self.path).await,
            None => Ok(()),
        }
    }
}

impl Drop for RemoteFile {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let path = std::mem::take(&mut self.path);
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = remove_file(&conn, &path).await;
                });
            }
        }
    }
}

/// Opens a session channel, retrying while sshd refuses it on a live
/// connection until `until`: sshd may still count a session that just closed
/// on our side against its `MaxSessions`.
async fn open_session(
    handle: &client::Handle<Client>,
    until: Instant,
) -> std::result::Result<Channel<Msg>, russh::Error> {
    let mut pause = Duration::from_millis(10);
    loop {
        match handle.channel_open_session().await {
            Err(russh::Error::ChannelOpenFailure(why))
                if !handle.is_closed() && Instant::now() + pause < until =>
            {
                tracing::debug!("session refused ({why:?}), retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

async fn remove_file(conn: &pool::Conn, path: &str) -> std::result::Result<(), String> {
    let work = async {
        let until = Instant::now() + Duration::from_secs(5);
        let mut ch = open_session(&conn.handle, until)
            .await
            .map_err(|e| e.to_string())?;
        feed(&mut ch, &format!("rm -f {}", shell_quote(path)), b"").await
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .unwrap_or_else(|_| Err("timed out".into()))
}

impl SshExecutor {
    fn target(&self, node: &Node) -> Result<Target> {
        let (host, port) = node
            .host_port()
            .filter(|(h, _)| !h.is_empty())
            .ok_or_else(|| node_error(node, "node has no hostname"))?;
        let user = node
            .username()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .unwrap_or(&self.inner.config.default_user)
            .to_owned();
        Ok(Target {
            user,
            host,
            port: port.unwrap_or(self.inner.config.default_port),
            policy: self.policy(node)?,
        })
    }

    fn policy(&self, node: &Node) -> Result<HostKeyPolicy> {
        match node
            .attribute("ssh-host-key-policy")
            .filter(|p| !p.trim().is_empty())
        {
            Some(p) => p
                .parse()
                .map_err(|e: Error| node_error(node, e.to_string())),
            None => Ok(self.inner.config.host_key_policy),
        }
    }

    /// Opens, verifies and authenticates a new connection.
    async fn connect(&self, node: &Node, target: &Target) -> Result<client::Handle<Client>> {
        let policy = target.policy;
        let auth = self.inner.credentials.resolve(node).await?;
        let label = target.label();
        let refusal = Arc::new(Mutex::new(None));
        let handler = Client {
            known_hosts: self.inner.known_hosts.clone(),
            policy,
            label: label.clone(),
            refusal: refusal.clone(),
        };
        let stage = Mutex::new("TCP connect");
        let set_stage = |s| *stage.lock().unwrap_or_else(|e| e.into_inner()) = s;
        let work = async {
            let tcp = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
                .await
                .map_err(|e| format!("cannot connect to {label}: {e}"))?;
            let _ = tcp.set_nodelay(true);
            set_stage("SSH handshake");
            let handle = client::connect_stream(self.inner.client_config.clone(), tcp, handler)
                .await
                .map_err(
                    |e| match refusal.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                        Some(r) => r.describe(&label),
                        None => format!("SSH handshake with {label} failed: {e}"),
                    },
                )?;
            set_stage("authentication");
            authenticate(handle, &target.user, &label, auth).await
        };
        let timeout = millis_attribute(node, "ssh-connect-timeout")?
            .unwrap_or(self.inner.config.connect_timeout);
        match tokio::time::timeout(timeout, work).await {
            Ok(Ok(handle)) => Ok(handle),
            Ok(Err(message)) => Err(node_error(node, message)),
            Err(_) => {
                let stage = *stage.lock().unwrap_or_else(|e| e.into_inner());
                Err(node_error(
                    node,
                    format!(
                        "connecting to {label} as {}: {stage} timed out after {timeout:?}",
                        target.user
                    ),
                ))
            }
        }
    }

    /// A lease on the target's connection and a new session channel on it.
    /// A reused connection that cannot open a channel is replaced once.
    async fn channel(&self, node: &Node, target: &Target) -> Result<(Lease, Channel<Msg>)> {
        let mut retried = false;
        loop {
            let lease = self
                .inner
                .pool
                .lease(target, || self.connect(node, target))
                .await?;
            let limit = self.inner.config.connect_timeout;
            let until = Instant::now() + limit;
            let opened = tokio::time::timeout(limit, open_session(&lease.conn.handle, until)).await;
            let failure = match opened {
                Ok(Ok(ch)) => return Ok((lease, ch)),
                // a reused connection that died, or does not answer (a dead
                // peer that keepalives have not caught yet): replace it once
                Ok(Err(e)) if !lease.fresh && !retried && lease.conn.handle.is_closed() => {
                    tracing::debug!(node = %node.name, "stale ssh connection: {e}");
                    None
                }
                Err(_) if !lease.fresh && !retried => {
                    tracing::debug!(node = %node.name, "unresponsive ssh connection");
                    None
                }
                Ok(Err(e)) => Some(format!("cannot open a session on {}: {e}", target.label())),
                Err(_) => Some(format!(
                    "opening a session on {} timed out after {limit:?}",
                    target.label()
                )),
            };
            match failure {
                None => {
                    retried = true;
                    self.inner.pool.invalidate(target, &lease.conn).await;
                }
                Some(message) => return Err(node_error(node, message)),
            }
        }
    }

    /// Copies a script to the node, returning its path and the guard that
    /// removes it.
    async fn upload_script(
        &self,
        node: &Node,
        lease: &Lease,
        channel: &mut Channel<Msg>,
        content: &[u8],
        ext: Option<&str>,
    ) -> Result<RemoteFile> {
        let ext = match ext.map(str::trim).filter(|e| !e.is_empty()) {
            Some(e) if e.starts_with('.') => e.to_owned(),
            Some(e) => format!(".{e}"),
            None => String::new(),
        };
        if ext.contains('/') {
            return Err(node_error(node, format!("invalid file extension {ext:?}")));
        }
        let dir = node
            .attribute("file-copy-destination-dir")
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| self.inner.config.temp_dir.clone());
        let dir = match dir.trim_end_matches('/') {
            "" => "/",
            d => d,
        };
        let sep = if dir.ends_with('/') { "" } else { "/" };
        let path = format!("{dir}{sep}foredeck-{}{ext}", uuid::Uuid::new_v4().simple());
        let q = shell_quote(&path);
        let file = RemoteFile {
            conn: Some(lease.conn.clone()),
            path: path.clone(),
        };
        feed(
            channel,
            &format!("umask 077; set -C; cat > {q} && chmod 700 {q}"),
            content,
        )
        .await
        .map_err(|e| node_error(node, format!("copying the script to {path}: {e}")))?;
        Ok(file)
    }

    async fn run_inner(
        &self,
        req: &NodeRequest,
        out: OutputSink,
        abort: &CancellationToken,
        deadline: Option<Instant>,
    ) -> Result<NodeOutcome> {
        let node = &req.node;
        let target = self.target(node)?;
        let exports = command::env_exports(&req.env).map_err(|name| {
            node_error(
                node,
                format!(
                    "invalid environment variable name {name:?} (expected [A-Za-z_][A-Za-z0-9_]*)"
                ),
            )
        })?;
        let (lease, mut channel) = match bounded(self.channel(node, &target), abort, deadline).await
        {
            Ok(r) => r?,
            Err(stop) => return Ok(stopped(stop)),
        };
        let mut script = None;
        let line = match &req.command {
            NodeCommand::Shell(line) => line.clone(),
            NodeCommand::Script {
                content,
                args,
                interpreter,
                args_quoted,
                file_extension,
            } => {
                let upload = self.upload_script(
                    node,
                    &lease,
                    &mut channel,
                    content,
                    file_extension.as_deref(),
                );
                let file = match bounded(upload, abort, deadline).await {
                    Ok(r) => r?,
                    Err(stop) => return Ok(stopped(stop)),
                };
                let line = command::script_line(
                    &file.path,
                    content,
                    args,
                    interpreter.as_deref(),
                    *args_quoted,
                );
                script = Some(file);
                let limit = self.inner.config.connect_timeout;
                let until = Instant::now() + limit;
                channel = match tokio::time::timeout(limit, open_session(&lease.conn.handle, until))
                    .await
                {
                    Ok(Ok(ch)) => ch,
                    Ok(Err(e)) => {
                        return Err(node_error(
                            node,
                            format!("cannot open a session on {}: {e}", target.label()),
                        ))
                    }
                    Err(_) => {
                        return Err(node_error(
                            node,
                            format!(
                                "opening a session on {} timed out after {limit:?}",
                                target.label()
                            ),
                        ))
                    }
                };
                line
            }
        };
        let sudo = match SudoSettings::for_command(node, &line)? {
            Some(settings) => {
                let password = self.inner.credentials.sudo_password(node).await?;
                let Some(password) = password else {
                    return Err(node_error(
                        node,
                        "the command needs sudo (sudo-command-enabled, sudo-command-pattern) \
                         but there is no sudo password: set sudo-password-storage-path",
                    ));
                };
                Some(Responder::new(settings, password, Instant::now()))
            }
            None => None,
        };
        let wrapped = if sudo.is_some() {
            // on a pty sshd hangs the command up when the channel closes, so
            // no watcher is needed (nothing may read the terminal but sudo,
            // which opens /dev/tty); the command reads /dev/null as without
            // a pty instead of waiting for terminal input
            format!("exec </dev/null\n{exports}{line}\n")
        } else {
            command::wrap(&exports, &line, self.inner.config.kill_grace)
        };
        let result = self
            .exec(node, &target, channel, &wrapped, sudo, out, abort, deadline)
            .await;
        if let Some(file) = script {
            if let Err(e) = file.remove().await {
                tracing::warn!(node = %node.name, "could not remove the script file: {e}");
            }
        }
        drop(lease);
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn exec(
        &self,
        node: &Node,
        target: &Target,
        mut channel: Channel<Msg>,
        line: &str,
        mut sudo: Option<Responder>,
        out: OutputSink,
        abort: &CancellationToken,
        deadline: Option<Instant>,
    ) -> Result<NodeOutcome> {
        if sudo.is_some() {
            // no echo, so the password never comes back; plain \n line ends
            let modes = [(Pty::ECHO, 0), (Pty::ONLCR, 0)];
            channel
                .request_pty(false, "dumb", 200, 24, 0, 0, &modes)
                .await
                .map_err(|e| node_error(node, format!("cannot request a pty: {e}")))?;
        }
        channel.exec(true, line).await.map_err(|e| {
            node_error(
                node,
                format!("cannot start the command on {}: {e}", target.label()),
            )
        })?;
        let mut outcome = NodeOutcome::default();
        let mut splitters = [LineSplitter::default(), LineSplitter::default()];
        let mut listening = true;
        // stopping: when the next escalation is due, and how far it went
        // (0: EOF sent, 1: TERM sent, 2: KILL sent)
        let mut stopping: Option<(Instant, u8)> = None;
        let grace = self.inner.config.kill_grace;
        let mut ended = false;
        let mut refused = false;
        let mut sudo_failure = None;
        loop {
            let sudo_due = sudo.as_ref().and_then(Responder::deadline);
            let stop = tokio::select! {
                m = channel.wait() => Ok(m),
                _ = abort.cancelled(), if stopping.is_none() => Err(Some(Stop::Aborted)),
                _ = sleep_until(deadline), if stopping.is_none() && deadline.is_some() => {
                    Err(Some(Stop::TimedOut))
                }
                _ = sleep_until(stopping.map(|s| s.0)), if stopping.is_some() => Err(None),
                _ = sleep_until(sudo_due), if stopping.is_none() && sudo_due.is_some() => {
                    let fed = sudo.as_mut().map(Responder::expire).unwrap_or_default();
                    self.show(&mut splitters[0], &fed.show, sudo.as_ref(), &out, &mut listening)
                        .await;
                    if let Some(why) = fed.failure {
                        sudo_failure = Some(why);
                        Self::hang_up(&channel).await;
                        stopping = Some((Instant::now() + Duration::from_secs(2), 2));
                    }
                    continue;
                }
            };
            let msg = match stop {
                Ok(m) => m,
                Err(Some(why)) if sudo.is_some() => {
                    outcome.aborted = why == Stop::Aborted;
                    outcome.timed_out = why == Stop::TimedOut;
                    Self::hang_up(&channel).await;
                    stopping = Some((Instant::now() + Duration::from_secs(2), 2));
                    continue;
                }
                Err(Some(why)) => {
                    outcome.aborted = why == Stop::Aborted;
                    outcome.timed_out = why == Stop::TimedOut;
                    // the wrapper's watcher ends the process group on EOF;
                    // signal requests follow for sshd that honour them, TERM
                    // only once the watcher has seen the command still alive
                    let _ = channel.eof().await;
                    stopping = Some((Instant::now() + Duration::from_secs(1), 0));
                    continue;
                }
                Err(None) => {
                    match stopping {
                        Some((_, 0)) => {
                            let _ = channel.signal(Sig::TERM).await;
                            stopping = Some((Instant::now() + grace, 1));
                        }
                        Some((_, 1)) => {
                            let _ = channel.signal(Sig::KILL).await;
                            stopping = Some((Instant::now() + Duration::from_secs(2), 2));
                        }
                        _ => {
                            let _ = channel.close().await;
                            break;
                        }
                    }
                    continue;
                }
            };
            let Some(msg) = msg else { break };
            let (stream, data) = match msg {
                ChannelMsg::Data { data } if sudo.is_some() => {
                    let Some(responder) = sudo.as_mut() else {
                        continue;
                    };
                    let fed = responder.feed(&data, Instant::now());
                    if let Some(reply) = &fed.reply {
                        if let Err(e) = channel.data(&reply[..]).await {
                            sudo_failure = Some(format!("cannot answer the sudo prompt: {e}"));
                        }
                    }
                    self.show(
                        &mut splitters[0],
                        &fed.show,
                        sudo.as_ref(),
                        &out,
                        &mut listening,
                    )
                    .await;
                    if let Some(why) = fed.failure {
                        sudo_failure = Some(why);
                    }
                    if sudo_failure.is_some() && stopping.is_none() {
                        Self::hang_up(&channel).await;
                        stopping = Some((Instant::now() + Duration::from_secs(2), 2));
                    }
                    continue;
                }
                ChannelMsg::Data { data } => (Stream::Stdout, data),
                ChannelMsg::ExtendedData { data, ext: 1 } => (Stream::Stderr, data),
                ChannelMsg::ExitStatus { exit_status } => {
                    outcome.exit_code = Some(i32::try_from(exit_status).unwrap_or(i32::MAX));
                    ended = true;
                    continue;
                }
                ChannelMsg::ExitSignal { signal_name, .. } => {
                    outcome.signal = Some(self::signal_name(&signal_name));
                    ended = true;
                    continue;
                }
                ChannelMsg::Failure if !ended => {
                    refused = true;
                    continue;
                }
                _ => continue,
            };
            let idx = usize::from(stream == Stream::Stderr);
            for line in splitters[idx].push(&data) {
                if listening {
                    listening = out.bytes(stream, line).await;
                }
            }
        }
        if let Some(responder) = sudo.as_mut() {
            let held = responder.finish();
            self.show(
                &mut splitters[0],
                &held,
                sudo.as_ref(),
                &out,
                &mut listening,
            )
            .await;
        }
        for (idx, stream) in [(0, Stream::Stdout), (1, Stream::Stderr)] {
            if let Some(line) = splitters[idx].finish() {
                if listening {
                    listening = out.bytes(stream, mask(line, sudo.as_ref())).await;
                }
            }
        }
        if let Some(why) = sudo_failure {
            return Err(node_error(
                node,
                format!("sudo on {} as {}: {why}", target.label(), target.user),
            ));
        }
        if refused && !ended && stopping.is_none() {
            return Err(node_error(
                node,
                format!(
                    "{} refused to run the command (exec request failed)",
                    target.label()
                ),
            ));
        }
        if !ended && stopping.is_none() {
            return Err(node_error(
                node,
                format!(
                    "connection to {} as {} lost while the command ran",
                    target.label(),
                    target.user
                ),
            ));
        }
        Ok(outcome)
    }
}

impl SshExecutor {
    /// Shows terminal output of a sudo command, the password masked.
    async fn show(
        &self,
        splitter: &mut LineSplitter,
        data: &[u8],
        sudo: Option<&Responder>,
        out: &OutputSink,
        listening: &mut bool,
    ) {
        for line in splitter.push(data) {
            if *listening {
                *listening = out.bytes(Stream::Stdout, mask(line, sudo)).await;
            }
        }
    }

    /// Ends a command running on a pty: sshd hangs up its terminal (SIGHUP)
    /// when the channel closes; TERM first for sshd that honour signals.
    async fn hang_up(channel: &Channel<Msg>) {
        let _ = channel.signal(Sig::TERM).await;
        let _ = channel.close().await;
    }
}

/// The line with the sudo password replaced, should the command print it.
fn mask(line: Vec<u8>, sudo: Option<&Responder>) -> Vec<u8> {
    let password = match sudo {
        Some(r) if !r.password().is_empty() => r.password().as_bytes(),
        _ => return line,
    };
    if !line.windows(password.len()).any(|w| w == password) {
        return line;
    }
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i..].starts_with(password) {
            out.extend_from_slice(b"*****");
            i += password.len();
        } else {
            out.push(line[i]);
            i += 1;
        }
    }
    out
}

/// Logs in on a handshaken connection.
async fn authenticate(
    mut handle: client::Handle<Client>,
    user: &str,
    label: &str,
    auth: Auth,
) -> std::result::Result<client::Handle<Client>, String> {
    let method = auth.method();
    let result = match auth {
        Auth::Key { pem, passphrase } => {
            let text = String::from_utf8(pem)
                .map_err(|_| format!("the private key for user {user} is not text"))?;
            let key = russh::keys::decode_secret_key(&text, passphrase.as_deref())
                .map_err(|e| format!("cannot load the private key for user {user}: {e}"))?;
            let hash = handle
                .best_supported_rsa_hash()
                .await
                .ok()
                .flatten()
                .flatten();
            handle
                .authenticate_publickey(
                    user,
                    russh::keys::PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                )
                .await
        }
        Auth::Agent { socket } => return agent_login(handle, user, label, socket).await,
        Auth::Password(password) => {
            let result = handle.authenticate_password(user, password.clone()).await;
            match result {
                Ok(russh::client::AuthResult::Failure {
                    remaining_methods, ..
                }) if remaining_methods.contains(&russh::MethodKind::KeyboardInteractive) => {
                    // PAM-backed servers often ask for the password this way
                    if keyboard_interactive(&mut handle, user, &password).await {
                        return Ok(handle);
                    }
                    return Err(format!(
                        "authentication failed for user {user} at {label} \
                         (password, keyboard-interactive)"
                    ));
                }
                other => other,
            }
        }
    };
    match result {
        Ok(r) if r.success() => Ok(handle),
        Ok(_) => Err(format!(
            "authentication failed for user {user} at {label} ({method})"
        )),
        Err(e) => Err(format!(
            "authentication of user {user} at {label} failed: {e}"
        )),
    }
}

/// Logs in with each key an ssh-agent holds, until one is accepted.
async fn agent_login(
    mut handle: client::Handle<Client>,
    user: &str,
    label: &str,
    socket: Option<std::path::PathBuf>,
) -> std::result::Result<client::Handle<Client>, String> {
    use russh::keys::agent::{client::AgentClient, AgentIdentity};
    let which = match &socket {
        Some(path) => path.display().to_string(),
        None => "SSH_AUTH_SOCK".into(),
    };
    let connected = match &socket {
        Some(path) => AgentClient::connect_uds(path).await,
        None => AgentClient::connect_env().await,
    };
    let mut agent = connected.map_err(|e| format!("cannot reach the ssh-agent ({which}): {e}"))?;
    let identities = agent
        .request_identities()
        .await
        .map_err(|e| format!("cannot list the keys of the ssh-agent ({which}): {e}"))?;
    if identities.is_empty() {
        return Err(format!("the ssh-agent ({which}) holds no keys"));
    }
    let rsa_hash = handle
        .best_supported_rsa_hash()
        .await
        .ok()
        .flatten()
        .flatten();
    let tried = identities.len();
    for identity in identities {
        let result = match identity {
            AgentIdentity::PublicKey { key, .. } => {
                let hash = if key.algorithm().is_rsa() {
                    rsa_hash
                } else {
                    None
                };
                handle
                    .authenticate_publickey_with(user, key, hash, &mut agent)
                    .await
            }
            AgentIdentity::Certificate { certificate, .. } => {
                handle
                    .authenticate_certificate_with(user, certificate, None, &mut agent)
                    .await
            }
        };
        match result {
            Ok(r) if r.success() => return Ok(handle),
            Ok(_) => {}
            Err(e) => return Err(format!("ssh-agent ({which}) login at {label} failed: {e}")),
        }
    }
    Err(format!(
        "authentication failed for user {user} at {label} (publickey from ssh-agent, \
         {tried} key(s) tried)"
    ))
}

/// Answers keyboard-interactive prompts with the password: every prompt that
/// does not echo gets it, a few rounds at most.
async fn keyboard_interactive(
    handle: &mut client::Handle<Client>,
    user: &str,
    password: &str,
) -> bool {
    use russh::client::KeyboardInteractiveAuthResponse as Reply;
    let mut reply = handle
        .authenticate_keyboard_interactive_start(user, None::<String>)
        .await;
    for _ in 0..5 {
        match reply {
            Ok(Reply::Success) => return true,
            Ok(Reply::InfoRequest { prompts, .. }) => {
                let answers = prompts
                    .iter()
                    .map(|p| {
                        if p.echo {
                            String::new()
                        } else {
                            password.to_owned()
                        }
                    })
                    .collect();
                reply = handle
                    .authenticate_keyboard_interactive_respond(answers)
                    .await;
            }
            Ok(Reply::Failure { .. }) | Err(_) => return false,
        }
    }
    false
}

#[async_trait]
impl Executor for SshExecutor {
    async fn run(
        &self,
        req: NodeRequest,
        out: OutputSink,
        abort: CancellationToken,
    ) -> Result<NodeOutcome> {
        if abort.is_cancelled() {
            return Ok(stopped(Stop::Aborted));
        }
        // Rundeck's `ssh-command-timeout` (ms, 0 = none) applies when the
        // step has no timeout of its own
        let timeout = match req.timeout {
            Some(t) => Some(t),
            None => millis_attribute(&req.node, "ssh-command-timeout")?,
        };
        let deadline = timeout.map(|t| Instant::now() + t);
        self.run_inner(&req, out, &abort, deadline).await
    }

    async fn copy_file(&self, node: &Node, data: &[u8], dest: &str) -> Result<()> {
        if dest.is_empty() {
            return Err(node_error(node, "empty destination path"));
        }
        let target = self.target(node)?;
        let (_lease, mut channel) = self.channel(node, &target).await?;
        feed(&mut channel, &format!("cat > {}", shell_quote(dest)), data)
            .await
            .map_err(|e| node_error(node, format!("copying to {dest}: {e}")))
    }
}
