//! Queued executions, started one at a time when their job is idle.

use super::durable::{DurableScheduler, TickReport};
use crate::error::Result;
use crate::model::ExecutionStatus;
use crate::store::{ExecutionClaim, ExecutionQuery};
use std::collections::BTreeSet;

impl DurableScheduler {
    /// Starts queued executions of jobs that are not running.
    pub(super) async fn drain_queues(&self, report: &mut TickReport) -> Result<()> {
        let page = self
            .inner
            .store
            .query_executions(&ExecutionQuery {
                status: Some(ExecutionStatus::Queued),
                max: 100,
                ..ExecutionQuery::default()
            })
            .await?;
        let jobs: BTreeSet<(String, String)> = page
            .items
            .into_iter()
            .filter(|e| e.server_uuid.is_none())
            .filter_map(|e| e.job_id.map(|j| (e.project, j)))
            .collect();
        for (project, job_id) in jobs {
            self.drain_job(&project, &job_id, report).await?;
        }
        Ok(())
    }

    /// Starts the oldest queued execution of a job when none of it runs (or
    /// waits to be continued: a durable run of a stopped server).
    pub(super) async fn drain_job(
        &self,
        project: &str,
        job_id: &str,
        report: &mut TickReport,
    ) -> Result<()> {
        let store = &self.inner.store;
        if !self.running_ids(project, job_id).await?.is_empty()
            || !self
                .ids_in(project, job_id, ExecutionStatus::Waiting)
                .await?
                .is_empty()
        {
            return Ok(());
        }
        let claim = ExecutionClaim {
            status: ExecutionStatus::Queued,
            owner: None,
            due_by: None,
            job_id: Some(job_id.to_owned()),
            id: None,
        };
        let Some(mut e) = store
            .claim_executions(self.server(), &claim, 1)
            .await?
            .pop()
        else {
            return Ok(());
        };
        e.status = ExecutionStatus::Running;
        e.date_started = self.inner.clock.now();
        store.update_execution(&e).await?;
        // two servers may have each claimed one: the lowest id runs, the
        // others go back to the queue
        if self
            .running_ids(project, job_id)
            .await?
            .iter()
            .any(|other| *other < e.id)
        {
            e.status = ExecutionStatus::Queued;
            e.server_uuid = None;
            store.update_execution(&e).await?;
            return Ok(());
        }
        let Some(job) = store.get_job(project, job_id).await? else {
            self.fail(e, "the job no longer exists").await;
            return Ok(());
        };
        let options = e.options.clone();
        let subject = self.stored_subject(&e).await;
        self.launch(job, e, options, None, true, subject);
        report.started += 1;
        Ok(())
    }

    async fn running_ids(&self, project: &str, job_id: &str) -> Result<Vec<u64>> {
        self.ids_in(project, job_id, ExecutionStatus::Running).await
    }

    async fn ids_in(
        &self,
        project: &str,
        job_id: &str,
        status: ExecutionStatus,
    ) -> Result<Vec<u64>> {
        Ok(self
            .inner
            .store
            .query_executions(&ExecutionQuery {
                project: Some(project.to_owned()),
                job_ids: vec![job_id.to_owned()],
                status: Some(status),
                max: 1000,
                ..ExecutionQuery::default()
            })
            .await?
            .items
            .into_iter()
            .map(|e| e.id)
            .collect())
    }
}
