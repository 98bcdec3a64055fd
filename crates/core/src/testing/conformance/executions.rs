//! Conformance tests: executions and the history query.

use super::support::{event, execution, is_not_found, job, t0, S};
use crate::model::{
    ExecState, ExecutionStatus, Job, NagiosStatus, NodeStepState, NodeSummary, StepState,
};
use crate::store::prelude::*;
use crate::store::ExecutionQuery;
use chrono::{DateTime, Duration, TimeZone, Utc};

/// Executions: create, read back exactly, update, delete with their log.
pub async fn executions(s: S) {
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

/// The execution history query: every filter alone and combined, order, paging
/// and totals.
pub async fn execution_queries(s: S) {
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

/// History filters by job group and name follow the job's current group and
/// name.
pub async fn execution_queries_follow_jobs(s: S) {
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

/// Execution metrics: counts by status and durations over a query's
/// executions, paging ignored; running ones and sub-millisecond ones
/// counted but not timed.
pub async fn execution_metrics(s: S) {
    use crate::store::ExecutionMetrics;
    let j = s.put_job("ops", &job("deploy", Some("web"))).await.unwrap();
    let m = s
        .execution_metrics(&ExecutionQuery::default())
        .await
        .unwrap();
    assert_eq!(m, ExecutionMetrics::default());
    for (job, user, status, took_ms) in [
        (Some(&j), "alice", ExecutionStatus::Succeeded, Some(2_000)),
        (Some(&j), "alice", ExecutionStatus::Succeeded, Some(4_500)),
        (Some(&j), "bob", ExecutionStatus::Failed, Some(61_000)),
        (None, "bob", ExecutionStatus::Succeeded, Some(0)),
        (None, "carol", ExecutionStatus::Running, None),
    ] {
        let mut e = execution("ops", job, user, t0());
        e.status = status;
        e.date_ended = took_ms.map(|ms| t0() + Duration::milliseconds(ms));
        s.create_execution(&e).await.unwrap();
    }
    s.create_execution(&execution("other", None, "alice", t0()))
        .await
        .unwrap();
    let q = |f: fn(&mut ExecutionQuery)| {
        let mut q = ExecutionQuery {
            project: Some("ops".into()),
            max: 1,
            offset: 3,
            ..ExecutionQuery::default()
        };
        f(&mut q);
        q
    };
    let m = s.execution_metrics(&q(|_| {})).await.unwrap();
    assert_eq!(m.total, 5);
    assert_eq!(m.by_status["succeeded"], 3);
    assert_eq!(m.by_status["failed"], 1);
    assert_eq!(m.by_status["running"], 1);
    assert_eq!(m.timed, 3);
    assert_eq!(m.duration_sum_ms, 67_500);
    assert_eq!(
        (m.duration_min_ms, m.duration_max_ms, m.duration_avg_ms()),
        (Some(2_000), Some(61_000), Some(22_500))
    );
    let m = s
        .execution_metrics(&q(|q| q.user = Some("alice".into())))
        .await
        .unwrap();
    assert_eq!((m.total, m.duration_max_ms), (2, Some(4_500)));
    let m = s
        .execution_metrics(&q(|q| q.adhoc = Some(true)))
        .await
        .unwrap();
    assert_eq!((m.total, m.timed), (2, 0));
    let m = s
        .execution_metrics(&q(|q| q.status = Some(ExecutionStatus::Failed)))
        .await
        .unwrap();
    assert_eq!((m.total, m.duration_min_ms), (1, Some(61_000)));
    let m = s
        .execution_metrics(&q(|q| q.job_name_contains = Some("DEPLOY".into())))
        .await
        .unwrap();
    assert_eq!(m.total, 3);
    let m = s
        .execution_metrics(&ExecutionQuery::default())
        .await
        .unwrap();
    assert_eq!(m.total, 6, "every project");
}
