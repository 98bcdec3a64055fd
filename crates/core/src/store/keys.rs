//! [`KeyStore`]: key-storage entries, ciphertext only (sealing and opening
//! them is a [`KeyVault`](crate::KeyVault)'s work).

use crate::error::Result;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// What a key-storage entry holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// A private key: never readable through any API.
    Private,
    /// A public key: readable.
    Public,
    /// A password: never readable through any API.
    Password,
}

/// A key-storage entry as stored: ciphertext only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey {
    /// Path (`keys/project/ops/db.pem`).
    pub path: String,
    /// Kind of secret.
    pub key_type: KeyType,
    /// Encrypted content, bound to `path`.
    pub ciphertext: Vec<u8>,
    /// Created.
    pub created: DateTime<Utc>,
    /// Last modified.
    pub modified: DateTime<Utc>,
}

/// Persistence of key-storage entries.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores or replaces a key-storage entry.
    async fn put_key(&self, key: &StoredKey) -> Result<()>;
    /// A key-storage entry by path.
    async fn get_key(&self, path: &str) -> Result<Option<StoredKey>>;
    /// Entries under a path prefix (ciphertext included; callers must not return it).
    async fn list_keys(&self, prefix: &str) -> Result<Vec<StoredKey>>;
    /// Deletes an entry; not-found if missing.
    async fn delete_key(&self, path: &str) -> Result<()>;
}

macro_rules! forward {
    ($($t:tt)*) => {
        #[async_trait]
        impl<T: KeyStore + ?Sized> KeyStore for $($t)* {
            async fn put_key(&self, k: &StoredKey) -> Result<()> { (**self).put_key(k).await }
            async fn get_key(&self, p: &str) -> Result<Option<StoredKey>> { (**self).get_key(p).await }
            async fn list_keys(&self, p: &str) -> Result<Vec<StoredKey>> { (**self).list_keys(p).await }
            async fn delete_key(&self, p: &str) -> Result<()> { (**self).delete_key(p).await }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
