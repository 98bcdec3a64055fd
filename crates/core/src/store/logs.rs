//! [`LogStore`]: execution logs, as appended batches of events.

use crate::error::Result;
use crate::model::LogEvent;
use async_trait::async_trait;
use std::sync::Arc;

/// A slice of an execution's log.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogPage {
    /// Events from `offset` on.
    pub events: Vec<LogEvent>,
    /// Offset to read from next.
    pub next_offset: u64,
}

/// Persistence of execution logs.
#[async_trait]
pub trait LogStore: Send + Sync {
    /// Appends log events to an execution's log, all or none.
    async fn append_log(&self, id: u64, events: &[LogEvent]) -> Result<()>;
    /// Reads up to `limit` events from `offset` (an event index); fewer
    /// than `limit` only where the stored log ends.
    async fn read_log(&self, id: u64, offset: u64, limit: usize) -> Result<LogPage>;
    /// Number of events in an execution's log (not-found when the execution
    /// does not exist). The provided method finds it with O(log n) one-event
    /// reads; stores that count appends override it.
    async fn log_length(&self, id: u64) -> Result<u64> {
        log_length_by_reads(self, id).await
    }
    /// The last `n` events of an execution's log (all of it when shorter),
    /// `next_offset` where the log ends (not-found when the execution does
    /// not exist). The provided method reads the length, then the events;
    /// stores that can find both in one read override it.
    async fn read_log_tail(&self, id: u64, n: usize) -> Result<LogPage> {
        let len = self.log_length(id).await?;
        if n == 0 {
            return Ok(LogPage {
                events: Vec::new(),
                next_offset: len,
            });
        }
        self.read_log(id, len.saturating_sub(n as u64), n).await
    }
}

/// The number of events in a log found with one-event reads only: doubling,
/// then bisection (O(log n) reads). The provided
/// [`LogStore::log_length`].
pub async fn log_length_by_reads<S: LogStore + ?Sized>(store: &S, id: u64) -> Result<u64> {
    let has = |i: u64| async move {
        Ok::<_, crate::Error>(!store.read_log(id, i, 1).await?.events.is_empty())
    };
    // a missing execution is not-found here, as in read_log
    if !has(0).await? {
        return Ok(0);
    }
    // invariant: an event at `lo`, none at `hi`
    let (mut lo, mut hi) = (0u64, 1u64);
    while has(hi).await? {
        lo = hi;
        hi = hi.saturating_mul(2);
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if has(mid).await? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(hi)
}

macro_rules! forward {
    ($($t:tt)*) => {
        #[async_trait]
        impl<T: LogStore + ?Sized> LogStore for $($t)* {
            async fn append_log(&self, id: u64, e: &[LogEvent]) -> Result<()> { (**self).append_log(id, e).await }
            async fn read_log(&self, id: u64, o: u64, l: usize) -> Result<LogPage> { (**self).read_log(id, o, l).await }
            async fn log_length(&self, id: u64) -> Result<u64> { (**self).log_length(id).await }
            async fn read_log_tail(&self, id: u64, n: usize) -> Result<LogPage> { (**self).read_log_tail(id, n).await }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod log_length_tests {
    use super::*;
    use crate::model::{Execution, LogLevel};
    use crate::store::ExecutionStore;
    use crate::MemoryStore;

    #[tokio::test]
    async fn bisection_finds_every_length() {
        let s = MemoryStore::new();
        let id = s
            .create_execution(&Execution::new("ops", "x", "alice"))
            .await
            .unwrap();
        for n in 0..70u64 {
            assert_eq!(log_length_by_reads(&s, id).await.unwrap(), n);
            assert_eq!(s.log_length(id).await.unwrap(), n);
            let ev = LogEvent::system(LogLevel::Info, None, None, format!("line {n}"));
            s.append_log(id, &[ev]).await.unwrap();
        }
        assert!(log_length_by_reads(&s, 999).await.is_err());
    }
}
