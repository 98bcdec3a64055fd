//! Learned SSH host keys of the [`MemoryStore`]: its [`KnownHostStore`] impl.

use super::MemoryStore;
use crate::error::Result;
use crate::store::KnownHostStore;
use async_trait::async_trait;

#[async_trait]
impl KnownHostStore for MemoryStore {
    async fn get_known_host(&self, host: &str) -> Result<Option<String>> {
        Ok(self.read()?.known_hosts.get(host).cloned())
    }

    async fn put_known_host(&self, host: &str, key: &str) -> Result<()> {
        self.write()?
            .known_hosts
            .insert(host.to_owned(), key.to_owned());
        Ok(())
    }

    async fn delete_known_host(&self, host: &str) -> Result<bool> {
        Ok(self.write()?.known_hosts.remove(host).is_some())
    }
}
