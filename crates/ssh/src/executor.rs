//! [`SshExecutor`]: connects (through the pool), opens channels, copies
//! scripts and runs commands on nodes.

use crate::auth::Credentials;
use crate::command;
use crate::config::{self, millis_attribute, SshConfig};
use crate::error::{node_error, SshError};
use crate::exec::{self, bounded, stopped, Stop};
use crate::known_hosts::{KnownHosts, MemoryKnownHosts};
use crate::login::authenticate;
use crate::pool::{open_session, Client, Lease, Pool, PoolStats, Target};
use crate::sudo::{Responder, SudoSettings};
use crate::transfer::{upload_script, write_file};
use async_trait::async_trait;
use foredeck_core::executor::{Executor, NodeCommand, NodeOutcome, NodeRequest, OutputSink};
use foredeck_core::{Node, Result};
use russh::client::{self, Msg};
use russh::Channel;
use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How far a new connection got, for a timeout's error.
#[derive(Clone, Copy)]
enum Stage {
    Tcp,
    Handshake,
    Auth,
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

impl SshExecutor {
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
        let stage = Mutex::new(Stage::Tcp);
        let set_stage = |s| *stage.lock().unwrap_or_else(|e| e.into_inner()) = s;
        let work = async {
            let tcp = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
                .await
                .map_err(|e| SshError::Connect {
                    host: label.clone(),
                    source: e,
                })?;
            let _ = tcp.set_nodelay(true);
            set_stage(Stage::Handshake);
            let handle = client::connect_stream(self.inner.client_config.clone(), tcp, handler)
                .await
                .map_err(|e| {
                    // a refused host key ends the handshake: say why
                    match refusal.lock().unwrap_or_else(|e| e.into_inner()).take() {
                        Some(refused) => refused,
                        None => SshError::Handshake {
                            host: label.clone(),
                            source: Box::new(e),
                        },
                    }
                })?;
            set_stage(Stage::Auth);
            authenticate(handle, &target.user, &label, auth).await
        };
        let timeout = millis_attribute(node, "ssh-connect-timeout")?
            .unwrap_or(self.inner.config.connect_timeout);
        match tokio::time::timeout(timeout, work).await {
            Ok(Ok(handle)) => Ok(handle),
            Ok(Err(e)) => Err(e.on(node)),
            Err(_) => {
                let (host, user, after) = (label, target.user.clone(), timeout);
                let e = match *stage.lock().unwrap_or_else(|e| e.into_inner()) {
                    Stage::Tcp => SshError::ConnectTimeout { host, user, after },
                    Stage::Handshake => SshError::HandshakeTimeout { host, user, after },
                    Stage::Auth => SshError::AuthTimeout { host, user, after },
                };
                Err(e.on(node))
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
            let failure = match self.open_channel(&lease, target).await {
                Ok(ch) => return Ok((lease, ch)),
                // a reused connection that died, or does not answer (a dead
                // peer that keepalives have not caught yet): replace it once
                Err(e @ SshError::ChannelOpen { .. })
                    if !lease.fresh && !retried && lease.conn.handle.is_closed() =>
                {
                    tracing::debug!(node = %node.name, "stale ssh connection: {e}");
                    None
                }
                Err(SshError::ChannelOpenTimeout { .. }) if !lease.fresh && !retried => {
                    tracing::debug!(node = %node.name, "unresponsive ssh connection");
                    None
                }
                Err(e) => Some(e),
            };
            match failure {
                None => {
                    retried = true;
                    self.inner.pool.invalidate(target, &lease.conn).await;
                }
                Some(e) => return Err(e.on(node)),
            }
        }
    }

    /// A new session channel on the lease's connection, within the connect
    /// timeout.
    async fn open_channel(
        &self,
        lease: &Lease,
        target: &Target,
    ) -> std::result::Result<Channel<Msg>, SshError> {
        let limit = self.inner.config.connect_timeout;
        let until = Instant::now() + limit;
        match tokio::time::timeout(limit, open_session(&lease.conn.handle, until)).await {
            Ok(Ok(ch)) => Ok(ch),
            Ok(Err(e)) => Err(SshError::ChannelOpen {
                host: target.label(),
                source: Box::new(e),
            }),
            Err(_) => Err(SshError::ChannelOpenTimeout {
                host: target.label(),
                after: limit,
            }),
        }
    }

    async fn run_inner(
        &self,
        req: &NodeRequest,
        out: OutputSink,
        abort: &CancellationToken,
        deadline: Option<Instant>,
    ) -> Result<NodeOutcome> {
        let node = &req.node;
        let target = config::target(&self.inner.config, node)?;
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
                let upload = upload_script(
                    node,
                    &self.inner.config.temp_dir,
                    &lease.conn,
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
                channel = self
                    .open_channel(&lease, &target)
                    .await
                    .map_err(|e| e.on(node))?;
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
        let grace = self.inner.config.kill_grace;
        let result = exec::run_command(
            node, &target, channel, &wrapped, sudo, out, abort, deadline, grace,
        )
        .await;
        if let Some(file) = script {
            if let Err(e) = file.remove().await {
                tracing::warn!(node = %node.name, "could not remove the script file: {e}");
            }
        }
        drop(lease);
        result
    }
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
        let target = config::target(&self.inner.config, node)?;
        let (_lease, mut channel) = self.channel(node, &target).await?;
        write_file(node, &mut channel, data, dest).await
    }
}
