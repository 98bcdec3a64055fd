//! The audit log of the [`MemoryStore`]: its [`AuditStore`] impl.

use super::page_of;
use super::MemoryStore;
use crate::error::Result;
use crate::store::{AuditEvent, AuditQuery, AuditStore, Page};
use async_trait::async_trait;

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append_audit(&self, event: &AuditEvent) -> Result<u64> {
        let mut inner = self.write()?;
        let id = inner.audit.len() as u64 + 1;
        let mut e = event.clone();
        e.id = id;
        inner.audit.push(e);
        Ok(id)
    }

    async fn query_audit(&self, q: &AuditQuery) -> Result<Page<AuditEvent>> {
        let inner = self.read()?;
        let all: Vec<&AuditEvent> = inner
            .audit
            .iter()
            .rev()
            .filter(|e| {
                q.user.as_ref().is_none_or(|x| x == &e.user)
                    && q.project
                        .as_ref()
                        .is_none_or(|x| e.project.as_ref() == Some(x))
                    && q.action.as_ref().is_none_or(|x| x == &e.action)
                    && q.resource_type
                        .as_ref()
                        .is_none_or(|x| x == &e.resource_type)
                    && q.resource.as_ref().is_none_or(|x| x == &e.resource)
                    && q.since.is_none_or(|x| e.time >= x)
                    && q.until.is_none_or(|x| e.time < x)
            })
            .collect();
        Ok(page_of(all, q.offset, q.max))
    }
}
