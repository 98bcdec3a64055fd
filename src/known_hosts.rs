//! SSH known hosts kept in the [`Store`](crate::Store), so that every
//! process on one database (CLI runs, servers of a cluster) verifies a node
//! against the same learned key.

use crate::{Result, Store};
use async_trait::async_trait;
use foredeck_ssh::KnownHosts;
use std::sync::Arc;

/// [`KnownHosts`] on a [`Store`]: keys are read and learned through
/// `get_known_host` / `put_known_host`.
#[derive(Clone, Debug)]
pub struct StoreKnownHosts {
    store: Arc<dyn Store>,
}

impl StoreKnownHosts {
    /// Known hosts in `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        StoreKnownHosts { store }
    }
}

#[async_trait]
impl KnownHosts for StoreKnownHosts {
    async fn get(&self, host: &str) -> Result<Option<String>> {
        self.store.get_known_host(host).await
    }

    async fn put(&self, host: &str, key: &str) -> Result<()> {
        self.store.put_known_host(host, key.trim()).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    #[tokio::test]
    async fn learned_keys_are_shared_through_the_store() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let a = StoreKnownHosts::new(store.clone());
        let b = StoreKnownHosts::new(store.clone());
        assert_eq!(a.get("[127.0.0.2]:2222").await.unwrap(), None);
        a.put("[127.0.0.2]:2222", "ssh-ed25519 AAAAC3Nza key\n")
            .await
            .unwrap();
        assert_eq!(
            b.get("[127.0.0.2]:2222").await.unwrap().as_deref(),
            Some("ssh-ed25519 AAAAC3Nza key")
        );
        assert_eq!(
            store
                .get_known_host("[127.0.0.2]:2222")
                .await
                .unwrap()
                .as_deref(),
            Some("ssh-ed25519 AAAAC3Nza key")
        );
    }
}
