//! SSH credentials from key storage: nodes name their secrets with Rundeck's
//! attributes `ssh-key-storage-path`, `ssh-key-passphrase-storage-path`,
//! `ssh-password-storage-path` and `sudo-password-storage-path`; other nodes
//! fall back to a configured resolver (a key file, a password).

use async_trait::async_trait;
use foredeck_core::{KeyType, Node, Result};
use foredeck_ssh::{Auth, Credentials, SshError};
use foredeck_store::KeyStorage;
use std::sync::Arc;

/// Resolves SSH credentials from [`KeyStorage`], else from `fallback`.
#[derive(Debug, Clone)]
pub struct KeyStorageCredentials {
    keys: KeyStorage,
    fallback: Arc<dyn Credentials>,
}

impl KeyStorageCredentials {
    /// Key storage first, then `fallback` for nodes that name no stored secret.
    pub fn new(keys: KeyStorage, fallback: Arc<dyn Credentials>) -> Self {
        KeyStorageCredentials { keys, fallback }
    }

    async fn fetch(
        &self,
        node: &Node,
        attr: &str,
        path: &str,
        want: &[KeyType],
    ) -> Result<Vec<u8>> {
        let (kind, data) = self.keys.secret(path).await.map_err(|e| {
            SshError::Secret {
                attribute: attr.to_owned(),
                path: path.to_owned(),
                source: Box::new(e),
            }
            .on(node)
        })?;
        if !want.contains(&kind) {
            return Err(SshError::Config(format!(
                "{attr}={path}: the entry is a {kind:?} entry, expected {want:?}"
            ))
            .on(node));
        }
        Ok(data)
    }
}

fn attr(node: &Node, name: &str) -> Option<String> {
    node.attribute(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn text(node: &Node, attr: &str, data: Vec<u8>) -> Result<String> {
    let s = String::from_utf8(data).map_err(|_| {
        SshError::Config(format!("{attr}: the stored password is not UTF-8 text")).on(node)
    })?;
    Ok(s.trim_end_matches(['\n', '\r']).to_owned())
}

#[async_trait]
impl Credentials for KeyStorageCredentials {
    async fn resolve(&self, node: &Node) -> Result<Auth> {
        let method = attr(node, "ssh-authentication").map(|m| m.to_ascii_lowercase());
        let key_path = attr(node, "ssh-key-storage-path");
        let password_path = attr(node, "ssh-password-storage-path");
        let use_password = match method.as_deref() {
            Some("password") => true,
            Some("privatekey") => false,
            _ => key_path.is_none() && password_path.is_some(),
        };
        if use_password {
            if let Some(p) = password_path {
                let data = self
                    .fetch(node, "ssh-password-storage-path", &p, &[KeyType::Password])
                    .await?;
                return Ok(Auth::Password(text(
                    node,
                    "ssh-password-storage-path",
                    data,
                )?));
            }
        } else if let Some(p) = key_path {
            let pem = self
                .fetch(node, "ssh-key-storage-path", &p, &[KeyType::Private])
                .await?;
            let passphrase = match attr(node, "ssh-key-passphrase-storage-path") {
                Some(pp) => {
                    let data = self
                        .fetch(
                            node,
                            "ssh-key-passphrase-storage-path",
                            &pp,
                            &[KeyType::Password],
                        )
                        .await?;
                    Some(text(node, "ssh-key-passphrase-storage-path", data)?)
                }
                None => None,
            };
            return Ok(Auth::Key { pem, passphrase });
        }
        // nothing stored for this node: the configured credentials decide,
        // without the storage attributes they cannot use
        let mut plain = node.clone();
        plain.attributes.remove("ssh-key-storage-path");
        plain.attributes.remove("ssh-password-storage-path");
        self.fallback.resolve(&plain).await
    }

    async fn sudo_password(&self, node: &Node) -> Result<Option<String>> {
        const ATTR: &str = "sudo-password-storage-path";
        match attr(node, ATTR) {
            Some(p) => {
                let data = self.fetch(node, ATTR, &p, &[KeyType::Password]).await?;
                Ok(Some(text(node, ATTR, data)?))
            }
            None => self.fallback.sudo_password(node).await,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use foredeck_core::MemoryStore;
    use foredeck_ssh::ConfigCredentials;
    use foredeck_store::MasterKey;

    async fn creds() -> KeyStorageCredentials {
        let keys = KeyStorage::new(Arc::new(MemoryStore::new()), &MasterKey::generate());
        keys.put(
            "keys/ops/id",
            KeyType::Private,
            b"-----BEGIN OPENSSH PRIVATE KEY-----",
        )
        .await
        .unwrap();
        keys.put("keys/ops/pw", KeyType::Password, b"s3cret\n")
            .await
            .unwrap();
        KeyStorageCredentials::new(
            keys,
            Arc::new(ConfigCredentials::new().with_password("fallback")),
        )
    }

    #[tokio::test]
    async fn resolves_stored_keys_and_passwords() {
        let c = creds().await;
        let n = Node::new("a").with("ssh-key-storage-path", "keys/ops/id");
        assert!(matches!(
            c.resolve(&n).await.unwrap(),
            Auth::Key {
                passphrase: None,
                ..
            }
        ));
        let n = Node::new("b").with("ssh-password-storage-path", "keys/ops/pw");
        assert!(matches!(c.resolve(&n).await.unwrap(), Auth::Password(p) if p == "s3cret"));
        let n = Node::new("c").with("ssh-authentication", "password");
        assert!(matches!(c.resolve(&n).await.unwrap(), Auth::Password(p) if p == "fallback"));
        // a password entry is not a private key
        let n = Node::new("d").with("ssh-key-storage-path", "keys/ops/pw");
        let err = c.resolve(&n).await.unwrap_err().to_string();
        assert!(err.contains("ssh-key-storage-path=keys/ops/pw"), "{err}");
        let n = Node::new("e").with("ssh-key-storage-path", "keys/../x");
        assert!(c.resolve(&n).await.is_err());
        // a missing entry keeps the store's error as the cause
        let n = Node::new("m").with("ssh-key-storage-path", "keys/ops/missing");
        let err = c.resolve(&n).await.unwrap_err();
        match SshError::of(&err) {
            Some(SshError::Secret {
                attribute,
                path,
                source,
            }) => {
                assert_eq!(
                    (attribute.as_str(), path.as_str()),
                    ("ssh-key-storage-path", "keys/ops/missing")
                );
                assert!(
                    matches!(
                        source.downcast_ref::<foredeck_core::Error>(),
                        Some(foredeck_core::Error::NotFound { .. })
                    ),
                    "{source:?}"
                );
            }
            other => panic!("expected a key-storage error, got {other:?} ({err})"),
        }
        // sudo's password
        let n = Node::new("f").with("sudo-password-storage-path", "keys/ops/pw");
        assert_eq!(
            c.sudo_password(&n).await.unwrap().as_deref(),
            Some("s3cret")
        );
        let n = Node::new("g").with("sudo-password-storage-path", "keys/ops/id");
        assert!(c.sudo_password(&n).await.is_err());
        assert_eq!(c.sudo_password(&Node::new("h")).await.unwrap(), None);
    }
}
