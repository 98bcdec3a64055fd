//! [`AuditStore`]: the audit log of who did what.

use super::{AuditEvent, AuditQuery, Page};
use crate::error::Result;
use async_trait::async_trait;
use std::sync::Arc;

/// Persistence of audit events: appended, never changed.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an audit event and returns its id.
    async fn append_audit(&self, event: &AuditEvent) -> Result<u64>;
    /// Audit events matching a query, newest first.
    async fn query_audit(&self, query: &AuditQuery) -> Result<Page<AuditEvent>>;
}

macro_rules! forward {
    ($($t:tt)*) => {
        #[async_trait]
        impl<T: AuditStore + ?Sized> AuditStore for $($t)* {
            async fn append_audit(&self, e: &AuditEvent) -> Result<u64> { (**self).append_audit(e).await }
            async fn query_audit(&self, q: &AuditQuery) -> Result<Page<AuditEvent>> { (**self).query_audit(q).await }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
