//! Starting recorded executions in the background, each in one of the
//! scheduler's `max_running` slots, through its [`Launcher`](super::Launcher);
//! and recording the ones that could not start.

use super::durable::{job_trigger_id, DurableScheduler, TickReport};
use super::spec::TriggerSpec;
use crate::model::{Execution, ExecutionStatus, Job, LogEvent, LogLevel};
use crate::store::RunState;
use std::collections::BTreeMap;

impl DurableScheduler {
    /// Records an execution that could not start as failed.
    pub(super) async fn fail(&self, mut e: Execution, why: &str) {
        e.status = ExecutionStatus::Failed;
        e.date_ended = Some(self.inner.clock.now());
        e.failure = Some(why.to_owned());
        if let Err(err) = self.inner.store.update_execution(&e).await {
            tracing::error!(execution = e.id, error = %err, "recording a failed start failed");
        }
    }

    /// Whose rights a queued or re-run execution has: its user with the
    /// roles its job's schedule recorded for that user; `None` when none
    /// were recorded for them.
    pub(super) async fn stored_subject(&self, e: &Execution) -> Option<crate::authorizer::Subject> {
        let job_id = e.job_id.as_deref()?;
        let t = match self.inner.store.get_trigger(&job_trigger_id(job_id)).await {
            Ok(t) => t?,
            Err(err) => {
                tracing::warn!(execution = e.id, error = %err, "reading the schedule's subject failed");
                return None;
            }
        };
        let spec: TriggerSpec = serde_json::from_value(t.spec).ok()?;
        (spec.user == e.user).then(|| spec.subject()).flatten()
    }

    /// Starts an execution in the background with the rights of `subject`;
    /// with `drain`, starts the job's next queued execution when it ends.
    pub(super) fn launch(
        &self,
        job: Job,
        e: Execution,
        options: BTreeMap<String, String>,
        note: Option<String>,
        drain: bool,
        subject: Option<crate::authorizer::Subject>,
    ) {
        let this = self.clone();
        let task = tokio::spawn(async move {
            // the semaphore is never closed, so this waits for a slot
            let _slot = this.inner.slots.clone().acquire_owned().await;
            let (project, id) = (e.project.clone(), e.id);
            if let Some(note) = note {
                let event = LogEvent::system(LogLevel::Info, None, None, note);
                if let Err(err) = this.inner.store.append_log(id, &[event]).await {
                    tracing::warn!(execution = id, error = %err, "writing the misfire note failed");
                }
            }
            if let Err(err) = this
                .inner
                .launcher
                .run_as(&project, &job, e.clone(), options, subject)
                .await
            {
                this.fail(e, &format!("could not start: {err}")).await;
            }
            if drain {
                if let Some(job_id) = job.uuid.as_deref() {
                    let mut report = TickReport::default();
                    if let Err(err) = this.drain_job(&project, job_id, &mut report).await {
                        tracing::warn!(job = %job_id, error = %err, "starting a queued execution failed");
                    }
                }
            }
        });
        if let Ok(mut s) = self.inner.state.lock() {
            s.tasks.push(task);
        }
    }

    /// Continues a durable run in the background from its recorded
    /// `state`, with the rights of `subject`, in one of the `max_running`
    /// slots; records it as failed when it cannot start.
    pub(super) fn launch_continued(
        &self,
        job: Job,
        e: Execution,
        state: RunState,
        subject: Option<crate::authorizer::Subject>,
    ) {
        let this = self.clone();
        let task = tokio::spawn(async move {
            // the semaphore is never closed, so this waits for a slot
            let _slot = this.inner.slots.clone().acquire_owned().await;
            let project = e.project.clone();
            if let Err(err) = this
                .inner
                .launcher
                .continue_run(&project, &job, e.clone(), state, subject)
                .await
            {
                this.fail(e, &format!("could not continue: {err}")).await;
            }
        });
        if let Ok(mut s) = self.inner.state.lock() {
            s.tasks.push(task);
        }
    }
}
