//! Durable runs of stopped servers: continued from their recorded state
//! instead of marked `incomplete`.

use super::*;
use crate::engine::Engine;
use crate::model::Strategy;
use crate::store::{RunState, ServerHeartbeat, StepOutcome};

async fn two_step_job(store: &Arc<dyn Store>, name: &str, durable: bool) -> Job {
    let mut job = Job::new(
        name,
        Workflow::new(vec![
            Step::command("echo first ran again"),
            Step::command("echo got ${data.token}"),
        ]),
    );
    job.uuid = Some(format!("uuid-{name}"));
    job.sequence.strategy = Strategy::Sequential;
    job.durable = durable;
    store.put_job("p", &job).await.unwrap()
}

/// An execution of `job` that `owner` was running when it stopped, after
/// step 1 captured `token=abc` (recorded as a durable run records it).
async fn left_running(store: &Arc<dyn Store>, job: &Job, owner: &str) -> u64 {
    let mut e = Execution::new("p", job.full_name(), "alice");
    e.job_id = job.uuid.clone();
    e.server_uuid = Some(owner.into());
    e.date_started = t0();
    let id = store.create_execution(&e).await.unwrap();
    let mut state = RunState::new(id);
    state.next_step = 1;
    state.data.insert("token".into(), "abc".into());
    state.results = vec![StepOutcome::Succeeded];
    store.put_run_state(&state).await.unwrap();
    id
}

async fn log_of(store: &Arc<dyn Store>, id: u64) -> Vec<String> {
    let page = store.read_log(id, 0, 1_000).await.unwrap();
    page.events.into_iter().map(|e| e.text).collect()
}

fn engine_launcher(store: &Arc<dyn Store>) -> Arc<dyn Launcher> {
    Arc::new(EngineLauncher(
        Engine::builder().shared_store(store.clone()).build(),
    ))
}

#[tokio::test]
async fn a_restarted_server_continues_its_durable_runs_and_marks_the_rest_incomplete() {
    let store = memory().await;
    let durable = two_step_job(&store, "durable", true).await;
    let plain = two_step_job(&store, "plain", false).await;
    let resumable = left_running(&store, &durable, "srv").await;
    // a state recorded for a job that is not durable changes nothing
    let orphan = left_running(&store, &plain, "srv").await;
    let clock = ManualClock::new(t0() + Duration::minutes(5));
    let s = sched(&store, engine_launcher(&store), &clock, "srv");

    assert_eq!(s.recover().await.unwrap(), 1, "only the plain run");
    let waiting = store.get_execution(resumable).await.unwrap().unwrap();
    assert_eq!(waiting.status, ExecutionStatus::Waiting);
    assert_eq!(waiting.server_uuid, None);
    let r = s.tick().await.unwrap();
    assert_eq!((r.continued, r.recovered), (1, 0));
    s.wait_idle().await;

    let e = store.get_execution(resumable).await.unwrap().unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{e:?}");
    assert_eq!(e.server_uuid.as_deref(), Some("srv"));
    assert_eq!(e.date_started, t0());
    let log = log_of(&store, resumable).await;
    assert!(log.contains(&"got abc".to_owned()), "{log:?}");
    assert!(
        !log.iter().any(|l| l.contains("first ran again")),
        "{log:?}"
    );
    assert_eq!(store.get_run_state(resumable).await.unwrap(), None);

    let o = store.get_execution(orphan).await.unwrap().unwrap();
    assert_eq!(o.status, ExecutionStatus::Incomplete);
    assert!(o.failure.as_deref().unwrap().contains("restarted"));
}

#[tokio::test]
async fn a_survivor_continues_a_dead_servers_durable_run() {
    let store = memory().await;
    let durable = two_step_job(&store, "durable", true).await;
    let id = left_running(&store, &durable, "doomed").await;
    store
        .heartbeat(&ServerHeartbeat {
            server: "doomed".into(),
            started: t0(),
            last_seen: t0(),
            info: serde_json::Value::Null,
        })
        .await
        .unwrap();
    let clock = ManualClock::new(t0() + Duration::seconds(121));
    let survivor = sched(&store, engine_launcher(&store), &clock, "survivor");
    let r = survivor.tick().await.unwrap();
    assert_eq!((r.continued, r.taken_over, r.rerun), (1, 0, 0));
    survivor.wait_idle().await;
    let e = store.get_execution(id).await.unwrap().unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{e:?}");
    assert_eq!(e.server_uuid.as_deref(), Some("survivor"));
    assert!(log_of(&store, id).await.contains(&"got abc".to_owned()));
}

#[tokio::test]
async fn without_a_launcher_that_continues_or_a_state_a_durable_run_is_incomplete() {
    let store = memory().await;
    let durable = two_step_job(&store, "durable", true).await;
    let recorded = left_running(&store, &durable, "srv").await;
    let clock = ManualClock::new(t0() + Duration::minutes(5));
    // the test launcher runs but does not continue
    let s = sched(&store, TestLauncher::new(&store), &clock, "srv");
    assert_eq!(s.recover().await.unwrap(), 1);
    let e = store.get_execution(recorded).await.unwrap().unwrap();
    assert_eq!(e.status, ExecutionStatus::Incomplete);

    // an engine launcher, but the run recorded no state
    let unrecorded = left_running(&store, &durable, "srv2").await;
    store.delete_run_state(unrecorded).await.unwrap();
    let s = sched(&store, engine_launcher(&store), &clock, "srv2");
    assert_eq!(s.recover().await.unwrap(), 1);
    let e = store.get_execution(unrecorded).await.unwrap().unwrap();
    assert_eq!(e.status, ExecutionStatus::Incomplete);
}

#[tokio::test]
async fn a_queued_execution_waits_behind_a_waiting_durable_run() {
    let store = memory().await;
    let job = serial_job(&store, "serial", "queue").await;
    let mut waiting = Execution::new("p", job.full_name(), "alice");
    waiting.job_id = job.uuid.clone();
    waiting.status = ExecutionStatus::Waiting;
    waiting.date_started = t0();
    waiting.id = store.create_execution(&waiting).await.unwrap();
    let mut queued = waiting.clone();
    queued.status = ExecutionStatus::Queued;
    queued.id = store.create_execution(&queued).await.unwrap();
    let clock = ManualClock::new(t0() + Duration::minutes(1));
    // a launcher that does not continue runs: the waiting one stays waiting
    let launcher = TestLauncher::new(&store);
    let s = sched(&store, launcher.clone(), &clock, "srv");
    assert_eq!(s.tick().await.unwrap().started, 0);
    s.wait_idle().await;
    assert!(launcher.ids().is_empty());

    waiting.status = ExecutionStatus::Succeeded;
    store.update_execution(&waiting).await.unwrap();
    assert_eq!(s.tick().await.unwrap().started, 1);
    s.wait_idle().await;
    assert_eq!(launcher.ids(), [queued.id]);
}
