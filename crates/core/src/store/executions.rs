//! [`ExecutionStore`]: execution records, and the history query.

use super::Page;
use crate::error::Result;
use crate::model::{Execution, ExecutionStatus};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Persistence of executions (their logs are a [`LogStore`](super::LogStore)'s).
#[async_trait]
pub trait ExecutionStore: Send + Sync {
    /// Stores a new execution and returns its id.
    async fn create_execution(&self, execution: &Execution) -> Result<u64>;
    /// Replaces an execution record (status, state, end time).
    async fn update_execution(&self, execution: &Execution) -> Result<()>;
    /// An execution by id.
    async fn get_execution(&self, id: u64) -> Result<Option<Execution>>;
    /// Executions matching a query, newest first: by start time, then by id,
    /// both descending.
    async fn query_executions(&self, query: &ExecutionQuery) -> Result<Page<Execution>>;
    /// Deletes an execution and its log.
    async fn delete_execution(&self, id: u64) -> Result<()>;
    /// Counts and durations over every execution matching `query` (its
    /// `offset` and `max` ignored), computed where the executions are
    /// (SQL aggregates), not by reading them.
    async fn execution_metrics(&self, query: &ExecutionQuery) -> Result<ExecutionMetrics>;
}

/// What [`ExecutionStore::execution_metrics`] finds over a query's
/// executions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionMetrics {
    /// Executions matching.
    pub total: u64,
    /// Of them, by status name (`succeeded`, `failed`, ...); statuses with
    /// none are absent.
    pub by_status: std::collections::BTreeMap<String, u64>,
    /// Executions that ended after a duration of at least a millisecond:
    /// the ones the duration figures are of.
    pub timed: u64,
    /// Their durations added up, in milliseconds.
    pub duration_sum_ms: u64,
    /// The shortest, in milliseconds (`None` when `timed` is 0).
    pub duration_min_ms: Option<u64>,
    /// The longest, in milliseconds (`None` when `timed` is 0).
    pub duration_max_ms: Option<u64>,
}

impl ExecutionMetrics {
    /// The mean duration in milliseconds (`None` when nothing was timed).
    pub fn duration_avg_ms(&self) -> Option<u64> {
        self.duration_sum_ms.checked_div(self.timed)
    }

    /// Counts one execution (the memory store's way; SQL stores aggregate).
    pub fn add(&mut self, e: &Execution) {
        self.total += 1;
        *self
            .by_status
            .entry(e.status.as_str().to_owned())
            .or_default() += 1;
        let ms = e
            .date_ended
            .map(|end| (end - e.date_started).num_milliseconds())
            .and_then(|ms| u64::try_from(ms).ok())
            .filter(|ms| *ms > 0);
        if let Some(ms) = ms {
            self.timed += 1;
            self.duration_sum_ms = self.duration_sum_ms.saturating_add(ms);
            self.duration_min_ms = Some(self.duration_min_ms.map_or(ms, |m| m.min(ms)));
            self.duration_max_ms = Some(self.duration_max_ms.map_or(ms, |m| m.max(ms)));
        }
    }
}

macro_rules! forward {
    ($($t:tt)*) => {
        #[async_trait]
        impl<T: ExecutionStore + ?Sized> ExecutionStore for $($t)* {
            async fn create_execution(&self, e: &Execution) -> Result<u64> { (**self).create_execution(e).await }
            async fn update_execution(&self, e: &Execution) -> Result<()> { (**self).update_execution(e).await }
            async fn get_execution(&self, id: u64) -> Result<Option<Execution>> { (**self).get_execution(id).await }
            async fn query_executions(&self, q: &ExecutionQuery) -> Result<Page<Execution>> { (**self).query_executions(q).await }
            async fn delete_execution(&self, id: u64) -> Result<()> { (**self).delete_execution(id).await }
            async fn execution_metrics(&self, q: &ExecutionQuery) -> Result<ExecutionMetrics> { (**self).execution_metrics(q).await }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);

/// Filters for the execution history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionQuery {
    /// Project.
    pub project: Option<String>,
    /// Job uuid(s).
    pub job_ids: Vec<String>,
    /// Jobs in this group or below.
    pub group_path: Option<String>,
    /// Job name contains this text (case-insensitive).
    pub job_name_contains: Option<String>,
    /// Run by this user.
    pub user: Option<String>,
    /// In this status.
    pub status: Option<ExecutionStatus>,
    /// With `status` `running`: the `waiting` executions too (durable runs
    /// waiting for a server to continue them, which Rundeck's clients see
    /// as running).
    pub with_waiting: bool,
    /// Started at or after.
    pub begin: Option<DateTime<Utc>>,
    /// Started before.
    pub end: Option<DateTime<Utc>>,
    /// `Some(true)`: ad-hoc only; `Some(false)`: job executions only.
    pub adhoc: Option<bool>,
    /// Page offset.
    pub offset: u64,
    /// Page size (0 = default 20).
    pub max: u64,
}

impl ExecutionQuery {
    /// The statuses the query matches, any of them; empty for any status.
    pub fn statuses(&self) -> Vec<ExecutionStatus> {
        match &self.status {
            None => Vec::new(),
            Some(ExecutionStatus::Running) if self.with_waiting => {
                vec![ExecutionStatus::Running, ExecutionStatus::Waiting]
            }
            Some(s) => vec![s.clone()],
        }
    }

    /// Rundeck's `recentFilter`: executions started within a period before
    /// `now`, written as a number and a unit: `h` hours, `d` days, `w` weeks,
    /// `m` months (30 days), `y` years (365 days); `30n` for minutes and
    /// `45s` for seconds as Rundeck also accepts. Sets `begin` and clears
    /// `end`.
    pub fn recent(mut self, spec: &str, now: DateTime<Utc>) -> Result<Self> {
        self.begin = Some(now - parse_recent(spec)?);
        self.end = None;
        Ok(self)
    }
}

/// A `recentFilter` period (`2w`, `12h`); an error naming the value otherwise.
pub fn parse_recent(spec: &str) -> Result<chrono::Duration> {
    let bad = |why: &str| {
        crate::Error::format(
            "recentFilter",
            format!("{spec:?}: {why} (expected a number and one of s, n, h, d, w, m, y, as in 2w)"),
        )
    };
    let spec = spec.trim();
    let unit = spec.chars().last().ok_or_else(|| bad("empty"))?;
    let digits = &spec[..spec.len() - unit.len_utf8()];
    let n: i64 = digits
        .parse()
        .ok()
        .filter(|n| *n >= 0 && digits.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| bad("not a whole number"))?;
    let seconds_per = match unit {
        's' => 1,
        'n' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        'm' => 30 * 86_400,
        'y' => 365 * 86_400,
        _ => return Err(bad("unknown unit")),
    };
    n.checked_mul(seconds_per)
        .and_then(chrono::Duration::try_seconds)
        .ok_or_else(|| bad("too long"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod recent_tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn recent_periods() {
        let now = Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap();
        for (spec, secs) in [
            ("2w", 14 * 86_400),
            ("1d", 86_400),
            ("12h", 43_200),
            ("30n", 1_800),
            ("45s", 45),
            ("1m", 30 * 86_400),
            ("1y", 365 * 86_400),
            (" 3d ", 3 * 86_400),
            ("0h", 0),
        ] {
            let q = ExecutionQuery {
                end: Some(now),
                ..Default::default()
            }
            .recent(spec, now)
            .unwrap();
            assert_eq!(
                q.begin,
                Some(now - chrono::Duration::seconds(secs)),
                "{spec}"
            );
            assert_eq!(q.end, None);
        }
        for bad in [
            "",
            "w",
            "2",
            "2x",
            "-2d",
            "+2d",
            "1.5d",
            "99999999999999999y",
            "２d",
        ] {
            let e = parse_recent(bad).unwrap_err().to_string();
            assert!(e.contains("recentFilter"), "{bad}: {e}");
        }
    }
}
