//! The `Scheduler` trait: turns schedules and run-at times into executions.

use crate::error::Result;
use crate::model::{Execution, Job};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A request to run a job, as a trigger (API, schedule, webhook) makes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunRequest {
    /// Project.
    pub project: String,
    /// Job uuid.
    pub job_id: String,
    /// Option values by name.
    pub options: BTreeMap<String, String>,
    /// Who asked.
    pub user: String,
    /// The roles of `user`: when set, the run is authorized as `user` with
    /// these roles (see [`crate::RunOptions::subject`]).
    pub roles: Option<Vec<String>>,
    /// Node filter overriding the job's.
    pub filter: Option<String>,
}

/// Keeps job schedules and one-off run times, and starts their executions
/// exactly once.
#[async_trait]
pub trait Scheduler: Send + Sync + std::fmt::Debug {
    /// Registers (or replaces) a job's schedule; returns its next fire time,
    /// `None` when the job has no active schedule.
    async fn schedule_job(&self, project: &str, job: &Job) -> Result<Option<DateTime<Utc>>>;
    /// Removes a job's schedule and pending one-off runs.
    async fn unschedule_job(&self, project: &str, job_id: &str) -> Result<()>;
    /// Runs a job once at a given time: records its execution at once, with
    /// status `scheduled` and `at` as its start, and returns it; at `at` that
    /// execution starts (same id), unless it was aborted before.
    async fn run_at(&self, request: RunRequest, at: DateTime<Utc>) -> Result<Execution>;
    /// The next fire time of a job, if it is scheduled.
    async fn next_fire_time(&self, project: &str, job_id: &str) -> Result<Option<DateTime<Utc>>>;
}

#[async_trait]
impl<T: Scheduler + ?Sized> Scheduler for Arc<T> {
    async fn schedule_job(&self, project: &str, job: &Job) -> Result<Option<DateTime<Utc>>> {
        (**self).schedule_job(project, job).await
    }
    async fn unschedule_job(&self, project: &str, job_id: &str) -> Result<()> {
        (**self).unschedule_job(project, job_id).await
    }
    async fn run_at(&self, request: RunRequest, at: DateTime<Utc>) -> Result<Execution> {
        (**self).run_at(request, at).await
    }
    async fn next_fire_time(&self, project: &str, job_id: &str) -> Result<Option<DateTime<Utc>>> {
        (**self).next_fire_time(project, job_id).await
    }
}
