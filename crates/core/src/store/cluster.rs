//! [`ClusterStore`]: the servers sharing one database, and the executions
//! they take over from each other.

use super::{ExecutionClaim, ServerHeartbeat};
use crate::error::Result;
use crate::model::Execution;
use async_trait::async_trait;
use std::sync::Arc;

/// Persistence of server heartbeats and execution ownership.
#[async_trait]
pub trait ClusterStore: Send + Sync {
    /// Records a server's heartbeat (creating or replacing its row).
    async fn heartbeat(&self, beat: &ServerHeartbeat) -> Result<()>;
    /// Every server that has heartbeated and not been removed.
    async fn list_servers(&self) -> Result<Vec<ServerHeartbeat>>;
    /// Removes a server's row (after its work was taken over).
    async fn delete_server(&self, server: &str) -> Result<()>;
    /// Makes `server` the owner of up to `limit` executions that match
    /// `claim`, oldest first, and returns them as claimed. Each matching
    /// execution goes to exactly one claimer.
    async fn claim_executions(
        &self,
        server: &str,
        claim: &ExecutionClaim,
        limit: usize,
    ) -> Result<Vec<Execution>>;
    /// Sets a setting of one server (its execution mode, for one), kept
    /// until changed: unlike its heartbeat, it outlives the server's
    /// absence.
    async fn put_server_setting(&self, server: &str, key: &str, value: &str) -> Result<()>;
    /// A setting of one server, if set.
    async fn get_server_setting(&self, server: &str, key: &str) -> Result<Option<String>>;
}

macro_rules! forward {
    ($($t:tt)*) => {
        #[async_trait]
        impl<T: ClusterStore + ?Sized> ClusterStore for $($t)* {
            async fn heartbeat(&self, b: &ServerHeartbeat) -> Result<()> { (**self).heartbeat(b).await }
            async fn list_servers(&self) -> Result<Vec<ServerHeartbeat>> { (**self).list_servers().await }
            async fn delete_server(&self, s: &str) -> Result<()> { (**self).delete_server(s).await }
            async fn claim_executions(&self, s: &str, c: &ExecutionClaim, l: usize) -> Result<Vec<Execution>> { (**self).claim_executions(s, c, l).await }
            async fn put_server_setting(&self, s: &str, k: &str, v: &str) -> Result<()> { (**self).put_server_setting(s, k, v).await }
            async fn get_server_setting(&self, s: &str, k: &str) -> Result<Option<String>> { (**self).get_server_setting(s, k).await }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
