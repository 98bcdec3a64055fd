//! Credentials: how the executor learns what to log in with on a node.
//!
//! [`Credentials`] is a trait so that other sources (Foredeck's key storage,
//! through the node attributes `ssh-key-storage-path` and
//! `ssh-password-storage-path`) plug in without changing the executor.
//! [`ConfigCredentials`] is the built-in resolver from configuration.

use crate::error::SshError;
use async_trait::async_trait;
use foredeck_core::{Node, Result};
use std::fmt;
use std::path::PathBuf;

/// Secret material to log in with. `Debug` never shows the secrets.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// A private key in OpenSSH or PEM format, with its passphrase if it is
    /// encrypted.
    Key {
        /// The key file's bytes.
        pem: Vec<u8>,
        /// Passphrase of an encrypted key.
        passphrase: Option<String>,
    },
    /// A password (SSH `password` authentication).
    Password(String),
    /// The keys of a running ssh-agent: at this Unix socket, or at
    /// `SSH_AUTH_SOCK` when `None`. The private keys never leave the agent.
    Agent {
        /// The agent's socket.
        socket: Option<PathBuf>,
    },
}

impl Auth {
    /// The method name, for error messages (`publickey`, `password`).
    pub fn method(&self) -> &'static str {
        match self {
            Auth::Key { .. } => "publickey",
            Auth::Password(_) => "password",
            Auth::Agent { .. } => "publickey from ssh-agent",
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Key { passphrase, .. } => f
                .debug_struct("Key")
                .field("pem", &"<redacted>")
                .field("passphrase", &passphrase.as_ref().map(|_| "<redacted>"))
                .finish(),
            Auth::Password(_) => f.write_str("Password(<redacted>)"),
            Auth::Agent { socket } => f.debug_struct("Agent").field("socket", socket).finish(),
        }
    }
}

/// Resolves the credentials to log in to a node with.
#[async_trait]
pub trait Credentials: Send + Sync + fmt::Debug {
    /// The credentials for `node`. Called once per new connection.
    async fn resolve(&self, node: &Node) -> Result<Auth>;

    /// The password to answer sudo's prompt with on `node` (see the node
    /// attribute `sudo-password-storage-path`), or `None` when there is none.
    /// Called when a command needs sudo.
    async fn sudo_password(&self, node: &Node) -> Result<Option<String>> {
        let _ = node;
        Ok(None)
    }
}

/// Credentials from configuration.
///
/// Per node, in this order:
/// - attribute `ssh-authentication` = `password` selects the configured
///   password, `agent` the ssh-agent, `privateKey` (the default) a key;
/// - attribute `ssh-keypath`: a key file on this machine, else the
///   configured default key (bytes or file), else the ssh-agent when one is
///   configured ([`ConfigCredentials::with_agent`]), else the password;
/// - attributes `ssh-key-storage-path` / `ssh-password-storage-path` need a
///   key-storage resolver: this one refuses such nodes with a clear error
///   rather than silently trying another key.
#[derive(Clone, Default)]
pub struct ConfigCredentials {
    key: Option<Vec<u8>>,
    key_file: Option<PathBuf>,
    passphrase: Option<String>,
    password: Option<String>,
    sudo_password: Option<String>,
    agent: Option<Option<PathBuf>>,
}

impl fmt::Debug for ConfigCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigCredentials")
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("key_file", &self.key_file)
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "<redacted>"),
            )
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("agent", &self.agent)
            .field(
                "sudo_password",
                &self.sudo_password.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl ConfigCredentials {
    /// No credentials configured: every node needs `ssh-keypath`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The default private key file.
    pub fn with_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.key_file = Some(path.into());
        self
    }

    /// The default private key, as the bytes of a key file.
    pub fn with_key(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.key = Some(pem.into());
        self
    }

    /// Passphrase of the configured keys.
    pub fn with_passphrase(mut self, passphrase: impl Into<String>) -> Self {
        self.passphrase = Some(passphrase.into());
        self
    }

    /// The password, used for nodes with `ssh-authentication: password`,
    /// and for every node when no key is configured.
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Log in with the keys of an ssh-agent: the one at `socket`, or at
    /// `SSH_AUTH_SOCK` when `None`. Used when no key is configured, and for
    /// nodes with `ssh-authentication: agent`.
    pub fn with_agent(mut self, socket: Option<PathBuf>) -> Self {
        self.agent = Some(socket);
        self
    }

    fn agent_auth(&self) -> Auth {
        Auth::Agent {
            socket: self.agent.clone().flatten(),
        }
    }

    /// The password for sudo prompts (nodes with `sudo-command-enabled`).
    pub fn with_sudo_password(mut self, password: impl Into<String>) -> Self {
        self.sudo_password = Some(password.into());
        self
    }

    fn password_auth(&self, node: &Node) -> Result<Auth> {
        self.password.clone().map(Auth::Password).ok_or_else(|| {
            SshError::Config(
                "password authentication requested but no password is configured".into(),
            )
            .on(node)
        })
    }

    async fn read_key(&self, node: &Node, path: &std::path::Path) -> Result<Auth> {
        let pem = tokio::fs::read(path).await.map_err(|source| {
            SshError::ReadKey {
                path: path.to_owned(),
                source,
            }
            .on(node)
        })?;
        Ok(Auth::Key {
            pem,
            passphrase: self.passphrase.clone(),
        })
    }
}

#[async_trait]
impl Credentials for ConfigCredentials {
    async fn resolve(&self, node: &Node) -> Result<Auth> {
        for attr in ["ssh-key-storage-path", "ssh-password-storage-path"] {
            if let Some(path) = node.attribute(attr).filter(|p| !p.trim().is_empty()) {
                return Err(SshError::Config(format!(
                    "node attribute {attr}={path} needs key storage, which this executor's \
                         credentials resolver does not have"
                ))
                .on(node));
            }
        }
        let method = node
            .attribute("ssh-authentication")
            .map(|m| m.trim().to_ascii_lowercase());
        match method.as_deref() {
            Some("password") => return self.password_auth(node),
            Some("agent") => return Ok(self.agent_auth()),
            None | Some("") | Some("privatekey") => {}
            Some(other) => {
                return Err(SshError::Config(format!(
                    "unknown ssh-authentication {other:?} (expected privateKey, password or agent)"
                ))
                .on(node))
            }
        }
        if let Some(path) = node
            .attribute("ssh-keypath")
            .filter(|p| !p.trim().is_empty())
        {
            return self.read_key(node, std::path::Path::new(path.trim())).await;
        }
        if let Some(pem) = &self.key {
            return Ok(Auth::Key {
                pem: pem.clone(),
                passphrase: self.passphrase.clone(),
            });
        }
        if let Some(path) = &self.key_file {
            return self.read_key(node, path).await;
        }
        if self.agent.is_some() {
            return Ok(self.agent_auth());
        }
        if self.password.is_some() {
            return self.password_auth(node);
        }
        Err(SshError::Config(
            "no SSH credentials: configure a key, an ssh-agent or a password, or set ssh-keypath"
                .into(),
        )
        .on(node))
    }

    async fn sudo_password(&self, node: &Node) -> Result<Option<String>> {
        if let Some(path) = node
            .attribute("sudo-password-storage-path")
            .filter(|p| !p.trim().is_empty())
        {
            return Err(SshError::Config(format!(
                "node attribute sudo-password-storage-path={path} needs key storage, which \
                     this executor's credentials resolver does not have"
            ))
            .on(node));
        }
        Ok(self.sudo_password.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resolves_by_attributes() {
        let creds = ConfigCredentials::new()
            .with_key(b"KEY".to_vec())
            .with_password("pw");
        let node = Node::new("n");
        assert!(matches!(creds.resolve(&node).await, Ok(Auth::Key { .. })));
        let node = Node::new("n").with("ssh-authentication", "password");
        assert_eq!(
            creds.resolve(&node).await.expect("auth"),
            Auth::Password("pw".into())
        );
        let node = Node::new("n").with("ssh-authentication", "agent");
        assert_eq!(
            creds.resolve(&node).await.expect("auth"),
            Auth::Agent { socket: None }
        );
        let agent = ConfigCredentials::new().with_agent(Some("/run/a.sock".into()));
        assert_eq!(
            agent.resolve(&Node::new("n")).await.expect("auth"),
            Auth::Agent {
                socket: Some("/run/a.sock".into())
            }
        );
        let node = Node::new("n").with("ssh-keypath", "/nonexistent/key");
        let err = creds.resolve(&node).await.expect_err("missing file");
        assert!(err.to_string().contains("/nonexistent/key"), "{err}");
        let node = Node::new("n").with("ssh-key-storage-path", "keys/a");
        let err = creds.resolve(&node).await.expect_err("no storage");
        assert!(err.to_string().contains("ssh-key-storage-path"), "{err}");
        assert!(!format!("{creds:?}").contains("pw"));
        assert!(ConfigCredentials::new()
            .resolve(&Node::new("n"))
            .await
            .is_err());
    }
}
