//! A scheduler process is killed (SIGKILL) between creating an execution
//! and finishing it, while it keeps firing a job every second; a new process
//! with the same server uuid then runs on the same database. Counting the
//! executions per fire time: none lost, none doubled, and the run that was
//! going on when the process died is marked `incomplete`.
//!
//! The scheduler processes are this same test binary, started again with
//! `FOREDECK_SCHED_CRASH_CHILD` set to the database URL. Their clock is a
//! [`ManualClock`] moved one second per tick, so the test never waits on
//! real time; the kill lands wherever the child happens to be, often inside
//! a tick's transactions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use foredeck_core::model::{Execution, ExecutionStatus, Job, Project, Schedule, Step, Workflow};
use foredeck_core::schedule::{DurableScheduler, Launcher, ManualClock};
use foredeck_core::store::{ExecutionQuery, Store};
use foredeck_core::{Scheduler, SchedulerConfig};
use foredeck_store::SqlStore;
use sea_orm::{ConnectionTrait, Database};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

const CHILD: &str = "FOREDECK_SCHED_CRASH_CHILD";
/// `from,to,hold`: seconds after [`t0`] of the first and last tick, and of
/// the fire whose run never ends (`-` for none).
const PLAN: &str = "FOREDECK_SCHED_CRASH_PLAN";
const SERVER: &str = "server-crashy";
const JOB: &str = "every-second";
/// The fire whose run is going on when the first process is killed.
const HOLD: i64 = 20;
/// The first process is killed once it has reported this tick.
const KILL_AFTER: i64 = 40;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn at(second: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(second)
}

fn say(line: String) {
    let mut out = std::io::stdout();
    writeln!(out, "CRASH {line}").unwrap();
    out.flush().unwrap();
}

/// Finishes each run at once, except the held one, which never ends.
#[derive(Debug)]
struct ChildLauncher {
    store: Arc<dyn Store>,
    hold: Option<DateTime<Utc>>,
}

#[async_trait]
impl Launcher for ChildLauncher {
    async fn run(
        &self,
        _project: &str,
        _job: &Job,
        mut execution: Execution,
        _options: BTreeMap<String, String>,
    ) -> foredeck_core::Result<Execution> {
        if Some(execution.date_started) == self.hold {
            say(format!("hold {}", execution.id));
            std::future::pending::<()>().await;
        }
        execution.status = ExecutionStatus::Succeeded;
        execution.date_ended = Some(execution.date_started);
        self.store.update_execution(&execution).await?;
        Ok(execution)
    }
}

fn scheduler(
    store: Arc<dyn Store>,
    clock: &ManualClock,
    hold: Option<DateTime<Utc>>,
) -> DurableScheduler {
    let launcher = Arc::new(ChildLauncher {
        store: store.clone(),
        hold,
    });
    DurableScheduler::builder(store, launcher)
        .clock(Arc::new(clock.clone()))
        .config(SchedulerConfig::new(SERVER))
        .build()
}

/// A scheduler process: ticks once per simulated second from `from` to `to`.
async fn child(url: &str) {
    let plan = std::env::var(PLAN).unwrap();
    let parts: Vec<&str> = plan.split(',').collect();
    let (from, to): (i64, i64) = (parts[0].parse().unwrap(), parts[1].parse().unwrap());
    let hold = parts[2].parse::<i64>().ok().map(at);
    let store: Arc<dyn Store> = Arc::new(SqlStore::connect(url).await.unwrap());
    let clock = ManualClock::new(at(from));
    let s = scheduler(store, &clock, hold);
    let recovered = s.recover().await.unwrap();
    say(format!("recovered {recovered}"));
    for k in from..=to {
        clock.set(at(k));
        s.tick().await.unwrap();
        say(format!("tick {k}"));
    }
    if hold.is_none() {
        s.wait_idle().await;
    }
    say("done".into());
    // a held run never ends: leave without waiting for it
    std::process::exit(0);
}

/// Starts a scheduler process and returns it with its report lines.
fn spawn(
    test_name: &str,
    url: &str,
    plan: &str,
) -> (std::process::Child, impl Iterator<Item = String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test_name, "--exact", "--nocapture"])
        .env(CHILD, url)
        .env(PLAN, plan)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| l.strip_prefix("CRASH ").map(str::to_owned));
    (child, lines)
}

async fn crash_and_restart(test_name: &str, url: &str) {
    // The job, scheduled every second from t0 on.
    let store: Arc<dyn Store> = Arc::new(SqlStore::connect(url).await.unwrap());
    store.create_project(&Project::new("p")).await.unwrap();
    let mut job = Job::new(JOB, Workflow::new(vec![Step::command("true")]));
    job.schedule = Some(Schedule::Crontab {
        crontab: "* * * * * ?".into(),
    });
    job.time_zone = Some("UTC".into());
    job.multiple_executions = true;
    let job = store.put_job("p", &job).await.unwrap();
    let job_id = job.uuid.clone().unwrap();
    let setup = scheduler(store.clone(), &ManualClock::new(t0()), None);
    assert_eq!(setup.schedule_job("p", &job).await.unwrap(), Some(at(1)));

    // First process: killed while the run of `HOLD` is going on and it keeps
    // firing.
    let (mut first, mut lines) = spawn(test_name, url, &format!("0,100000,{HOLD}"));
    let (mut held, mut last_tick) = (None, None);
    // (`by_ref`: the pipe stays open until the kill, so the child cannot
    // die of a closed stdout instead)
    for line in lines.by_ref() {
        if let Some(id) = line.strip_prefix("hold ") {
            held = Some(id.parse::<u64>().unwrap());
        }
        if let Some(k) = line.strip_prefix("tick ") {
            let k: i64 = k.parse().unwrap();
            last_tick = Some(k);
            if k >= KILL_AFTER && held.is_some() {
                break;
            }
        }
    }
    first.kill().unwrap();
    first.wait().unwrap();
    drop(lines);
    let held = held.expect("the held run started");
    let last_tick = last_tick.expect("the first process ticked");
    assert!(last_tick >= KILL_AFTER, "killed after tick {last_tick}");

    // Restart: the same server uuid, the clock one second on from the last
    // tick seen (the dead process may have fired further: until the clock
    // gets there, nothing is due).
    let end = last_tick + 300;
    let (mut second, lines) = spawn(test_name, url, &format!("{},{end},-", last_tick + 1));
    let mut recovered = None;
    let mut done = false;
    for line in lines {
        if let Some(n) = line.strip_prefix("recovered ") {
            recovered = Some(n.parse::<usize>().unwrap());
        }
        done |= line == "done";
    }
    assert!(second.wait().unwrap().success());
    assert!(done, "the restarted process ran to its end");
    assert!(recovered.unwrap() >= 1, "it found the orphan");

    // Every fire time exactly once, from the first second to the last.
    let all = store
        .query_executions(&ExecutionQuery {
            job_ids: vec![job_id],
            max: 100_000,
            ..ExecutionQuery::default()
        })
        .await
        .unwrap()
        .items;
    let mut per_time: BTreeMap<DateTime<Utc>, Vec<&Execution>> = BTreeMap::new();
    for e in &all {
        per_time.entry(e.date_started).or_default().push(e);
    }
    let doubled: Vec<_> = per_time.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(doubled.is_empty(), "fired twice: {doubled:?}");
    let times: BTreeSet<DateTime<Utc>> = per_time.keys().copied().collect();
    let want: BTreeSet<DateTime<Utc>> = (1..=end).map(at).collect();
    let lost: Vec<_> = want.difference(&times).collect();
    assert!(lost.is_empty(), "never fired: {lost:?}");
    assert_eq!(times, want);

    // The held run is the orphan; the ones the kill cut short are too; the
    // rest succeeded. Nothing is left running.
    let orphan = all.iter().find(|e| e.id == held).unwrap();
    assert_eq!(orphan.date_started, at(HOLD));
    assert_eq!(orphan.status, ExecutionStatus::Incomplete);
    assert!(orphan.failure.as_deref().unwrap().contains("restarted"));
    for e in &all {
        assert!(
            matches!(
                e.status,
                ExecutionStatus::Succeeded | ExecutionStatus::Incomplete
            ),
            "{} at {}: {:?}",
            e.id,
            e.date_started,
            e.status
        );
        if e.status == ExecutionStatus::Incomplete {
            // marked by the restart, not by anything else
            assert!(e.failure.as_deref().unwrap().contains("restarted"), "{e:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_killed_mid_run_sqlite() {
    if let Ok(url) = std::env::var(CHILD) {
        return child(&url).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/fd.db?mode=rwc", dir.path().display());
    crash_and_restart("scheduler_killed_mid_run_sqlite", &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_killed_mid_run_postgres() {
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
        async move { crash_and_restart("scheduler_killed_mid_run_postgres", &url).await }
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
