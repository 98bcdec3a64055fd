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
//! **Errors**: every failure is an [`SshError`] (a changed host key, an
//! unknown one, refused credentials, a timeout and at which stage...),
//! returned as [`foredeck_core::Error::ExecutorSource`] with the `SshError`
//! as its source: [`SshError::of`] finds it to match on.
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
mod config;
mod error;
mod exec;
mod executor;
mod known_hosts;
mod login;
mod pool;
mod sudo;
mod transfer;

pub use auth::{Auth, ConfigCredentials, Credentials};
pub use config::SshConfig;
pub use error::{BoxError, SshError};
pub use executor::SshExecutor;
pub use known_hosts::{
    fingerprint, host_label, FileKnownHosts, HostKeyPolicy, KnownHosts, LayeredKnownHosts,
    MemoryKnownHosts, StoreKnownHosts,
};
pub use pool::PoolStats;
