//! Aborting an execution, for every front-end: a run of this server is
//! stopped; a durable run waiting for a server to continue it, or a run
//! scheduled for later (no task anywhere), is ended here.

use super::service::RunService;
use crate::error::Result;
use crate::model::{ExecState, Execution, ExecutionStatus};
use crate::store::ExecutionClaim;
use chrono::Utc;

/// What [`RunService::abort`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum Aborted {
    /// It had ended already: nothing to abort.
    Finished,
    /// It ran nowhere and is now `aborted` (the execution as stored): it
    /// was waiting for a server to continue it (its durable run state is
    /// gone), or scheduled for later (its trigger is gone: it never runs).
    Ended(Box<Execution>),
    /// It runs on this server and was told to stop; it ends as `aborted`
    /// when its steps return.
    Pending,
    /// It runs, or is being continued, on another server.
    NotHere,
}

impl RunService {
    /// Aborts `e`: stops it when it runs on this server, ends it when it
    /// waits for a server to continue it or for its scheduled time. A
    /// waiting run is first claimed the way a server continuing it claims
    /// it, so that of an abort and a continue exactly one takes it; a
    /// scheduled one the same way against its trigger's fire. When the
    /// other took it, it is stopped as a run of this server, if it is one.
    pub async fn abort(&self, e: &Execution) -> Result<Aborted> {
        self.abort_by(e, None).await
    }

    /// [`abort`](Self::abort), recording `user` as who aborted it (Rundeck's
    /// `abortedby`, which `abortedbyFilter` matches).
    pub async fn abort_by(&self, e: &Execution, user: Option<&str>) -> Result<Aborted> {
        if e.status.is_final() {
            return Ok(Aborted::Finished);
        }
        let mut ended = None;
        if e.status == ExecutionStatus::Scheduled {
            let why = "aborted before its time: it never ran";
            ended = self.scheduler.cancel_scheduled(e.id, why).await?;
        }
        if ended.is_none() && e.status == ExecutionStatus::Waiting {
            ended = self.end_waiting(e.id).await?;
        }
        if let Some(mut ended) = ended {
            if let Some(u) = user {
                ended.aborted_by = Some(u.to_owned());
                self.engine.store().update_execution(&ended).await?;
            }
            return Ok(Aborted::Ended(Box::new(ended)));
        }
        if self.engine.abort_by(e.id, user) {
            return Ok(Aborted::Pending);
        }
        let now = self.engine.store().get_execution(e.id).await?;
        Ok(match now {
            Some(now) if !now.status.is_final() => Aborted::NotHere,
            _ => Aborted::Finished,
        })
    }

    /// Claims waiting execution `id` for this server and ends it as
    /// `aborted`; `None` when it is not waiting for a server (any more).
    async fn end_waiting(&self, id: u64) -> Result<Option<Execution>> {
        let store = self.engine.store();
        let claim = ExecutionClaim {
            status: ExecutionStatus::Waiting,
            owner: None,
            due_by: None,
            job_id: None,
            id: Some(id),
        };
        let Some(mut e) = store
            .claim_executions(self.scheduler.server(), &claim, 1)
            .await?
            .pop()
        else {
            return Ok(None);
        };
        e.status = ExecutionStatus::Aborted;
        e.date_ended = Some(Utc::now());
        e.failure = Some("aborted while waiting for a server to continue it".to_owned());
        e.state.execution_state = ExecState::Aborted;
        store.update_execution(&e).await?;
        store.delete_run_state(id).await?;
        Ok(Some(e))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::Project;
    use crate::store::{RunState, Store};
    use crate::MemoryStore;
    use std::sync::Arc;

    /// A waiting durable run as recovery leaves it, with its run state.
    async fn waiting(store: &Arc<dyn Store>) -> Execution {
        store.create_project(&Project::new("p")).await.unwrap();
        let mut e = Execution::new("p", "deploy", "alice");
        e.status = ExecutionStatus::Waiting;
        e.id = store.create_execution(&e).await.unwrap();
        store.put_run_state(&RunState::new(e.id)).await.unwrap();
        e
    }

    #[tokio::test]
    async fn a_waiting_run_is_ended_once() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let runs = RunService::local(store.clone());
        let e = waiting(&store).await;
        let Aborted::Ended(ended) = runs.abort(&e).await.unwrap() else {
            panic!("not ended");
        };
        let stored = store.get_execution(e.id).await.unwrap().unwrap();
        assert_eq!(*ended, stored);
        assert_eq!(stored.status, ExecutionStatus::Aborted);
        assert_eq!(stored.state.execution_state, ExecState::Aborted);
        assert!(stored.date_ended.is_some());
        assert_eq!(store.get_run_state(e.id).await.unwrap(), None);
        // aborted again, from the stale record or the stored one
        assert_eq!(runs.abort(&e).await.unwrap(), Aborted::Finished);
        assert_eq!(runs.abort(&stored).await.unwrap(), Aborted::Finished);
    }

    #[tokio::test]
    async fn a_waiting_run_a_server_took_to_continue_is_left_to_it() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let runs = RunService::local(store.clone());
        let e = waiting(&store).await;
        let claim = ExecutionClaim {
            status: ExecutionStatus::Waiting,
            owner: None,
            due_by: None,
            job_id: None,
            id: None,
        };
        let taken = store.claim_executions("other", &claim, 10).await.unwrap();
        assert_eq!(taken.len(), 1);
        assert_eq!(runs.abort(&e).await.unwrap(), Aborted::NotHere);
        let stored = store.get_execution(e.id).await.unwrap().unwrap();
        assert_eq!(stored.status, ExecutionStatus::Waiting);
        assert!(store.get_run_state(e.id).await.unwrap().is_some());
    }
}
