#![allow(clippy::unwrap_used)]
//! The scheduler's tests, by area: firing (`fire.rs`), recovery and
//! takeover (`recover.rs`), durable runs continued (`resume.rs`), queues
//! (`queue.rs`), one-off runs (`once.rs`), over the helpers here.

mod fire;
mod once;
mod passive;
mod queue;
mod recover;
mod resume;

use super::*;
use crate::model::{Execution, ExecutionStatus, Job, Project, Retry, Schedule, Step, Workflow};
use crate::store::{ExecutionQuery, Store};
use crate::testing::RecordingNotifier;
use crate::{Error, MemoryStore, NotificationTrigger, RunRequest, Scheduler};
use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// Records what it is asked to run; with a gate, each run waits for a
/// permit before it succeeds (a run still going on).
#[derive(Debug)]
struct TestLauncher {
    store: Arc<dyn Store>,
    runs: Mutex<Vec<(Execution, BTreeMap<String, String>)>>,
    gate: Option<Arc<Semaphore>>,
}

impl TestLauncher {
    fn new(store: &Arc<dyn Store>) -> Arc<Self> {
        Arc::new(TestLauncher {
            store: store.clone(),
            runs: Mutex::new(Vec::new()),
            gate: None,
        })
    }

    fn gated(store: &Arc<dyn Store>, gate: &Arc<Semaphore>) -> Arc<Self> {
        Arc::new(TestLauncher {
            store: store.clone(),
            runs: Mutex::new(Vec::new()),
            gate: Some(gate.clone()),
        })
    }

    fn ids(&self) -> Vec<u64> {
        self.runs
            .lock()
            .unwrap()
            .iter()
            .map(|(e, _)| e.id)
            .collect()
    }
}

#[async_trait]
impl Launcher for TestLauncher {
    async fn run(
        &self,
        _project: &str,
        _job: &Job,
        mut execution: Execution,
        options: BTreeMap<String, String>,
    ) -> crate::Result<Execution> {
        self.runs.lock().unwrap().push((execution.clone(), options));
        if let Some(g) = &self.gate {
            g.acquire().await.unwrap().forget();
        }
        execution.status = ExecutionStatus::Succeeded;
        execution.date_ended = Some(execution.date_started);
        self.store.update_execution(&execution).await?;
        Ok(execution)
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn sched(
    store: &Arc<dyn Store>,
    launcher: Arc<dyn Launcher>,
    clock: &ManualClock,
    server: &str,
) -> DurableScheduler {
    DurableScheduler::builder(store.clone(), launcher)
        .clock(Arc::new(clock.clone()))
        .config(SchedulerConfig::new(server))
        .build()
}

async fn cron_job(store: &Arc<dyn Store>, name: &str, cron: &str) -> Job {
    let mut job = Job::new(name, Workflow::new(vec![Step::command("true")]));
    job.uuid = Some(format!("uuid-{name}"));
    job.schedule = Some(Schedule::Crontab {
        crontab: cron.into(),
    });
    job.time_zone = Some("UTC".into());
    job.multiple_executions = true;
    store.put_job("p", &job).await.unwrap()
}

async fn executions(store: &Arc<dyn Store>, job: &Job) -> Vec<Execution> {
    let mut v = store
        .query_executions(&ExecutionQuery {
            job_ids: vec![job.uuid.clone().unwrap()],
            max: 100_000,
            ..ExecutionQuery::default()
        })
        .await
        .unwrap()
        .items;
    v.sort_by_key(|e| e.id);
    v
}

async fn memory() -> Arc<dyn Store> {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    store.create_project(&Project::new("p")).await.unwrap();
    store
}

async fn serial_job(store: &Arc<dyn Store>, name: &str, policy: &str) -> Job {
    let mut job = cron_job(store, name, "0/10 * * * * ?").await;
    job.multiple_executions = false;
    job.extra.insert(CONCURRENCY_KEY.into(), policy.into());
    store.put_job("p", &job).await.unwrap()
}
