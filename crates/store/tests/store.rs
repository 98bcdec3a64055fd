//! One behavioural suite for every `Store`, from
//! `foredeck_core::testing::conformance`: here on SQLite (temporary file),
//! PostgreSQL and MariaDB (a fresh database per test, dropped after); core's
//! own tests run it on MemoryStore. Then what only the SQL store does.
//!
//! PostgreSQL and MariaDB are found at `FOREDECK_TEST_POSTGRES`
//! (default `postgres://postgres@127.0.0.1:5432`) and `FOREDECK_TEST_MYSQL`
//! (default `mysql://root@127.0.0.1:3306`). When one is unreachable the test
//! prints a skip notice, unless `CI` is set: then it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use foredeck_core::model::{Execution, Job, LogEvent, LogLevel, Project, Step, Stream, Workflow};
use foredeck_core::store::prelude::*;
use foredeck_core::store::JobQuery;
use foredeck_core::{Error, ErrorCode};
use foredeck_store::{SqlStore, StoreError};
use sea_orm::ConnectionTrait;

#[macro_use]
mod common;
use common::*;

store_tests!(
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
);

// ---------------------------------------------------------------- helpers

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

fn job(name: &str, group: Option<&str>) -> Job {
    let mut j = Job::new(name, Workflow::new(vec![Step::command("echo hi")]));
    j.group = group.map(str::to_owned);
    j
}

fn execution(project: &str, job: Option<&Job>, user: &str, started: DateTime<Utc>) -> Execution {
    let mut e = Execution::new(
        project,
        job.map(Job::full_name).unwrap_or_else(|| "uptime".into()),
        user,
    );
    e.job_id = job.and_then(|j| j.uuid.clone());
    e.date_started = started;
    e
}

fn event(i: usize, text: &str) -> LogEvent {
    LogEvent {
        time: t0() + Duration::nanoseconds(i as i64 * 1_000_001),
        level: if i % 2 == 0 {
            LogLevel::Info
        } else {
            LogLevel::Warn
        },
        stream: match i % 3 {
            0 => Stream::Stdout,
            1 => Stream::Stderr,
            _ => Stream::System,
        },
        node: (i % 4 != 0).then(|| format!("node-{}", i % 4)),
        stepctx: (i % 5 != 0).then(|| format!("{}/1", i % 5)),
        text: text.to_owned(),
        raw: None,
    }
}

fn names(jobs: &[Job]) -> Vec<&str> {
    jobs.iter().map(|j| j.name.as_str()).collect()
}

// ---------------------------------------------------------------- SQLite specifics

#[tokio::test]
async fn sqlite_data_dir_wal_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested dir").join("data");
    let store = SqlStore::open_data_dir(&data).await.unwrap();
    assert!(data.join("foredeck.db").is_file());
    let row = store
        .connection()
        .query_one(sea_orm::Statement::from_string(
            store.backend(),
            "PRAGMA journal_mode",
        ))
        .await
        .unwrap()
        .unwrap();
    let mode: String = row.try_get_by_index(0).unwrap();
    assert_eq!(mode, "wal");
    store.create_project(&Project::new("ops")).await.unwrap();
    let id = store
        .create_execution(&execution("ops", None, "a", t0()))
        .await
        .unwrap();
    store.append_log(id, &[event(0, "kept")]).await.unwrap();
    store.close().await.unwrap();

    // Reopening runs the migrations again (a no-op) and keeps the data.
    let store = SqlStore::open_data_dir(&data).await.unwrap();
    assert!(store.get_project("ops").await.unwrap().is_some());
    assert_eq!(
        store.read_log(id, 0, 9).await.unwrap().events[0].text,
        "kept"
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn sqlite_url_creates_file_and_memory_works() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    let store = SqlStore::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    assert!(path.is_file());
    store.close().await.unwrap();

    let mem = SqlStore::connect("sqlite::memory:").await.unwrap();
    mem.create_project(&Project::new("m")).await.unwrap();
    assert_eq!(mem.list_projects().await.unwrap().len(), 1);
}

#[tokio::test]
async fn bad_urls_are_store_errors() {
    let err = SqlStore::connect("nosuchdb://x").await.unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err:?}");
}

/// A failure keeps its cause: the core error's source is a `StoreError` a
/// caller can match, under the same message and code as before.
#[tokio::test]
async fn failures_keep_their_cause() {
    fn cause(err: &Error) -> Option<&StoreError> {
        std::error::Error::source(err).and_then(|s| s.downcast_ref::<StoreError>())
    }
    let err = SqlStore::connect("sqlite://no/such/dir/x.db?mode=bogus")
        .await
        .unwrap_err();
    assert!(
        matches!(cause(&err), Some(StoreError::Url { .. })),
        "{err:?}"
    );

    let store = SqlStore::connect("sqlite::memory:").await.unwrap();
    store.create_project(&Project::new("ops")).await.unwrap();
    store
        .connection()
        .execute_unprepared("UPDATE projects SET config = 'not json'")
        .await
        .unwrap();
    let err = store.get_project("ops").await.unwrap_err();
    assert!(
        err.to_string().starts_with("store: project config: "),
        "{err}"
    );
    assert!(
        matches!(cause(&err), Some(StoreError::Decode { .. })),
        "{err:?}"
    );

    store
        .connection()
        .execute_unprepared("DROP TABLE keys")
        .await
        .unwrap();
    let err = store.get_key("keys/x").await.unwrap_err();
    assert_eq!(err.code(), "store.failed");
    assert!(matches!(cause(&err), Some(StoreError::Query(_))), "{err:?}");
}

#[tokio::test]
async fn sql_job_uuids_are_global() {
    let store = SqlStore::connect("sqlite::memory:").await.unwrap();
    let j = store.put_job("ops", &job("a", None)).await.unwrap();
    let err = store.put_job("dev", &j).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    // the holder's project is not named: the caller may not read it
    assert!(!err.to_string().contains("ops"), "{err}");
    assert!(store.uuid_taken(j.uuid.as_deref().unwrap()).await.unwrap());
    assert!(!store.uuid_taken("no-such-uuid").await.unwrap());
    assert_eq!(
        store
            .get_job("ops", j.uuid.as_deref().unwrap())
            .await
            .unwrap(),
        Some(j)
    );
}

/// Job lists come from a cache of parsed definitions: a change made through
/// another store (another process) must show in the next list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_list_sees_changes_from_other_processes() {
    let dir = tempfile::tempdir().unwrap();
    let a = SqlStore::open_data_dir(dir.path()).await.unwrap();
    let b = SqlStore::open_data_dir(dir.path()).await.unwrap();
    a.create_project(&Project::new("ops")).await.unwrap();
    let mut j = a.put_job("ops", &job("one", Some("g"))).await.unwrap();
    a.put_job("ops", &job("two", None)).await.unwrap();
    let listed = a.list_jobs("ops", &JobQuery::default()).await.unwrap();
    assert_eq!(names(&listed), ["two", "one"]);
    let summary_names = |l: Vec<foredeck_core::JobSummary>| -> Vec<String> {
        l.into_iter().map(|j| j.name).collect()
    };
    let all = JobQuery::default();
    assert_eq!(
        summary_names(a.list_job_summaries("ops", &all).await.unwrap()),
        ["two", "one"]
    );
    // Changed, added and deleted elsewhere.
    j.description = "changed in b".into();
    b.put_job("ops", &j).await.unwrap();
    b.put_job("ops", &job("three", Some("g"))).await.unwrap();
    let two = listed[0].uuid.clone().unwrap();
    b.delete_job("ops", &two).await.unwrap();
    let listed = a.list_jobs("ops", &JobQuery::default()).await.unwrap();
    assert_eq!(names(&listed), ["one", "three"]);
    assert_eq!(listed[0].description, "changed in b");
    // the summaries a held from before are not served again
    let summaries = a.list_job_summaries("ops", &all).await.unwrap();
    assert_eq!(summary_names(summaries.clone()), ["one", "three"]);
    assert_eq!(summaries[0].description, "changed in b");
    // Filters apply to cached jobs too.
    let q = JobQuery {
        name_contains: Some("THR".into()),
        ..Default::default()
    };
    assert_eq!(names(&a.list_jobs("ops", &q).await.unwrap()), ["three"]);
    // a project deleted and made again elsewhere starts with no jobs
    b.delete_project("ops").await.unwrap();
    b.create_project(&Project::new("ops")).await.unwrap();
    assert!(a.list_job_summaries("ops", &all).await.unwrap().is_empty());
    b.put_job("ops", &job("four", None)).await.unwrap();
    assert_eq!(
        summary_names(a.list_job_summaries("ops", &all).await.unwrap()),
        ["four"]
    );
}

/// A store on a fresh database of a server whose pooled connections are all
/// ended by the server while idle (a restart, a proxy's idle timeout) keeps
/// working: a connection idle for a while is checked before it is used.
async fn connections_ended_while_idle(what: &str, env: &str, default: &str, admin_db: &str) {
    on_fresh_database(
        what,
        env,
        default,
        admin_db,
        |admin, url, name| async move {
            let store = SqlStore::connect(&url).await.unwrap();
            store.create_project(&Project::new("ops")).await.unwrap();
            // several connections in the pool, all idle
            let reads: Vec<_> = (0..4).map(|_| store.list_projects()).collect();
            for r in futures::future::join_all(reads).await {
                r.unwrap();
            }
            let backend = admin.get_database_backend();
            let ended = if backend == sea_orm::DatabaseBackend::Postgres {
                admin
                    .query_all(sea_orm::Statement::from_string(
                        backend,
                        format!(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                        ),
                    ))
                    .await
                    .unwrap()
                    .len()
            } else {
                let ids = admin
                    .query_all(sea_orm::Statement::from_string(
                        backend,
                        format!(
                            "SELECT id FROM information_schema.processlist WHERE db = '{name}'"
                        ),
                    ))
                    .await
                    .unwrap();
                for row in &ids {
                    let id: i64 = row.try_get_by_index(0).unwrap();
                    admin
                        .execute_unprepared(&format!("KILL {id}"))
                        .await
                        .unwrap();
                }
                ids.len()
            };
            assert!(ended > 0, "no connection of the store's to end");
            tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
            for _ in 0..8 {
                let projects = store.list_projects().await.unwrap();
                assert_eq!(projects.len(), 1);
            }
            store.close().await.unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn postgres_connections_ended_while_idle_are_replaced() {
    connections_ended_while_idle(
        "PostgreSQL",
        "FOREDECK_TEST_POSTGRES",
        "postgres://postgres@127.0.0.1:5432",
        "postgres",
    )
    .await;
}

#[tokio::test]
async fn mariadb_connections_ended_while_idle_are_replaced() {
    connections_ended_while_idle(
        "MariaDB",
        "FOREDECK_TEST_MYSQL",
        "mysql://root@127.0.0.1:3306",
        "mysql",
    )
    .await;
}
