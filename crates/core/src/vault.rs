//! The `KeyVault` trait: key storage as front-ends see it.
//!
//! Entries (private keys, public keys, passwords) live under paths like
//! `keys/project/ops/db.pem`. A vault keeps them encrypted at rest; through
//! this trait only public keys can be read back, so front-ends (the HTTP API)
//! can never hand out a secret. `foredeck-store`'s `KeyStorage` implements it.

use crate::{KeyType, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// What a listing shows of an entry: never its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// Path.
    pub path: String,
    /// Kind.
    pub key_type: KeyType,
    /// Size of the content in bytes.
    pub size: u64,
    /// Created.
    pub created: DateTime<Utc>,
    /// Last modified.
    pub modified: DateTime<Utc>,
}

/// Key storage that never returns private keys or passwords.
#[async_trait]
pub trait KeyVault: Send + Sync + std::fmt::Debug {
    /// Stores (or replaces) an entry; refuses bad paths (`..`, empty parts)
    /// and empty or oversized content.
    async fn put(&self, path: &str, key_type: KeyType, data: &[u8]) -> Result<KeyInfo>;
    /// Entries under a prefix (`keys`, `keys/project/ops`), at any depth,
    /// without content.
    async fn list(&self, prefix: &str) -> Result<Vec<KeyInfo>>;
    /// Metadata of one entry.
    async fn info(&self, path: &str) -> Result<Option<KeyInfo>>;
    /// The content of a public key; private keys and passwords are refused
    /// with a forbidden error.
    async fn public(&self, path: &str) -> Result<Vec<u8>>;
    /// Deletes an entry; not-found if missing.
    async fn delete(&self, path: &str) -> Result<()>;
}

#[async_trait]
impl<T: KeyVault + ?Sized> KeyVault for Arc<T> {
    async fn put(&self, path: &str, key_type: KeyType, data: &[u8]) -> Result<KeyInfo> {
        (**self).put(path, key_type, data).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<KeyInfo>> {
        (**self).list(prefix).await
    }
    async fn info(&self, path: &str) -> Result<Option<KeyInfo>> {
        (**self).info(path).await
    }
    async fn public(&self, path: &str) -> Result<Vec<u8>> {
        (**self).public(path).await
    }
    async fn delete(&self, path: &str) -> Result<()> {
        (**self).delete(path).await
    }
}
