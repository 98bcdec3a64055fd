//! [`JobService`]: saving, toggling and deleting jobs by the rules of the
//! [module](super).

use super::check::{check_notification_urls, check_schedule};
use crate::authorizer::{AuthContext, Resource, Subject};
use crate::cron::CronSchedule;
use crate::engine::job_resource;
use crate::error::{Error, ErrorCode, ErrorKind, Result};
use crate::model::Job;
use crate::runs::RunService;
use crate::schedule::TriggerSpec;
use crate::scheduler::Scheduler;
use crate::vault::{forget_secure_defaults, seal_secure_defaults, KeyVault};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// What saving a job does when one with its uuid, or its group and name,
/// exists in the project (Rundeck's `dupeOption`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnDuplicate {
    /// Make a new job; a job whose uuid exists is refused (a job with the
    /// same group and name is left to the store, which refuses it too).
    #[default]
    Create,
    /// Replace the existing job (keeping its uuid).
    Update,
    /// Leave the existing job as it is.
    Skip,
}

/// What [`JobService::save`] did.
#[derive(Clone, Debug)]
pub enum Saved {
    /// A new job, as stored (with its uuid).
    Created(Job),
    /// An existing job replaced, as stored.
    Updated(Job),
    /// The existing job, left as it was ([`OnDuplicate::Skip`]).
    Skipped(Job),
}

/// Why a job was not saved. The messages are the ones the API answers with.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The subject may not `create` or `update` the job, or cannot see the
    /// job it would replace.
    #[error("Not authorized for action \"{action}\" for Job {job}")]
    Unauthorized {
        /// The action refused.
        action: &'static str,
        /// The job's `group/name`.
        job: String,
    },
    /// The uuid is held by a job the subject cannot see, in this project or
    /// another: the same words whoever holds it, so that they tell nothing
    /// about that job or its project.
    #[error("job uuid {0} is already in use (import with uuidOption=remove to create a new job)")]
    UuidInUse(String),
    /// [`OnDuplicate::Create`], and a job with this uuid exists in the project.
    #[error(
        "a job with uuid {0} exists in this project (use dupeOption=update or uuidOption=remove)"
    )]
    UuidExists(String),
    /// The job's schedule or notifications cannot be kept (the message says
    /// which and why).
    #[error("{0}")]
    Invalid(String),
    /// Anything else: a store, key storage or scheduler failure.
    #[error(transparent)]
    Other(#[from] Error),
}

impl ErrorCode for SaveError {
    fn code(&self) -> &'static str {
        match self {
            SaveError::Unauthorized { .. } => "forbidden",
            SaveError::UuidInUse(_) | SaveError::UuidExists(_) => "job.conflict",
            SaveError::Invalid(_) => "job.invalid",
            SaveError::Other(e) => e.code(),
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            SaveError::Unauthorized { .. } => ErrorKind::Forbidden,
            SaveError::UuidInUse(_) | SaveError::UuidExists(_) => ErrorKind::Conflict,
            SaveError::Invalid(_) => ErrorKind::InvalidInput,
            SaveError::Other(e) => e.kind(),
        }
    }
}

/// Which switch of a job [`JobService::set_enabled`] turns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toggle {
    /// Whether the job may run at all (`executionEnabled`).
    Execution,
    /// Whether its schedule fires (`scheduleEnabled`).
    Schedule,
}

impl Toggle {
    /// The action the caller needs (`toggle_execution`, `toggle_schedule`).
    pub fn action(self) -> &'static str {
        match self {
            Toggle::Execution => "toggle_execution",
            Toggle::Schedule => "toggle_schedule",
        }
    }
}

/// Saves, toggles and deletes jobs with their schedules, by the rules of
/// the [module](super): the run service's store, authorizer and scheduler,
/// and the key storage that keeps secure option defaults.
#[derive(Clone, Debug)]
pub struct JobService {
    runs: RunService,
    vault: Option<Arc<dyn KeyVault>>,
}

impl JobService {
    /// A service over the run service's engine (its store and authorizer;
    /// without an authorizer every caller may do everything) and scheduler.
    /// Without key storage, secure option defaults stay in the job record.
    pub fn new(runs: RunService) -> Self {
        JobService { runs, vault: None }
    }

    /// Keeps secure option defaults in `vault` (where runs read them back).
    pub fn with_vault(mut self, vault: Arc<dyn KeyVault>) -> Self {
        self.vault = Some(vault);
        self
    }

    /// Saves `job` in `project` for `subject` and (re)schedules it as
    /// `subject`; a job whose uuid or group and name exist is handled as
    /// `on_duplicate` says.
    pub async fn save(
        &self,
        subject: &Subject,
        project: &str,
        mut job: Job,
        on_duplicate: OnDuplicate,
    ) -> std::result::Result<Saved, SaveError> {
        let store = self.runs.engine.store();
        let by_uuid = match job.uuid.as_deref() {
            Some(u) if !u.is_empty() => match store.get_job(project, u).await? {
                // a uuid of a job the caller cannot see, here or in another
                // project (uuids are global): one answer that names neither
                Some(e) if !self.sees(subject, project, &e) => {
                    return Err(SaveError::UuidInUse(u.to_owned()))
                }
                None if store.uuid_taken(u).await? => {
                    return Err(SaveError::UuidInUse(u.to_owned()))
                }
                found => found,
            },
            _ => None,
        };
        let by_name = store
            .find_job(project, job.group.as_deref(), &job.name)
            .await?;
        let refused = |action, job: &Job| SaveError::Unauthorized {
            action,
            job: job.full_name(),
        };
        // a job the caller cannot see is treated as absent for reporting,
        // but never overwritten
        let existing = by_uuid.clone().or(by_name);
        if let Some(e) = &existing {
            if !self.sees(subject, project, e) {
                return Err(refused("update", &job));
            }
        }
        let existing = match (on_duplicate, existing) {
            (OnDuplicate::Skip, Some(e)) => return Ok(Saved::Skipped(e)),
            (OnDuplicate::Create, _) if by_uuid.is_some() => {
                return Err(SaveError::UuidExists(job.uuid.clone().unwrap_or_default()))
            }
            (OnDuplicate::Create, _) => None,
            (_, e) => e,
        };
        if let Some(e) = &existing {
            job.uuid = e.uuid.clone();
            if !self.may(subject, "update", project, e) {
                return Err(refused("update", &job));
            }
        } else if !self.may(subject, "create", project, &job) {
            return Err(refused("create", &job));
        }
        check_schedule(&job).map_err(SaveError::Invalid)?;
        check_notification_urls(&job).map_err(SaveError::Invalid)?;
        // a secure option's default goes to key storage, never into the record
        if let Some(vault) = &self.vault {
            seal_secure_defaults(&mut job, vault.as_ref()).await?;
        }
        let stored = store.put_job(project, &job).await?;
        if let Err(e) = self
            .runs
            .scheduler
            .schedule_job_as(project, &stored, subject)
            .await
        {
            // put back what was there: no job with a schedule that never runs
            let undo = match &existing {
                Some(prev) => store.put_job(project, prev).await.map(|_| ()),
                None => match &stored.uuid {
                    Some(u) => store.delete_job(project, u).await,
                    None => Ok(()),
                },
            };
            if let Err(u) = undo {
                tracing::error!(error = %u, "undoing a saved job whose schedule failed");
            }
            return Err(e.into());
        }
        Ok(match existing {
            Some(_) => Saved::Updated(stored),
            None => Saved::Created(stored),
        })
    }

    /// Turns `job`'s executions or schedule on or off for `subject`, and
    /// reschedules it as `subject`; returns the job as stored.
    pub async fn set_enabled(
        &self,
        subject: &Subject,
        project: &str,
        mut job: Job,
        what: Toggle,
        on: bool,
    ) -> Result<Job> {
        self.authorize(subject, what.action(), project, &job)?;
        match what {
            Toggle::Execution => job.execution_enabled = on,
            Toggle::Schedule => job.schedule_enabled = on,
        }
        let stored = self.runs.engine.store().put_job(project, &job).await?;
        self.runs
            .scheduler
            .schedule_job_as(project, &stored, subject)
            .await?;
        Ok(stored)
    }

    /// Deletes `job` of `project` for `subject`: its schedule and pending
    /// one-off runs, the job, and the secure option defaults it kept in key
    /// storage (a failure there is logged: the job is gone). Its executions
    /// stay.
    pub async fn delete(&self, subject: &Subject, project: &str, job: &Job) -> Result<()> {
        self.authorize(subject, "delete", project, job)?;
        self.remove(project, job).await
    }

    /// Deletes a job that [`save`](Self::save) just created, without asking
    /// the authorizer: for undoing a save when a later step of the same
    /// change is refused (an import is all or nothing, and its caller may
    /// create jobs without being allowed to delete them).
    pub async fn undo_create(&self, project: &str, job: &Job) -> Result<()> {
        self.remove(project, job).await
    }

    async fn remove(&self, project: &str, job: &Job) -> Result<()> {
        let id = job
            .uuid
            .as_deref()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| Error::NotFound {
                kind: "job",
                id: job.full_name(),
            })?;
        self.runs.scheduler.unschedule_job(project, id).await?;
        self.runs.engine.store().delete_job(project, id).await?;
        if let Some(vault) = &self.vault {
            // the secure option defaults it kept in key storage go with it
            if let Err(e) = forget_secure_defaults(id, vault.as_ref()).await {
                tracing::warn!(job = %id, error = %e, "deleting a job's secure option defaults");
            }
        }
        Ok(())
    }

    /// The fire times of job `job_id` of `project` from now until `until`,
    /// at most `max`, in order: each active trigger's next fire and, for a
    /// schedule, the times after it, computed exactly as the scheduler
    /// fires them (zone and DST rule).
    pub async fn forecast(
        &self,
        project: &str,
        job_id: &str,
        until: DateTime<Utc>,
        max: usize,
    ) -> Result<Vec<DateTime<Utc>>> {
        let now = Utc::now();
        let mut times: Vec<DateTime<Utc>> = Vec::new();
        for t in self
            .runs
            .engine
            .store()
            .list_triggers(Some(project))
            .await?
        {
            if !t.enabled || t.job_id.as_deref() != Some(job_id) {
                continue;
            }
            let spec: Option<TriggerSpec> = serde_json::from_value(t.spec.clone()).ok();
            match spec.as_ref().and_then(|s| s.cron.as_deref()) {
                Some(cron) => {
                    let zone = spec.as_ref().and_then(|s| s.zone.as_deref());
                    let sched = CronSchedule::parse_at(cron, zone, now)?;
                    times.push(t.next_fire);
                    times.extend(sched.upcoming(t.next_fire, max));
                }
                None => times.push(t.next_fire),
            }
        }
        times.sort();
        times.dedup();
        times.retain(|t| *t <= until);
        times.truncate(max);
        Ok(times)
    }

    /// Whether `subject` may do `action` on `job` of `project`; always,
    /// when the engine has no authorizer (a trusted library caller).
    fn may(&self, subject: &Subject, action: &str, project: &str, job: &Job) -> bool {
        self.runs.engine.authorizer().is_none_or(|a| {
            a.allowed(
                subject,
                action,
                &job_resource(job),
                &AuthContext::Project(project.to_owned()),
            )
        })
    }

    /// Whether the job exists for `subject`: the project readable, and the
    /// job readable or viewable.
    fn sees(&self, subject: &Subject, project: &str, job: &Job) -> bool {
        let Some(a) = self.runs.engine.authorizer() else {
            return true;
        };
        let p = Resource::new("project").with("name", project);
        a.allowed(subject, "read", &p, &AuthContext::Application)
            && (self.may(subject, "read", project, job) || self.may(subject, "view", project, job))
    }

    /// [`may`](Self::may), or `Forbidden` naming the action and the job.
    fn authorize(&self, subject: &Subject, action: &str, project: &str, job: &Job) -> Result<()> {
        if self.may(subject, action, project, job) {
            return Ok(());
        }
        Err(Error::Forbidden(format!(
            "Not authorized for action \"{action}\" for Job ID {}",
            job.uuid.as_deref().unwrap_or_default()
        )))
    }
}
