#![allow(clippy::unwrap_used)]

use super::*;
use crate::model::{
    Dispatch, ExecState, ExecutionStatus, JobOption, JobRef, NagiosStatus, NodeFilters, Retry,
    Step, StepKind, Strategy, Workflow,
};
use crate::store::prelude::*;
use crate::testing::{FakeExecutor, FakeReply, RecordingNotifier};
use crate::{MemoryStore, NotificationTrigger};
use std::time::Duration;
use ExecState::{
    Failed as F, NodeMixed as MX, NodePartialSucceeded as PS, NotStarted as NS, Succeeded as S,
};

fn nodes(n: usize) -> Vec<Node> {
    (1..=n)
        .map(|i| Node::new(format!("n{i}")).with("node-executor", "fake"))
        .collect()
}

fn job_on_all(steps: Vec<Step>, threadcount: u32, keepgoing: bool) -> Job {
    let mut job = Job::new("matrix", Workflow::new(steps));
    job.sequence.keepgoing = keepgoing;
    job.nodefilters = Some(NodeFilters {
        filter: Some(".*".into()),
        dispatch: Dispatch {
            threadcount,
            keepgoing,
            ..Dispatch::default()
        },
        ..NodeFilters::default()
    });
    job
}

fn slow(code: i32) -> FakeReply {
    FakeReply {
        exit: code,
        delay: Some(Duration::from_millis(50)),
        ..FakeReply::default()
    }
}

struct Case {
    strategy: Strategy,
    keepgoing: bool,
    handler: bool,
    threads: u32,
    steps: [ExecState; 3],
    nodes: [ExecState; 4],
    status: ExecutionStatus,
}

fn case(
    strategy: Strategy,
    keepgoing: bool,
    handler: bool,
    threads: u32,
    steps: [ExecState; 3],
    nodes: [ExecState; 4],
    ok: bool,
) -> Case {
    Case {
        strategy,
        keepgoing,
        handler,
        threads,
        steps,
        nodes,
        status: if ok {
            ExecutionStatus::Succeeded
        } else {
            ExecutionStatus::Failed
        },
    }
}

/// Each strategy x keepgoing x error handler x thread count: step 2 fails on
/// node n2 of n1..n4; the handler (when present) succeeds. Keepgoing sets
/// both the workflow's and the dispatch's keepgoing.
#[tokio::test(start_paused = true)]
async fn workflow_matrix() {
    use Strategy::{NodeFirst as NF, Parallel as PA, Sequential as SQ};
    let cases = vec![
        // sequential (step-first)
        case(SQ, false, false, 1, [S, MX, NS], [PS, F, PS, PS], false),
        case(SQ, false, false, 8, [S, MX, NS], [PS, F, PS, PS], false),
        case(SQ, true, false, 1, [S, MX, S], [S, F, S, S], false),
        case(SQ, true, false, 8, [S, MX, S], [S, F, S, S], false),
        case(SQ, false, true, 1, [S, S, NS], [PS, PS, PS, PS], false),
        case(SQ, false, true, 8, [S, S, NS], [PS, PS, PS, PS], false),
        case(SQ, true, true, 1, [S, S, S], [S, S, S, S], true),
        case(SQ, true, true, 8, [S, S, S], [S, S, S, S], true),
        // node-first
        case(NF, false, false, 1, [PS, MX, PS], [S, F, NS, NS], false),
        case(NF, false, false, 8, [S, MX, PS], [S, F, S, S], false),
        case(NF, true, false, 1, [S, MX, S], [S, F, S, S], false),
        case(NF, true, false, 8, [S, MX, S], [S, F, S, S], false),
        case(NF, false, true, 1, [PS, PS, PS], [S, PS, NS, NS], false),
        case(NF, false, true, 8, [S, S, PS], [S, PS, S, S], false),
        case(NF, true, true, 1, [S, S, S], [S, S, S, S], true),
        case(NF, true, true, 8, [S, S, S], [S, S, S, S], true),
        // parallel: steps run at once, each dispatched over the nodes
        case(PA, false, false, 1, [S, MX, S], [S, F, PS, PS], false),
        case(PA, false, false, 8, [S, MX, S], [S, F, S, S], false),
        case(PA, true, false, 1, [S, MX, S], [S, F, S, S], false),
        case(PA, true, false, 8, [S, MX, S], [S, F, S, S], false),
        case(PA, false, true, 1, [S, S, S], [S, S, S, S], false),
        case(PA, false, true, 8, [S, S, S], [S, S, S, S], false),
        case(PA, true, true, 1, [S, S, S], [S, S, S, S], true),
        case(PA, true, true, 8, [S, S, S], [S, S, S, S], true),
    ];
    for c in cases {
        let label = format!(
            "{:?} keepgoing={} handler={} threads={}",
            c.strategy, c.keepgoing, c.handler, c.threads
        );
        let fake = Arc::new(
            FakeExecutor::new()
                .when(Some("n2"), Some("step2"), slow(1))
                .when(None, None, slow(0)),
        );
        let engine = Engine::builder().executor("fake", fake.clone()).build();
        let mut step2 = Step::command("step2");
        if c.handler {
            step2 = step2.with_handler(Step::command("recover"));
        }
        let mut job = job_on_all(
            vec![Step::command("step1"), step2, Step::command("step3")],
            c.threads,
            c.keepgoing,
        );
        job.sequence.strategy = c.strategy;
        let e = engine
            .run_job("p", &job, RunOptions::default().nodes(nodes(4)))
            .await
            .unwrap();
        let steps: Vec<ExecState> = e.state.steps.iter().map(|s| s.execution_state).collect();
        assert_eq!(steps, c.steps.to_vec(), "step states, {label}");
        let node_states: Vec<ExecState> = ["n1", "n2", "n3", "n4"]
            .iter()
            .map(|n| e.state.nodes[*n].execution_state)
            .collect();
        assert_eq!(node_states, c.nodes.to_vec(), "node states, {label}");
        assert_eq!(e.status, c.status, "status, {label}");
        let handled = fake
            .calls()
            .iter()
            .filter(|(_, cmd)| cmd == "recover")
            .count();
        assert_eq!(handled, usize::from(c.handler), "handler runs, {label}");
        if c.handler {
            assert!(e.state.steps[1].node_states["n2"].handled, "{label}");
        }
        let stored = engine.store().get_execution(e.id).await.unwrap().unwrap();
        assert_eq!(stored, e, "stored record, {label}");
    }
}

fn local_job(steps: Vec<Step>) -> Job {
    Job::new("local", Workflow::new(steps))
}

async fn log_text(engine: &Engine, id: u64) -> Vec<String> {
    engine
        .store()
        .read_log(id, 0, 100_000)
        .await
        .unwrap()
        .events
        .into_iter()
        .map(|e| e.text)
        .collect()
}

#[tokio::test]
async fn unknown_option_is_a_clear_error() {
    let engine = Engine::builder().build();
    let mut job = local_job(vec![Step::command("true")]);
    job.options = vec![JobOption::new("env")];
    let err = engine
        .run_job(
            "p",
            &job,
            RunOptions::default().option("enviroment", "prod"),
        )
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("enviroment") && msg.contains("env"), "{msg}");
    // nothing was recorded for a run that never started
    let page = engine
        .store()
        .query_executions(&Default::default())
        .await
        .unwrap();
    assert_eq!(page.total, 0);
}

#[tokio::test]
async fn captured_data_reaches_later_steps_and_secrets_are_masked() {
    let engine = Engine::builder().build();
    let mut job = local_job(vec![
        Step::command("echo RUNDECK:DATA:color=blue; echo pw=${option.pw}"),
        Step::command("echo got ${data.color} for ${option.user}"),
    ]);
    let mut pw = JobOption::new("pw");
    pw.secure = true;
    job.options = vec![pw, JobOption::new("user")];
    let e = engine
        .run_job(
            "p",
            &job,
            RunOptions::default()
                .option("pw", "hunter2")
                .option("user", "$(id) ; rm -rf /"),
        )
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.failure);
    let log = log_text(&engine, e.id).await;
    assert!(log.contains(&"pw=[SECURE]".to_owned()), "{log:?}");
    assert!(
        log.contains(&"got blue for $(id) ; rm -rf /".to_owned()),
        "{log:?}"
    );
    assert!(!log.iter().any(|l| l.contains("hunter2")));
    assert_eq!(e.options["pw"], "[SECURE]");
    assert!(!e.arg_string.contains("hunter2"));
}

#[tokio::test(start_paused = true)]
async fn retry_creates_new_executions_with_delay() {
    let fake = Arc::new(FakeExecutor::new().when(None, None, FakeReply::exit(1)));
    let notes = Arc::new(RecordingNotifier::default());
    let engine = Engine::builder()
        .executor("fake", fake.clone())
        .notifier(notes.clone())
        .build();
    let mut job = job_on_all(vec![Step::command("check")], 1, false);
    job.retry = Some(Retry {
        retry: "2".into(),
        delay: Some("30s".into()),
    });
    let start = tokio::time::Instant::now();
    let e = engine
        .run_job("p", &job, RunOptions::default().nodes(nodes(1)))
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert_eq!(e.retry_attempt, 2);
    assert!(
        start.elapsed() >= Duration::from_secs(60),
        "two delays of 30s (virtual time)"
    );
    let all = engine
        .store()
        .query_executions(&Default::default())
        .await
        .unwrap();
    let statuses: Vec<String> = all.items.iter().map(|x| x.status.to_string()).collect();
    assert_eq!(
        statuses,
        ["failed", "failed-with-retry", "failed-with-retry"]
    );
    assert_eq!(all.items[0].retry_of, Some(all.items[1].id));
    let triggers: Vec<NotificationTrigger> = notes.seen().into_iter().map(|s| s.0).collect();
    use NotificationTrigger::*;
    assert_eq!(
        triggers,
        [
            Start,
            RetryableFailure,
            Start,
            RetryableFailure,
            Start,
            Failure
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn avg_duration_notification_fires_only_past_average_plus_threshold() {
    let secs = |n| FakeReply {
        delay: Some(Duration::from_secs(n)),
        ..FakeReply::default()
    };
    let fake = Arc::new(
        FakeExecutor::new()
            .when(None, Some("quick"), FakeReply::default())
            .when(None, Some("slow"), secs(100))
            .when(None, Some("fair"), secs(20)),
    );
    let notes = Arc::new(RecordingNotifier::default());
    let engine = Engine::builder()
        .executor("fake", fake)
        .notifier(notes.clone())
        .build();
    let job = |cmd: &str| {
        let mut job = job_on_all(vec![Step::command(cmd)], 1, false);
        job.uuid = Some("avg-job".into());
        job.notify_avg_duration_threshold = Some("+30".into());
        job.notification = Some(crate::model::Notifications {
            onavgduration: Some(crate::model::Notification::default().into()),
            ..Default::default()
        });
        job
    };
    let avg_fired = |notes: &RecordingNotifier| {
        notes
            .seen()
            .iter()
            .filter(|s| s.0 == NotificationTrigger::AvgDuration)
            .count()
    };
    // no successful run to average yet: never fires
    engine
        .run_job("p", &job("slow"), RunOptions::default().nodes(nodes(1)))
        .await
        .unwrap();
    assert_eq!(avg_fired(&notes), 0);
    // the successful runs took (wall-clock) milliseconds, so the limit is
    // about 30 s of the paused clock: the 100 s run passes it
    engine
        .run_job("p", &job("quick"), RunOptions::default().nodes(nodes(1)))
        .await
        .unwrap();
    engine
        .run_job("p", &job("slow"), RunOptions::default().nodes(nodes(1)))
        .await
        .unwrap();
    assert_eq!(avg_fired(&notes), 1);
    // a 20 s run stays under it
    engine
        .run_job("p", &job("fair"), RunOptions::default().nodes(nodes(1)))
        .await
        .unwrap();
    assert_eq!(avg_fired(&notes), 1);
}

#[tokio::test(start_paused = true)]
async fn job_timeout_stops_the_run() {
    let fake = Arc::new(FakeExecutor::new().when(
        None,
        None,
        FakeReply {
            delay: Some(Duration::from_secs(3600)),
            ..FakeReply::default()
        },
    ));
    let engine = Engine::builder().executor("fake", fake).build();
    let mut job = job_on_all(
        vec![Step::command("sleep"), Step::command("after")],
        2,
        false,
    );
    job.timeout = Some("1m".into());
    let e = engine
        .run_job("p", &job, RunOptions::default().nodes(nodes(2)))
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::TimedOut);
    assert_eq!(e.state.steps[0].execution_state, ExecState::Aborted);
    assert_eq!(e.state.steps[1].execution_state, ExecState::NotStarted);
}

#[tokio::test]
async fn abort_kills_local_processes() {
    let engine = Engine::builder().build();
    let job = local_job(vec![
        Step::command("echo started; sleep 60"),
        Step::command("echo never"),
    ]);
    let handle = engine
        .start_job("p", &job, RunOptions::default())
        .await
        .unwrap();
    // wait until the first line is in the log, then abort
    for _ in 0..200 {
        if !log_text(&engine, handle.id).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(engine.running().contains(&handle.id));
    assert!(engine.abort(handle.id));
    let e = tokio::time::timeout(Duration::from_secs(20), handle.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Aborted);
    assert_eq!(e.state.execution_state, ExecState::Aborted);
    assert_eq!(e.state.steps[1].execution_state, ExecState::NotStarted);
    assert!(!log_text(&engine, e.id).await.contains(&"never".to_owned()));
    assert!(engine.running().is_empty());
}

#[tokio::test]
async fn log_limit_truncate_and_halt() {
    let engine = Engine::builder().build();
    let mut job = local_job(vec![
        Step::command("seq 1 100"),
        Step::command("echo second"),
    ]);
    job.loglimit = Some("10".into());
    job.loglimit_action = Some(crate::model::LogLimitAction::Truncate);
    let e = engine
        .run_job("p", &job, RunOptions::default())
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    let log = log_text(&engine, e.id).await;
    assert_eq!(
        log.iter().filter(|l| l.parse::<u32>().is_ok()).count(),
        10,
        "{log:?}"
    );
    assert!(!log.contains(&"second".to_owned()));

    job.loglimit_action = Some(crate::model::LogLimitAction::Halt);
    job.loglimit_status = Some("too-chatty".into());
    job.sequence.commands[0] = Step::command("seq 1 1000000; sleep 30");
    let e = engine
        .run_job("p", &job, RunOptions::default())
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Other("too-chatty".into()));
    assert_eq!(e.state.steps[1].execution_state, ExecState::NotStarted);
}

#[tokio::test]
async fn job_reference_runs_child_with_args_and_nests_its_log() {
    let store = Arc::new(MemoryStore::new());
    let engine = Engine::builder().shared_store(store.clone()).build();
    let mut child = local_job(vec![Step::command("echo child says ${option.word}")]);
    child.name = "child".into();
    child.group = Some("lib".into());
    child.options = vec![JobOption::new("word")];
    store.put_job("p", &child).await.unwrap();
    let parent = local_job(vec![Step::new(StepKind::JobRef(JobRef {
        name: "child".into(),
        group: Some("lib".into()),
        args: Some("-word \"hello there\"".into()),
        ..JobRef::default()
    }))]);
    let e = engine
        .run_job("p", &parent, RunOptions::default())
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.failure);
    let page = store.read_log(e.id, 0, 100).await.unwrap();
    let line = page
        .events
        .iter()
        .find(|ev| ev.text == "child says hello there")
        .unwrap();
    assert_eq!(line.stepctx.as_deref(), Some("1/1"));

    // a missing job fails the step with a clear message
    let missing = local_job(vec![Step::new(StepKind::JobRef(JobRef {
        name: "nope".into(),
        ..JobRef::default()
    }))]);
    let e = engine
        .run_job("p", &missing, RunOptions::default())
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Failed);
    let failure = &e.state.steps[0].node_states["localhost"].failure;
    assert!(
        failure
            .as_deref()
            .unwrap_or("")
            .contains("\"nope\" not found"),
        "{failure:?}"
    );

    // a job that references itself stops at the depth limit instead of looping
    let mut selfref = local_job(vec![Step::new(StepKind::JobRef(JobRef {
        name: "loop".into(),
        ..JobRef::default()
    }))]);
    selfref.name = "loop".into();
    store.put_job("p", &selfref).await.unwrap();
    let e = engine
        .run_job("p", &selfref, RunOptions::default())
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Failed);
}

#[tokio::test]
async fn nagios_codes_are_kept_per_node_and_worst_on_the_execution() {
    let fake = Arc::new(
        FakeExecutor::new()
            .when(Some("n1"), None, FakeReply::exit(0))
            .when(Some("n2"), None, FakeReply::exit(1))
            .when(Some("n3"), None, FakeReply::exit(2))
            .when(Some("n4"), None, FakeReply::exit(7)),
    );
    let engine = Engine::builder().executor("fake", fake).build();
    let mut job = job_on_all(vec![Step::command("check_disk")], 4, true);
    job.nagios = true;
    let e = engine
        .run_job("p", &job, RunOptions::default().nodes(nodes(4)))
        .await
        .unwrap();
    let per: Vec<Option<NagiosStatus>> = ["n1", "n2", "n3", "n4"]
        .iter()
        .map(|n| e.state.nodes[*n].nagios)
        .collect();
    use NagiosStatus::*;
    assert_eq!(
        per,
        [Some(Ok), Some(Warning), Some(Critical), Some(Unknown)]
    );
    assert_eq!(e.nagios, Some(Critical));
    assert_eq!(e.status, ExecutionStatus::Failed);
}

#[tokio::test]
async fn rank_order_and_empty_node_sets() {
    let fake = Arc::new(FakeExecutor::new());
    let engine = Engine::builder().executor("fake", fake.clone()).build();
    let mut job = job_on_all(vec![Step::command("x")], 1, false);
    if let Some(nf) = job.nodefilters.as_mut() {
        nf.dispatch.rank_order = crate::model::RankOrder::Descending;
    }
    let e = engine
        .run_job("p", &job, RunOptions::default().nodes(nodes(3)))
        .await
        .unwrap();
    assert_eq!(e.state.target_nodes, ["n3", "n2", "n1"]);
    let order: Vec<String> = fake.calls().into_iter().map(|c| c.0).collect();
    assert_eq!(order, ["n3", "n2", "n1"]);

    let opts = RunOptions {
        filter: Some("name: nothing-here".into()),
        ..RunOptions::default()
    }
    .nodes(nodes(3));
    let e = engine.run_job("p", &job, opts.clone()).await.unwrap();
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert!(e.failure.unwrap_or_default().contains("No nodes matched"));
    if let Some(nf) = job.nodefilters.as_mut() {
        nf.dispatch.success_on_empty_node_filter = true;
    }
    let e = engine.run_job("p", &job, opts).await.unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded);
}

#[tokio::test]
async fn missing_executor_names_the_node() {
    let engine = Engine::builder().build();
    let mut job = job_on_all(vec![Step::command("uptime")], 1, false);
    job.name = "remote".into();
    let e = engine
        .run_job(
            "p",
            &job,
            RunOptions::default().nodes(vec![Node::new("web1").with("hostname", "10.0.0.1")]),
        )
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Failed);
    let failure = e.state.steps[0].node_states["web1"]
        .failure
        .clone()
        .unwrap_or_default();
    assert!(
        failure.contains("web1") && failure.contains("ssh"),
        "{failure}"
    );
}

#[tokio::test]
async fn secrets_split_across_reads_are_still_masked() {
    let engine = Engine::builder().build();
    let mut job = local_job(vec![Step::command(
        "printf 'pass: hun'; sleep 0.2; printf 'ter2 end\\n'; printf '%s\\n' \"$RD_OPTION_PW\" >&2",
    )]);
    let mut pw = JobOption::new("pw");
    pw.secure = true;
    job.options = vec![pw];
    let e = engine
        .run_job("p", &job, RunOptions::default().option("pw", "hunter2"))
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    let log = log_text(&engine, e.id).await;
    assert_eq!(log, ["pass: [SECURE] end", "[SECURE]"]);
}

#[derive(Debug)]
struct Greet;

#[async_trait]
impl StepPlugin for Greet {
    async fn run(&self, call: PluginCall) -> Result<NodeOutcome> {
        let who = call
            .configuration
            .get("who")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_owned();
        let node = call.node.map(|n| n.name).unwrap_or_default();
        call.out
            .line(
                crate::model::Stream::Stdout,
                format!("hello {who} on {node}"),
            )
            .await;
        Ok(NodeOutcome::exit(i32::from(who == "nobody")))
    }
}

#[tokio::test]
async fn step_plugins_run_per_node_with_expanded_configuration() {
    let engine = Engine::builder().step_plugin("greet", Greet).build();
    let plugin = |who: &str| {
        Step::new(StepKind::Plugin {
            plugin_type: "greet".into(),
            node_step: true,
            configuration: [("who".to_owned(), serde_json::Value::String(who.into()))].into(),
        })
    };
    let mut job = local_job(vec![plugin("${option.name}")]);
    job.options = vec![JobOption::new("name")];
    let e = engine
        .run_job("p", &job, RunOptions::default().option("name", "ops"))
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    assert_eq!(log_text(&engine, e.id).await, ["hello ops on localhost"]);

    let e = engine
        .run_job(
            "p",
            &local_job(vec![plugin("nobody")]),
            RunOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Failed);
    let unknown = Step::new(StepKind::Plugin {
        plugin_type: "missing".into(),
        node_step: false,
        configuration: Default::default(),
    });
    let e = engine
        .run_job("p", &local_job(vec![unknown]), RunOptions::default())
        .await
        .unwrap();
    let failure = e.state.steps[0].node_states["localhost"]
        .failure
        .clone()
        .unwrap_or_default();
    assert!(
        failure.contains("no step plugin named `missing`"),
        "{failure}"
    );
}

#[tokio::test]
async fn start_execution_fills_the_existing_record_and_keeps_its_owner() {
    let fake = Arc::new(FakeExecutor::new().when(None, None, FakeReply::exit(1)));
    let engine = Engine::builder().executor("fake", fake.clone()).build();
    let mut job = job_on_all(vec![Step::command("check")], 1, false);
    job.uuid = Some("j1".into());
    job.retry = Some(Retry {
        retry: "1".into(),
        delay: None,
    });
    let mut record = Execution::new("p", job.full_name(), "sched");
    record.job_id = job.uuid.clone();
    record.server_uuid = Some("server-a".into());
    let id = engine.store().create_execution(&record).await.unwrap();
    record.id = id;
    let handle = engine
        .start_execution("p", &job, &record, RunOptions::default().nodes(nodes(1)))
        .await
        .unwrap();
    assert_eq!(handle.id, id, "the run uses the record it was given");
    let last = handle.wait().await.unwrap();
    assert_eq!(last.retry_of, Some(id));
    let all = engine
        .store()
        .query_executions(&Default::default())
        .await
        .unwrap();
    assert_eq!(all.total, 2, "the given record and one retry, no third");
    for e in &all.items {
        assert_eq!(e.server_uuid.as_deref(), Some("server-a"), "{}", e.id);
    }
    let first = engine.store().get_execution(id).await.unwrap().unwrap();
    assert_eq!(first.status, ExecutionStatus::FailedWithRetry);
    assert_eq!(first.state.target_nodes, vec!["n1".to_owned()]);
}

/// Twelve executions at once, each running two steps on four nodes with a
/// thread count of 4: the engine's caps bound how many steps run at once,
/// overall and per node (counted by the fake executor), and every step of
/// every execution still runs.
#[tokio::test(start_paused = true)]
async fn step_caps_bound_concurrency_and_all_work_completes() {
    // (engine cap, per-node cap): the first binds overall, the second per node
    for (global, per_node) in [(5, 10), (100, 2), (3, 1)] {
        let fake = Arc::new(FakeExecutor::new().when(None, None, slow(0)));
        let engine = Engine::builder()
            .executor("fake", fake.clone())
            .max_running_steps(global)
            .max_steps_per_node(per_node)
            .build();
        let job = job_on_all(
            vec![Step::command("step1"), Step::command("step2")],
            4,
            false,
        );
        let mut handles = Vec::new();
        for _ in 0..12 {
            let h = engine
                .start_job("p", &job, RunOptions::default().nodes(nodes(4)))
                .await
                .unwrap();
            handles.push(h);
        }
        for h in handles {
            let e = h.wait().await.unwrap();
            assert_eq!(e.status, ExecutionStatus::Succeeded, "{global}/{per_node}");
        }
        let label = format!("caps {global} overall, {per_node} per node");
        assert_eq!(fake.calls().len(), 12 * 4 * 2, "{label}");
        // the demand (48 steps at once, 12 per node) exceeds both caps, so
        // the binding one is reached and neither is exceeded
        assert!(fake.max_concurrent() <= global, "{label}");
        assert!(fake.max_concurrent_per_node() <= per_node, "{label}");
        assert_eq!(fake.max_concurrent(), global.min(4 * per_node), "{label}");
        if global >= 4 * per_node {
            assert_eq!(fake.max_concurrent_per_node(), per_node, "{label}");
        }
    }
}

/// An execution aborted while its steps wait for a slot stops waiting.
#[tokio::test(start_paused = true)]
async fn abort_while_waiting_for_a_step_slot() {
    let long = FakeReply {
        delay: Some(Duration::from_secs(3600)),
        ..FakeReply::default()
    };
    let fake = Arc::new(FakeExecutor::new().when(None, None, long));
    let engine = Engine::builder()
        .executor("fake", fake.clone())
        .max_running_steps(1)
        .build();
    let job = job_on_all(vec![Step::command("hold")], 1, false);
    let first = engine
        .start_job("p", &job, RunOptions::default().nodes(nodes(1)))
        .await
        .unwrap();
    // the first holds the only slot before the second asks for one
    while fake.calls().is_empty() {
        tokio::task::yield_now().await;
    }
    let second = engine
        .start_job("p", &job, RunOptions::default().nodes(nodes(1)))
        .await
        .unwrap();
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(engine.abort(second.id));
    let e = second.wait().await.unwrap();
    assert_eq!(e.status, ExecutionStatus::Aborted);
    assert_eq!(fake.calls().len(), 1, "the waiting step never ran");
    assert!(engine.abort(first.id));
    assert_eq!(first.wait().await.unwrap().status, ExecutionStatus::Aborted);
}

/// Steps on this host (the `local` executor) count against the engine-wide
/// cap only, not the per-node one.
#[tokio::test(start_paused = true)]
async fn local_steps_are_bounded_by_the_engine_cap_only() {
    let fake = Arc::new(FakeExecutor::new().when(None, None, slow(0)));
    let engine = Engine::builder()
        .executor("local", fake.clone())
        .max_running_steps(8)
        .max_steps_per_node(1)
        .build();
    let here = vec![Node::new("here").with("node-executor", "local")];
    let job = job_on_all(vec![Step::command("step1")], 1, false);
    let mut handles = Vec::new();
    for _ in 0..12 {
        let h = engine
            .start_job("p", &job, RunOptions::default().nodes(here.clone()))
            .await
            .unwrap();
        handles.push(h);
    }
    for h in handles {
        assert_eq!(h.wait().await.unwrap().status, ExecutionStatus::Succeeded);
    }
    assert_eq!(fake.calls().len(), 12);
    assert_eq!(fake.max_concurrent(), 8);
}
