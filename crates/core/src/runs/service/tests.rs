//! The run service's rules as a caller that waits for its run sees them.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::model::{Project, Step, Workflow};
use crate::runs::Aborted;
use crate::store::ExecutionQuery;
use crate::testing::FakeExecutor;
use crate::MemoryStore;
use crate::{ExecutionStatus, LogEvent};
use std::sync::Mutex;

#[test]
fn arg_strings() {
    let m = parse_arg_string(r#"-env prod -msg "hello world" -flag -n 'a b'"#).unwrap();
    assert_eq!(m["env"], "prod");
    assert_eq!(m["msg"], "hello world");
    assert_eq!(m["flag"], "");
    assert_eq!(m["n"], "a b");
    assert!(parse_arg_string("-a \"open").is_err());
    assert!(parse_arg_string("value").is_err());
    assert!(parse_arg_string("").unwrap().is_empty());
}

/// A service on a memory store with project `p`, whose nodes run on a fake
/// executor that prints each node's name.
async fn service() -> (RunService, Arc<dyn Store>) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    store.create_project(&Project::new("p")).await.unwrap();
    let fake = FakeExecutor::new()
        .when(Some("a"), None, crate::testing::FakeReply::print("on a"))
        .when(Some("b"), None, crate::testing::FakeReply::print("on b"));
    let engine = Engine::builder()
        .shared_store(store.clone())
        .executor("fake", fake)
        .build();
    let service = RunService::new(engine, |launcher| {
        DurableScheduler::builder(store.clone(), launcher).build()
    });
    (service, store)
}

fn job() -> Job {
    Job::new("j", Workflow::new(vec![Step::command("hostname")]))
}

fn nodes() -> Vec<Node> {
    ["a", "b"]
        .iter()
        .map(|n| Node::new(*n).with("node-executor", "fake"))
        .collect()
}

fn request() -> StartRun {
    StartRun {
        subject: Subject::new("alice", Vec::<String>::new()),
        ..StartRun::default()
    }
}

async fn records(store: &Arc<dyn Store>) -> usize {
    store
        .query_executions(&ExecutionQuery::default())
        .await
        .unwrap()
        .items
        .len()
}

/// A waited run chooses from the nodes it is given only (not the server's
/// own node), streams its log to the listener and returns its end.
#[tokio::test]
async fn a_waited_run_uses_the_given_nodes_and_streams_its_log() {
    let (service, store) = service().await;
    let seen: Arc<Mutex<Vec<LogEvent>>> = Arc::default();
    let sink = seen.clone();
    let listener = LogListener::new(move |e| sink.lock().unwrap().push(e.clone()));
    let e = service
        .run(
            "p",
            &job(),
            StartRun {
                filter: Some(".*".into()),
                ..request()
            },
            Some(nodes()),
            Some(listener),
        )
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    assert_eq!(e.user, "alice");
    let mut out: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.text.starts_with("on "))
        .map(|e| format!("{}:{}", e.node.clone().unwrap_or_default(), e.text))
        .collect();
    out.sort();
    assert_eq!(out, ["a:on a", "b:on b"], "the server's node is no choice");
    assert_eq!(records(&store).await, 1);
}

/// The rules of a started run hold for a waited one: a job or project
/// with executions disabled is refused before anything is recorded, and so
/// is a run kept for later.
#[tokio::test]
async fn a_waited_run_is_refused_by_the_same_rules() {
    let (service, store) = service().await;
    let mut disabled = job();
    disabled.uuid = Some("u-1".into());
    disabled.execution_enabled = false;
    let err = service
        .run("p", &disabled, request(), Some(nodes()), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StartError::JobDisabled(id) if id == "u-1"),
        "{err}"
    );
    assert_eq!(err.to_string(), "Executions of job u-1 are disabled");

    let err = service
        .run(
            "p",
            &job(),
            StartRun {
                run_at_time: Some("2030-01-01T00:00:00Z".into()),
                ..request()
            },
            Some(nodes()),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StartError::Invalid(m) if m.starts_with("runAtTime")),
        "{err}"
    );

    let mut p = Project::new("p");
    p.config
        .insert(rules::PROJECT_DISABLE_EXECUTIONS.into(), "true".into());
    store.update_project(&p).await.unwrap();
    let err = service
        .run("p", &job(), request(), Some(nodes()), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StartError::ProjectDisabled(p) if p == "p"),
        "{err}"
    );
    assert_eq!(records(&store).await, 0);
    assert!(
        store.list_triggers(None).await.unwrap().is_empty(),
        "nothing kept for later"
    );
}

/// A run at a later time is recorded at once as a `scheduled` execution
/// (a time past is refused, as Rundeck refuses it); aborted, it never
/// runs; at its time, the same execution starts.
#[tokio::test]
async fn a_run_for_later_is_recorded_at_once_and_starts_under_its_id() {
    use crate::schedule::ManualClock;
    use chrono::TimeZone;
    let t0 = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let clock = ManualClock::new(t0);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    store.create_project(&Project::new("p")).await.unwrap();
    let engine = Engine::builder().shared_store(store.clone()).build();
    let service = RunService::new(engine, |launcher| {
        DurableScheduler::builder(store.clone(), launcher)
            .clock(Arc::new(clock.clone()))
            .build()
    });
    let mut j = job();
    j.uuid = Some("u-later".into());
    j.options = vec![crate::model::JobOption::new("who")];
    let j = store.put_job("p", &j).await.unwrap();
    let later = |at: &str| StartRun {
        run_at_time: Some(at.into()),
        arg_string: Some("-who later".into()),
        ..request()
    };

    let err = service
        .start_run("p", &j, later("2030-01-01T11:59:59Z"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StartError::Invalid(m) if m.contains("in the past")),
        "{err}"
    );
    assert_eq!(records(&store).await, 0);

    let Started::Scheduled(e) = service
        .start_run("p", &j, later("2030-01-01T13:01:00+01:00"))
        .await
        .unwrap()
    else {
        panic!("a run for later is scheduled")
    };
    assert_eq!(e.status, ExecutionStatus::Scheduled);
    assert_eq!(e.date_started, t0 + chrono::Duration::minutes(1));
    assert_eq!(e.user, "alice");
    assert_eq!(e.arg_string, "-who later");
    assert_eq!(e.job_id.as_deref(), Some("u-later"));
    assert_eq!(store.get_execution(e.id).await.unwrap(), Some((*e).clone()));
    let Aborted::Ended(ended) = service.abort(&e).await.unwrap() else {
        panic!("a scheduled run is ended by its abort")
    };
    assert_eq!(ended.status, ExecutionStatus::Aborted);
    assert!(store.list_triggers(None).await.unwrap().is_empty());
    assert_eq!(service.abort(&e).await.unwrap(), Aborted::Finished);

    let Started::Scheduled(next) = service
        .start_run("p", &j, later("2030-01-01T12:00:30Z"))
        .await
        .unwrap()
    else {
        panic!("a run for later is scheduled")
    };
    clock.set(t0 + chrono::Duration::seconds(30));
    let r = service.scheduler.tick().await.unwrap();
    assert_eq!(r.started, 1, "{r:?}");
    service.scheduler.wait_idle().await;
    let ran = store.get_execution(next.id).await.unwrap().unwrap();
    assert!(ran.status.is_final(), "{ran:?}");
    assert_ne!(ran.status, ExecutionStatus::Aborted);
    assert_eq!(ran.options["who"], "later");
    assert_eq!(
        records(&store).await,
        2,
        "one aborted, one run: no other record"
    );
}

#[tokio::test]
async fn a_passive_server_starts_nothing_and_stays_passive_after_a_restart() {
    let (service, store) = service().await;
    let server = service.scheduler.server().to_owned();
    service.set_execution_mode(false).await.unwrap();
    let err = service
        .run("p", &job(), request(), Some(nodes()), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StartError::Passive), "{err}");
    let later = StartRun {
        run_at_time: Some("2099-01-01T00:00:00Z".into()),
        ..request()
    };
    let err = service.start_run("p", &job(), later).await.unwrap_err();
    assert!(matches!(err, StartError::Passive), "{err}");
    assert_eq!(records(&store).await, 0);
    assert!(store.list_triggers(None).await.unwrap().is_empty());

    // the same server started again (same uuid, same store): still passive
    let engine = Engine::builder().shared_store(store.clone()).build();
    let again = RunService::new(engine, |launcher| {
        DurableScheduler::builder(store.clone(), launcher)
            .config(crate::SchedulerConfig::new(server.clone()))
            .build()
    });
    assert!(again.engine.execution_mode().is_active(), "until loaded");
    again.load_execution_mode().await.unwrap();
    assert!(!again.engine.execution_mode().is_active());
    assert!(!again.scheduler.accepts_runs(), "its scheduler sees it too");
    again.set_execution_mode(true).await.unwrap();
    service.load_execution_mode().await.unwrap();
    service
        .run("p", &job(), request(), Some(nodes()), None)
        .await
        .unwrap();
    // a stored value that is no mode is refused, not read as one
    store
        .put_server_setting(&server, crate::runs::EXECUTION_MODE_SETTING, "sleepy")
        .await
        .unwrap();
    let err = service.load_execution_mode().await.unwrap_err();
    assert!(err.to_string().contains("sleepy"), "{err}");
}
