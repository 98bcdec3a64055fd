//! [`SshError`]: why the SSH executor failed, kept structured so that a
//! caller can tell a changed host key from a refused password by matching,
//! and converted into [`foredeck_core::Error`] (code `executor.failed`, as
//! every executor failure) with the `SshError` kept as its source.

use foredeck_core::{Error, Node};
use std::path::PathBuf;
use std::time::Duration;

/// A cause from another library (russh, the known-hosts store), kept whole.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why the SSH executor failed on a node. Hosts are named as OpenSSH's
/// `known_hosts` names them (`host`, or `[host]:port`); fingerprints are
/// `SHA256:...`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SshError {
    /// The executor's or the node's settings are wrong: an unknown
    /// host-key policy, a node attribute that does not parse, no hostname,
    /// credentials that cannot be resolved from the configuration.
    #[error("{0}")]
    Config(String),
    /// A secret a node attribute names (`ssh-key-storage-path`,
    /// `ssh-password-storage-path`, ...) could not be read from key storage.
    #[error("{attribute}={path}: {source}")]
    Secret {
        /// The node attribute.
        attribute: String,
        /// The key-storage path it names.
        path: String,
        /// Key storage's error.
        #[source]
        source: BoxError,
    },
    /// The TCP connection failed (refused, unreachable, unknown host).
    #[error("cannot connect to {host}: {source}")]
    Connect {
        /// The host.
        host: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The TCP connection did not open within the connect timeout.
    #[error("connecting to {host} as {user}: TCP connect timed out after {after:?}")]
    ConnectTimeout {
        /// The host.
        host: String,
        /// The user to log in as.
        user: String,
        /// The connect timeout.
        after: Duration,
    },
    /// The SSH handshake did not end within the connect timeout.
    #[error("connecting to {host} as {user}: SSH handshake timed out after {after:?}")]
    HandshakeTimeout {
        /// The host.
        host: String,
        /// The user to log in as.
        user: String,
        /// The connect timeout.
        after: Duration,
    },
    /// Authentication did not end within the connect timeout.
    #[error("connecting to {host} as {user}: authentication timed out after {after:?}")]
    AuthTimeout {
        /// The host.
        host: String,
        /// The user to log in as.
        user: String,
        /// The connect timeout.
        after: Duration,
    },
    /// The SSH handshake failed (protocol, no common algorithm, dropped).
    #[error("SSH handshake with {host} failed: {source}")]
    Handshake {
        /// The host.
        host: String,
        /// russh's error.
        #[source]
        source: BoxError,
    },
    /// The host showed a key other than the one known for it.
    #[error(
        "HOST KEY CHANGED for {host}: known {expected}, offered {presented}; refusing to \
         connect (possible man-in-the-middle; if the change is expected, remove the old key \
         from the known hosts)"
    )]
    HostKeyMismatch {
        /// The host.
        host: String,
        /// Fingerprint of the known key.
        expected: String,
        /// Fingerprint of the key the host showed.
        presented: String,
    },
    /// The host's key is not known and the policy is `strict`.
    #[error("host key of {host} is unknown ({presented}) and the host key policy is strict")]
    HostKeyUnknown {
        /// The host.
        host: String,
        /// Fingerprint of the key the host showed.
        presented: String,
    },
    /// The host key could not be checked (the known-hosts store failed).
    #[error("cannot check the host key of {host}: {source}")]
    HostKeyCheck {
        /// The host.
        host: String,
        /// What failed.
        #[source]
        source: BoxError,
    },
    /// The server refused every credential offered.
    #[error(
        "authentication failed for user {user} at {host} ({}{})",
        .methods.join(", "),
        .agent_keys.map(|n| format!(", {n} key(s) tried")).unwrap_or_default()
    )]
    AuthRefused {
        /// The user.
        user: String,
        /// The host.
        host: String,
        /// The methods tried: `publickey`, `password`, `keyboard-interactive`,
        /// `publickey from ssh-agent`.
        methods: Vec<&'static str>,
        /// With an ssh-agent, how many of its keys were offered.
        agent_keys: Option<usize>,
    },
    /// Authentication broke off (connection lost, protocol error).
    #[error("authentication of user {user} at {host} failed: {source}")]
    Auth {
        /// The user.
        user: String,
        /// The host.
        host: String,
        /// russh's error.
        #[source]
        source: BoxError,
    },
    /// A private key file could not be read.
    #[error("cannot read private key {}: {source}", .path.display())]
    ReadKey {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The private key is not text (OpenSSH and PEM keys are).
    #[error("the private key for user {user} is not text")]
    KeyNotText {
        /// The user it was for.
        user: String,
    },
    /// The private key could not be decoded (format, passphrase).
    #[error("cannot load the private key for user {user}: {source}")]
    KeyDecode {
        /// The user it was for.
        user: String,
        /// The decoder's error.
        #[source]
        source: BoxError,
    },
    /// The ssh-agent could not be reached.
    #[error("cannot reach the ssh-agent ({agent}): {source}")]
    AgentUnreachable {
        /// Its socket, or `SSH_AUTH_SOCK`.
        agent: String,
        /// What failed.
        #[source]
        source: BoxError,
    },
    /// The ssh-agent did not list its keys.
    #[error("cannot list the keys of the ssh-agent ({agent}): {source}")]
    AgentKeys {
        /// Its socket, or `SSH_AUTH_SOCK`.
        agent: String,
        /// What failed.
        #[source]
        source: BoxError,
    },
    /// The ssh-agent holds no keys.
    #[error("the ssh-agent ({agent}) holds no keys")]
    AgentEmpty {
        /// Its socket, or `SSH_AUTH_SOCK`.
        agent: String,
    },
    /// Logging in with a key of the ssh-agent broke off.
    #[error("ssh-agent ({agent}) login at {host} failed: {source}")]
    AgentLogin {
        /// Its socket, or `SSH_AUTH_SOCK`.
        agent: String,
        /// The host.
        host: String,
        /// What failed.
        #[source]
        source: BoxError,
    },
    /// A session channel could not be opened on the connection.
    #[error("cannot open a session on {host}: {source}")]
    ChannelOpen {
        /// The host.
        host: String,
        /// russh's error.
        #[source]
        source: BoxError,
    },
    /// Opening a session channel took longer than the connect timeout.
    #[error("opening a session on {host} timed out after {after:?}")]
    ChannelOpenTimeout {
        /// The host.
        host: String,
        /// The connect timeout.
        after: Duration,
    },
    /// The pty that a sudo command runs on was refused.
    #[error("cannot request a pty: {source}")]
    Pty {
        /// russh's error.
        #[source]
        source: BoxError,
    },
    /// The exec request could not be sent.
    #[error("cannot start the command on {host}: {source}")]
    CommandStart {
        /// The host.
        host: String,
        /// russh's error.
        #[source]
        source: BoxError,
    },
    /// The server refused the exec request.
    #[error("{host} refused to run the command (exec request failed)")]
    ExecRefused {
        /// The host.
        host: String,
    },
    /// The connection ended before the command did.
    #[error("connection to {host} as {user} lost while the command ran")]
    ConnectionLost {
        /// The host.
        host: String,
        /// The user.
        user: String,
    },
    /// A script could not be copied to the node.
    #[error("copying the script to {path}: {reason}")]
    ScriptCopy {
        /// Where it was to go.
        path: String,
        /// What failed (the remote `cat`'s stderr, or the channel's error).
        reason: String,
    },
    /// A file could not be copied to the node.
    #[error("copying to {path}: {reason}")]
    FileCopy {
        /// Where it was to go.
        path: String,
        /// What failed (the remote `cat`'s stderr, or the channel's error).
        reason: String,
    },
    /// sudo's prompt was not answered, or the password was refused.
    #[error("sudo on {host} as {user}: {reason}")]
    Sudo {
        /// The host.
        host: String,
        /// The user logged in.
        user: String,
        /// What went wrong.
        reason: String,
    },
}

impl SshError {
    /// This error as a core error on `node`: code `executor.failed`, kind
    /// `Remote`, message `node "NAME": ...` as every executor failure, with
    /// `self` as its source.
    pub fn on(self, node: &Node) -> Error {
        Error::ExecutorSource {
            node: node.name.clone(),
            source: Box::new(self),
        }
    }

    /// The `SshError` inside a core error (its source, or a source of its
    /// source), if it has one: how a caller of the executor matches causes.
    ///
    /// ```
    /// # use foredeck_ssh::SshError;
    /// # use foredeck_core::Node;
    /// let err = SshError::Config("node has no hostname".into()).on(&Node::new("web1"));
    /// assert_eq!(err.to_string(), "node \"web1\": node has no hostname");
    /// assert!(matches!(SshError::of(&err), Some(SshError::Config(_))));
    /// ```
    pub fn of(err: &Error) -> Option<&SshError> {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(e) = cause {
            if let Some(ssh) = e.downcast_ref::<SshError>() {
                return Some(ssh);
            }
            cause = e.source();
        }
        None
    }
}

/// A configuration error on `node`.
pub(crate) fn node_error(node: &Node, message: impl Into<String>) -> Error {
    SshError::Config(message.into()).on(node)
}
