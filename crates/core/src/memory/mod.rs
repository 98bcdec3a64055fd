//! `MemoryStore`: a complete [`Store`](crate::Store) kept in process memory. Used by the CLI
//! for one-off runs, by embedders who need no persistence, and by tests.
//! One file per store area, as the traits in [`crate::store`].

mod acl;
mod audit;
mod cluster;
mod executions;
mod jobs;
mod keys;
mod known_hosts;
mod logs;
mod projects;
mod run_state;
mod triggers;
mod users;
mod webhooks;

use crate::error::{Error, Result};
use crate::model::{Execution, Job, LogEvent, Node, Project};
use crate::store::{
    AclPolicy, ApiToken, AuditEvent, Page, RunState, ServerHeartbeat, StoredKey, Trigger, User,
    Webhook,
};
use std::collections::BTreeMap;
use std::sync::RwLock;

#[derive(Debug, Default)]
struct Inner {
    projects: BTreeMap<String, Project>,
    /// project -> source -> nodes
    nodes: BTreeMap<String, BTreeMap<String, Vec<Node>>>,
    /// project -> uuid -> job
    jobs: BTreeMap<String, BTreeMap<String, Job>>,
    executions: BTreeMap<u64, Execution>,
    logs: BTreeMap<u64, Vec<LogEvent>>,
    /// execution -> its durable run's state
    run_states: BTreeMap<u64, RunState>,
    keys: BTreeMap<String, StoredKey>,
    next_execution: u64,
    known_hosts: BTreeMap<String, String>,
    triggers: BTreeMap<String, Trigger>,
    servers: BTreeMap<String, ServerHeartbeat>,
    /// (server, key) -> value
    server_settings: BTreeMap<(String, String), String>,
    users: BTreeMap<String, User>,
    /// id -> token
    tokens: BTreeMap<String, ApiToken>,
    /// (project, name) -> policy
    acl: BTreeMap<(Option<String>, String), AclPolicy>,
    audit: Vec<AuditEvent>,
    /// id -> webhook
    webhooks: BTreeMap<String, Webhook>,
    /// project -> job revision (kept when the project is deleted)
    job_revisions: BTreeMap<String, u64>,
}

impl Inner {
    fn raise_job_revision(&mut self, project: &str) {
        *self.job_revisions.entry(project.to_owned()).or_default() += 1;
    }

    fn insert_execution(&mut self, execution: &Execution) -> u64 {
        self.next_execution += 1;
        let id = self.next_execution;
        let mut e = execution.clone();
        e.id = id;
        self.executions.insert(id, e);
        self.logs.insert(id, Vec::new());
        id
    }
}

fn not_found(kind: &'static str, id: &str) -> Error {
    Error::NotFound {
        kind,
        id: id.into(),
    }
}

fn page_of<T: Clone>(all: Vec<&T>, offset: u64, max: u64) -> Page<T> {
    let max = if max == 0 { 20 } else { max };
    Page {
        total: all.len() as u64,
        items: all
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(max).unwrap_or(usize::MAX))
            .cloned()
            .collect(),
        offset,
        max,
    }
}

/// A [`Store`](crate::Store) in memory. Cheap to create; everything is lost when dropped.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, Inner>> {
        self.inner
            .read()
            .map_err(|_| Error::Store("memory store lock poisoned".into()))
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, Inner>> {
        self.inner
            .write()
            .map_err(|_| Error::Store("memory store lock poisoned".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Step, Workflow};
    use crate::store::prelude::*;
    use crate::store::{ExecutionQuery, JobQuery};

    #[tokio::test]
    async fn jobs_executions_and_logs() -> Result<()> {
        let s = MemoryStore::new();
        s.create_project(&Project::new("ops")).await?;
        assert!(s.create_project(&Project::new("ops")).await.is_err());
        let mut job = Job::new("deploy", Workflow::new(vec![Step::command("true")]));
        job.group = Some("web/prod".into());
        let stored = s.put_job("ops", &job).await?;
        let id = stored.uuid.clone().unwrap_or_default();
        assert!(s.put_job("ops", &job).await.is_err(), "same name, new uuid");
        // uuids are unique across projects, as in the SQL store
        assert!(s.uuid_taken(&id).await?);
        assert!(!s.uuid_taken("no-such-uuid").await?);
        match s.put_job("dev", &stored).await {
            Err(err @ Error::Conflict(_)) => {
                assert!(!err.to_string().contains("ops"), "{err}")
            }
            other => panic!("another project's uuid: {other:?}"),
        }
        assert!(s.get_job("dev", &id).await?.is_none());
        let q = JobQuery {
            group_path: Some("web".into()),
            ..JobQuery::default()
        };
        assert_eq!(s.list_jobs("ops", &q).await?.len(), 1);
        assert!(s
            .find_job("ops", Some("web/prod"), "deploy")
            .await?
            .is_some());

        let mut e = Execution::new("ops", "web/prod/deploy", "alice");
        e.job_id = Some(id);
        let eid = s.create_execution(&e).await?;
        let ev = LogEvent::system(crate::model::LogLevel::Info, None, None, "hello");
        s.append_log(eid, &[ev.clone(), ev.clone(), ev]).await?;
        let page = s.read_log(eid, 1, 10).await?;
        assert_eq!((page.events.len(), page.next_offset), (2, 3));
        let q = ExecutionQuery {
            job_name_contains: Some("DEP".into()),
            ..ExecutionQuery::default()
        };
        assert_eq!(s.query_executions(&q).await?.total, 1);
        s.delete_project("ops").await?;
        assert!(s.get_execution(eid).await?.is_none());
        Ok(())
    }
}

/// The store conformance suite on the reference store: one test per name, and
/// the whole suite through [`run_all`](crate::testing::conformance::run_all).
#[cfg(test)]
mod conformance {
    use crate::testing::conformance::{self, SharedStore};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    macro_rules! on_memory {
        ($($name:ident),* $(,)?) => {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                conformance::$name(Arc::new(super::MemoryStore::new())).await
            })*
        };
    }

    on_memory!(
        projects,
        delete_project_cascades,
        nodes,
        jobs,
        job_queries,
        executions,
        execution_queries,
        execution_queries_follow_jobs,
        execution_query_filters,
        filter_totals_follow_changes,
        logs,
        concurrent_appends,
        run_states,
        keys,
        known_hosts,
        triggers,
        trigger_fire_is_compare_and_set,
        exclusive_fire_waits_for_the_job,
        exclusive_fire_race,
        exclusive_start_race,
        fire_starts_a_scheduled_execution,
        servers_and_execution_claims,
        totals_follow_changes,
        claim_race_1000,
        concurrent_writers,
        users_and_tokens,
        acl_policies,
        audit_events,
        webhooks,
    );

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn run_all_gives_every_test_a_fresh_store() {
        let made = AtomicUsize::new(0);
        conformance::run_all(|| {
            made.fetch_add(1, Ordering::SeqCst);
            async { Arc::new(super::MemoryStore::new()) as SharedStore }
        })
        .await;
        assert_eq!(made.load(Ordering::SeqCst), conformance::ALL.len());
        assert_eq!(conformance::ALL.len(), 30);
    }
}
