//! One behavioural suite for every `Store`: MemoryStore (the reference),
//! SQLite (temporary file), PostgreSQL and MariaDB (a fresh database per
//! test, dropped after).
//!
//! PostgreSQL and MariaDB are found at `FOREDECK_TEST_POSTGRES`
//! (default `postgres://postgres@127.0.0.1:5432`) and `FOREDECK_TEST_MYSQL`
//! (default `mysql://root@127.0.0.1:3306`). When one is unreachable the test
//! prints a skip notice, unless `CI` is set: then it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use foredeck_core::model::{
    ExecState, Execution, ExecutionStatus, Job, LogEvent, LogLevel, NagiosStatus, Node,
    NodeStepState, NodeSummary, Project, Step, StepState, Stream, Workflow,
};
use foredeck_core::store::prelude::*;
use foredeck_core::store::{ExecutionQuery, JobQuery, KeyType, LogPage, StoredKey};
use foredeck_core::Error;
use foredeck_store::SqlStore;
use sea_orm::ConnectionTrait;

#[macro_use]
mod common;
use common::*;

store_tests!(
    projects,
    delete_project_cascades,
    nodes,
    jobs,
    job_queries,
    executions,
    execution_queries,
    execution_queries_follow_jobs,
    logs,
    concurrent_appends,
    keys,
);

// ---------------------------------------------------------------- helpers

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

fn job(name: &str, group: Option<&str>) -> Job {
    let mut j = Job::new(name, Workflow::new(vec![Step::command("echo hi")]));
    j.group = group.map(str::to_owned);
    j
}

fn execution(project: &str, job: Option<&Job>, user: &str, started: DateTime<Utc>) -> Execution {
    let mut e = Execution::new(
        project,
        job.map(Job::full_name).unwrap_or_else(|| "uptime".into()),
        user,
    );
    e.job_id = job.and_then(|j| j.uuid.clone());
    e.date_started = started;
    e
}

fn event(i: usize, text: &str) -> LogEvent {
    LogEvent {
        time: t0() + Duration::nanoseconds(i as i64 * 1_000_001),
        level: if i % 2 == 0 {
            LogLevel::Info
        } else {
            LogLevel::Warn
        },
        stream: match i % 3 {
            0 => Stream::Stdout,
            1 => Stream::Stderr,
            _ => Stream::System,
        },
        node: (i % 4 != 0).then(|| format!("node-{}", i % 4)),
        stepctx: (i % 5 != 0).then(|| format!("{}/1", i % 5)),
        text: text.to_owned(),
        raw: None,
    }
}

fn is_conflict<T: std::fmt::Debug>(r: foredeck_core::Result<T>) -> bool {
    matches!(r, Err(Error::Conflict(_)))
}

fn is_not_found<T: std::fmt::Debug>(r: foredeck_core::Result<T>) -> bool {
    matches!(r, Err(Error::NotFound { .. }))
}

fn names(jobs: &[Job]) -> Vec<&str> {
    jobs.iter().map(|j| j.name.as_str()).collect()
}

/// `list_jobs`, checking that `list_job_summaries` answers the same query
/// with the same jobs in the same order.
async fn listed(s: &S, project: &str, query: &JobQuery) -> Vec<Job> {
    let jobs = s.list_jobs(project, query).await.unwrap();
    let summaries = s.list_job_summaries(project, query).await.unwrap();
    let want: Vec<_> = jobs.iter().map(Job::summary).collect();
    assert_eq!(summaries, want, "summaries of {query:?}");
    jobs
}

// ---------------------------------------------------------------- tests

async fn projects(s: S) {
    let mut p = Project::new("ops");
    p.description = Some("Opérations ✓ \"prod\"".into());
    p.config
        .insert("project.label".into(), "Öps 日本 'x'".into());
    p.config
        .insert("resources.source.1.type".into(), "file".into());
    s.create_project(&p).await.unwrap();
    assert!(is_conflict(s.create_project(&p).await));
    assert!(is_conflict(s.create_project(&Project::new("ops")).await));
    assert_eq!(s.get_project("ops").await.unwrap(), Some(p.clone()));
    assert_eq!(
        s.get_project("OPS").await.unwrap(),
        None,
        "names are case-sensitive"
    );
    assert_eq!(s.get_project("nope").await.unwrap(), None);

    for n in ["beta", "Zeta", "alpha", "OPS"] {
        s.create_project(&Project::new(n)).await.unwrap();
    }
    let listed: Vec<String> = s
        .list_projects()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(listed, ["OPS", "Zeta", "alpha", "beta", "ops"]);

    p.description = None;
    p.config.clear();
    p.config.insert("a".into(), "b".into());
    s.update_project(&p).await.unwrap();
    s.update_project(&p).await.unwrap(); // unchanged values are fine too
    assert_eq!(s.get_project("ops").await.unwrap(), Some(p));
    assert!(is_not_found(s.update_project(&Project::new("nope")).await));
    assert!(is_not_found(s.delete_project("nope").await));
    s.delete_project("beta").await.unwrap();
    assert_eq!(s.get_project("beta").await.unwrap(), None);
    assert_eq!(s.list_projects().await.unwrap().len(), 4);
}

async fn delete_project_cascades(s: S) {
    let mut eids = Vec::new();
    let mut jids = Vec::new();
    for p in ["ops", "dev"] {
        s.create_project(&Project::new(p)).await.unwrap();
        s.replace_nodes(p, "file", &[Node::new("n1")])
            .await
            .unwrap();
        let j = s.put_job(p, &job("deploy", Some("web"))).await.unwrap();
        let id = s
            .create_execution(&execution(p, Some(&j), "alice", t0()))
            .await
            .unwrap();
        s.append_log(id, &[event(0, "hello")]).await.unwrap();
        eids.push(id);
        jids.push(j.uuid.unwrap());
    }
    let before = revision(&s, "ops").await;
    s.delete_project("ops").await.unwrap();
    // raised, not reset: a list kept from before must not match again
    assert!(revision(&s, "ops").await > before);
    assert_eq!(s.get_project("ops").await.unwrap(), None);
    assert!(s.list_nodes("ops").await.unwrap().is_empty());
    assert_eq!(s.get_job("ops", &jids[0]).await.unwrap(), None);
    assert_eq!(s.get_execution(eids[0]).await.unwrap(), None);
    assert!(is_not_found(s.read_log(eids[0], 0, 10).await));
    // The other project is untouched.
    assert_eq!(s.list_nodes("dev").await.unwrap().len(), 1);
    assert!(s.get_job("dev", &jids[1]).await.unwrap().is_some());
    assert!(s.get_execution(eids[1]).await.unwrap().is_some());
    assert_eq!(s.read_log(eids[1], 0, 10).await.unwrap().events.len(), 1);
    // A project of the same name starts empty.
    s.create_project(&Project::new("ops")).await.unwrap();
    let again = revision(&s, "ops").await;
    s.put_job("ops", &job("deploy", Some("web"))).await.unwrap();
    assert!(revision(&s, "ops").await > again);
    let q = ExecutionQuery {
        project: Some("ops".into()),
        ..Default::default()
    };
    assert_eq!(s.query_executions(&q).await.unwrap().total, 0);
}

async fn nodes(s: S) {
    assert!(s.list_nodes("ops").await.unwrap().is_empty());
    let web_b = Node::new("web1")
        .with("hostname", "10.0.0.1")
        .with_tags(["web", "prod"]);
    let db = Node::new("db1")
        .with("hostname", "db.example")
        .with("osFamily", "unix");
    s.replace_nodes("ops", "b-source", &[web_b.clone(), db.clone()])
        .await
        .unwrap();
    let web_a = Node::new("web1").with("hostname", "old.example");
    let app = Node::new("app-ü")
        .with("description", "Ünïcødé 🚀 \"q\" \\ back\nslash")
        .with("username", "déploy");
    s.replace_nodes("ops", "a-source", &[web_a.clone(), app.clone()])
        .await
        .unwrap();
    s.replace_nodes("other", "a-source", &[Node::new("elsewhere")])
        .await
        .unwrap();

    // Sources in name order, the later one wins; sorted by node name.
    let got = s.list_nodes("ops").await.unwrap();
    assert_eq!(got, vec![app.clone(), db.clone(), web_b.clone()]);

    // Replacing a source drops what it no longer lists.
    s.replace_nodes("ops", "b-source", std::slice::from_ref(&db))
        .await
        .unwrap();
    assert_eq!(
        s.list_nodes("ops").await.unwrap(),
        vec![app.clone(), db.clone(), web_a.clone()]
    );
    s.replace_nodes("ops", "a-source", &[]).await.unwrap();
    assert_eq!(s.list_nodes("ops").await.unwrap(), vec![db.clone()]);

    // Within one source the last node of a name wins.
    let n1 = Node::new("n").with("v", "1");
    let n2 = Node::new("n").with("v", "2");
    s.replace_nodes("dup", "s", &[n1, n2.clone()])
        .await
        .unwrap();
    assert_eq!(s.list_nodes("dup").await.unwrap(), vec![n2]);

    // Many nodes (more than one insert batch).
    let many: Vec<Node> = (0..1200)
        .map(|i| {
            Node::new(format!("host{i:04}"))
                .with("hostname", format!("127.0.{}.{}", i / 250, i % 250))
        })
        .collect();
    s.replace_nodes("big", "gen", &many).await.unwrap();
    assert_eq!(s.list_nodes("big").await.unwrap(), many);
    assert_eq!(s.list_nodes("other").await.unwrap().len(), 1);
}

/// A store's job revision of a project; every store here keeps one.
async fn revision(s: &S, project: &str) -> u64 {
    s.job_revision(project)
        .await
        .unwrap()
        .expect("the store keeps job revisions")
}

async fn jobs(s: S) {
    let mut j = job("deploy", Some("web/prod"));
    j.description = "Déploie l'appli ✓\nsecond line: \"quoted\"".into();
    let r0 = revision(&s, "ops").await;
    let stored = s.put_job("ops", &j).await.unwrap();
    let r1 = revision(&s, "ops").await;
    assert!(r1 > r0, "a new job raises the revision");
    let id = stored.uuid.clone().expect("uuid assigned");
    assert_eq!(stored.project.as_deref(), Some("ops"));
    assert_eq!(s.get_job("ops", &id).await.unwrap(), Some(stored.clone()));
    assert_eq!(s.get_job("other", &id).await.unwrap(), None);
    assert_eq!(s.get_job("ops", "missing").await.unwrap(), None);

    // Same group and name under another uuid: a conflict.
    assert!(is_conflict(s.put_job("ops", &j).await));
    let mut dup = j.clone();
    dup.uuid = Some("2b1b2f0a-0000-4000-8000-000000000001".into());
    assert!(is_conflict(s.put_job("ops", &dup).await));
    assert_eq!(
        revision(&s, "ops").await,
        r1,
        "a refused job changes nothing"
    );
    // The same name in another group or project is fine.
    let other_group = s.put_job("ops", &job("deploy", Some("web"))).await.unwrap();
    let r2 = revision(&s, "ops").await;
    let other_project = s.put_job("dev", &j).await.unwrap();
    assert_ne!(other_project.uuid, stored.uuid);
    assert_eq!(revision(&s, "ops").await, r2, "another project's change");

    // Replace by uuid, including a rename.
    let mut changed = stored.clone();
    changed.description = "changed".into();
    changed.name = "deploy2".into();
    let again = s.put_job("ops", &changed).await.unwrap();
    assert_eq!(again, changed);
    let r3 = revision(&s, "ops").await;
    assert!(r3 > r2, "a replaced job raises the revision");
    assert_eq!(s.get_job("ops", &id).await.unwrap(), Some(changed.clone()));
    assert_eq!(
        s.find_job("ops", Some("web/prod"), "deploy").await.unwrap(),
        None
    );
    assert_eq!(
        s.find_job("ops", Some("web/prod"), "deploy2")
            .await
            .unwrap(),
        Some(changed.clone())
    );
    // The old name is free again.
    s.put_job("ops", &j).await.unwrap();

    // A given uuid is kept.
    let mut fixed = job("top", None);
    fixed.uuid = Some("c0ffee00-0000-4000-8000-00000000000f".into());
    let top = s.put_job("ops", &fixed).await.unwrap();
    assert_eq!(top.uuid, fixed.uuid);
    assert_eq!(
        s.find_job("ops", None, "top").await.unwrap(),
        Some(top.clone())
    );
    assert_eq!(
        s.find_job("ops", Some(""), "top").await.unwrap(),
        Some(top.clone())
    );
    assert_eq!(s.find_job("ops", Some("web"), "top").await.unwrap(), None);
    assert_eq!(s.find_job("ops", None, "TOP").await.unwrap(), None);

    // Delete: gone, executions stay.
    let eid = s
        .create_execution(&execution("ops", Some(&other_group), "bob", t0()))
        .await
        .unwrap();
    let ogid = other_group.uuid.clone().unwrap();
    let r4 = revision(&s, "ops").await;
    s.delete_job("ops", &ogid).await.unwrap();
    let r5 = revision(&s, "ops").await;
    assert!(r5 > r4, "a deleted job raises the revision");
    assert_eq!(s.get_job("ops", &ogid).await.unwrap(), None);
    assert!(is_not_found(s.delete_job("ops", &ogid).await));
    assert_eq!(revision(&s, "ops").await, r5, "reads and refusals do not");
    assert!(is_not_found(s.delete_job("dev", &id).await));
    assert!(s.get_execution(eid).await.unwrap().is_some());
}

async fn job_queries(s: S) {
    let specs: [(&str, Option<&str>); 8] = [
        ("a", None),
        ("B", Some("ops")),
        ("Éclair", Some("ops")),
        ("c", Some("ops/db")),
        ("d", Some("opsx")),
        ("e", Some("OPS")),
        ("f", Some("a_b/c")),
        ("g", Some("a%b")),
    ];
    let mut ids = Vec::new();
    for (n, g) in specs {
        ids.push(s.put_job("ops", &job(n, g)).await.unwrap().uuid.unwrap());
    }
    s.put_job("dev", &job("zz", Some("ops"))).await.unwrap();
    let q = |f: fn(&mut JobQuery)| {
        let mut q = JobQuery::default();
        f(&mut q);
        q
    };
    let all = listed(&s, "ops", &JobQuery::default()).await;
    // By group then name (no group first), byte order.
    assert_eq!(names(&all), ["a", "e", "g", "f", "B", "Éclair", "c", "d"]);
    let got = listed(&s, "ops", &q(|q| q.group_path = Some("ops".into()))).await;
    assert_eq!(names(&got), ["B", "Éclair", "c"]);
    let got = listed(&s, "ops", &q(|q| q.group_path = Some("".into()))).await;
    assert_eq!(got.len(), 8);
    let got = listed(&s, "ops", &q(|q| q.group_path = Some("a_b".into()))).await;
    assert_eq!(names(&got), ["f"]);
    let got = listed(&s, "ops", &q(|q| q.group_path = Some("a".into()))).await;
    assert!(got.is_empty());
    let got = listed(&s, "ops", &q(|q| q.group_exact = Some("ops".into()))).await;
    assert_eq!(names(&got), ["B", "Éclair"]);
    let got = listed(&s, "ops", &q(|q| q.group_exact = Some("".into()))).await;
    assert_eq!(names(&got), ["a"]);
    let got = listed(&s, "ops", &q(|q| q.name_contains = Some("b".into()))).await;
    assert_eq!(names(&got), ["B"]);
    let got = listed(&s, "ops", &q(|q| q.name_contains = Some("éCL".into()))).await;
    assert_eq!(names(&got), ["Éclair"]);
    let got = listed(&s, "ops", &q(|q| q.name_contains = Some("%".into()))).await;
    assert!(got.is_empty());
    let got = listed(&s, "ops", &q(|q| q.name_exact = Some("b".into()))).await;
    assert!(got.is_empty());
    let got = listed(&s, "ops", &q(|q| q.name_exact = Some("B".into()))).await;
    assert_eq!(names(&got), ["B"]);
    let query = JobQuery {
        ids: vec![ids[3].clone(), "missing".into(), ids[0].clone()],
        ..Default::default()
    };
    assert_eq!(names(&listed(&s, "ops", &query).await), ["a", "c"]);
    let query = JobQuery {
        group_path: Some("ops".into()),
        name_contains: Some("C".into()),
        ..Default::default()
    };
    assert_eq!(names(&listed(&s, "ops", &query).await), ["Éclair", "c"]);
    assert!(listed(&s, "nope", &JobQuery::default()).await.is_empty());
}

async fn executions(s: S) {
    let j = s.put_job("ops", &job("deploy", Some("web"))).await.unwrap();
    let mut e = execution(
        "ops",
        Some(&j),
        "alice",
        t0() + Duration::nanoseconds(123_456_789),
    );
    e.options.insert("version".into(), "1.2 ✓".into());
    e.arg_string = "-version '1.2 ✓'".into();
    e.filter = Some("tags: web".into());
    let id = s.create_execution(&e).await.unwrap();
    let id2 = s
        .create_execution(&execution("ops", None, "bob", t0()))
        .await
        .unwrap();
    assert!(id2 > id);
    e.id = id;
    assert_eq!(s.get_execution(id).await.unwrap(), Some(e.clone()));

    e.status = ExecutionStatus::Failed;
    e.date_ended = Some(t0() + Duration::seconds(5));
    e.failure = Some("node web1 failed: exit 3".into());
    e.nagios = Some(NagiosStatus::Critical);
    e.retry_attempt = 1;
    e.retry_of = Some(id2);
    e.state.execution_state = ExecState::Failed;
    e.state.target_nodes = vec!["web1".into(), "web2".into()];
    let mut step = StepState {
        stepctx: "1".into(),
        node_step: true,
        execution_state: ExecState::NodeMixed,
        ..Default::default()
    };
    step.node_states.insert(
        "web1".into(),
        NodeStepState {
            execution_state: ExecState::Failed,
            exit_code: Some(3),
            failure: Some("exit 3".into()),
            ..Default::default()
        },
    );
    e.state.steps.push(step);
    e.state.nodes.insert(
        "web1".into(),
        NodeSummary {
            execution_state: ExecState::Failed,
            steps: vec![("1".into(), ExecState::Failed)],
            exit_code: Some(3),
            nagios: Some(NagiosStatus::Critical),
        },
    );
    s.update_execution(&e).await.unwrap();
    s.update_execution(&e).await.unwrap(); // the same values again
    assert_eq!(s.get_execution(id).await.unwrap(), Some(e.clone()));
    e.status = ExecutionStatus::Other("custom-status".into());
    s.update_execution(&e).await.unwrap();
    assert_eq!(s.get_execution(id).await.unwrap(), Some(e.clone()));

    let mut missing = e.clone();
    missing.id = 987_654;
    assert!(is_not_found(s.update_execution(&missing).await));
    assert_eq!(s.get_execution(987_654).await.unwrap(), None);
    assert_eq!(s.get_execution(u64::MAX).await.unwrap(), None);

    s.append_log(id, &[event(0, "x")]).await.unwrap();
    s.delete_execution(id).await.unwrap();
    assert_eq!(s.get_execution(id).await.unwrap(), None);
    assert!(is_not_found(s.read_log(id, 0, 10).await));
    assert!(is_not_found(s.delete_execution(id).await));
    assert!(s.get_execution(id2).await.unwrap().is_some());
}

/// One execution of the fixture, with what the filters look at.
struct Fx {
    id: u64,
    project: &'static str,
    job: Option<usize>,
    user: &'static str,
    status: ExecutionStatus,
    started: DateTime<Utc>,
}

async fn fixture(s: &S) -> (Vec<Job>, Vec<Fx>) {
    let mut jobs = Vec::new();
    for (n, g) in [
        ("Deploy App", Some("web/prod")),
        ("backup", Some("db")),
        ("Deploy DB", Some("web")),
        ("top_level", None),
    ] {
        jobs.push(s.put_job("ops", &job(n, g)).await.unwrap());
    }
    jobs.push(
        s.put_job("other", &job("Deploy App", Some("web")))
            .await
            .unwrap(),
    );
    let mut fx = Vec::new();
    for i in 0..37usize {
        let (project, job) = match i % 9 {
            0 | 5 => ("ops", None),
            8 => ("other", Some(4)),
            k => ("ops", Some(k % 4)),
        };
        let user = ["alice", "bob", "carol"][i % 3];
        let status = match i % 4 {
            0 => ExecutionStatus::Failed,
            1 => ExecutionStatus::Running,
            _ => ExecutionStatus::Succeeded,
        };
        // Start times mostly follow creation order; every seventh started
        // earlier, all at the same instant (order by time, then by id).
        let started = if i % 7 == 3 {
            t0() - Duration::hours(1)
        } else {
            t0() + Duration::minutes(i as i64) + Duration::nanoseconds(i as i64)
        };
        let mut e = execution(project, job.map(|k| &jobs[k]), user, started);
        e.status = status.clone();
        let id = s.create_execution(&e).await.unwrap();
        fx.push(Fx {
            id,
            project,
            job,
            user,
            status,
            started,
        });
    }
    (jobs, fx)
}

/// Ids of the fixture executions matching `pred`, newest first.
fn expect(fx: &[Fx], pred: impl Fn(&Fx) -> bool) -> Vec<u64> {
    // newest first: start time, then id, both descending
    let mut hits: Vec<&Fx> = fx.iter().filter(|f| pred(f)).collect();
    hits.sort_by_key(|f| std::cmp::Reverse((f.started, f.id)));
    hits.into_iter().map(|f| f.id).collect()
}

async fn check(s: &S, q: ExecutionQuery, want: Vec<u64>) {
    let page = s.query_executions(&q).await.unwrap();
    let max = if q.max == 0 { 20 } else { q.max };
    let items: Vec<u64> = page.items.iter().map(|e| e.id).collect();
    let expected: Vec<u64> = want
        .iter()
        .copied()
        .skip(q.offset as usize)
        .take(max as usize)
        .collect();
    assert_eq!(items, expected, "{q:?}");
    assert_eq!(page.total, want.len() as u64, "{q:?}");
    assert_eq!((page.offset, page.max), (q.offset, max));
}

async fn execution_queries(s: S) {
    let (jobs, fx) = fixture(&s).await;
    let ops = || ExecutionQuery {
        project: Some("ops".into()),
        ..Default::default()
    };
    check(&s, ops(), expect(&fx, |f| f.project == "ops")).await;
    // every project's, as the scheduler counts its queue
    check(&s, ExecutionQuery::default(), expect(&fx, |_| true)).await;
    for status in [ExecutionStatus::Failed, ExecutionStatus::Queued] {
        let q = ExecutionQuery {
            status: Some(status.clone()),
            ..Default::default()
        };
        check(&s, q, expect(&fx, |f| f.status == status)).await;
    }
    let q = ExecutionQuery {
        status: Some(ExecutionStatus::Failed),
        adhoc: Some(false),
        ..Default::default()
    };
    check(
        &s,
        q,
        expect(&fx, |f| {
            f.status == ExecutionStatus::Failed && f.job.is_some()
        }),
    )
    .await;
    check(&s, ExecutionQuery::default(), expect(&fx, |_| true)).await;
    for (offset, max) in [(0, 5), (5, 5), (20, 20), (30, 3), (33, 10), (100, 10)] {
        check(
            &s,
            ExecutionQuery {
                offset,
                max,
                ..ops()
            },
            expect(&fx, |f| f.project == "ops"),
        )
        .await;
    }
    let uuid = |k: usize| jobs[k].uuid.clone().unwrap();
    check(
        &s,
        ExecutionQuery {
            job_ids: vec![uuid(0)],
            ..ops()
        },
        expect(&fx, |f| f.job == Some(0)),
    )
    .await;
    check(
        &s,
        ExecutionQuery {
            job_ids: vec![uuid(1), uuid(4), "nope".into()],
            ..Default::default()
        },
        expect(&fx, |f| matches!(f.job, Some(1 | 4))),
    )
    .await;
    let group = |f: &Fx| {
        f.job
            .and_then(|k| jobs[k].group.clone())
            .unwrap_or_default()
    };
    for path in ["web", "web/prod", "we", "db", ""] {
        check(
            &s,
            ExecutionQuery {
                group_path: Some(path.into()),
                max: 100,
                ..Default::default()
            },
            expect(&fx, |f| {
                f.job.is_some()
                    && (path.is_empty()
                        || group(f) == path
                        || group(f).starts_with(&format!("{path}/")))
            }),
        )
        .await;
    }
    for (needle, want) in [
        ("deploy", vec![0usize, 2, 4]),
        ("DB", vec![2]),
        ("app", vec![0, 4]),
        ("_", vec![3]),
        ("%", vec![]),
    ] {
        check(
            &s,
            ExecutionQuery {
                job_name_contains: Some(needle.into()),
                max: 100,
                ..Default::default()
            },
            expect(&fx, |f| f.job.is_some_and(|k| want.contains(&k))),
        )
        .await;
    }
    check(
        &s,
        ExecutionQuery {
            user: Some("bob".into()),
            ..ops()
        },
        expect(&fx, |f| f.project == "ops" && f.user == "bob"),
    )
    .await;
    check(
        &s,
        ExecutionQuery {
            user: Some("BOB".into()),
            ..ops()
        },
        vec![],
    )
    .await;
    check(
        &s,
        ExecutionQuery {
            status: Some(ExecutionStatus::Failed),
            max: 50,
            ..Default::default()
        },
        expect(&fx, |f| f.status == ExecutionStatus::Failed),
    )
    .await;
    let begin = fx[10].started;
    let end = fx[20].started;
    check(
        &s,
        ExecutionQuery {
            begin: Some(begin),
            end: Some(end),
            ..Default::default()
        },
        expect(&fx, |f| f.started >= begin && f.started < end),
    )
    .await;
    // Bounds are exact to the nanosecond.
    check(
        &s,
        ExecutionQuery {
            begin: Some(begin + Duration::nanoseconds(1)),
            end: Some(end + Duration::nanoseconds(1)),
            ..Default::default()
        },
        expect(&fx, |f| f.started > begin && f.started <= end),
    )
    .await;
    check(
        &s,
        ExecutionQuery {
            begin: Some(Utc.with_ymd_and_hms(1000, 1, 1, 0, 0, 0).unwrap()),
            end: Some(Utc.with_ymd_and_hms(3000, 1, 1, 0, 0, 0).unwrap()),
            max: 100,
            ..Default::default()
        },
        expect(&fx, |_| true),
    )
    .await;
    check(
        &s,
        ExecutionQuery {
            adhoc: Some(true),
            ..Default::default()
        },
        expect(&fx, |f| f.job.is_none()),
    )
    .await;
    check(
        &s,
        ExecutionQuery {
            adhoc: Some(false),
            max: 100,
            ..Default::default()
        },
        expect(&fx, |f| f.job.is_some()),
    )
    .await;
    check(
        &s,
        ExecutionQuery {
            user: Some("alice".into()),
            status: Some(ExecutionStatus::Succeeded),
            group_path: Some("web".into()),
            begin: Some(fx[3].started),
            ..ops()
        },
        expect(&fx, |f| {
            f.project == "ops"
                && f.user == "alice"
                && f.status == ExecutionStatus::Succeeded
                && matches!(f.job, Some(0 | 2))
                && f.started >= fx[3].started
        }),
    )
    .await;
}

async fn execution_queries_follow_jobs(s: S) {
    let (mut jobs, fx) = fixture(&s).await;
    // Rename and move job 1: filters see the job as it is now.
    jobs[1].name = "Nightly Backup".into();
    jobs[1].group = Some("web/db".into());
    s.put_job("ops", &jobs[1]).await.unwrap();
    // Delete job 2: its executions no longer match group or name filters.
    s.delete_job("ops", jobs[2].uuid.as_deref().unwrap())
        .await
        .unwrap();
    check(
        &s,
        ExecutionQuery {
            group_path: Some("web".into()),
            max: 100,
            ..Default::default()
        },
        expect(&fx, |f| matches!(f.job, Some(0 | 1 | 4))),
    )
    .await;
    check(
        &s,
        ExecutionQuery {
            job_name_contains: Some("nightly".into()),
            ..Default::default()
        },
        expect(&fx, |f| f.job == Some(1)),
    )
    .await;
    check(
        &s,
        ExecutionQuery {
            job_name_contains: Some("backup".into()),
            group_path: Some("db".into()),
            ..Default::default()
        },
        vec![],
    )
    .await;
    // Still found by job id, and as non-adhoc.
    check(
        &s,
        ExecutionQuery {
            job_ids: jobs[2].uuid.clone().into_iter().collect(),
            ..Default::default()
        },
        expect(&fx, |f| f.job == Some(2)),
    )
    .await;
    // A job recreated with the deleted uuid matches again.
    s.put_job("ops", &jobs[2]).await.unwrap();
    check(
        &s,
        ExecutionQuery {
            job_name_contains: Some("deploy db".into()),
            ..Default::default()
        },
        expect(&fx, |f| f.job == Some(2)),
    )
    .await;
    // An execution created for a job of another project does not see it.
    let mut e = execution("dev", Some(&jobs[0]), "x", t0());
    e.description = "foreign".into();
    let id = s.create_execution(&e).await.unwrap();
    let page = s
        .query_executions(&ExecutionQuery {
            project: Some("dev".into()),
            group_path: Some("".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 0);
    let page = s
        .query_executions(&ExecutionQuery {
            project: Some("dev".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items[0].id, id);
}

fn log_texts() -> Vec<String> {
    vec![
        "plain ascii".into(),
        "héllo wörld ✓ 日本語 🚀 עברית".into(),
        "tab\there, cr\rand a\nnewline inside".into(),
        "quote \" backslash \\ and {\"json\": [1, 2]}".into(),
        String::new(),
        "nul \u{0} and bell \u{7} and U+FFFD \u{FFFD}".into(),
        "'; DROP TABLE log_chunks; --".into(),
        "x".repeat(100_000),
        "100% of _under_scores_".into(),
        "trailing spaces   ".into(),
        "\u{200b}zero width\u{feff}".into(),
        "∑ λ → ∞".into(),
        "last".into(),
        "one more".into(),
        "and the end".into(),
    ]
}

async fn logs(s: S) {
    let id = s
        .create_execution(&execution("ops", None, "alice", t0()))
        .await
        .unwrap();
    let other = s
        .create_execution(&execution("ops", None, "bob", t0()))
        .await
        .unwrap();
    let mut all: Vec<LogEvent> = log_texts()
        .iter()
        .enumerate()
        .map(|(i, t)| event(i, t))
        .collect();
    // output that is not UTF-8 keeps its bytes
    (all[12].text, all[12].raw) =
        foredeck_core::model::decode_line(b"latin1 caf\xe9 \xff\x00".to_vec());
    assert!(all[12].raw.is_some());
    assert_eq!(s.read_log(id, 0, 10).await.unwrap().events, vec![]);
    s.append_log(id, &[]).await.unwrap();
    assert_eq!(s.log_length(id).await.unwrap(), 0);
    for n in [0usize, 1, 100, usize::MAX] {
        assert_eq!(
            s.read_log_tail(id, n).await.unwrap(),
            LogPage::default(),
            "tail {n} of an empty log"
        );
    }
    // Chunks of 3, 1, 5, 2 and 4 events, interleaved with another log.
    let mut at = 0;
    for n in [3, 1, 5, 2, 4] {
        s.append_log(id, &all[at..at + n]).await.unwrap();
        s.append_log(other, &[event(at, "other")]).await.unwrap();
        at += n;
        assert_eq!(s.log_length(id).await.unwrap(), at as u64);
    }
    assert_eq!(s.log_length(other).await.unwrap(), 5);
    assert_eq!(at, all.len());
    for offset in 0..=all.len() as u64 + 2 {
        for limit in [0usize, 1, 2, 3, 4, 7, 100, usize::MAX] {
            let page = s.read_log(id, offset, limit).await.unwrap();
            let start = (offset as usize).min(all.len());
            let want: Vec<LogEvent> = all[start..].iter().take(limit).cloned().collect();
            assert_eq!(
                page.next_offset,
                (start + want.len()) as u64,
                "{offset} {limit}"
            );
            assert_eq!(page.events, want, "offset {offset} limit {limit}");
        }
    }
    // The last n events, with the log's end as the next offset.
    for n in 0..=all.len() + 2 {
        let page = s.read_log_tail(id, n).await.unwrap();
        let want = &all[all.len().saturating_sub(n)..];
        assert_eq!(page.events, want, "tail {n}");
        assert_eq!(page.next_offset, all.len() as u64, "tail {n}");
    }
    let page = s.read_log_tail(id, usize::MAX).await.unwrap();
    assert_eq!(
        (page.events, page.next_offset),
        (all.clone(), all.len() as u64)
    );
    // Following a log page by page.
    let mut read = Vec::new();
    let mut offset = 0;
    loop {
        let page = s.read_log(id, offset, 4).await.unwrap();
        if page.events.is_empty() {
            break;
        }
        offset = page.next_offset;
        read.extend(page.events);
    }
    assert_eq!(read, all);
    assert_eq!(s.read_log(other, 0, 100).await.unwrap().events.len(), 5);
    assert!(is_not_found(s.append_log(999_999, &[event(0, "x")]).await));
    assert!(is_not_found(s.append_log(999_999, &[]).await));
    assert!(is_not_found(s.read_log(999_999, 0, 1).await));
    assert!(is_not_found(s.log_length(999_999).await));
    assert!(is_not_found(s.read_log_tail(999_999, 0).await));
    assert!(is_not_found(s.read_log_tail(999_999, 10).await));
    assert!(is_not_found(s.read_log_tail(u64::MAX, 10).await));
    assert!(is_not_found(s.append_log(u64::MAX, &[event(0, "x")]).await));
}

async fn concurrent_appends(s: S) {
    const TASKS: usize = 6;
    const CHUNKS: usize = 15;
    let mut ids = Vec::new();
    for i in 0..TASKS {
        ids.push(
            s.create_execution(&execution("ops", None, &format!("u{i}"), t0()))
                .await
                .unwrap(),
        );
    }
    let shared = s
        .create_execution(&execution("ops", None, "shared", t0()))
        .await
        .unwrap();
    let mut handles = Vec::new();
    for (t, id) in ids.iter().copied().enumerate() {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            for c in 0..CHUNKS {
                let events: Vec<LogEvent> = (0..3)
                    .map(|k| event(c * 3 + k, &format!("task {t} chunk {c} line {k} ✓")))
                    .collect();
                s.append_log(id, &events).await.unwrap();
                // Also append to the shared log, from every task.
                s.append_log(shared, &[event(c, &format!("{t}:{c}"))])
                    .await
                    .unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    for (t, id) in ids.iter().copied().enumerate() {
        let page = s.read_log(id, 0, usize::MAX).await.unwrap();
        let texts: Vec<String> = page.events.into_iter().map(|e| e.text).collect();
        let want: Vec<String> = (0..CHUNKS)
            .flat_map(|c| (0..3).map(move |k| format!("task {t} chunk {c} line {k} ✓")))
            .collect();
        assert_eq!(texts, want);
        assert_eq!(page.next_offset, (CHUNKS * 3) as u64);
    }
    let page = s.read_log(shared, 0, usize::MAX).await.unwrap();
    assert_eq!(page.events.len(), TASKS * CHUNKS);
    for t in 0..TASKS {
        let mine: Vec<String> = page
            .events
            .iter()
            .map(|e| e.text.clone())
            .filter(|x| x.starts_with(&format!("{t}:")))
            .collect();
        let want: Vec<String> = (0..CHUNKS).map(|c| format!("{t}:{c}")).collect();
        assert_eq!(mine, want, "each task's events in its order");
    }
}

async fn keys(s: S) {
    let key = |path: &str, key_type, n: u8| StoredKey {
        path: path.into(),
        key_type,
        ciphertext: (0..=255u8).map(|b| b.wrapping_add(n)).collect(),
        created: t0() + Duration::nanoseconds(i64::from(n)),
        modified: t0() + Duration::seconds(i64::from(n)),
    };
    let paths = [
        ("keys/ops/db.pem", KeyType::Private),
        ("keys/ops/pw", KeyType::Password),
        ("keys/ops/pub", KeyType::Public),
        ("keys/ops_x/a", KeyType::Public),
        ("keys/opsQ", KeyType::Password),
        ("keys/OPS/upper", KeyType::Password),
        ("keys/o%s/z", KeyType::Private),
        ("keys/ünï/ключ", KeyType::Private),
    ];
    for (i, (p, t)) in paths.iter().enumerate() {
        s.put_key(&key(p, *t, i as u8)).await.unwrap();
    }
    assert_eq!(
        s.get_key("keys/ops/db.pem").await.unwrap(),
        Some(key("keys/ops/db.pem", KeyType::Private, 0))
    );
    assert_eq!(s.get_key("keys/ops/DB.pem").await.unwrap(), None);
    let list = |prefix: &'static str| {
        let s = s.clone();
        async move {
            s.list_keys(prefix)
                .await
                .unwrap()
                .into_iter()
                .map(|k| k.path)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list("keys/ops/").await,
        ["keys/ops/db.pem", "keys/ops/pub", "keys/ops/pw"]
    );
    assert_eq!(list("keys/ops_").await, ["keys/ops_x/a"]);
    assert_eq!(list("keys/o%").await, ["keys/o%s/z"]);
    assert_eq!(
        list("keys/ops").await,
        [
            "keys/ops/db.pem",
            "keys/ops/pub",
            "keys/ops/pw",
            "keys/opsQ",
            "keys/ops_x/a"
        ]
    );
    assert_eq!(list("keys/ü").await, ["keys/ünï/ключ"]);
    assert_eq!(list("").await.len(), paths.len());
    assert!(list("nothing").await.is_empty());

    // Replace.
    let mut k = key("keys/ops/pw", KeyType::Private, 99);
    k.ciphertext = vec![];
    s.put_key(&k).await.unwrap();
    assert_eq!(s.get_key("keys/ops/pw").await.unwrap(), Some(k));
    assert_eq!(list("").await.len(), paths.len());

    s.delete_key("keys/ops/pw").await.unwrap();
    assert_eq!(s.get_key("keys/ops/pw").await.unwrap(), None);
    assert!(is_not_found(s.delete_key("keys/ops/pw").await));
    assert_eq!(list("keys/ops/").await, ["keys/ops/db.pem", "keys/ops/pub"]);
}

// ---------------------------------------------------------------- SQLite specifics

#[tokio::test]
async fn sqlite_data_dir_wal_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested dir").join("data");
    let store = SqlStore::open_data_dir(&data).await.unwrap();
    assert!(data.join("foredeck.db").is_file());
    let row = store
        .connection()
        .query_one(sea_orm::Statement::from_string(
            store.backend(),
            "PRAGMA journal_mode",
        ))
        .await
        .unwrap()
        .unwrap();
    let mode: String = row.try_get_by_index(0).unwrap();
    assert_eq!(mode, "wal");
    store.create_project(&Project::new("ops")).await.unwrap();
    let id = store
        .create_execution(&execution("ops", None, "a", t0()))
        .await
        .unwrap();
    store.append_log(id, &[event(0, "kept")]).await.unwrap();
    store.close().await.unwrap();

    // Reopening runs the migrations again (a no-op) and keeps the data.
    let store = SqlStore::open_data_dir(&data).await.unwrap();
    assert!(store.get_project("ops").await.unwrap().is_some());
    assert_eq!(
        store.read_log(id, 0, 9).await.unwrap().events[0].text,
        "kept"
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn sqlite_url_creates_file_and_memory_works() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    let store = SqlStore::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    assert!(path.is_file());
    store.close().await.unwrap();

    let mem = SqlStore::connect("sqlite::memory:").await.unwrap();
    mem.create_project(&Project::new("m")).await.unwrap();
    assert_eq!(mem.list_projects().await.unwrap().len(), 1);
}

#[tokio::test]
async fn bad_urls_are_store_errors() {
    let err = SqlStore::connect("nosuchdb://x").await.unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err:?}");
}

#[tokio::test]
async fn sql_job_uuids_are_global() {
    let store = SqlStore::connect("sqlite::memory:").await.unwrap();
    let j = store.put_job("ops", &job("a", None)).await.unwrap();
    let err = store.put_job("dev", &j).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    // the holder's project is not named: the caller may not read it
    assert!(!err.to_string().contains("ops"), "{err}");
    assert!(store.uuid_taken(j.uuid.as_deref().unwrap()).await.unwrap());
    assert!(!store.uuid_taken("no-such-uuid").await.unwrap());
    assert_eq!(
        store
            .get_job("ops", j.uuid.as_deref().unwrap())
            .await
            .unwrap(),
        Some(j)
    );
}

/// Job lists come from a cache of parsed definitions: a change made through
/// another store (another process) must show in the next list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_list_sees_changes_from_other_processes() {
    let dir = tempfile::tempdir().unwrap();
    let a = SqlStore::open_data_dir(dir.path()).await.unwrap();
    let b = SqlStore::open_data_dir(dir.path()).await.unwrap();
    a.create_project(&Project::new("ops")).await.unwrap();
    let mut j = a.put_job("ops", &job("one", Some("g"))).await.unwrap();
    a.put_job("ops", &job("two", None)).await.unwrap();
    let listed = a.list_jobs("ops", &JobQuery::default()).await.unwrap();
    assert_eq!(names(&listed), ["two", "one"]);
    let summary_names = |l: Vec<foredeck_core::JobSummary>| -> Vec<String> {
        l.into_iter().map(|j| j.name).collect()
    };
    let all = JobQuery::default();
    assert_eq!(
        summary_names(a.list_job_summaries("ops", &all).await.unwrap()),
        ["two", "one"]
    );
    // Changed, added and deleted elsewhere.
    j.description = "changed in b".into();
    b.put_job("ops", &j).await.unwrap();
    b.put_job("ops", &job("three", Some("g"))).await.unwrap();
    let two = listed[0].uuid.clone().unwrap();
    b.delete_job("ops", &two).await.unwrap();
    let listed = a.list_jobs("ops", &JobQuery::default()).await.unwrap();
    assert_eq!(names(&listed), ["one", "three"]);
    assert_eq!(listed[0].description, "changed in b");
    // the summaries a held from before are not served again
    let summaries = a.list_job_summaries("ops", &all).await.unwrap();
    assert_eq!(summary_names(summaries.clone()), ["one", "three"]);
    assert_eq!(summaries[0].description, "changed in b");
    // Filters apply to cached jobs too.
    let q = JobQuery {
        name_contains: Some("THR".into()),
        ..Default::default()
    };
    assert_eq!(names(&a.list_jobs("ops", &q).await.unwrap()), ["three"]);
    // a project deleted and made again elsewhere starts with no jobs
    b.delete_project("ops").await.unwrap();
    b.create_project(&Project::new("ops")).await.unwrap();
    assert!(a.list_job_summaries("ops", &all).await.unwrap().is_empty());
    b.put_job("ops", &job("four", None)).await.unwrap();
    assert_eq!(
        summary_names(a.list_job_summaries("ops", &all).await.unwrap()),
        ["four"]
    );
}

/// A store on a fresh database of a server whose pooled connections are all
/// ended by the server while idle (a restart, a proxy's idle timeout) keeps
/// working: a connection idle for a while is checked before it is used.
async fn connections_ended_while_idle(what: &str, env: &str, default: &str, admin_db: &str) {
    on_fresh_database(
        what,
        env,
        default,
        admin_db,
        |admin, url, name| async move {
            let store = SqlStore::connect(&url).await.unwrap();
            store.create_project(&Project::new("ops")).await.unwrap();
            // several connections in the pool, all idle
            let reads: Vec<_> = (0..4).map(|_| store.list_projects()).collect();
            for r in futures::future::join_all(reads).await {
                r.unwrap();
            }
            let backend = admin.get_database_backend();
            let ended = if backend == sea_orm::DatabaseBackend::Postgres {
                admin
                    .query_all(sea_orm::Statement::from_string(
                        backend,
                        format!(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                        ),
                    ))
                    .await
                    .unwrap()
                    .len()
            } else {
                let ids = admin
                    .query_all(sea_orm::Statement::from_string(
                        backend,
                        format!(
                            "SELECT id FROM information_schema.processlist WHERE db = '{name}'"
                        ),
                    ))
                    .await
                    .unwrap();
                for row in &ids {
                    let id: i64 = row.try_get_by_index(0).unwrap();
                    admin
                        .execute_unprepared(&format!("KILL {id}"))
                        .await
                        .unwrap();
                }
                ids.len()
            };
            assert!(ended > 0, "no connection of the store's to end");
            tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
            for _ in 0..8 {
                let projects = store.list_projects().await.unwrap();
                assert_eq!(projects.len(), 1);
            }
            store.close().await.unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn postgres_connections_ended_while_idle_are_replaced() {
    connections_ended_while_idle(
        "PostgreSQL",
        "FOREDECK_TEST_POSTGRES",
        "postgres://postgres@127.0.0.1:5432",
        "postgres",
    )
    .await;
}

#[tokio::test]
async fn mariadb_connections_ended_while_idle_are_replaced() {
    connections_ended_while_idle(
        "MariaDB",
        "FOREDECK_TEST_MYSQL",
        "mysql://root@127.0.0.1:3306",
        "mysql",
    )
    .await;
}
