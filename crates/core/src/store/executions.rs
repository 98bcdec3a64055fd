//! [`ExecutionStore`]: execution records, and the history query.

use super::Page;
use crate::error::Result;
use crate::model::{Execution, ExecutionStatus, ExecutionType};
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
    /// Ended at or after (Rundeck's `begin` and `recentFilter`): executions
    /// that have not ended do not match.
    pub ended_after: Option<DateTime<Utc>>,
    /// Ended at or before (Rundeck's `end` and `olderFilter`).
    pub ended_before: Option<DateTime<Utc>>,
    /// Not of these job uuids (`excludeJobIdListFilter`); ad-hoc executions
    /// do not match either, as in Rundeck, where it is a job filter.
    pub exclude_job_ids: Vec<String>,
    /// Of the jobs with one of these full names, `group/name` or `name` for
    /// a top-level job (`jobListFilter`).
    pub job_full_names: Vec<String>,
    /// Not of the jobs with these full names (`excludeJobListFilter`).
    pub exclude_job_full_names: Vec<String>,
    /// Jobs directly in this group, `""` for top-level jobs
    /// (`groupPathExact`).
    pub group_path_exact: Option<String>,
    /// Not jobs in this group or below it; `""`: not top-level jobs
    /// (`excludeGroupPath`).
    pub exclude_group_path: Option<String>,
    /// Not jobs directly in this group, `""`: not top-level jobs
    /// (`excludeGroupPathExact`).
    pub exclude_group_path_exact: Option<String>,
    /// Job name does not contain this text, case-insensitive
    /// (`excludeJobFilter`).
    pub exclude_job_name_contains: Option<String>,
    /// Job name is exactly this (`jobExactFilter`).
    pub job_name_exact: Option<String>,
    /// Job name is not exactly this (`excludeJobExactFilter`).
    pub exclude_job_name_exact: Option<String>,
    /// Started this way (`executionTypeFilter`).
    pub execution_type: Option<ExecutionType>,
    /// Aborted by this user (`abortedbyFilter`).
    pub aborted_by: Option<String>,
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

    /// Whether the query filters by the executions' jobs' names or groups
    /// (which only executions of jobs that still exist can match).
    pub fn has_job_filter(&self) -> bool {
        self.group_path.is_some()
            || self.job_name_contains.is_some()
            || !self.job_full_names.is_empty()
            || !self.exclude_job_full_names.is_empty()
            || self.group_path_exact.is_some()
            || self.exclude_group_path.is_some()
            || self.exclude_group_path_exact.is_some()
            || self.exclude_job_name_contains.is_some()
            || self.job_name_exact.is_some()
            || self.exclude_job_name_exact.is_some()
    }

    /// Whether a job with this group (`None` or `""` at the top level) and
    /// name passes the query's job name and group filters, the way every
    /// store filters.
    pub fn job_matches(&self, group: Option<&str>, name: &str) -> bool {
        let group = group.unwrap_or("");
        let under =
            |p: &str| group == p || group.strip_prefix(p).is_some_and(|r| r.starts_with('/'));
        let lower = |s: &str| s.to_lowercase();
        let full = |f: &String| {
            let (g, n) = split_full_name(f);
            g == group && n == name
        };
        self.group_path
            .as_deref()
            .is_none_or(|p| p.is_empty() || under(p))
            && self.group_path_exact.as_deref().is_none_or(|g| g == group)
            && self.exclude_group_path.as_deref().is_none_or(|p| {
                if p.is_empty() {
                    !group.is_empty()
                } else {
                    !under(p)
                }
            })
            && self
                .exclude_group_path_exact
                .as_deref()
                .is_none_or(|g| g != group)
            && self
                .job_name_contains
                .as_deref()
                .is_none_or(|n| lower(name).contains(&lower(n)))
            && self
                .exclude_job_name_contains
                .as_deref()
                .is_none_or(|n| !lower(name).contains(&lower(n)))
            && self.job_name_exact.as_deref().is_none_or(|n| n == name)
            && self
                .exclude_job_name_exact
                .as_deref()
                .is_none_or(|n| n != name)
            && (self.job_full_names.is_empty() || self.job_full_names.iter().any(full))
            && !self.exclude_job_full_names.iter().any(full)
    }

    /// The query without its job name and group filters (after a store
    /// turned them into job ids).
    pub fn without_job_filters(&self) -> Self {
        ExecutionQuery {
            group_path: None,
            job_name_contains: None,
            job_full_names: Vec::new(),
            exclude_job_full_names: Vec::new(),
            group_path_exact: None,
            exclude_group_path: None,
            exclude_group_path_exact: None,
            exclude_job_name_contains: None,
            job_name_exact: None,
            exclude_job_name_exact: None,
            ..self.clone()
        }
    }

    /// Whether an execution passes the query's filters on its own fields
    /// (project, job ids, ad hoc, user, status, times, type, aborter): all
    /// but the job name and group filters.
    pub fn execution_matches(&self, e: &Execution) -> bool {
        let statuses = self.statuses();
        let ended = |f: &dyn Fn(DateTime<Utc>) -> bool| e.date_ended.is_some_and(f);
        self.project.as_ref().is_none_or(|p| p == &e.project)
            && (self.job_ids.is_empty()
                || e.job_id.as_ref().is_some_and(|j| self.job_ids.contains(j)))
            && (self.exclude_job_ids.is_empty()
                || e.job_id
                    .as_ref()
                    .is_some_and(|j| !self.exclude_job_ids.contains(j)))
            && self.adhoc.is_none_or(|a| a == e.job_id.is_none())
            && self.user.as_ref().is_none_or(|u| u == &e.user)
            && (statuses.is_empty() || statuses.contains(&e.status))
            && self.begin.is_none_or(|b| e.date_started >= b)
            && self.end.is_none_or(|x| e.date_started < x)
            && self.ended_after.is_none_or(|b| ended(&|t| t >= b))
            && self.ended_before.is_none_or(|b| ended(&|t| t <= b))
            && self.execution_type.is_none_or(|t| t == e.execution_type)
            && self
                .aborted_by
                .as_ref()
                .is_none_or(|a| e.aborted_by.as_ref() == Some(a))
    }

    /// Rundeck's `recentFilter`: executions that ended within a period
    /// before `now`, written as a number and a unit: `s` seconds, `n`
    /// minutes, `h` hours, `d` days, `w` weeks, `m` months, `y` years
    /// (calendar months and years, as Rundeck counts them). Sets
    /// `ended_after`.
    pub fn recent(mut self, spec: &str, now: DateTime<Utc>) -> Result<Self> {
        self.ended_after = Some(before(spec, "recentFilter", now)?);
        Ok(self)
    }

    /// Rundeck's `olderFilter`: executions that ended before a period
    /// before `now` (the format of [`ExecutionQuery::recent`]). Sets
    /// `ended_before`.
    pub fn older(mut self, spec: &str, now: DateTime<Utc>) -> Result<Self> {
        self.ended_before = Some(before(spec, "olderFilter", now)?);
        Ok(self)
    }
}

/// A job's full name split into group (`""` at the top level) and name, at
/// its last `/`.
pub fn split_full_name(full: &str) -> (&str, &str) {
    full.rsplit_once('/').unwrap_or(("", full))
}

/// `now` moved back by a `recentFilter` period: calendar months and years,
/// fixed lengths for the other units.
fn before(spec: &str, what: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let (n, unit) = parse_period(spec, what)?;
    let months = match unit {
        'm' => Some(n),
        'y' => n.checked_mul(12),
        _ => None,
    };
    let back = match (unit, months) {
        ('m' | 'y', Some(m)) => u32::try_from(m)
            .ok()
            .and_then(|m| now.checked_sub_months(chrono::Months::new(m))),
        ('m' | 'y', None) => None,
        _ => parse_recent_named(spec, what)
            .ok()
            .and_then(|d| now.checked_sub_signed(d)),
    };
    back.ok_or_else(|| {
        crate::Error::format(
            what,
            format!(
                "{spec:?}: too long (expected a number and one of s, n, h, d, w, m, y, as in 2w)"
            ),
        )
    })
}

/// A `recentFilter` period (`2w`, `12h`) as a duration, months as 30 days
/// and years as 365; an error naming the value otherwise.
pub fn parse_recent(spec: &str) -> Result<chrono::Duration> {
    parse_recent_named(spec, "recentFilter")
}

/// The number and unit of a period; an error naming `what` otherwise.
fn parse_period(spec: &str, what: &str) -> Result<(i64, char)> {
    let bad = |why: &str| {
        crate::Error::format(
            what,
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
    if !"snhdwmy".contains(unit) {
        return Err(bad("unknown unit"));
    }
    Ok((n, unit))
}

fn parse_recent_named(spec: &str, what: &str) -> Result<chrono::Duration> {
    let (n, unit) = parse_period(spec, what)?;
    let seconds_per = match unit {
        's' => 1,
        'n' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        'm' => 30 * 86_400,
        _ => 365 * 86_400,
    };
    n.checked_mul(seconds_per)
        .and_then(chrono::Duration::try_seconds)
        .ok_or_else(|| {
            crate::Error::format(
                what,
                format!("{spec:?}: too long (expected a number and one of s, n, h, d, w, m, y, as in 2w)"),
            )
        })
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
            ("1m", 28 * 86_400),
            ("1y", 365 * 86_400),
            ("13m", 393 * 86_400),
            (" 3d ", 3 * 86_400),
            ("0h", 0),
        ] {
            let q = ExecutionQuery::default().recent(spec, now).unwrap();
            let at = Some(now - chrono::Duration::seconds(secs));
            assert_eq!(q.ended_after, at, "{spec}");
            assert_eq!(q.begin, None);
            let q = ExecutionQuery::default().older(spec, now).unwrap();
            assert_eq!(q.ended_before, at, "{spec}");
        }
        let e = ExecutionQuery::default()
            .older("x", now)
            .unwrap_err()
            .to_string();
        assert!(e.contains("olderFilter"), "{e}");
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
