//! [`KnownHostStore`]: SSH host keys learned on first use, shared by every
//! server of a cluster.

use crate::error::Result;
use async_trait::async_trait;
use std::sync::Arc;

/// Persistence of learned SSH host keys.
#[async_trait]
pub trait KnownHostStore: Send + Sync {
    /// The known host key of `host` (`host` or `[host]:port`), OpenSSH text.
    async fn get_known_host(&self, host: &str) -> Result<Option<String>>;
    /// Records (or replaces) the key of `host`.
    async fn put_known_host(&self, host: &str, key: &str) -> Result<()>;
    /// Forgets the learned key of `host`; whether there was one.
    async fn delete_known_host(&self, host: &str) -> Result<bool>;
}

macro_rules! forward {
    ($($t:tt)*) => {
        #[async_trait]
        impl<T: KnownHostStore + ?Sized> KnownHostStore for $($t)* {
            async fn get_known_host(&self, h: &str) -> Result<Option<String>> { (**self).get_known_host(h).await }
            async fn put_known_host(&self, h: &str, k: &str) -> Result<()> { (**self).put_known_host(h, k).await }
            async fn delete_known_host(&self, h: &str) -> Result<bool> { (**self).delete_known_host(h).await }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
