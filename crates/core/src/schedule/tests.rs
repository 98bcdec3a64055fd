#![allow(clippy::unwrap_used)]

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

#[tokio::test]
async fn fires_each_due_time_once() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let launcher = TestLauncher::new(&store);
    let s = sched(&store, launcher.clone(), &clock, "s1");
    let job = cron_job(&store, "minutely", "0 * * * * ?").await;
    let next = s.schedule_job("p", &job).await.unwrap();
    assert_eq!(next, Some(t0() + Duration::minutes(1)));

    clock.set(t0() + Duration::seconds(59));
    assert_eq!(s.tick().await.unwrap().started, 0, "not due yet");
    clock.set(t0() + Duration::minutes(1));
    assert_eq!(s.tick().await.unwrap().started, 1);
    assert_eq!(
        s.tick().await.unwrap().started,
        0,
        "the same time fires once"
    );
    s.wait_idle().await;
    let all = executions(&store, &job).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status, ExecutionStatus::Succeeded);
    assert_eq!(all[0].date_started, t0() + Duration::minutes(1));
    assert_eq!(all[0].server_uuid.as_deref(), Some("s1"));
    assert_eq!(
        s.next_fire_time("p", job.uuid.as_deref().unwrap())
            .await
            .unwrap(),
        Some(t0() + Duration::minutes(2))
    );
    // late by less than the threshold: fires normally, at its own time
    clock.set(t0() + Duration::minutes(2) + Duration::seconds(45));
    let r = s.tick().await.unwrap();
    assert_eq!((r.started, r.missed), (1, 0));
    s.wait_idle().await;
    let all = executions(&store, &job).await;
    assert_eq!(all[1].date_started, t0() + Duration::minutes(2));
    assert_eq!(launcher.ids(), all.iter().map(|e| e.id).collect::<Vec<_>>());
}

#[tokio::test]
async fn misfire_policies_after_a_three_hour_outage() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let launcher = TestLauncher::new(&store);
    let notes = Arc::new(RecordingNotifier::default());
    let s = DurableScheduler::builder(store.clone(), launcher.clone())
        .clock(Arc::new(clock.clone()))
        .notifier(notes.clone())
        .config(SchedulerConfig::new("s1"))
        .build();
    let mut jobs = Vec::new();
    for (name, policy) in [
        ("once-now", None),
        ("skip", Some("skip")),
        ("all", Some("fire-all")),
    ] {
        let mut job = cron_job(&store, name, "0 * * * * ?").await;
        if let Some(p) = policy {
            job.extra.insert(MISFIRE_POLICY_KEY.into(), p.into());
        }
        job.extra.insert(MISFIRE_LIMIT_KEY.into(), 5.into());
        let job = store.put_job("p", &job).await.unwrap();
        s.schedule_job("p", &job).await.unwrap();
        jobs.push(job);
    }
    // the outage: nothing ticks from 12:00 to 15:00:30; 180 fire times pass
    let now = t0() + Duration::hours(3) + Duration::seconds(30);
    clock.set(now);
    let r = s.tick().await.unwrap();
    s.wait_idle().await;
    assert_eq!((r.fired, r.started, r.missed), (3, 1 + 5, 1 + 1));

    let once = executions(&store, &jobs[0]).await;
    assert_eq!(once.len(), 1, "fire-once-now collapses the missed fires");
    assert_eq!(once[0].date_started, now);
    let log = store.read_log(once[0].id, 0, 10).await.unwrap().events;
    assert!(
        log[0].text.contains("stands for 180 fire time(s)")
            && log[0].text.contains("fire-once-now"),
        "{:?}",
        log[0].text
    );

    let skipped = executions(&store, &jobs[1]).await;
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].status, ExecutionStatus::Missed);
    assert!(skipped[0]
        .failure
        .as_deref()
        .unwrap()
        .contains("missed 180 fire time(s)"));
    let mut seen = notes.seen();
    seen.sort_by(|a, b| a.1.cmp(&b.1));
    let beyond_id = executions(&store, &jobs[2])
        .await
        .iter()
        .find(|e| e.status == ExecutionStatus::Missed)
        .unwrap()
        .id;
    assert_eq!(
        seen,
        vec![
            (NotificationTrigger::Failure, "all".to_owned(), beyond_id),
            (
                NotificationTrigger::Failure,
                "skip".to_owned(),
                skipped[0].id
            ),
        ],
        "each missed record sends the failure notification"
    );

    let all = executions(&store, &jobs[2]).await;
    let ran: Vec<DateTime<Utc>> = all
        .iter()
        .filter(|e| e.status == ExecutionStatus::Succeeded)
        .map(|e| e.date_started)
        .collect();
    let expected: Vec<DateTime<Utc>> = (1..=5).map(|m| t0() + Duration::minutes(m)).collect();
    assert_eq!(
        ran, expected,
        "fire-all runs the oldest missed times up to its cap"
    );
    let beyond: Vec<&Execution> = all
        .iter()
        .filter(|e| e.status == ExecutionStatus::Missed)
        .collect();
    assert_eq!(beyond.len(), 1);
    assert!(beyond[0]
        .failure
        .as_deref()
        .unwrap()
        .contains("missed 175 fire time(s)"));

    // all three wait for the next time after the outage
    for job in &jobs {
        assert_eq!(
            s.next_fire_time("p", job.uuid.as_deref().unwrap())
                .await
                .unwrap(),
            Some(t0() + Duration::hours(3) + Duration::minutes(1))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_on_one_store_fire_each_time_once() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let launchers = [TestLauncher::new(&store), TestLauncher::new(&store)];
    let a = sched(&store, launchers[0].clone(), &clock, "a");
    let b = sched(&store, launchers[1].clone(), &clock, "b");
    let mut jobs = Vec::new();
    for i in 0..50 {
        let job = cron_job(&store, &format!("j{i}"), "* * * * * ?").await;
        a.schedule_job("p", &job).await.unwrap();
        jobs.push(job);
    }
    for _ in 0..120 {
        clock.advance(Duration::seconds(1));
        let (ra, rb) = tokio::join!(a.tick(), b.tick());
        ra.unwrap();
        rb.unwrap();
    }
    a.wait_idle().await;
    b.wait_idle().await;
    let expected: BTreeSet<DateTime<Utc>> =
        (1..=120).map(|s| t0() + Duration::seconds(s)).collect();
    for job in &jobs {
        let all = executions(&store, job).await;
        let times: BTreeSet<DateTime<Utc>> = all.iter().map(|e| e.date_started).collect();
        assert_eq!(all.len(), 120, "{}", job.name);
        assert_eq!(times, expected, "{}", job.name);
    }
    let (na, nb) = (launchers[0].ids().len(), launchers[1].ids().len());
    assert_eq!(na + nb, 50 * 120);
}

#[tokio::test]
async fn crash_between_fire_and_finish_marks_the_orphan_incomplete() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let gate = Arc::new(Semaphore::new(0));
    let first = sched(&store, TestLauncher::gated(&store, &gate), &clock, "s1");
    let job = cron_job(&store, "minutely", "0 * * * * ?").await;
    first.schedule_job("p", &job).await.unwrap();
    clock.set(t0() + Duration::minutes(1));
    assert_eq!(first.tick().await.unwrap().started, 1);
    // killed while the execution runs: nothing more is recorded
    drop(first);
    let orphan = executions(&store, &job).await;
    assert_eq!(orphan.len(), 1);
    assert_eq!(orphan[0].status, ExecutionStatus::Running);

    // the same server starts again, still within the same second
    let launcher = TestLauncher::new(&store);
    let again = sched(&store, launcher.clone(), &clock, "s1");
    let r = again.tick().await.unwrap();
    assert_eq!((r.recovered, r.started), (1, 0), "no second run of 12:01");
    clock.set(t0() + Duration::minutes(2));
    assert_eq!(again.tick().await.unwrap().started, 1);
    again.wait_idle().await;
    let all = executions(&store, &job).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].status, ExecutionStatus::Incomplete);
    assert!(all[0].failure.as_deref().unwrap().contains("restarted"));
    assert_eq!(all[0].date_started, t0() + Duration::minutes(1));
    assert_eq!(all[1].status, ExecutionStatus::Succeeded);
    assert_eq!(all[1].date_started, t0() + Duration::minutes(2));
}

#[tokio::test]
async fn a_claim_of_a_dead_server_lapses_and_the_fire_happens_once() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let launcher = TestLauncher::new(&store);
    let s = sched(&store, launcher.clone(), &clock, "alive");
    let job = cron_job(&store, "minutely", "0 * * * * ?").await;
    s.schedule_job("p", &job).await.unwrap();
    clock.set(t0() + Duration::minutes(1));
    // another server claims the due trigger, then dies before firing it
    let claimed = store
        .claim_due_triggers("dead", clock.now(), SchedulerConfig::new("x").lease, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(s.tick().await.unwrap().claimed, 0, "the claim holds");
    clock.advance(Duration::seconds(31));
    let r = s.tick().await.unwrap();
    assert_eq!((r.claimed, r.started), (1, 1), "the lapsed claim is taken");
    s.wait_idle().await;
    let all = executions(&store, &job).await;
    assert_eq!(all.len(), 1);
    assert_eq!(
        all[0].date_started,
        t0() + Duration::minutes(1),
        "31 s late is under the misfire threshold: a normal fire"
    );
}

#[tokio::test]
async fn survivor_takes_over_a_dead_servers_runs() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let gate = Arc::new(Semaphore::new(0));
    let doomed = sched(&store, TestLauncher::gated(&store, &gate), &clock, "doomed");
    let plain = cron_job(&store, "plain", "0 * * * * ?").await;
    let mut retried = cron_job(&store, "retried", "0 * * * * ?").await;
    retried.retry = Some(Retry {
        retry: "2".into(),
        delay: None,
    });
    let retried = store.put_job("p", &retried).await.unwrap();
    doomed.schedule_job("p", &plain).await.unwrap();
    doomed.schedule_job("p", &retried).await.unwrap();
    clock.set(t0() + Duration::minutes(1));
    assert_eq!(doomed.tick().await.unwrap().started, 2);
    drop(doomed);

    let launcher = TestLauncher::new(&store);
    let survivor = sched(&store, launcher.clone(), &clock, "survivor");
    // 90 s of silence is not yet death
    clock.set(t0() + Duration::minutes(1) + Duration::seconds(90));
    let r = survivor.tick().await.unwrap();
    assert_eq!((r.taken_over, r.rerun), (0, 0));
    assert_eq!(r.started, 2, "the survivor fires 12:02 of both jobs");
    clock.set(t0() + Duration::minutes(1) + Duration::seconds(121));
    let r = survivor.tick().await.unwrap();
    assert_eq!((r.taken_over, r.rerun), (1, 1));
    survivor.wait_idle().await;
    let servers: Vec<String> = store
        .list_servers()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.server)
        .collect();
    assert_eq!(servers, vec!["survivor".to_owned()]);

    let p = executions(&store, &plain).await;
    assert_eq!(p[0].status, ExecutionStatus::Incomplete);
    assert_eq!(p[0].server_uuid.as_deref(), Some("survivor"));
    assert!(p[0].failure.as_deref().unwrap().contains("doomed"));
    let r = executions(&store, &retried).await;
    assert_eq!(
        r.len(),
        4,
        "the orphan, the 12:02 and 12:03 fires, and the re-run"
    );
    assert_eq!(r[0].status, ExecutionStatus::Incomplete);
    let rerun = r.iter().find(|e| e.retry_of == Some(r[0].id)).unwrap();
    assert_eq!(rerun.retry_attempt, 1);
    assert_eq!(rerun.status, ExecutionStatus::Succeeded);
    assert_eq!(rerun.server_uuid.as_deref(), Some("survivor"));
}

async fn serial_job(store: &Arc<dyn Store>, name: &str, policy: &str) -> Job {
    let mut job = cron_job(store, name, "0/10 * * * * ?").await;
    job.multiple_executions = false;
    job.extra.insert(CONCURRENCY_KEY.into(), policy.into());
    store.put_job("p", &job).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_execution_at_a_time_skip_queue_allow() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let gate = Arc::new(Semaphore::new(0));
    let launcher = TestLauncher::gated(&store, &gate);
    let s = sched(&store, launcher.clone(), &clock, "s1");
    let skip = serial_job(&store, "skip", "skip").await;
    let queue = serial_job(&store, "queue", "queue").await;
    let allow = serial_job(&store, "allow", "allow").await;
    for j in [&skip, &queue, &allow] {
        s.schedule_job("p", j).await.unwrap();
    }
    for _ in 0..2 {
        clock.advance(Duration::seconds(10));
        s.tick().await.unwrap();
    }
    let status = |v: &[Execution]| v.iter().map(|e| e.status.clone()).collect::<Vec<_>>();
    use ExecutionStatus::{Missed, Queued, Running, Succeeded};
    let sk = executions(&store, &skip).await;
    assert_eq!(status(&sk), vec![Running, Missed]);
    assert!(sk[1]
        .failure
        .as_deref()
        .unwrap()
        .contains(&format!("execution {}", sk[0].id)));
    assert_eq!(
        status(&executions(&store, &queue).await),
        vec![Running, Queued]
    );
    assert_eq!(
        status(&executions(&store, &allow).await),
        vec![Running, Running]
    );

    // the four running executions end; the queued one then starts
    let queued_id = executions(&store, &queue).await[1].id;
    gate.add_permits(4);
    while !launcher.ids().contains(&queued_id) {
        tokio::task::yield_now().await;
    }
    let q = executions(&store, &queue).await;
    assert_eq!(status(&q)[0], Succeeded, "it started after the first ended");
    // it may already hold one of the four permits and have ended
    assert!(matches!(q[1].status, Running | Succeeded), "{:?}", q[1]);
    assert_eq!(q[1].server_uuid.as_deref(), Some("s1"));
    gate.add_permits(1);
    s.wait_idle().await;
    assert_eq!(
        status(&executions(&store, &queue).await),
        vec![Succeeded, Succeeded]
    );
}

#[tokio::test]
async fn run_at_fires_once_with_its_options() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let launcher = TestLauncher::new(&store);
    let s = sched(&store, launcher.clone(), &clock, "s1");
    let mut job = cron_job(&store, "oneoff", "0 0 0 1 1 ? 2099").await;
    job.schedule = None;
    let job = store.put_job("p", &job).await.unwrap();
    let at = t0() + Duration::seconds(90);
    let request = RunRequest {
        project: "p".into(),
        job_id: job.uuid.clone().unwrap(),
        options: BTreeMap::from([("env".to_owned(), "prod".to_owned())]),
        user: "alice".into(),
        filter: Some("tags: web".into()),
        roles: None,
    };
    s.run_at(request, at).await.unwrap();
    assert_eq!(
        s.next_fire_time("p", job.uuid.as_deref().unwrap())
            .await
            .unwrap(),
        Some(at)
    );
    clock.set(at);
    assert_eq!(s.tick().await.unwrap().started, 1);
    clock.advance(Duration::hours(1));
    assert_eq!(s.tick().await.unwrap().started, 0);
    s.wait_idle().await;
    let all = executions(&store, &job).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].user, "alice");
    assert_eq!(all[0].filter.as_deref(), Some("tags: web"));
    assert_eq!(all[0].date_started, at);
    let runs = launcher.runs.lock().unwrap().clone();
    assert_eq!(runs[0].1["env"], "prod");
    assert!(store.list_triggers(None).await.unwrap().is_empty());
    assert_eq!(
        s.next_fire_time("p", job.uuid.as_deref().unwrap())
            .await
            .unwrap(),
        None
    );
}

/// A one-off trigger waits in the store: it takes no secure option value,
/// and keeps nothing of a refused one.
#[tokio::test]
async fn run_at_refuses_secure_option_values() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let s = sched(&store, TestLauncher::new(&store), &clock, "s1");
    let mut job = cron_job(&store, "secure", "0 0 0 1 1 ? 2099").await;
    job.schedule = None;
    let mut pw = crate::model::JobOption::new("pw");
    pw.secure = true;
    job.options = vec![crate::model::JobOption::new("env"), pw];
    let job = store.put_job("p", &job).await.unwrap();
    let request = |options: &[(&str, &str)]| RunRequest {
        project: "p".into(),
        job_id: job.uuid.clone().unwrap(),
        options: options
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..RunRequest::default()
    };
    let at = t0() + Duration::minutes(5);
    let e = s
        .run_at(request(&[("env", "prod"), ("pw", "hunter2-secret")]), at)
        .await
        .unwrap_err();
    assert_eq!(crate::ErrorCode::code(&e), "job.invalid");
    assert!(e.to_string().contains("options.pw"), "{e}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert!(store.list_triggers(None).await.unwrap().is_empty());
    // without the secure value it is scheduled
    s.run_at(request(&[("env", "prod")]), at).await.unwrap();
    assert_eq!(store.list_triggers(None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn job_and_project_switches() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let launcher = TestLauncher::new(&store);
    let s = sched(&store, launcher.clone(), &clock, "s1");
    let mut job = cron_job(&store, "switch", "0 * * * * ?").await;
    let id = job.uuid.clone().unwrap();
    assert!(s.schedule_job("p", &job).await.unwrap().is_some());
    job.schedule_enabled = false;
    assert_eq!(s.schedule_job("p", &job).await.unwrap(), None);
    assert!(store.list_triggers(None).await.unwrap().is_empty());
    job.schedule_enabled = true;
    job.execution_enabled = false;
    assert_eq!(s.schedule_job("p", &job).await.unwrap(), None);
    job.execution_enabled = true;
    assert!(s.schedule_job("p", &job).await.unwrap().is_some());

    // a project with schedules off: the fire passes without a run
    let mut project = Project::new("p");
    project
        .config
        .insert(PROJECT_DISABLE_SCHEDULE.into(), "true".into());
    store.update_project(&project).await.unwrap();
    clock.set(t0() + Duration::minutes(1));
    let r = s.tick().await.unwrap();
    assert_eq!((r.fired, r.started, r.disabled), (1, 0, 1));
    assert_eq!(
        s.next_fire_time("p", &id).await.unwrap(),
        Some(t0() + Duration::minutes(2))
    );
    // schedules on again: the next time runs
    project.config.clear();
    store.update_project(&project).await.unwrap();
    clock.set(t0() + Duration::minutes(2));
    assert_eq!(s.tick().await.unwrap().started, 1);
    // executions off: neither schedules nor one-off runs start
    project
        .config
        .insert(PROJECT_DISABLE_EXECUTIONS.into(), "true".into());
    store.update_project(&project).await.unwrap();
    let request = RunRequest {
        project: "p".into(),
        job_id: id.clone(),
        ..RunRequest::default()
    };
    s.run_at(request, t0() + Duration::minutes(3))
        .await
        .unwrap();
    clock.set(t0() + Duration::minutes(3));
    let r = s.tick().await.unwrap();
    assert_eq!((r.fired, r.started, r.disabled), (2, 0, 2));
    s.wait_idle().await;
    assert_eq!(executions(&store, &job).await.len(), 1);

    // a job with executions disabled refuses one-off runs
    job.execution_enabled = false;
    let job = store.put_job("p", &job).await.unwrap();
    let request = RunRequest {
        project: "p".into(),
        job_id: id.clone(),
        ..RunRequest::default()
    };
    let e = s.run_at(request, t0()).await.unwrap_err();
    assert!(e.to_string().contains("disabled"), "{e}");
    s.unschedule_job("p", &id).await.unwrap();
    assert!(store.list_triggers(None).await.unwrap().is_empty());
    assert!(!job.execution_enabled);
}

#[tokio::test]
async fn bad_schedules_fail_at_save_time() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let s = sched(&store, TestLauncher::new(&store), &clock, "s1");
    for (cron, needle) in [
        ("0 0 12 * * MON", "both set"),
        ("0 0 12 ? * * 2020", "never fires"),
        ("0 0 25 ? * *", "hour"),
        ("not a pattern", "expected 5 fields"),
    ] {
        let job = cron_job(&store, "bad", cron).await;
        let e = s.schedule_job("p", &job).await.unwrap_err();
        assert!(
            matches!(e, Error::InvalidSchedule { .. }) && e.to_string().contains(needle),
            "{cron}: {e}"
        );
    }
    let mut job = cron_job(&store, "bad", "0 0 12 * * ?").await;
    job.extra
        .insert(MISFIRE_POLICY_KEY.into(), "sometimes".into());
    let e = s.schedule_job("p", &job).await.unwrap_err();
    assert!(
        e.to_string().contains("fire-once-now, skip, fire-all"),
        "{e}"
    );
    let mut job = cron_job(&store, "bad", "0 0 12 * * ?").await;
    job.time_zone = Some("Mars/Olympus".into());
    let e = s.schedule_job("p", &job).await.unwrap_err();
    assert!(e.to_string().contains("unknown time zone"), "{e}");
    assert!(store.list_triggers(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn spring_forward_in_berlin_through_the_scheduler() {
    let store = memory().await;
    // Saturday before the switch, 12:00 UTC
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 28, 12, 0, 0).unwrap());
    let s = sched(&store, TestLauncher::new(&store), &clock, "s1");
    let mut job = cron_job(&store, "nightly", "0 30 2 * * ?").await;
    job.time_zone = Some("Europe/Berlin".into());
    // 02:30 does not exist on 2026-03-29: it runs at 03:00 CEST = 01:00 UTC
    let next = s.schedule_job("p", &job).await.unwrap();
    assert_eq!(
        next,
        Some(Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap())
    );
    clock.set(next.unwrap());
    assert_eq!(s.tick().await.unwrap().started, 1);
    // and the day after at 02:30 CEST = 00:30 UTC
    assert_eq!(
        s.next_fire_time("p", job.uuid.as_deref().unwrap())
            .await
            .unwrap(),
        Some(Utc.with_ymd_and_hms(2026, 3, 30, 0, 30, 0).unwrap())
    );
}

/// Two servers fire two different triggers of one `multipleExecutions:
/// false` job (its schedule and a one-off run) at the same instant: one run
/// starts; the other fire is skipped or queued, never a second run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_triggers_of_a_serial_job_at_one_instant_start_one_run() {
    use ExecutionStatus::{Missed, Queued, Running};
    for (policy, other) in [("skip", Missed), ("queue", Queued)] {
        let store = memory().await;
        let clock = ManualClock::new(t0());
        let gate = Arc::new(Semaphore::new(0));
        let a = sched(&store, TestLauncher::gated(&store, &gate), &clock, "a");
        let b = sched(&store, TestLauncher::gated(&store, &gate), &clock, "b");
        let job = serial_job(&store, policy, policy).await;
        a.schedule_job("p", &job).await.unwrap();
        let at = t0() + Duration::seconds(10);
        let request = RunRequest {
            project: "p".into(),
            job_id: job.uuid.clone().unwrap(),
            options: BTreeMap::new(),
            user: "alice".into(),
            filter: None,
            roles: None,
        };
        b.run_at(request, at).await.unwrap();
        clock.set(at);
        let (ra, rb) = tokio::join!(a.tick(), b.tick());
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(ra.fired + rb.fired, 2, "{policy}");
        assert_eq!(ra.started + rb.started, 1, "{policy}");
        let mut statuses: Vec<ExecutionStatus> = executions(&store, &job)
            .await
            .into_iter()
            .map(|e| e.status)
            .collect();
        statuses.sort_by_key(|s| s.as_str().to_owned());
        let mut want = vec![Running, other];
        want.sort_by_key(|s| s.as_str().to_owned());
        assert_eq!(statuses, want, "{policy}");
        gate.add_permits(10);
        a.wait_idle().await;
        b.wait_idle().await;
    }
}

#[tokio::test]
async fn lag_is_how_late_the_latest_fires_were() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = DurableScheduler::builder(store.clone(), TestLauncher::new(&store))
        .clock(Arc::new(clock.clone()))
        .config(SchedulerConfig::new("s1"))
        .on_lag({
            let seen = seen.clone();
            move |lag| seen.lock().unwrap().push(lag)
        })
        .build();
    let a = cron_job(&store, "a", "0 * * * * ?").await;
    let b = cron_job(&store, "b", "30 * * * * ?").await;
    s.schedule_job("p", &a).await.unwrap();
    s.schedule_job("p", &b).await.unwrap();
    let secs = std::time::Duration::from_secs;

    // on time
    clock.set(t0() + Duration::seconds(30));
    assert_eq!(s.tick().await.unwrap().lag, Some(secs(0)));
    // nothing due: nothing reported, the last figure stands
    assert_eq!(s.tick().await.unwrap().lag, None);
    clock.set(t0() + Duration::minutes(1) + Duration::seconds(3));
    assert_eq!(s.tick().await.unwrap().lag, Some(secs(3)));
    // both due, 12 s and 42 s late: the larger one
    clock.set(t0() + Duration::minutes(2) + Duration::seconds(12));
    let r = s.tick().await.unwrap();
    assert_eq!((r.fired, r.lag), (2, Some(secs(42))));
    // past the misfire threshold (b's first missed time was 2:30): still
    // a fire, and that late
    clock.set(t0() + Duration::minutes(5) + Duration::seconds(35));
    let r = s.tick().await.unwrap();
    assert_eq!((r.fired, r.lag), (2, Some(secs(185))));
    s.wait_idle().await;
    assert_eq!(
        *seen.lock().unwrap(),
        vec![secs(0), secs(3), secs(42), secs(185)]
    );
}

#[tokio::test]
async fn scheduled_runs_act_as_the_subject_that_scheduled_them() {
    use crate::authorizer::Subject;
    use crate::testing::StaticAuthorizer;
    let store = memory().await;
    let clock = ManualClock::new(t0());
    // an engine whose authorizer refuses every `run`: runs with a subject
    // cannot start, runs without one (a library caller's) are not checked
    let engine = crate::Engine::builder()
        .shared_store(store.clone())
        .authorizer(Arc::new(
            StaticAuthorizer::allow_all().with_action("run", false),
        ))
        .build();
    let s = sched(&store, Arc::new(EngineLauncher(engine)), &clock, "s1");
    let owned = cron_job(&store, "owned", "0 * * * * ?").await;
    let plain = cron_job(&store, "plain", "0 * * * * ?").await;
    let owner = Subject::new("olga", ["ops"]);
    s.schedule_job_as("p", &owned, &owner).await.unwrap();
    s.schedule_job("p", &plain).await.unwrap();
    let spec: TriggerSpec = serde_json::from_value(
        store
            .get_trigger("job:uuid-owned")
            .await
            .unwrap()
            .unwrap()
            .spec,
    )
    .unwrap();
    assert_eq!(spec.subject(), Some(owner));

    clock.set(t0() + Duration::minutes(1));
    assert_eq!(s.tick().await.unwrap().started, 2);
    s.wait_idle().await;
    let run = &executions(&store, &owned).await[0];
    assert_eq!(run.user, "olga");
    assert_eq!(run.status, ExecutionStatus::Failed);
    let why = run.failure.as_deref().unwrap_or("");
    assert!(
        why.contains("forbidden") && why.contains("\"olga\""),
        "{why}"
    );
    assert_eq!(
        executions(&store, &plain).await[0].status,
        ExecutionStatus::Succeeded
    );

    // a one-off run carries the roles of who asked for it
    s.unschedule_job("p", owned.uuid.as_deref().unwrap())
        .await
        .unwrap();
    let at = t0() + Duration::minutes(5);
    s.run_at(
        RunRequest {
            project: "p".into(),
            job_id: owned.uuid.clone().unwrap(),
            user: "olga".into(),
            roles: Some(vec!["ops".into()]),
            ..RunRequest::default()
        },
        at,
    )
    .await
    .unwrap();
    clock.set(at);
    s.tick().await.unwrap();
    s.wait_idle().await;
    let runs = executions(&store, &owned).await;
    let last = runs.last().unwrap();
    assert_eq!(last.date_started, at);
    assert_eq!(last.status, ExecutionStatus::Failed, "{:?}", last.failure);
}
