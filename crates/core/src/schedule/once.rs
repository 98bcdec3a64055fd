//! One-off runs at a later time (Rundeck's `runAtTime`): each is an
//! execution recorded at once with status `scheduled` (listed, followed and
//! aborted like any other) and a `once:` trigger that starts that same
//! execution at its time (`fire.rs`). An abort before then claims the
//! execution, so that of the abort and the fire exactly one takes it, and
//! removes the trigger. Upkeep finishes the aborts a stopped server left
//! half done, and ends the scheduled executions left without a trigger.

use super::durable::{to_chrono, DurableScheduler};
use super::scheduler::RunRequest;
use super::spec::TriggerSpec;
use crate::error::{Error, Result};
use crate::model::{ExecState, Execution, ExecutionStatus};
use crate::runs::rules;
use crate::store::{ExecutionClaim, ExecutionQuery, Trigger};
use chrono::{DateTime, Utc};

/// Scheduled executions looked at by one upkeep.
const SWEEP_CHUNK: u64 = 100;

/// Trigger id of the one-off run whose scheduled execution is `execution`.
fn once_trigger_id(job_id: &str, execution: u64) -> String {
    format!("once:{job_id}:{execution}")
}

/// Which scheduled executions to claim: execution `id` (`None`: any) held
/// by `owner` (`None`: by no server).
fn claim_of(id: Option<u64>, owner: Option<String>) -> ExecutionClaim {
    ExecutionClaim {
        status: ExecutionStatus::Scheduled,
        owner,
        due_by: None,
        job_id: None,
        id,
    }
}

impl DurableScheduler {
    /// [`Scheduler::run_at`](super::Scheduler::run_at): the `scheduled`
    /// execution, then the `once:` trigger that starts it at `at` with the
    /// request's options, filter and user. When the trigger cannot be
    /// stored the execution is removed: no run is promised that nothing
    /// would start.
    pub(super) async fn run_at_impl(
        &self,
        request: RunRequest,
        at: DateTime<Utc>,
    ) -> Result<Execution> {
        let store = &self.inner.store;
        let job = store
            .get_job(&request.project, &request.job_id)
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "job",
                id: request.job_id.clone(),
            })?;
        if !rules::job_executions_enabled(&job) {
            return Err(Error::InvalidJob {
                job: job.full_name(),
                field: "executionEnabled".into(),
                message: "executions of this job are disabled".into(),
            });
        }
        let user = if request.user.is_empty() {
            self.inner.config.user.clone()
        } else {
            request.user.clone()
        };
        let mut spec = TriggerSpec::for_job(&job, &user)?;
        // The trigger waits in the store (and may fire on another cluster
        // member): a secure value given now would be kept there in clear.
        if let Some(name) = spec
            .secure
            .iter()
            .find(|s| request.options.contains_key(*s))
        {
            return Err(Error::InvalidJob {
                job: job.full_name(),
                field: format!("options.{name}"),
                message: "a secure option value is not kept for a run at a later time; \
                          run now, or give the option a key storage default (storagePath)"
                    .into(),
            });
        }
        spec.options = request.options;
        spec.filter = request.filter;
        spec.roles = request.roles;
        let mut t = Trigger::new(
            String::new(),
            request.project,
            Some(request.job_id.clone()),
            at,
        );
        let mut e = self.record(&t, &spec, &request.job_id, at);
        e.execution_type = crate::model::ExecutionType::UserScheduled;
        e.status = ExecutionStatus::Scheduled;
        // no server's until it starts (or an abort claims it)
        e.server_uuid = None;
        e.id = store.create_execution(&e).await?;
        spec.execution = Some(e.id);
        t.id = once_trigger_id(&request.job_id, e.id);
        let stored = match serde_json::to_value(&spec) {
            Ok(v) => {
                t.spec = v;
                store.put_trigger(&t).await
            }
            Err(err) => Err(Error::Store(format!(
                "trigger spec of {}: {err}",
                job.full_name()
            ))),
        };
        if let Err(err) = stored {
            if let Err(d) = store.delete_execution(e.id).await {
                tracing::error!(execution = e.id, error = %d, "removing the record of a run at a later time that has no trigger");
            }
            return Err(err);
        }
        Ok(e)
    }

    /// Ends scheduled execution `id` before it starts: `aborted`, `why`
    /// recorded as its failure, its trigger removed. It is first claimed,
    /// so that of this and its trigger's fire exactly one takes it. `None`:
    /// it is not a scheduled execution that no server has (it started or
    /// ended, or another abort has it).
    pub async fn cancel_scheduled(&self, id: u64, why: &str) -> Result<Option<Execution>> {
        let Some(e) = self
            .inner
            .store
            .claim_executions(self.server(), &claim_of(Some(id), None), 1)
            .await?
            .pop()
        else {
            return Ok(None);
        };
        self.end_scheduled(e, why).await.map(Some)
    }

    async fn end_scheduled(&self, mut e: Execution, why: &str) -> Result<Execution> {
        let store = &self.inner.store;
        e.status = ExecutionStatus::Aborted;
        e.date_ended = Some(self.inner.clock.now());
        e.failure = Some(why.to_owned());
        e.state.execution_state = ExecState::Aborted;
        store.update_execution(&e).await?;
        if let Some(job_id) = &e.job_id {
            match store.delete_trigger(&once_trigger_id(job_id, e.id)).await {
                Ok(()) | Err(Error::NotFound { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(e)
    }

    /// Finishes the aborts of scheduled executions that `owner` (a stopped
    /// server) had claimed and not yet ended; returns how many.
    pub(super) async fn finish_cancels(&self, owner: &str) -> Result<usize> {
        let claim = claim_of(None, Some(owner.to_owned()));
        let mut n = 0;
        loop {
            let batch = self
                .inner
                .store
                .claim_executions(self.server(), &claim, SWEEP_CHUNK as usize)
                .await?;
            if batch.is_empty() {
                return Ok(n);
            }
            for e in batch {
                let why =
                    format!("aborted before its time (server {owner} stopped while aborting it)");
                self.end_scheduled(e, &why).await?;
                n += 1;
            }
        }
    }

    /// Ends as `failed` the scheduled executions whose time passed longer
    /// ago than a fire can be late (the misfire threshold and a claim's
    /// lease) and that no trigger will start: a server stopped between
    /// recording the run and storing its trigger. Returns how many.
    pub(super) async fn end_lost_runs(&self) -> Result<usize> {
        let store = &self.inner.store;
        let cfg = &self.inner.config;
        let due = self.inner.clock.now() - to_chrono(cfg.misfire_threshold + cfg.lease);
        let page = store
            .query_executions(&ExecutionQuery {
                status: Some(ExecutionStatus::Scheduled),
                end: Some(due),
                max: SWEEP_CHUNK,
                ..ExecutionQuery::default()
            })
            .await?;
        let mut n = 0;
        for e in page.items {
            if e.server_uuid.is_some() {
                continue; // being aborted
            }
            if let Some(job_id) = &e.job_id {
                if store
                    .get_trigger(&once_trigger_id(job_id, e.id))
                    .await?
                    .is_some()
                {
                    continue; // late, and fired when claimed
                }
            }
            // with no trigger nothing else takes it but another sweep
            let Some(e) = store
                .claim_executions(self.server(), &claim_of(Some(e.id), None), 1)
                .await?
                .pop()
            else {
                continue;
            };
            self.fail(
                e,
                "not run: its trigger was lost (a server stopped while scheduling it)",
            )
            .await;
            n += 1;
        }
        Ok(n)
    }
}
