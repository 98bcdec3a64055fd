//! Durable runs of stopped servers: instead of `incomplete`, an execution
//! of a job with `durable: true` whose run recorded its state waits
//! (status `waiting`, owned by none) for a server to continue it, and a
//! server claims it and continues it from its next step through its
//! [`Launcher`](super::Launcher).

use super::durable::{DurableScheduler, TickReport};
use crate::error::Result;
use crate::model::{Execution, ExecutionStatus};
use crate::store::ExecutionClaim;

/// Waiting executions claimed at once.
const CLAIM_CHUNK: usize = 100;

impl DurableScheduler {
    /// When `e` (a running execution of a stopped server, claimed by this
    /// one) is a durable run with a recorded state and this scheduler's
    /// launcher continues runs: makes it wait for a server to continue it
    /// and says so; otherwise leaves it as it is.
    pub(super) async fn park(&self, e: &Execution) -> Result<bool> {
        if !self.inner.launcher.continues_runs() {
            return Ok(false);
        }
        let store = &self.inner.store;
        let Some(job_id) = &e.job_id else {
            return Ok(false);
        };
        let durable = store
            .get_job(&e.project, job_id)
            .await?
            .is_some_and(|j| j.durable);
        if !durable || store.get_run_state(e.id).await?.is_none() {
            return Ok(false);
        }
        let mut waiting = e.clone();
        waiting.status = ExecutionStatus::Waiting;
        waiting.server_uuid = None;
        store.update_execution(&waiting).await?;
        Ok(true)
    }

    /// Claims the waiting durable runs and continues each from its recorded
    /// state in the background; one whose job or state is gone is marked
    /// `incomplete`.
    pub(super) async fn continue_waiting(&self, report: &mut TickReport) -> Result<()> {
        if !self.inner.launcher.continues_runs() {
            return Ok(());
        }
        let store = &self.inner.store;
        let claim = ExecutionClaim {
            status: ExecutionStatus::Waiting,
            owner: None,
            due_by: None,
            job_id: None,
            id: None,
        };
        loop {
            let batch = store
                .claim_executions(self.server(), &claim, CLAIM_CHUNK)
                .await?;
            if batch.is_empty() {
                return Ok(());
            }
            for e in batch {
                let job = match &e.job_id {
                    Some(id) => store.get_job(&e.project, id).await?,
                    None => None,
                };
                let state = store.get_run_state(e.id).await?;
                match (job, state) {
                    (Some(job), Some(state)) if job.durable => {
                        let subject = self.stored_subject(&e).await;
                        self.launch_continued(job, e, state, subject);
                        report.continued += 1;
                    }
                    _ => {
                        let why =
                            "its server stopped, and its durable run state or its job is gone";
                        self.mark_incomplete(e, why).await?;
                        report.taken_over += 1;
                    }
                }
            }
        }
    }
}
