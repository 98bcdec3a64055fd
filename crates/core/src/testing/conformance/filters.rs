//! Conformance tests: Rundeck's execution query filters (job names and
//! groups with their exclusions, excluded job ids, execution type, aborter,
//! end times), each alone and with others, with totals, pages and metrics.

use super::support::{execution, job, t0, S};
use crate::model::{Execution, ExecutionStatus, ExecutionType, Job};
use crate::store::prelude::*;
use crate::store::ExecutionQuery;
use chrono::Duration;

/// Executions of jobs in group `bulk`, started before every named one: a
/// project where a job exclusion matches most jobs (which a SQL store
/// reads by its name columns rather than by job ids).
const FILLERS: usize = 60;

/// Stores `e` and returns it with its id.
async fn stored(s: &S, mut e: Execution) -> Execution {
    e.id = s.create_execution(&e).await.unwrap();
    e
}

/// The named executions, newest first: e[0] is the oldest.
async fn fixture(s: &S) -> (Vec<Job>, Vec<Execution>) {
    let mut jobs = Vec::new();
    for (name, group) in [
        ("deploy", Some("web")),
        ("deploy", Some("web/eu")),
        ("backup", None),
        ("Nightly Deploy", Some("db")),
        ("gone", Some("web")),
    ] {
        jobs.push(s.put_job("ops", &job(name, group)).await.unwrap());
    }
    for i in 0..FILLERS {
        let j = s
            .put_job("ops", &job(&format!("fill-{i:02}"), Some("bulk")))
            .await
            .unwrap();
        let at = t0() - Duration::days(10) + Duration::minutes(i as i64);
        let mut e = execution("ops", Some(&j), "filler", at);
        e.status = ExecutionStatus::Succeeded;
        e.date_ended = Some(at + Duration::seconds(1));
        stored(s, e).await;
    }
    let ended = |h: i64| Some(t0() + Duration::hours(h));
    let mut named = Vec::new();
    // 0: web/deploy, alice, by user, ended at +1h
    let mut e = execution("ops", Some(&jobs[0]), "alice", t0());
    e.status = ExecutionStatus::Succeeded;
    e.date_ended = ended(1);
    named.push(stored(s, e).await);
    // 1: web/eu/deploy, bob, by schedule, ended at +2h
    let mut e = execution("ops", Some(&jobs[1]), "bob", t0() + Duration::minutes(1));
    e.execution_type = ExecutionType::Scheduled;
    e.status = ExecutionStatus::Failed;
    e.date_ended = ended(2);
    named.push(stored(s, e).await);
    // 2: backup (top level), alice, run at a later time, aborted by carol at +3h
    let mut e = execution("ops", Some(&jobs[2]), "alice", t0() + Duration::minutes(2));
    e.execution_type = ExecutionType::UserScheduled;
    e.status = ExecutionStatus::Aborted;
    e.aborted_by = Some("carol".into());
    e.date_ended = ended(3);
    named.push(stored(s, e).await);
    // 3: db/Nightly Deploy, bob, running
    let e = execution("ops", Some(&jobs[3]), "bob", t0() + Duration::minutes(3));
    named.push(stored(s, e).await);
    // 4: ad hoc, alice, ended at +4h
    let mut e = execution("ops", None, "alice", t0() + Duration::minutes(4));
    e.status = ExecutionStatus::Succeeded;
    e.date_ended = ended(4);
    named.push(stored(s, e).await);
    // 5: web/gone (deleted below), alice, ended at +1h
    let mut e = execution("ops", Some(&jobs[4]), "alice", t0() + Duration::minutes(5));
    e.status = ExecutionStatus::Succeeded;
    e.date_ended = ended(1);
    named.push(stored(s, e).await);
    s.delete_job("ops", jobs[4].uuid.as_deref().unwrap())
        .await
        .unwrap();
    // another project's run of a job of the same name matches nothing here
    let other = s.put_job("other", &job("deploy", Some("web"))).await;
    if let Ok(j) = other {
        let mut e = execution("other", Some(&j), "alice", t0() + Duration::hours(9));
        e.date_ended = ended(10);
        stored(s, e).await;
    }
    (jobs, named)
}

/// Checks a query's page against the named executions expected (by index,
/// newest first, as the store orders them) and `fillers` filler runs after
/// them; its total and its metrics' total too.
async fn check(s: &S, e: &[Execution], q: ExecutionQuery, want: &[usize], fillers: usize) {
    let q = ExecutionQuery {
        project: Some("ops".into()),
        max: 100,
        ..q
    };
    let page = s.query_executions(&q).await.unwrap();
    let got: Vec<u64> = page.items.iter().map(|x| x.id).collect();
    let expected: Vec<u64> = want.iter().rev().map(|i| e[*i].id).collect();
    let named: Vec<u64> = got.iter().copied().take(expected.len()).collect();
    assert_eq!(named, expected, "page of {q:?}");
    let rest = &page.items[want.len().min(page.items.len())..];
    assert!(
        rest.iter().all(|x| x.user == "filler"),
        "only filler runs after the named ones: {q:?}"
    );
    assert_eq!(rest.len(), fillers, "filler runs of {q:?}");
    let total = (want.len() + fillers) as u64;
    assert_eq!(page.total, total, "total of {q:?}");
    let m = s.execution_metrics(&q).await.unwrap();
    assert_eq!(m.total, total, "metrics total of {q:?}");
    // the second page of one starts where the first ended
    if total > 1 {
        let one = s
            .query_executions(&ExecutionQuery {
                offset: 1,
                max: 1,
                ..q.clone()
            })
            .await
            .unwrap();
        assert_eq!(one.total, total, "paged total of {q:?}");
        assert_eq!(one.items.first().map(|x| x.id), got.get(1).copied());
    }
}

/// Every execution query filter Rundeck documents, on one fixture.
pub async fn execution_query_filters(s: S) {
    let (jobs, e) = fixture(&s).await;
    let e = &e;
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let q = ExecutionQuery::default;
    let id = |i: usize| jobs[i].uuid.clone().unwrap();

    // the new fields are stored and read back
    let back = s.get_execution(e[2].id).await.unwrap().unwrap();
    assert_eq!(back.execution_type, ExecutionType::UserScheduled);
    assert_eq!(back.aborted_by.as_deref(), Some("carol"));

    // jobListFilter: full names, top-level jobs by name alone
    let full = |v: &[&str]| ExecutionQuery {
        job_full_names: names(v),
        ..q()
    };
    check(&s, e, full(&["web/deploy"]), &[0], 0).await;
    check(&s, e, full(&["backup"]), &[2], 0).await;
    check(&s, e, full(&["web/deploy", "backup", "nope"]), &[0, 2], 0).await;
    check(&s, e, full(&["deploy"]), &[], 0).await;
    check(&s, e, full(&["web/gone"]), &[], 0).await;
    // excludeJobListFilter: every other run of a job that exists
    let not_full = |v: &[&str]| ExecutionQuery {
        exclude_job_full_names: names(v),
        ..q()
    };
    check(&s, e, not_full(&["web/deploy"]), &[1, 2, 3], FILLERS).await;
    check(&s, e, not_full(&["web/deploy", "backup"]), &[1, 3], FILLERS).await;
    // groupPathExact ("" is the top level), groupPath
    let exact = |g: &str| ExecutionQuery {
        group_path_exact: Some(g.into()),
        ..q()
    };
    check(&s, e, exact("web"), &[0], 0).await;
    check(&s, e, exact(""), &[2], 0).await;
    check(&s, e, exact("bulk"), &[], FILLERS).await;
    let under = ExecutionQuery {
        group_path: Some("web".into()),
        ..q()
    };
    check(&s, e, under, &[0, 1], 0).await;
    // excludeGroupPath: the group and below; "" the top level
    let not_under = |g: &str| ExecutionQuery {
        exclude_group_path: Some(g.into()),
        ..q()
    };
    check(&s, e, not_under("web"), &[2, 3], FILLERS).await;
    check(&s, e, not_under(""), &[0, 1, 3], FILLERS).await;
    check(&s, e, not_under("we"), &[0, 1, 2, 3], FILLERS).await;
    // excludeGroupPathExact
    let not_exact = |g: &str| ExecutionQuery {
        exclude_group_path_exact: Some(g.into()),
        ..q()
    };
    check(&s, e, not_exact("web"), &[1, 2, 3], FILLERS).await;
    check(&s, e, not_exact(""), &[0, 1, 3], FILLERS).await;
    // jobFilter / excludeJobFilter (case-insensitive), jobExactFilter /
    // excludeJobExactFilter (exact)
    let like = ExecutionQuery {
        job_name_contains: Some("DEPLOY".into()),
        ..q()
    };
    check(&s, e, like, &[0, 1, 3], 0).await;
    let not_like = ExecutionQuery {
        exclude_job_name_contains: Some("DEPLOY".into()),
        ..q()
    };
    check(&s, e, not_like, &[2], FILLERS).await;
    let name = ExecutionQuery {
        job_name_exact: Some("deploy".into()),
        ..q()
    };
    check(&s, e, name, &[0, 1], 0).await;
    let name = ExecutionQuery {
        job_name_exact: Some("Deploy".into()),
        ..q()
    };
    check(&s, e, name, &[], 0).await;
    let not_name = ExecutionQuery {
        exclude_job_name_exact: Some("deploy".into()),
        ..q()
    };
    check(&s, e, not_name, &[2, 3], FILLERS).await;
    // excludeJobIdListFilter: runs of deleted jobs stay, ad hoc runs go
    let not_ids = ExecutionQuery {
        exclude_job_ids: vec![id(0), id(2)],
        ..q()
    };
    check(&s, e, not_ids, &[1, 3, 5], FILLERS).await;
    let both = ExecutionQuery {
        job_ids: vec![id(0), id(1), id(2)],
        exclude_job_ids: vec![id(0)],
        ..q()
    };
    check(&s, e, both, &[1, 2], 0).await;
    // executionTypeFilter, abortedbyFilter
    let typed = |t| ExecutionQuery {
        execution_type: Some(t),
        ..q()
    };
    check(&s, e, typed(ExecutionType::Scheduled), &[1], 0).await;
    check(&s, e, typed(ExecutionType::UserScheduled), &[2], 0).await;
    check(&s, e, typed(ExecutionType::User), &[0, 3, 4, 5], FILLERS).await;
    let by = |u: &str| ExecutionQuery {
        aborted_by: Some(u.into()),
        ..q()
    };
    check(&s, e, by("carol"), &[2], 0).await;
    check(&s, e, by("alice"), &[], 0).await;
    // end times (inclusive); a running execution has none
    let after = |h: i64| ExecutionQuery {
        ended_after: Some(t0() + Duration::hours(h)),
        ..q()
    };
    check(&s, e, after(2), &[1, 2, 4], 0).await;
    check(&s, e, after(5), &[], 0).await;
    let before = |h: i64| ExecutionQuery {
        ended_before: Some(t0() + Duration::hours(h)),
        ..q()
    };
    check(&s, e, before(1), &[0, 5], FILLERS).await;
    let window = ExecutionQuery {
        ended_after: Some(t0() + Duration::hours(2)),
        ended_before: Some(t0() + Duration::hours(3)),
        ..q()
    };
    check(&s, e, window, &[1, 2], 0).await;
    // together: each narrows the others
    let mix = ExecutionQuery {
        job_name_exact: Some("deploy".into()),
        ended_after: Some(t0() + Duration::minutes(90)),
        ..q()
    };
    check(&s, e, mix, &[1], 0).await;
    let mix = ExecutionQuery {
        exclude_group_path: Some("bulk".into()),
        user: Some("alice".into()),
        adhoc: Some(false),
        ..q()
    };
    check(&s, e, mix, &[0, 2], 0).await;
    let mix = ExecutionQuery {
        exclude_job_name_exact: Some("backup".into()),
        status: Some(ExecutionStatus::Failed),
        execution_type: Some(ExecutionType::Scheduled),
        ..q()
    };
    check(&s, e, mix, &[1], 0).await;
    let mix = ExecutionQuery {
        exclude_job_ids: vec![id(1)],
        status: Some(ExecutionStatus::Succeeded),
        ..q()
    };
    check(&s, e, mix, &[0, 5], FILLERS).await;
    // a job filter never matches an ad hoc run
    let adhoc = ExecutionQuery {
        exclude_job_name_exact: Some("x".into()),
        adhoc: Some(true),
        ..q()
    };
    check(&s, e, adhoc, &[], 0).await;
}
