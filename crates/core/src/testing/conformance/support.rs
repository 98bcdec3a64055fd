//! Helpers the conformance tests share.

use crate::model::{Execution, Job, LogEvent, LogLevel, Step, Stream, Workflow};
use crate::store::prelude::*;
use crate::store::JobQuery;
use crate::Error;
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::time::Duration as StdDuration;

/// A store under test.
pub(super) type S = super::SharedStore;

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

pub(super) fn job(name: &str, group: Option<&str>) -> Job {
    let mut j = Job::new(name, Workflow::new(vec![Step::command("echo hi")]));
    j.group = group.map(str::to_owned);
    j
}

pub(super) fn execution(
    project: &str,
    job: Option<&Job>,
    user: &str,
    started: DateTime<Utc>,
) -> Execution {
    let mut e = Execution::new(
        project,
        job.map(Job::full_name).unwrap_or_else(|| "uptime".into()),
        user,
    );
    e.job_id = job.and_then(|j| j.uuid.clone());
    e.date_started = started;
    e
}

pub(super) fn event(i: usize, text: &str) -> LogEvent {
    LogEvent {
        time: t0() + Duration::nanoseconds(i as i64 * 1_000_001),
        level: if i % 2 == 0 {
            LogLevel::Info
        } else {
            LogLevel::Warn
        },
        stream: match i % 3 {
            0 => Stream::Stdout,
            1 => Stream::Stderr,
            _ => Stream::System,
        },
        node: (i % 4 != 0).then(|| format!("node-{}", i % 4)),
        stepctx: (i % 5 != 0).then(|| format!("{}/1", i % 5)),
        text: text.to_owned(),
        raw: None,
    }
}

pub(super) fn is_conflict<T: std::fmt::Debug>(r: crate::Result<T>) -> bool {
    matches!(r, Err(Error::Conflict(_)))
}

pub(super) fn is_not_found<T: std::fmt::Debug>(r: crate::Result<T>) -> bool {
    matches!(r, Err(Error::NotFound { .. }))
}

pub(super) fn names(jobs: &[Job]) -> Vec<&str> {
    jobs.iter().map(|j| j.name.as_str()).collect()
}

/// `list_jobs`, checking that `list_job_summaries` answers the same query
/// with the same jobs in the same order.
pub(super) async fn listed(s: &S, project: &str, query: &JobQuery) -> Vec<Job> {
    let jobs = s.list_jobs(project, query).await.unwrap();
    let summaries = s.list_job_summaries(project, query).await.unwrap();
    let want: Vec<_> = jobs.iter().map(Job::summary).collect();
    assert_eq!(summaries, want, "summaries of {query:?}");
    jobs
}

pub(super) fn cluster_t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

pub(super) const LEASE: StdDuration = StdDuration::from_secs(60);

pub(super) fn scheduled(job: &str, at: DateTime<Utc>) -> Execution {
    let mut e = Execution::new("ops", job, "scheduler");
    e.job_id = Some(job.into());
    e.date_started = at;
    e
}

/// A store's job revision of a project; a conforming store keeps one.
pub(super) async fn revision(s: &S, project: &str) -> u64 {
    s.job_revision(project)
        .await
        .unwrap()
        .expect("the store keeps job revisions")
}
