//! One-off runs (`runAtTime`): the execution recorded `scheduled` at once,
//! started at its time under its id, aborted before it, checked again at
//! its time, and kept through restarts.

use super::*;
use crate::store::ExecutionClaim;

/// A job without a schedule (a one-off run's).
async fn plain_job(store: &Arc<dyn Store>, name: &str) -> Job {
    let mut job = cron_job(store, name, "0 0 0 1 1 ? 2099").await;
    job.schedule = None;
    store.put_job("p", &job).await.unwrap()
}

fn once(job: &Job) -> RunRequest {
    RunRequest {
        project: "p".into(),
        job_id: job.uuid.clone().unwrap(),
        user: "alice".into(),
        ..RunRequest::default()
    }
}

/// Claims scheduled execution `id` for `server` as an abort does.
async fn claim(store: &Arc<dyn Store>, server: &str, id: u64) -> usize {
    let claim = ExecutionClaim {
        status: ExecutionStatus::Scheduled,
        owner: None,
        due_by: None,
        job_id: None,
        id: Some(id),
    };
    store
        .claim_executions(server, &claim, 1)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn aborted_before_its_time_it_never_runs() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let launcher = TestLauncher::new(&store);
    let s = sched(&store, launcher.clone(), &clock, "s1");
    let job = plain_job(&store, "later").await;
    let at = t0() + Duration::minutes(1);
    let e = s.run_at(once(&job), at).await.unwrap();
    clock.advance(Duration::seconds(10));
    let ended = s.cancel_scheduled(e.id, "changed my mind").await.unwrap();
    let ended = ended.expect("a scheduled execution is ended");
    assert_eq!(ended.status, ExecutionStatus::Aborted);
    assert_eq!(ended.failure.as_deref(), Some("changed my mind"));
    assert_eq!(ended.date_started, at);
    assert_eq!(ended.date_ended, Some(t0() + Duration::seconds(10)));
    assert_eq!(store.get_execution(e.id).await.unwrap(), Some(ended));
    assert!(store.list_triggers(None).await.unwrap().is_empty());
    // its time comes: nothing runs; a second abort finds nothing to end
    clock.set(at);
    assert_eq!(s.tick().await.unwrap().started, 0);
    s.wait_idle().await;
    assert!(launcher.ids().is_empty());
    assert_eq!(s.cancel_scheduled(e.id, "again").await.unwrap(), None);
    assert_eq!(executions(&store, &job).await.len(), 1);
}

/// An abort that took the execution just before its fire wins: the fire
/// consumes the trigger and runs nothing. One that comes after the fire
/// finds nothing scheduled.
#[tokio::test]
async fn an_abort_and_the_fire_take_it_once() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let launcher = TestLauncher::new(&store);
    let s = sched(&store, launcher.clone(), &clock, "s1");
    let job = plain_job(&store, "race").await;
    let at = t0() + Duration::seconds(5);
    let first = s.run_at(once(&job), at).await.unwrap();
    let second = s.run_at(once(&job), at).await.unwrap();
    // an abort (another server's) has claimed the first and not ended it yet
    assert_eq!(claim(&store, "s2", first.id).await, 1);
    clock.set(at);
    let r = s.tick().await.unwrap();
    assert_eq!((r.fired, r.started), (2, 1));
    s.wait_idle().await;
    assert_eq!(launcher.ids(), vec![second.id]);
    assert!(store.list_triggers(None).await.unwrap().is_empty());
    let kept = store.get_execution(first.id).await.unwrap().unwrap();
    assert_eq!(kept.status, ExecutionStatus::Scheduled);
    // too late to abort the second: it ran
    assert_eq!(s.cancel_scheduled(second.id, "late").await.unwrap(), None);
    assert_eq!(
        store
            .get_execution(second.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        ExecutionStatus::Succeeded
    );
}

/// At its time a one-off run checks its job again: deleted, or its
/// executions disabled since, it does not run and its record says why.
#[tokio::test]
async fn its_job_is_checked_again_at_its_time() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let launcher = TestLauncher::new(&store);
    let s = sched(&store, launcher.clone(), &clock, "s1");
    let off = plain_job(&store, "off").await;
    let gone = plain_job(&store, "gone").await;
    let at = t0() + Duration::minutes(1);
    let a = s.run_at(once(&off), at).await.unwrap();
    let b = s.run_at(once(&gone), at).await.unwrap();
    let mut disabled = off.clone();
    disabled.execution_enabled = false;
    store.put_job("p", &disabled).await.unwrap();
    // deleted behind the scheduler's back (the job service unschedules first)
    store
        .delete_job("p", gone.uuid.as_deref().unwrap())
        .await
        .unwrap();
    clock.set(at + Duration::seconds(2));
    let r = s.tick().await.unwrap();
    assert_eq!((r.fired, r.started, r.disabled), (2, 0, 2));
    s.wait_idle().await;
    assert!(launcher.ids().is_empty());
    for (id, why) in [
        (a.id, "executions of the job are disabled"),
        (b.id, "the job no longer exists"),
    ] {
        let e = store.get_execution(id).await.unwrap().unwrap();
        assert_eq!(e.status, ExecutionStatus::Failed, "{e:?}");
        assert_eq!(e.date_started, at);
        assert_eq!(e.date_ended, Some(at + Duration::seconds(2)));
        let failure = e.failure.unwrap_or_default();
        assert!(
            failure.contains("not run at its time") && failure.contains(why),
            "{failure}"
        );
    }
    assert!(store.list_triggers(None).await.unwrap().is_empty());
}

/// Deleting the job (which unschedules it) ends its scheduled runs.
#[tokio::test]
async fn unscheduling_the_job_aborts_its_scheduled_runs() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let s = sched(&store, TestLauncher::new(&store), &clock, "s1");
    let job = plain_job(&store, "bye").await;
    let e = s
        .run_at(once(&job), t0() + Duration::hours(1))
        .await
        .unwrap();
    s.unschedule_job("p", job.uuid.as_deref().unwrap())
        .await
        .unwrap();
    let ended = store.get_execution(e.id).await.unwrap().unwrap();
    assert_eq!(ended.status, ExecutionStatus::Aborted);
    assert!(ended.failure.unwrap().contains("its job was deleted"));
    assert!(store.list_triggers(None).await.unwrap().is_empty());
}

/// A restarted server fires the one-off runs whose time passed while it
/// was down, once, under their ids (misfire policy: fire once now); it
/// finishes an abort its earlier process began; it ends a scheduled
/// execution whose trigger was never stored.
#[tokio::test]
async fn a_restart_keeps_one_off_runs() {
    let store = memory().await;
    let clock = ManualClock::new(t0());
    let before = sched(&store, TestLauncher::new(&store), &clock, "s1");
    let job = plain_job(&store, "kept").await;
    let at = t0() + Duration::minutes(1);
    let due = before.run_at(once(&job), at).await.unwrap();
    let aborting = before.run_at(once(&job), at).await.unwrap();
    assert_eq!(claim(&store, "s1", aborting.id).await, 1);
    // a scheduled record whose trigger the server never stored
    let mut lost = due.clone();
    lost.id = 0;
    lost.id = store.create_execution(&lost).await.unwrap();
    drop(before);

    // down for an hour: past the misfire threshold
    clock.set(at + Duration::hours(1));
    let launcher = TestLauncher::new(&store);
    let after = sched(&store, launcher.clone(), &clock, "s1");
    let r = after.tick().await.unwrap();
    assert_eq!(r.started, 1, "{r:?}");
    after.wait_idle().await;
    assert_eq!(launcher.ids(), vec![due.id]);
    let ran = store.get_execution(due.id).await.unwrap().unwrap();
    assert_eq!(ran.status, ExecutionStatus::Succeeded);
    let aborted = store.get_execution(aborting.id).await.unwrap().unwrap();
    assert_eq!(aborted.status, ExecutionStatus::Aborted);
    assert!(aborted.failure.unwrap().contains("stopped while aborting"));
    let failed = store.get_execution(lost.id).await.unwrap().unwrap();
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert!(failed.failure.unwrap().contains("trigger was lost"));
    assert!(store.list_triggers(None).await.unwrap().is_empty());
    // nothing more, ever
    clock.advance(Duration::hours(1));
    assert_eq!(after.tick().await.unwrap().started, 0);
    assert_eq!(executions(&store, &job).await.len(), 3);
}
