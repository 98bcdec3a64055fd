//! Key-storage entries of the [`MemoryStore`]: its [`KeyStore`] impl.

use super::MemoryStore;
use crate::error::{Error, Result};
use crate::store::{KeyStore, StoredKey};
use async_trait::async_trait;

#[async_trait]
impl KeyStore for MemoryStore {
    async fn put_key(&self, key: &StoredKey) -> Result<()> {
        self.write()?.keys.insert(key.path.clone(), key.clone());
        Ok(())
    }

    async fn get_key(&self, path: &str) -> Result<Option<StoredKey>> {
        Ok(self.read()?.keys.get(path).cloned())
    }

    async fn list_keys(&self, prefix: &str) -> Result<Vec<StoredKey>> {
        Ok(self
            .read()?
            .keys
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect())
    }

    async fn delete_key(&self, path: &str) -> Result<()> {
        self.write()?
            .keys
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| Error::NotFound {
                kind: "key",
                id: path.into(),
            })
    }
}
