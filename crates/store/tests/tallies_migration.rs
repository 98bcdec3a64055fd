//! Migration 12 fills `execution_tallies` from the executions a database
//! already holds with the same numbers the store keeps as it writes them
//! (the same facets, shards and end-time buckets, before 1970 too): run
//! down and up again on SQLite, PostgreSQL and MariaDB, every filter's
//! total is what it was.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use foredeck_core::model::{Execution, ExecutionStatus, ExecutionType};
use foredeck_core::store::prelude::*;
use foredeck_core::store::ExecutionQuery;
use foredeck_store::migration::Migrator;
use foredeck_store::SqlStore;
use sea_orm_migration::MigratorTrait;

#[allow(unused_macros)]
mod common;
use common::on_fresh_database;

fn t0() -> DateTime<Utc> {
    // an hour before the epoch: end times on both sides of it
    Utc.with_ymd_and_hms(1969, 12, 31, 23, 0, 0).unwrap()
}

fn queries() -> Vec<ExecutionQuery> {
    let at = |m: i64| Some(t0() + Duration::minutes(m));
    let mut all = Vec::new();
    for t in [ExecutionType::User, ExecutionType::Scheduled] {
        all.push(ExecutionQuery {
            execution_type: Some(t),
            ..Default::default()
        });
    }
    for u in ["u0", "u1"] {
        all.push(ExecutionQuery {
            user: Some(u.into()),
            ..Default::default()
        });
        all.push(ExecutionQuery {
            aborted_by: Some(u.into()),
            status: Some(ExecutionStatus::Aborted),
            ..Default::default()
        });
    }
    for (after, before) in [
        (at(10), at(50)),
        (at(30), at(95)),
        (None, at(59)),
        (at(61), None),
        (at(-1500), at(3000)),
        (None, at(2000)),
    ] {
        all.push(ExecutionQuery {
            ended_after: after,
            ended_before: before,
            ..Default::default()
        });
    }
    all.into_iter()
        .map(|q| ExecutionQuery {
            project: Some("ops".into()),
            ..q
        })
        .collect()
}

async fn totals(s: &SqlStore) -> Vec<u64> {
    let mut out = Vec::new();
    for q in queries() {
        out.push(s.query_executions(&q).await.unwrap().total);
    }
    out
}

async fn scenario(url: &str) {
    let s = SqlStore::connect(url).await.unwrap();
    let mut held = Vec::new();
    for i in 0..300i64 {
        let mut e = Execution::new("ops", "x", format!("u{}", i % 3));
        e.date_started = t0() + Duration::minutes(7 * i);
        e.execution_type = if i % 2 == 0 {
            ExecutionType::User
        } else {
            ExecutionType::Scheduled
        };
        e.status = match i % 3 {
            0 => ExecutionStatus::Succeeded,
            1 => {
                e.aborted_by = Some(format!("u{}", i % 2));
                ExecutionStatus::Aborted
            }
            _ => ExecutionStatus::Running,
        };
        if e.status != ExecutionStatus::Running {
            // one in ten ends before it starts
            let by = if i % 10 == 1 { -30 } else { 11 * (i % 4) };
            e.date_ended = Some(e.date_started + Duration::minutes(by));
        }
        e.id = s.create_execution(&e).await.unwrap();
        held.push(e);
    }
    let want: Vec<u64> = queries()
        .iter()
        .map(|q| {
            held.iter()
                .filter(|e| q.statuses().is_empty() || q.statuses().contains(&e.status))
                .filter(|e| q.execution_type.is_none_or(|t| t == e.execution_type))
                .filter(|e| q.user.as_ref().is_none_or(|u| u == &e.user))
                .filter(|e| {
                    q.aborted_by
                        .as_ref()
                        .is_none_or(|a| e.aborted_by.as_ref() == Some(a))
                })
                .filter(|e| {
                    q.ended_after
                        .is_none_or(|b| e.date_ended.is_some_and(|d| d >= b))
                })
                .filter(|e| {
                    q.ended_before
                        .is_none_or(|b| e.date_ended.is_some_and(|d| d <= b))
                })
                .count() as u64
        })
        .collect();
    assert_eq!(totals(&s).await, want, "kept as written");
    Migrator::down(s.connection(), Some(1)).await.unwrap();
    Migrator::up(s.connection(), None).await.unwrap();
    assert_eq!(totals(&s).await, want, "filled by the migration");
    s.close().await.unwrap();
}

#[tokio::test]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    scenario(&format!("sqlite://{}/t.db?mode=rwc", dir.path().display())).await;
}

#[tokio::test]
async fn postgres() {
    on_fresh_database(
        "PostgreSQL",
        "FOREDECK_TEST_POSTGRES",
        "postgres://postgres@127.0.0.1:5432",
        "postgres",
        |_, url, _| async move { scenario(&url).await },
    )
    .await;
}

#[tokio::test]
async fn mariadb() {
    on_fresh_database(
        "MariaDB",
        "FOREDECK_TEST_MYSQL",
        "mysql://root@127.0.0.1:3306",
        "mysql",
        |_, url, _| async move { scenario(&url).await },
    )
    .await;
}
