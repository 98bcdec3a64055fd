//! Server heartbeats and execution claims of the [`MemoryStore`]: its [`ClusterStore`] impl.

use super::{not_found, MemoryStore};
use crate::error::Result;
use crate::model::Execution;
use crate::store::{ClusterStore, ExecutionClaim, ServerHeartbeat};
use async_trait::async_trait;

#[async_trait]
impl ClusterStore for MemoryStore {
    async fn heartbeat(&self, beat: &ServerHeartbeat) -> Result<()> {
        self.write()?
            .servers
            .insert(beat.server.clone(), beat.clone());
        Ok(())
    }

    async fn list_servers(&self) -> Result<Vec<ServerHeartbeat>> {
        Ok(self.read()?.servers.values().cloned().collect())
    }

    async fn delete_server(&self, server: &str) -> Result<()> {
        self.write()?
            .servers
            .remove(server)
            .map(|_| ())
            .ok_or_else(|| not_found("server", server))
    }

    async fn claim_executions(
        &self,
        server: &str,
        claim: &ExecutionClaim,
        limit: usize,
    ) -> Result<Vec<Execution>> {
        let mut inner = self.write()?;
        Ok(inner
            .executions
            .values_mut()
            .filter(|e| {
                e.status == claim.status
                    && e.server_uuid == claim.owner
                    && claim.due_by.is_none_or(|d| e.date_started <= d)
                    && claim
                        .job_id
                        .as_ref()
                        .is_none_or(|j| e.job_id.as_ref() == Some(j))
                    && claim.id.is_none_or(|id| e.id == id)
            })
            .take(limit)
            .map(|e| {
                e.server_uuid = Some(server.to_owned());
                e.clone()
            })
            .collect())
    }

    async fn put_server_setting(&self, server: &str, key: &str, value: &str) -> Result<()> {
        self.write()?
            .server_settings
            .insert((server.to_owned(), key.to_owned()), value.to_owned());
        Ok(())
    }

    async fn get_server_setting(&self, server: &str, key: &str) -> Result<Option<String>> {
        Ok(self
            .read()?
            .server_settings
            .get(&(server.to_owned(), key.to_owned()))
            .cloned())
    }
}
