//! Durable runs in one process: what a run records between its steps, and
//! a run continued from such a record. (The kill of a real process between
//! two steps is `crates/store/tests/durable_run_crash.rs`.)
#![allow(clippy::unwrap_used)]

use super::*;
use crate::format::{jobs_to_yaml, parse_jobs_yaml, validate_job};
use crate::model::{
    Dispatch, ExecutionStatus, NodeFilters, Step, StepKind, Strategy, Stream, Workflow,
};
use crate::store::prelude::*;
use crate::store::{RunState, StepOutcome};
use crate::MemoryStore;

/// Prints its `line` (expanded): `RUNDECK:DATA:` lines capture data.
#[derive(Debug)]
struct Say;

#[async_trait]
impl StepPlugin for Say {
    async fn run(&self, call: PluginCall) -> Result<NodeOutcome> {
        let line = call.configuration["line"].as_str().unwrap().to_owned();
        call.out.line(Stream::Stdout, line).await;
        Ok(NodeOutcome::exit(0))
    }
}

/// What a step saw: the data in its context, and its run's recorded state.
type Seen = Arc<Mutex<Vec<(BTreeMap<String, String>, Option<RunState>)>>>;

/// Notes what its step sees into [`Seen`].
#[derive(Debug)]
struct Probe {
    store: Arc<MemoryStore>,
    seen: Seen,
}

#[async_trait]
impl StepPlugin for Probe {
    async fn run(&self, call: PluginCall) -> Result<NodeOutcome> {
        let id: u64 = call.context.job["execid"].parse().unwrap();
        let state = self.store.get_run_state(id).await.unwrap();
        self.seen
            .lock()
            .unwrap()
            .push((call.context.data.clone(), state));
        Ok(NodeOutcome::exit(0))
    }
}

fn engine() -> (Engine, Arc<MemoryStore>, Seen) {
    let store = Arc::new(MemoryStore::new());
    let seen = Seen::default();
    let engine = Engine::builder()
        .shared_store(store.clone())
        .step_plugin("say", Say)
        .step_plugin(
            "probe",
            Probe {
                store: store.clone(),
                seen: seen.clone(),
            },
        )
        .build();
    (engine, store, seen)
}

fn plugin(kind: &str, node_step: bool, line: &str) -> Step {
    Step::new(StepKind::Plugin {
        plugin_type: kind.into(),
        node_step,
        configuration: [("line".to_owned(), serde_json::Value::String(line.into()))].into(),
    })
}

fn say(line: &str) -> Step {
    plugin("say", true, line)
}

fn probe() -> Step {
    plugin("probe", true, "")
}

fn durable(steps: Vec<Step>) -> Job {
    let mut job = Job::new("durable", Workflow::new(steps));
    job.uuid = Some("durable-job".into());
    job.durable = true;
    job
}

async fn log_text(engine: &Engine, id: u64) -> Vec<String> {
    let page = engine.store().read_log(id, 0, 10_000).await.unwrap();
    page.events.into_iter().map(|e| e.text).collect()
}

#[tokio::test]
async fn a_durable_run_records_what_it_carries_after_each_step() {
    let (engine, store, seen) = engine();
    let mut job = durable(vec![
        say("RUNDECK:DATA:token=abc 1"),
        probe(),
        say("got ${data.token}"),
    ]);
    job.sequence.strategy = Strategy::Sequential;
    let e = engine
        .run_job("p", &job, RunOptions::default())
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    let state = seen.lock().unwrap()[0]
        .1
        .clone()
        .expect("recorded before step 2");
    assert_eq!(state.execution, e.id);
    assert_eq!(state.next_step, 1);
    assert_eq!(state.data["token"], "abc 1");
    assert_eq!(state.node_data["localhost"]["token"], "abc 1");
    assert_eq!(state.results, [StepOutcome::Succeeded]);
    assert_eq!(state.failure, None);
    assert_eq!(log_text(&engine, e.id).await[1], "got abc 1");
    // an ended run keeps no state
    assert_eq!(store.get_run_state(e.id).await.unwrap(), None);

    // a job that did not opt in records nothing
    let mut plain = job.clone();
    plain.durable = false;
    let e = engine
        .run_job("p", &plain, RunOptions::default())
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].0["token"], "abc 1");
    assert_eq!(seen[1].1, None);
}

/// An execution as a stopped server left it: started, step 1 done.
async fn left_behind(engine: &Engine, job: &Job, state: impl Fn(u64) -> RunState) -> Execution {
    let mut e = Execution::new("p", job.full_name(), "alice");
    e.job_id = job.uuid.clone();
    e.server_uuid = Some("server-b".into());
    e.date_started = chrono::Utc::now() - chrono::Duration::minutes(5);
    e.id = engine.store().create_execution(&e).await.unwrap();
    engine.store().put_run_state(&state(e.id)).await.unwrap();
    e
}

#[tokio::test]
async fn a_continued_run_goes_on_from_the_next_step_with_the_recorded_data() {
    let (engine, store, seen) = engine();
    let job = durable(vec![
        say("first ran again"),
        probe(),
        say("got ${data.token}"),
    ]);
    let before = left_behind(&engine, &job, |id| {
        let mut s = RunState::new(id);
        s.next_step = 1;
        s.data.insert("token".into(), "abc".into());
        s.results = vec![StepOutcome::Succeeded];
        s
    })
    .await;
    let state = store.get_run_state(before.id).await.unwrap().unwrap();
    let e = engine
        .continue_execution("p", &job, &before, state, RunOptions::default())
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(e.id, before.id);
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    assert_eq!(e.date_started, before.date_started);
    assert_eq!(e.server_uuid.as_deref(), Some("server-b"));
    let log = log_text(&engine, e.id).await;
    assert_eq!(
        log,
        [
            "Durable run continued from step 2 with the data recorded before its server stopped",
            "got abc",
        ]
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0["token"], "abc");
    assert_eq!(seen[0].1.as_ref().unwrap().next_step, 1);
    assert_eq!(store.get_run_state(e.id).await.unwrap(), None);
    assert_eq!(
        store.get_execution(e.id).await.unwrap().unwrap().status,
        ExecutionStatus::Succeeded
    );
}

#[tokio::test]
async fn a_continued_run_keeps_the_failure_before_it() {
    let (engine, store, _) = engine();
    let mut job = durable(vec![say("one"), say("two")]);
    job.sequence.keepgoing = true;
    let before = left_behind(&engine, &job, |id| {
        let mut s = RunState::new(id);
        s.next_step = 1;
        s.results = vec![StepOutcome::Failed];
        s.failure = Some("step 1 failed".into());
        s
    })
    .await;
    let state = store.get_run_state(before.id).await.unwrap().unwrap();
    let e = engine
        .continue_execution("p", &job, &before, state, RunOptions::default())
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert_eq!(e.failure.as_deref(), Some("step 1 failed"));
    assert_eq!(log_text(&engine, e.id).await[1], "two");

    // a state recorded at the workflow's end (it stopped after a failure):
    // nothing more runs
    job.sequence.keepgoing = false;
    let before = left_behind(&engine, &job, |id| {
        let mut s = RunState::new(id);
        s.next_step = 2;
        s.results = vec![StepOutcome::Failed];
        s.failure = Some("step 1 failed".into());
        s
    })
    .await;
    let state = store.get_run_state(before.id).await.unwrap().unwrap();
    let e = engine
        .continue_execution("p", &job, &before, state, RunOptions::default())
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert_eq!(log_text(&engine, e.id).await.len(), 1);
}

#[tokio::test]
async fn node_first_records_after_each_run_of_node_steps() {
    let (engine, _, seen) = engine();
    let mut job = durable(vec![
        say("RUNDECK:DATA:host=${node.name}"),
        probe(),
        plugin("probe", false, ""),
    ]);
    job.sequence.strategy = Strategy::NodeFirst;
    job.nodefilters = Some(NodeFilters {
        filter: Some(".*".into()),
        dispatch: Dispatch {
            threadcount: 1,
            ..Dispatch::default()
        },
        ..NodeFilters::default()
    });
    let nodes = vec![Node::new("n1"), Node::new("n2")];
    let e = engine
        .run_job("p", &job, RunOptions::default().nodes(nodes))
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    // inside the run of node steps: the state from before it
    assert_eq!(seen[0].1.as_ref().unwrap().next_step, 0);
    assert_eq!(seen[0].0["host"], "n1");
    // after it, on the workflow step
    let after = seen[2].1.clone().unwrap();
    assert_eq!(after.next_step, 2);
    assert_eq!(
        after.results,
        [StepOutcome::Succeeded, StepOutcome::Succeeded]
    );
    assert_eq!(after.node_data["n1"]["host"], "n1");
    assert_eq!(after.node_data["n2"]["host"], "n2");
}

#[test]
fn durable_is_a_foredeck_field_of_the_job_formats() {
    let jobs = parse_jobs_yaml(
        "- name: resumable\n  durable: true\n  sequence:\n    commands:\n      - exec: echo hi\n",
        "jobs.yaml",
    )
    .unwrap();
    assert!(jobs[0].durable);
    assert!(jobs_to_yaml(&jobs).unwrap().contains("durable: true"));
    // Rundeck's jobs have no such field: they are not durable, and export
    // without it
    let jobs = parse_jobs_yaml(
        "- name: plain\n  sequence:\n    commands:\n      - exec: echo hi\n",
        "jobs.yaml",
    )
    .unwrap();
    assert!(!jobs[0].durable);
    assert!(!jobs_to_yaml(&jobs).unwrap().contains("durable"));

    let mut parallel = durable(vec![say("a")]);
    parallel.sequence.strategy = Strategy::Parallel;
    let err = validate_job(&parallel).unwrap_err().to_string();
    assert!(err.contains("durable") && err.contains("parallel"), "{err}");
}
