//! Retention on SQLite, PostgreSQL and MariaDB: old executions and their logs
//! go in batches, the newest per job and anything still running stay.
#![allow(clippy::unwrap_used)]

use chrono::{Duration, Utc};
use foredeck_core::model::{Execution, ExecutionStatus, Job, LogEvent, LogLevel, Step, Workflow};
use foredeck_core::store::prelude::*;
use foredeck_core::store::ExecutionQuery;
use foredeck_store::{Retention, SqlStore};
use sea_orm::{ConnectionTrait, Database};

async fn scenario(s: &SqlStore) {
    let job = s
        .put_job(
            "p",
            &Job::new("nightly", Workflow::new(vec![Step::command("true")])),
        )
        .await
        .unwrap();
    let old = Utc::now() - Duration::days(40);
    let mut ids = Vec::new();
    // 10 old executions of the job, 5 old ad-hoc ones, 1 old still running, 2 recent
    for i in 0..18 {
        let mut e = Execution::new("p", "nightly", "ops");
        e.job_id = (!(10..16).contains(&i)).then(|| job.uuid.clone().unwrap());
        e.date_started = if i >= 16 {
            Utc::now()
        } else {
            old + Duration::minutes(i)
        };
        e.status = if i == 15 {
            ExecutionStatus::Running
        } else {
            e.date_ended = Some(e.date_started + Duration::seconds(1));
            ExecutionStatus::Succeeded
        };
        let id = s.create_execution(&e).await.unwrap();
        s.append_log(id, &[LogEvent::system(LogLevel::Info, None, None, "x")])
            .await
            .unwrap();
        s.append_log(id, &[LogEvent::system(LogLevel::Info, None, None, "y")])
            .await
            .unwrap();
        ids.push(id);
    }
    let policy = Retention {
        keep_last_per_job: 3,
        batch: 4,
        ..Retention::days(30, 3)
    };
    let report = s.purge(&policy).await.unwrap();
    // job: 12 executions, the newest 3 stay (2 recent + 1 old) -> 9 old go;
    // ad hoc: 5 old ended go, the running one stays
    assert_eq!(report.executions, 14, "{report:?}");
    assert_eq!(report.log_chunks, 28);
    assert_eq!(report.batches, 4);
    let left: Vec<u64> = s
        .query_executions(&ExecutionQuery {
            max: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(left, vec![ids[17], ids[16], ids[15], ids[9]]);
    // the totals (per job and per project) follow the purge
    for (job_ids, adhoc, want) in [
        (vec![], None, 4),
        (vec![], Some(true), 1),
        (vec![], Some(false), 3),
        (vec![job.uuid.clone().unwrap()], None, 3),
    ] {
        let q = ExecutionQuery {
            project: Some("p".into()),
            job_ids,
            adhoc,
            ..Default::default()
        };
        assert_eq!(s.query_executions(&q).await.unwrap().total, want, "{q:?}");
    }
    // and so do the filters' totals (by user, type and end time)
    let recent = Utc::now() - Duration::days(20);
    for (q, want) in [
        (
            ExecutionQuery {
                user: Some("ops".into()),
                ..Default::default()
            },
            4,
        ),
        (
            ExecutionQuery {
                execution_type: Some(foredeck_core::model::ExecutionType::User),
                ..Default::default()
            },
            4,
        ),
        (
            ExecutionQuery {
                ended_after: Some(old - Duration::days(1)),
                ..Default::default()
            },
            3,
        ),
        (
            ExecutionQuery {
                ended_before: Some(recent),
                ..Default::default()
            },
            1,
        ),
    ] {
        let q = ExecutionQuery {
            project: Some("p".into()),
            ..q
        };
        assert_eq!(s.query_executions(&q).await.unwrap().total, want, "{q:?}");
    }
    assert!(
        s.read_log(ids[0], 0, 10).await.is_err(),
        "log of a purged execution is gone"
    );
    assert_eq!(s.read_log(ids[9], 0, 10).await.unwrap().events.len(), 2);
    // a second run finds nothing more
    assert_eq!(s.purge(&policy).await.unwrap().executions, 0);
}

#[tokio::test]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqlStore::connect(&format!("sqlite://{}/r.db?mode=rwc", dir.path().display()))
        .await
        .unwrap();
    scenario(&s).await;
}

async fn on_server(base: &str, admin_db: &str) {
    let admin = match Database::connect(format!("{base}/{admin_db}")).await {
        Ok(c) => c,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED: {base} unreachable ({e})");
            return;
        }
        Err(e) => panic!("{base} unreachable under CI: {e}"),
    };
    let name = format!("fd_ret_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let store = SqlStore::connect(&format!("{base}/{name}")).await.unwrap();
    let result =
        futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(scenario(&store))).await;
    store.close().await.unwrap();
    admin
        .execute_unprepared(&format!("DROP DATABASE {name}"))
        .await
        .unwrap();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

#[tokio::test]
async fn postgres() {
    on_server("postgres://postgres@127.0.0.1:5432", "postgres").await;
}

#[tokio::test]
async fn mariadb() {
    on_server("mysql://root@127.0.0.1:3306", "mysql").await;
}
