//! Run-time authorization: nodes a run targets and jobs it references.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::authorizer::{AuthContext, Decision, Resource};
use crate::model::{ExecutionStatus, JobRef, NodeFilters, Step, StepKind, Workflow};
use crate::store::prelude::*;
use crate::testing::FakeExecutor;
use crate::MemoryStore;
use std::collections::BTreeSet;

/// Allows everything except `run` on the nodes and jobs named in `deny`,
/// and `read` on the projects named there too (`project:NAME`).
#[derive(Debug, Default)]
struct DenyList {
    deny: BTreeSet<String>,
}

impl DenyList {
    fn new(names: &[&str]) -> Arc<Self> {
        Arc::new(DenyList {
            deny: names.iter().map(|s| (*s).to_owned()).collect(),
        })
    }
}

impl Authorizer for DenyList {
    fn decide(&self, _s: &Subject, action: &str, r: &Resource, _c: &AuthContext) -> Decision {
        let name = r.attributes.get("name").cloned().unwrap_or_default();
        let denied = match (r.kind.as_str(), action) {
            ("project", "read") => self.deny.contains(&format!("project:{name}")),
            ("node" | "job", "run") => self.deny.contains(&name),
            ("job", "read" | "view") => self.deny.contains(&format!("hidden:{name}")),
            _ => false,
        };
        if denied {
            Decision::Deny(format!("{action} {name} denied"))
        } else {
            Decision::Allow
        }
    }
}

fn fake_nodes() -> Vec<Node> {
    ["allowed", "forbidden"]
        .iter()
        .map(|n| Node::new(*n).with("node-executor", "fake"))
        .collect()
}

fn on(filter: &str, steps: Vec<Step>) -> Job {
    let mut job = Job::new("j", Workflow::new(steps));
    job.nodefilters = Some(NodeFilters {
        filter: Some(filter.into()),
        ..NodeFilters::default()
    });
    job
}

fn limited() -> Subject {
    Subject::new("lim", ["dev"])
}

fn engine_denying(store: Arc<MemoryStore>, fake: Arc<FakeExecutor>, deny: &[&str]) -> Engine {
    Engine::builder()
        .shared_store(store)
        .executor("fake", fake)
        .authorizer(DenyList::new(deny))
        .build()
}

#[tokio::test]
async fn a_run_is_refused_on_nodes_its_subject_may_not_run_on() {
    let store = Arc::new(MemoryStore::new());
    let fake = Arc::new(FakeExecutor::new());
    let engine = engine_denying(store.clone(), fake.clone(), &["forbidden"]);
    let job = on(".*", vec![Step::command("id")]);
    let opts = || {
        RunOptions::default()
            .nodes(fake_nodes())
            .as_subject(limited())
    };

    // the stored filter selects a forbidden node: refused, naming it
    let err = engine.run_job("p", &job, opts()).await.unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("\"forbidden\"") && msg.contains("\"lim\""),
        "{msg}"
    );
    assert!(!msg.contains("\"allowed\""), "{msg}");
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());

    // a filter override reaching it is refused too
    let narrow = on("name: allowed", vec![Step::command("id")]);
    let err = engine
        .run_job(
            "p",
            &narrow,
            RunOptions {
                filter: Some("forbidden".into()),
                ..opts()
            },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("\"forbidden\""), "{err}");
    assert!(fake.calls().is_empty());

    // a filter the subject may run on runs
    let e = engine.run_job("p", &narrow, opts()).await.unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.failure);
    assert_eq!(fake.calls(), vec![("allowed".into(), "id".into())]);

    // the server node (no filter) is a node like any other
    let local = Job::new("l", Workflow::new(vec![Step::command("true")]));
    let server_denied = Engine::builder()
        .shared_store(store.clone())
        .authorizer(DenyList::new(&["localhost"]))
        .build();
    let err = server_denied
        .run_job("p", &local, RunOptions::default().as_subject(limited()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("\"localhost\""), "{err}");
}

#[tokio::test]
async fn runs_without_a_subject_or_authorizer_are_not_checked() {
    let store = Arc::new(MemoryStore::new());
    let fake = Arc::new(FakeExecutor::new());
    let engine = engine_denying(store.clone(), fake.clone(), &["forbidden"]);
    let job = on(".*", vec![Step::command("id")]);
    let e = engine
        .run_job("p", &job, RunOptions::default().nodes(fake_nodes()))
        .await
        .unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    assert_eq!(fake.calls().len(), 2);

    // an authorizer set later applies to later runs
    let plain = Engine::builder()
        .shared_store(store)
        .executor("fake", fake.clone())
        .build();
    plain.set_authorizer(DenyList::new(&["forbidden"]));
    let err = plain
        .run_job(
            "p",
            &job,
            RunOptions::default()
                .nodes(fake_nodes())
                .as_subject(limited()),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
}

fn jobref(r: JobRef) -> Step {
    Step::new(StepKind::JobRef(r))
}

fn step_failure(e: &Execution) -> String {
    e.state.steps[0]
        .node_states
        .values()
        .find_map(|s| s.failure.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn job_references_need_run_on_the_referenced_job_at_every_depth() {
    let store = Arc::new(MemoryStore::new());
    let fake = Arc::new(FakeExecutor::new());
    let engine = engine_denying(store.clone(), fake.clone(), &["secret", "hidden:secret"]);
    let mut secret = on("allowed", vec![Step::command("cat /secret")]);
    secret.name = "secret".into();
    secret.group = Some("ops".into());
    let secret = store.put_job("other", &secret).await.unwrap();
    let secret_id = secret.uuid.clone().unwrap();

    let by_name = JobRef {
        name: "secret".into(),
        group: Some("ops".into()),
        project: Some("other".into()),
        ..JobRef::default()
    };
    let by_uuid = JobRef {
        uuid: Some(secret_id.clone()),
        project: Some("other".into()),
        ..JobRef::default()
    };
    for r in [by_name.clone(), by_uuid] {
        let outer = on("allowed", vec![jobref(r)]);
        let opts = RunOptions::default()
            .nodes(fake_nodes())
            .as_subject(limited());
        let e = engine.run_job("p", &outer, opts).await.unwrap();
        assert_eq!(e.status, ExecutionStatus::Failed);
        // a job the subject may not see is answered as missing
        assert!(
            step_failure(&e).contains("not found"),
            "{}",
            step_failure(&e)
        );
    }
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());

    // through an allowed job in between: refused at depth two
    let mut middle = on("allowed", vec![jobref(by_name.clone())]);
    middle.name = "middle".into();
    store.put_job("p", &middle).await.unwrap();
    let outer = on(
        "allowed",
        vec![jobref(JobRef {
            name: "middle".into(),
            ..JobRef::default()
        })],
    );
    let opts = RunOptions::default()
        .nodes(fake_nodes())
        .as_subject(limited());
    let e = engine.run_job("p", &outer, opts).await.unwrap();
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
    let log: Vec<String> = store
        .read_log(e.id, 0, 1000)
        .await
        .unwrap()
        .events
        .into_iter()
        .map(|ev| ev.text)
        .collect();
    assert!(
        log.iter().any(|l| l.contains("\"ops/secret\" not found")),
        "{log:?}"
    );

    // a job the subject sees but may not run: refused, saying why
    let visible = engine_denying(store.clone(), fake.clone(), &["secret"]);
    let outer = on("allowed", vec![jobref(by_name)]);
    let opts = RunOptions::default()
        .nodes(fake_nodes())
        .as_subject(limited());
    let e = visible.run_job("p", &outer, opts).await.unwrap();
    assert!(
        step_failure(&e).contains("may not run referenced job \"ops/secret\""),
        "{}",
        step_failure(&e)
    );
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn job_references_need_read_on_the_referenced_project_and_run_on_its_nodes() {
    let store = Arc::new(MemoryStore::new());
    let fake = Arc::new(FakeExecutor::new());
    let mut child = on("allowed", vec![Step::command("echo child")]);
    child.name = "child".into();
    store.put_job("p", &child).await.unwrap();
    store.put_job("other", &child).await.unwrap();

    let unread = engine_denying(store.clone(), fake.clone(), &["project:other"]);
    let outer = on(
        "allowed",
        vec![jobref(JobRef {
            name: "child".into(),
            project: Some("other".into()),
            ..JobRef::default()
        })],
    );
    let opts = || {
        RunOptions::default()
            .nodes(fake_nodes())
            .as_subject(limited())
    };
    let e = unread.run_job("p", &outer, opts()).await.unwrap();
    assert!(
        step_failure(&e).contains("may not read project \"other\""),
        "{}",
        step_failure(&e)
    );
    assert!(fake.calls().is_empty());

    // a node override of the reference reaching a forbidden node
    let engine = engine_denying(store.clone(), fake.clone(), &["forbidden"]);
    let outer = on(
        "allowed",
        vec![jobref(JobRef {
            name: "child".into(),
            nodefilters: Some(NodeFilters {
                filter: Some("forbidden".into()),
                ..NodeFilters::default()
            }),
            ..JobRef::default()
        })],
    );
    let e = engine.run_job("p", &outer, opts()).await.unwrap();
    assert_eq!(e.status, ExecutionStatus::Failed);
    assert!(
        step_failure(&e).contains("may not run on node \"forbidden\""),
        "{}",
        step_failure(&e)
    );
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());

    // allowed across projects: it runs, and its output stays in its own log
    let fake = Arc::new(FakeExecutor::new().when(
        None,
        Some("echo child"),
        crate::testing::FakeReply::print("child output"),
    ));
    let engine = engine_with(store.clone(), fake.clone());
    let outer = on(
        "allowed",
        vec![jobref(JobRef {
            name: "child".into(),
            project: Some("other".into()),
            ..JobRef::default()
        })],
    );
    let e = engine.run_job("p", &outer, opts()).await.unwrap();
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.failure);
    let texts = |id| {
        let store = store.clone();
        async move {
            store
                .read_log(id, 0, 1000)
                .await
                .unwrap()
                .events
                .into_iter()
                .map(|ev| ev.text)
                .collect::<Vec<_>>()
        }
    };
    let outer_log = texts(e.id).await;
    assert!(
        !outer_log.iter().any(|l| l == "child output"),
        "{outer_log:?}"
    );
    let pointer = outer_log
        .iter()
        .find(|l| l.contains("of project \"other\""))
        .unwrap_or_else(|| panic!("{outer_log:?}"));
    let child_id: u64 = pointer
        .split('#')
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    let child_exec = store.get_execution(child_id).await.unwrap().unwrap();
    assert_eq!(child_exec.project, "other");
    assert!(texts(child_id).await.iter().any(|l| l == "child output"));
}

fn engine_with(store: Arc<MemoryStore>, fake: Arc<FakeExecutor>) -> Engine {
    engine_denying(store, fake, &[])
}
