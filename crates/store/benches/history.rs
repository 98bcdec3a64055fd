//! Store benchmark: insert N executions (default 1,000,000) over 10,000 jobs,
//! then p50/p99 of the history queries and the job list; log append
//! throughput for one execution.
//!
//! `cargo bench -p foredeck-store --bench history`
//! Env: `BENCH_EXECUTIONS` (default 1000000), `BENCH_JOBS` (10000),
//! `BENCH_LOG_MB` (256), `BENCH_BACKENDS` (`sqlite,postgres`),
//! `FOREDECK_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432`).

use chrono::{Duration as CDuration, Utc};
use foredeck_core::model::{
    Execution, ExecutionStatus, Job, LogEvent, LogLevel, Step, Stream, Workflow,
};
use foredeck_core::store::prelude::*;
use foredeck_core::store::{ExecutionQuery, JobQuery};
use foredeck_store::SqlStore;
use sea_orm::{ConnectionTrait, Database};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn timed<F, Fut>(rounds: usize, mut f: F) -> (Duration, Duration)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut v = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let t = Instant::now();
        f(i).await;
        v.push(t.elapsed());
    }
    (pct(v.clone(), 0.5), pct(v, 0.99))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

async fn run(label: &str, store: SqlStore) {
    let n = env("BENCH_EXECUTIONS", 1_000_000);
    let n_jobs = env("BENCH_JOBS", 10_000);
    let s = Arc::new(store);
    println!("== {label}: {n} executions, {n_jobs} jobs");
    print_load();

    let t = Instant::now();
    let mut jobs = Vec::new();
    for i in 0..n_jobs {
        let mut j = Job::new(
            format!("job-{i:05}"),
            Workflow::new(vec![Step::command("true")]),
        );
        j.group = Some(format!("team-{}/svc-{}", i % 20, i % 200));
        jobs.push(s.put_job("bench", &j).await.expect("put_job"));
    }
    println!("put {n_jobs} jobs: {:.1} s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let workers = 8u64;
    let start = Utc::now() - CDuration::days(60);
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (s, jobs) = (s.clone(), jobs.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < n {
                let job = &jobs[(i % jobs.len() as u64) as usize];
                let mut e = Execution::new("bench", job.full_name(), format!("user{}", i % 50));
                e.job_id = if i % 10 == 0 { None } else { job.uuid.clone() };
                e.date_started = start + CDuration::seconds((i * 5) as i64);
                e.status = if i % 7 == 0 {
                    ExecutionStatus::Failed
                } else {
                    ExecutionStatus::Succeeded
                };
                s.create_execution(&e).await.expect("create_execution");
                i += workers;
            }
        }));
    }
    for t in tasks {
        t.await.expect("worker");
    }
    let d = t.elapsed();
    println!(
        "insert {n} executions (8 writers): {:.1} s, {:.0}/s",
        d.as_secs_f64(),
        n as f64 / d.as_secs_f64()
    );

    let rounds = 200;
    let (p50, p99) = timed(rounds, |_| {
        let s = s.clone();
        async move {
            s.query_executions(&ExecutionQuery {
                project: Some("bench".into()),
                max: 20,
                ..Default::default()
            })
            .await
            .expect("query");
        }
    })
    .await;
    println!("history first page: p50 {} p99 {}", ms(p50), ms(p99));
    let (p50, p99) = timed(rounds, |i| {
        let s = s.clone();
        let id = jobs[(i * 37) % jobs.len()].uuid.clone().unwrap_or_default();
        async move {
            s.query_executions(&ExecutionQuery {
                job_ids: vec![id],
                max: 20,
                ..Default::default()
            })
            .await
            .expect("query");
        }
    })
    .await;
    println!("history by job: p50 {} p99 {}", ms(p50), ms(p99));
    let (p50, p99) = timed(rounds, |i| {
        let s = s.clone();
        let begin = start + CDuration::days((i % 50) as i64);
        async move {
            s.query_executions(&ExecutionQuery {
                status: Some(ExecutionStatus::Failed),
                begin: Some(begin),
                end: Some(begin + CDuration::days(2)),
                max: 20,
                ..Default::default()
            })
            .await
            .expect("query");
        }
    })
    .await;
    println!(
        "history by status + time range: p50 {} p99 {}",
        ms(p50),
        ms(p99)
    );
    let (p50, p99) = timed(50, |i| {
        let s = s.clone();
        async move {
            s.list_jobs(
                "bench",
                &JobQuery {
                    group_path: Some(format!("team-{}", i % 20)),
                    ..Default::default()
                },
            )
            .await
            .expect("list");
        }
    })
    .await;
    println!(
        "job list, group filter (500 of {n_jobs}): p50 {} p99 {}",
        ms(p50),
        ms(p99)
    );
    let (p50, p99) = timed(20, |_| {
        let s = s.clone();
        async move {
            s.list_jobs("bench", &JobQuery::default())
                .await
                .expect("list");
        }
    })
    .await;
    println!(
        "job list, all {n_jobs} jobs: p50 {} p99 {}",
        ms(p50),
        ms(p99)
    );

    let mb = env("BENCH_LOG_MB", 256);
    let id = s
        .create_execution(&Execution::new("bench", "log", "u"))
        .await
        .expect("create");
    let line = "x".repeat(120);
    let batch: Vec<LogEvent> = (0..512)
        .map(|i| LogEvent {
            time: Utc::now(),
            level: LogLevel::Info,
            stream: Stream::Stdout,
            node: Some("node-1".into()),
            stepctx: Some("1".into()),
            text: format!("{i:06} {line}"),
            raw: None,
        })
        .collect();
    let per_batch: usize = batch.iter().map(|e| e.text.len() + 1).sum();
    let batches = (mb as usize * 1024 * 1024) / per_batch;
    let t = Instant::now();
    for _ in 0..batches {
        s.append_log(id, &batch).await.expect("append");
    }
    let d = t.elapsed();
    println!(
        "log append, one execution: {} MB of text in {:.1} s = {:.0} MB/s ({} events/batch)",
        mb,
        d.as_secs_f64(),
        (batches * per_batch) as f64 / 1048576.0 / d.as_secs_f64(),
        batch.len()
    );
    print_load();
}

/// The machine's load average, so that figures from a busy machine show it.
fn print_load() {
    if let Ok(l) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average: {}", l.trim());
    }
}

#[tokio::main]
async fn main() {
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    println!(
        "cores: {}",
        std::thread::available_parallelism()
            .map(|p| p.get())
            .unwrap_or(1)
    );
    for b in backends.split(',') {
        match b.trim() {
            "sqlite" => {
                let dir = tempfile::tempdir().expect("tempdir");
                let store = SqlStore::open_data_dir(dir.path()).await.expect("sqlite");
                run("SQLite (WAL, file)", store).await;
            }
            "postgres" => {
                let base = std::env::var("FOREDECK_TEST_POSTGRES")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
                let admin = Database::connect(format!("{base}/postgres"))
                    .await
                    .expect("postgres");
                let name = format!("fd_bench_{}", uuid::Uuid::new_v4().simple());
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create db");
                let store = SqlStore::connect(&format!("{base}/{name}"))
                    .await
                    .expect("connect");
                run("PostgreSQL 15 (loopback)", store.clone()).await;
                store.close().await.expect("close");
                admin
                    .execute_unprepared(&format!("DROP DATABASE {name}"))
                    .await
                    .expect("drop db");
            }
            other => eprintln!("unknown backend {other}"),
        }
    }
}
