//! Execution logs of the [`MemoryStore`]: its [`LogStore`] impl.

use super::MemoryStore;
use crate::error::{Error, Result};
use crate::model::LogEvent;
use crate::store::{LogPage, LogStore};
use async_trait::async_trait;

#[async_trait]
impl LogStore for MemoryStore {
    async fn append_log(&self, id: u64, events: &[LogEvent]) -> Result<()> {
        let mut inner = self.write()?;
        let log = inner.logs.get_mut(&id).ok_or_else(|| Error::NotFound {
            kind: "execution",
            id: id.to_string(),
        })?;
        log.extend_from_slice(events);
        Ok(())
    }

    async fn read_log(&self, id: u64, offset: u64, limit: usize) -> Result<LogPage> {
        let inner = self.read()?;
        let log = inner.logs.get(&id).ok_or_else(|| Error::NotFound {
            kind: "execution",
            id: id.to_string(),
        })?;
        let start = (offset as usize).min(log.len());
        let events: Vec<LogEvent> = log[start..].iter().take(limit).cloned().collect();
        Ok(LogPage {
            next_offset: (start + events.len()) as u64,
            events,
        })
    }

    async fn log_length(&self, id: u64) -> Result<u64> {
        let inner = self.read()?;
        let log = inner.logs.get(&id).ok_or_else(|| Error::NotFound {
            kind: "execution",
            id: id.to_string(),
        })?;
        Ok(log.len() as u64)
    }
}
