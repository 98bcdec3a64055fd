//! The [`Scheduler`] methods: a job's schedule kept as its trigger
//! (`job:<uuid>`), removed with the job's pending one-off runs.

use super::durable::{job_trigger_id, DurableScheduler};
use super::scheduler::{RunRequest, Scheduler};
use super::spec::TriggerSpec;
use crate::cron::CronSchedule;
use crate::error::{Error, Result};
use crate::model::{Execution, Job};
use crate::runs::rules;
use crate::store::Trigger;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
impl Scheduler for DurableScheduler {
    async fn schedule_job(&self, project: &str, job: &Job) -> Result<Option<DateTime<Utc>>> {
        self.schedule_job_with(project, job, None).await
    }

    async fn unschedule_job(&self, project: &str, job_id: &str) -> Result<()> {
        let store = &self.inner.store;
        for t in store.list_triggers(Some(project)).await? {
            if t.job_id.as_deref() == Some(job_id) {
                // a one-off run's scheduled execution ends with its trigger
                if let Some(id) = TriggerSpec::execution_of(&t) {
                    self.cancel_scheduled(id, "its job was deleted before its time")
                        .await?;
                }
                match store.delete_trigger(&t.id).await {
                    Ok(()) | Err(Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    async fn run_at(&self, request: RunRequest, at: DateTime<Utc>) -> Result<Execution> {
        self.run_at_impl(request, at).await
    }

    async fn next_fire_time(&self, project: &str, job_id: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .inner
            .store
            .list_triggers(Some(project))
            .await?
            .into_iter()
            .filter(|t| t.enabled && t.job_id.as_deref() == Some(job_id))
            .map(|t| t.next_fire)
            .min())
    }
}

impl DurableScheduler {
    /// [`Scheduler::schedule_job`], with the runs acting as `subject` (the
    /// job's owner: who saved the schedule) with its roles, authorized as
    /// such when they run.
    pub async fn schedule_job_as(
        &self,
        project: &str,
        job: &Job,
        subject: &crate::authorizer::Subject,
    ) -> Result<Option<DateTime<Utc>>> {
        self.schedule_job_with(project, job, Some(subject)).await
    }

    async fn schedule_job_with(
        &self,
        project: &str,
        job: &Job,
        subject: Option<&crate::authorizer::Subject>,
    ) -> Result<Option<DateTime<Utc>>> {
        let invalid = |field: &str, message: &str| Error::InvalidJob {
            job: job.full_name(),
            field: field.into(),
            message: message.into(),
        };
        let store = &self.inner.store;
        let job_id = job
            .uuid
            .as_deref()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| invalid("uuid", "a scheduled job needs a uuid (store it first)"))?;
        let id = job_trigger_id(job_id);
        let schedule = match &job.schedule {
            Some(s) if rules::job_schedule_enabled(job) => s,
            _ => {
                match store.delete_trigger(&id).await {
                    Ok(()) | Err(Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
                return Ok(None);
            }
        };
        let now = self.inner.clock.now();
        let zone = job
            .time_zone
            .as_deref()
            .map(str::trim)
            .filter(|z| !z.is_empty())
            .or(self.inner.config.zone.as_deref());
        let cron = CronSchedule::parse_at(&schedule.to_quartz(), zone, now)?;
        let mut spec = match subject {
            Some(s) => {
                let mut spec = TriggerSpec::for_job(job, &s.user)?;
                spec.roles = Some(s.groups.iter().cloned().collect());
                spec
            }
            None => TriggerSpec::for_job(job, &self.inner.config.user)?,
        };
        spec.cron = Some(cron.expr().to_owned());
        spec.zone = Some(cron.zone().to_owned());
        let spec_json = serde_json::to_value(&spec)
            .map_err(|e| Error::Store(format!("trigger spec of {}: {e}", job.full_name())))?;
        // an unchanged schedule keeps its trigger, and with it a pending fire
        if let Some(t) = store.get_trigger(&id).await? {
            if t.enabled && t.spec == spec_json && t.project == project {
                return Ok(Some(t.next_fire));
            }
        }
        let next = cron.next_after(now).ok_or_else(|| Error::InvalidSchedule {
            expr: cron.expr().to_owned(),
            message: "it never fires after now".into(),
        })?;
        let mut t = Trigger::new(id, project, Some(job_id.to_owned()), next);
        t.spec = spec_json;
        store.put_trigger(&t).await?;
        Ok(Some(next))
    }
}
