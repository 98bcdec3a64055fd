//! A process appending to an execution's log is killed (SIGKILL) while it
//! appends. After a restart the log reads back exactly the batches that were
//! committed, nothing half-written, appends continue at the right offset, and
//! the restarted server marks its unfinished execution `incomplete`.
//!
//! The writer is this same test binary, started again with
//! `FOREDECK_CRASH_CHILD` set to the database URL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use foredeck_core::model::{Execution, ExecutionStatus, LogEvent, LogLevel, Stream};
use foredeck_core::store::prelude::*;
use foredeck_core::store::ExecutionClaim;
use foredeck_store::SqlStore;
use sea_orm::{ConnectionTrait, Database};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const CHILD: &str = "FOREDECK_CRASH_CHILD";
const SERVER: &str = "server-crashy";
const PER_BATCH: usize = 100;

fn batch(b: usize) -> Vec<LogEvent> {
    (0..PER_BATCH)
        .map(|k| LogEvent {
            time: Utc::now(),
            level: LogLevel::Info,
            stream: Stream::Stdout,
            node: Some(format!("node-{}", k % 3)),
            stepctx: Some("1".into()),
            text: format!("batch {b} event {k} {}", "x".repeat(600)),
            raw: None,
        })
        .collect()
}

/// The writer: appends batches until it is killed, reporting each commit.
async fn child(url: &str) {
    let store = SqlStore::connect(url).await.unwrap();
    let mut e = Execution::new("ops", "crashy", "u");
    e.server_uuid = Some(SERVER.into());
    let id = store.create_execution(&e).await.unwrap();
    let mut out = std::io::stdout();
    writeln!(out, "CRASH id {id}").unwrap();
    for b in 0.. {
        store.append_log(id, &batch(b)).await.unwrap();
        writeln!(out, "CRASH ok {b}").unwrap();
        out.flush().unwrap();
    }
}

async fn crash_and_recover(test_name: &str, url: &str) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test_name, "--exact", "--nocapture"])
        .env(CHILD, url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut id = None;
    let mut last_ok = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(v) = line.strip_prefix("CRASH id ") {
            id = Some(v.parse::<u64>().unwrap());
        }
        if let Some(v) = line.strip_prefix("CRASH ok ") {
            let b: usize = v.parse().unwrap();
            last_ok = Some(b);
            if b >= 30 {
                break;
            }
        }
    }
    // Killed while it keeps appending: most likely in mid-transaction.
    child.kill().unwrap();
    child.wait().unwrap();
    drop(lines);
    let id = id.expect("the writer reported its execution");
    let last_ok = last_ok.expect("the writer committed batches");

    // "Restart": a new process-wide store on the same database.
    let store = SqlStore::connect(url).await.unwrap();
    let page = store.read_log(id, 0, usize::MAX).await.unwrap();
    let n = page.events.len();
    assert_eq!(n % PER_BATCH, 0, "only whole batches: {n} events");
    let batches = n / PER_BATCH;
    assert!(
        batches > last_ok,
        "every reported batch is there ({batches} > {last_ok})"
    );
    for (i, ev) in page.events.iter().enumerate() {
        let want = format!("batch {} event {} ", i / PER_BATCH, i % PER_BATCH);
        assert!(ev.text.starts_with(&want), "event {i}: {}", ev.text);
    }
    assert_eq!(page.next_offset, n as u64);

    // The restarted server finds its unfinished execution and marks it.
    let mine = store
        .claim_executions(
            SERVER,
            &ExecutionClaim {
                status: ExecutionStatus::Running,
                owner: Some(SERVER.into()),
                due_by: None,
                job_id: None,
                id: None,
            },
            100,
        )
        .await
        .unwrap();
    assert_eq!(mine.iter().map(|e| e.id).collect::<Vec<_>>(), [id]);
    let mut e = mine.into_iter().next().unwrap();
    e.status = ExecutionStatus::Incomplete;
    e.date_ended = Some(Utc::now());
    store.update_execution(&e).await.unwrap();
    let stored = store.get_execution(id).await.unwrap().unwrap();
    assert_eq!(stored.status, ExecutionStatus::Incomplete);

    // The log stays readable and appendable at the right offset.
    store.append_log(id, &batch(batches)).await.unwrap();
    let tail = store.read_log(id, n as u64, usize::MAX).await.unwrap();
    assert_eq!(tail.events.len(), PER_BATCH);
    assert!(tail.events[0]
        .text
        .starts_with(&format!("batch {batches} event 0 ")));
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_log_append_sqlite() {
    if let Ok(url) = std::env::var(CHILD) {
        return child(&url).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/fd.db?mode=rwc", dir.path().display());
    crash_and_recover("killed_mid_log_append_sqlite", &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_log_append_postgres() {
    if let Ok(url) = std::env::var(CHILD) {
        return child(&url).await;
    }
    let base = std::env::var("FOREDECK_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let admin = match Database::connect(format!("{base}/postgres")).await {
        Ok(a) => a,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED: PostgreSQL at {base} is unreachable ({e}); set CI to fail");
            return;
        }
        Err(e) => panic!("PostgreSQL at {base} is unreachable and CI is set: {e}"),
    };
    let name = format!("fd_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let outcome = tokio::spawn({
        let url = format!("{base}/{name}");
        async move { crash_and_recover("killed_mid_log_append_postgres", &url).await }
    })
    .await;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
