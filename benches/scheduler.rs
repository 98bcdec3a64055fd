//! The durable scheduler under a burst: N jobs whose cron pattern fires in
//! the same second, on the system clock, through `DurableScheduler::run`.
//!
//! 1. **cron cost**: time per `next_after` for typical patterns, and per
//!    `schedule_job` (parse, validate, write the trigger).
//! 2. **scheduler only**: the launcher stamps the time it is called and
//!    returns: lag from fire time to start of the run, scheduler and store
//!    alone.
//! 3. **to process start**: runs go through the engine with the local
//!    executor running `true`; the executor stamps the time just before it
//!    spawns the process: lag from fire time to process start.
//!
//! Run: `cargo bench --bench scheduler` (`BENCH_JOBS=10000,1000` to change
//! the burst sizes, `BENCH_MAX_RUNNING` the scheduler's `max_running`,
//! `BENCH_STORE=memory,postgres` the stores: PostgreSQL at
//! `FOREDECK_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432`, a
//! fresh database per burst, dropped after). Figures go to
//! benches/README.md with the machine they came from; nothing here is
//! asserted.

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Timelike, Utc};
use foredeck::engine::Engine;
use foredeck::executor::{Executor, NodeOutcome, NodeRequest, OutputSink};
use foredeck::local::LocalExecutor;
use foredeck::schedule::{DurableScheduler, EngineLauncher, Launcher, SchedulerConfig};
use foredeck::store::Store;
use foredeck::{CronSchedule, Execution, Job, MemoryStore, Project, Schedule, Scheduler};
use foredeck::{Step, Workflow};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Times at which runs started.
#[derive(Debug, Default)]
struct Stamps(Mutex<Vec<DateTime<Utc>>>);

impl Stamps {
    fn stamp(&self) {
        if let Ok(mut v) = self.0.lock() {
            v.push(Utc::now());
        }
    }
    fn len(&self) -> usize {
        self.0.lock().map(|v| v.len()).unwrap_or(0)
    }
    fn take(&self) -> Vec<DateTime<Utc>> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

/// A launcher that only records when it was called.
#[derive(Debug)]
struct StampLauncher(Arc<Stamps>);

#[async_trait]
impl Launcher for StampLauncher {
    async fn run(
        &self,
        _project: &str,
        _job: &Job,
        execution: Execution,
        _options: BTreeMap<String, String>,
    ) -> foredeck::Result<Execution> {
        self.0.stamp();
        Ok(execution)
    }
}

/// The local executor, recording when each process is about to start.
#[derive(Debug)]
struct StampExecutor(Arc<Stamps>, LocalExecutor);

#[async_trait]
impl Executor for StampExecutor {
    async fn run(
        &self,
        req: NodeRequest,
        out: OutputSink,
        abort: CancellationToken,
    ) -> foredeck::Result<NodeOutcome> {
        self.0.stamp();
        self.1.run(req, out, abort).await
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The Quartz pattern firing exactly at `t` (UTC).
fn pattern_at(t: DateTime<Utc>) -> String {
    format!(
        "{} {} {} {} {} ? {}",
        t.second(),
        t.minute(),
        t.hour(),
        t.day(),
        t.month(),
        t.year()
    )
}

fn postgres_base() -> String {
    std::env::var("FOREDECK_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A burst on a fresh PostgreSQL database, dropped after.
async fn burst_on_postgres(n: usize, through_engine: bool) {
    use sea_orm::{ConnectionTrait, Database};
    let base = postgres_base();
    let admin = match Database::connect(format!("{base}/postgres")).await {
        Ok(a) => a,
        Err(e) => {
            println!("PostgreSQL at {base} is unreachable ({e}); skipped");
            return;
        }
    };
    let name = format!("fd_bench_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let store = foredeck::sql::SqlStore::connect(&format!("{base}/{name}"))
        .await
        .expect("connect");
    burst(Arc::new(store.clone()), "postgres", n, through_engine).await;
    store.close().await.expect("close");
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .expect("drop database");
}

async fn burst(store: Arc<dyn Store>, store_name: &str, n: usize, through_engine: bool) {
    store
        .create_project(&Project::new("bench"))
        .await
        .expect("project");
    let stamps = Arc::new(Stamps::default());
    let launcher: Arc<dyn Launcher> = if through_engine {
        let engine = Engine::builder()
            .shared_store(store.clone())
            .executor("local", StampExecutor(stamps.clone(), LocalExecutor::new()))
            .build();
        Arc::new(EngineLauncher(engine))
    } else {
        Arc::new(StampLauncher(stamps.clone()))
    };
    let mut config = SchedulerConfig::new("bench");
    if let Some(m) = std::env::var("BENCH_MAX_RUNNING")
        .ok()
        .and_then(|m| m.parse().ok())
    {
        config.max_running = m;
    }
    let max_running = config.max_running;
    let scheduler = DurableScheduler::builder(store.clone(), launcher)
        .config(config)
        .build();
    // fire a few seconds ahead, on a whole second, after the setup (about
    // 4 ms per job on PostgreSQL, where each job and trigger is a write)
    let margin = if store_name == "memory" {
        4_000
    } else {
        4_000 + 12 * n as i64
    };
    let fire = (Utc::now() + chrono::Duration::milliseconds(margin))
        .with_nanosecond(0)
        .expect("whole second");
    let pattern = pattern_at(fire);
    let setup = Instant::now();
    for i in 0..n {
        let mut job = Job::new(format!("j{i}"), Workflow::new(vec![Step::command("true")]));
        job.uuid = Some(format!("job-{i}"));
        job.multiple_executions = true;
        job.time_zone = Some("UTC".into());
        job.schedule = Some(Schedule::Crontab {
            crontab: pattern.clone(),
        });
        let job = store.put_job("bench", &job).await.expect("job");
        scheduler
            .schedule_job("bench", &job)
            .await
            .expect("schedule");
    }
    let setup = setup.elapsed();
    if Utc::now() >= fire {
        println!("setup of {n} jobs took {setup:?}, past the fire time; skipped");
        return;
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let runner = {
        let s = scheduler.clone();
        tokio::spawn(async move {
            s.run(async {
                let _ = stop_rx.await;
            })
            .await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    while stamps.len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = stop_tx.send(());
    let _ = runner.await;
    scheduler.wait_idle().await;
    let mut lags: Vec<f64> = stamps
        .take()
        .into_iter()
        .map(|t| (t - fire).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6)
        .collect();
    lags.sort_by(f64::total_cmp);
    let what = if through_engine {
        "to process start (engine, local `true`)"
    } else {
        "scheduler only (launcher called)"
    };
    println!(
        "{store_name}: {n:>6} jobs, max_running {max_running}, {what}: started {}/{n}, lag p50 {:.3} s, p99 {:.3} s, all started after {:.3} s; \
         schedule_job {:.1} µs/job",
        lags.len(),
        quantile(&lags, 0.5),
        quantile(&lags, 0.99),
        lags.last().copied().unwrap_or(f64::NAN),
        setup.as_secs_f64() * 1e6 / n as f64,
    );
}

fn cron_cost() {
    let from = Utc::now();
    for (expr, zone) in [
        ("* * * * * ?", "UTC"),
        ("0 0/5 * * * ?", "UTC"),
        ("0 30 2 * * ?", "Europe/Berlin"),
        ("0 0 12 ? * MON-FRI", "America/New_York"),
        ("0 0 18 L * ?", "Europe/Berlin"),
        ("0 0 9 15W * ?", "UTC"),
        ("0 0 10 ? * 6#3", "UTC"),
        ("0 15 10 * * ? 2027-2099", "UTC"),
    ] {
        let s = CronSchedule::parse_at(expr, Some(zone), from).expect("pattern");
        let n = 10_000;
        let start = Instant::now();
        let mut t = from;
        for _ in 0..n {
            t = s.next_after(t).expect("fires");
        }
        let per = start.elapsed().as_secs_f64() * 1e6 / n as f64;
        let parse = Instant::now();
        for _ in 0..1_000 {
            let _ = CronSchedule::parse_at(expr, Some(zone), from).expect("pattern");
        }
        let parse = parse.elapsed().as_secs_f64() * 1e6 / 1_000.0;
        println!("{expr:<26} {zone:<17} next_after {per:>7.2} µs   parse {parse:>7.1} µs");
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_JOBS")
        .unwrap_or_else(|_| "10000,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    cron_cost();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stores = std::env::var("BENCH_STORE").unwrap_or_else(|_| "memory".into());
    rt.block_on(async {
        for store in stores.split(',').map(str::trim) {
            for &n in &sizes {
                for through_engine in [false, true] {
                    match store {
                        "memory" => {
                            burst(Arc::new(MemoryStore::new()), "memory", n, through_engine).await
                        }
                        "postgres" => burst_on_postgres(n, through_engine).await,
                        other => println!("unknown store {other} (memory, postgres)"),
                    }
                }
            }
        }
    });
}
