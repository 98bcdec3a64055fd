//! Conformance test: the totals and pages of the execution query's
//! filters by execution type, user, aborting user and end time stay exact
//! while executions are created (one by one and fired in bulk), finished,
//! deleted, and their project deleted; a SQL store keeps these totals
//! rather than counting them, over hours and days of end times, so the
//! bounds here fall inside hours, on hour and day boundaries, and across
//! both.

use super::support::{execution, t0, LEASE, S};
use crate::model::{Execution, ExecutionStatus, ExecutionType, Project};
use crate::store::prelude::*;
use crate::store::{ExecutionQuery, FireOutcome, Trigger, TriggerFire};
use chrono::{DateTime, Duration, Utc};

/// Executions fired in bulk, three minutes apart (over four days).
const BULK: i64 = 2_000;

/// The bulk executions: by user `u0`-`u2`, of each execution type, one in
/// four still running, one in four aborted by `a0` or `a1`; ends from 0 to
/// 52 minutes after the start, so that some end on an hour.
fn bulk() -> Vec<Execution> {
    (0..BULK)
        .map(|i| {
            let started = t0() + Duration::minutes(3 * i);
            let mut e = execution("ops", None, &format!("u{}", i % 3), started);
            e.execution_type = match i % 3 {
                0 => ExecutionType::User,
                1 => ExecutionType::Scheduled,
                _ => ExecutionType::UserScheduled,
            };
            e.status = match i % 4 {
                0 => ExecutionStatus::Succeeded,
                1 => ExecutionStatus::Failed,
                2 => {
                    e.aborted_by = Some(format!("a{}", i % 2));
                    ExecutionStatus::Aborted
                }
                _ => ExecutionStatus::Running,
            };
            if e.status != ExecutionStatus::Running {
                e.date_ended = Some(started + Duration::minutes(13 * (i % 5)));
            }
            e
        })
        .collect()
}

/// Whether `e` matches the filters `check` asks about.
fn matches(q: &ExecutionQuery, e: &Execution) -> bool {
    let statuses = q.statuses();
    q.project.as_ref().is_none_or(|p| p == &e.project)
        && (statuses.is_empty() || statuses.contains(&e.status))
        && q.execution_type.is_none_or(|t| t == e.execution_type)
        && q.user.as_ref().is_none_or(|u| u == &e.user)
        && q.aborted_by
            .as_ref()
            .is_none_or(|a| e.aborted_by.as_ref() == Some(a))
        && q.ended_after
            .is_none_or(|b| e.date_ended.is_some_and(|d| d >= b))
        && q.ended_before
            .is_none_or(|b| e.date_ended.is_some_and(|d| d <= b))
}

/// An end-time bound of a query.
type Bound = Option<DateTime<Utc>>;

/// The queries checked: each filter alone, with a status, and two
/// together (which a store may count rather than keep).
fn queries() -> Vec<ExecutionQuery> {
    let at = |m: i64| Some(t0() + Duration::minutes(m));
    let ns = |m: i64, n: i64| Some(t0() + Duration::minutes(m) + Duration::nanoseconds(n));
    let q = ExecutionQuery {
        project: Some("ops".into()),
        ..Default::default()
    };
    let mut all = Vec::new();
    for t in [
        ExecutionType::User,
        ExecutionType::Scheduled,
        ExecutionType::UserScheduled,
    ] {
        all.push(ExecutionQuery {
            execution_type: Some(t),
            ..q.clone()
        });
    }
    for u in ["u0", "u1", "u2", "nobody", "carol"] {
        all.push(ExecutionQuery {
            user: Some(u.into()),
            ..q.clone()
        });
        all.push(ExecutionQuery {
            aborted_by: Some(u.replace('u', "a")),
            ..q.clone()
        });
    }
    // (ended at or after, ended at or before), minutes from t0 (12:00)
    let ranges: Vec<(Bound, Bound)> = vec![
        (at(120), at(179)),                    // inside an hour
        (at(170), at(190)),                    // across an hour
        (at(60), at(120)),                     // hour to hour, both ends in
        (at(720), at(720 + 1440)),             // day to day (00:00)
        (ns(1830, 17), ns(4 * 1440 + 301, 1)), // days, hours, partial hours
        (at(700), at(3000)),                   // hours, a day, hours
        (None, at(3 * 1440 + 720)),            // older (over 1,000 runs)
        (None, at(100)),                       // older, a few
        (at(2 * 1440), None),                  // recent
        (at(-1440), None),                     // recent, every run
        (at(10 * 1440), None),                 // recent, none
        (at(300), at(200)),                    // empty
        (None, ns(3 * 1440, -1)),              // older, just before a day
    ];
    for (after, before) in ranges {
        all.push(ExecutionQuery {
            ended_after: after,
            ended_before: before,
            ..q.clone()
        });
    }
    let mut with_status: Vec<ExecutionQuery> = all
        .iter()
        .step_by(2)
        .map(|q| ExecutionQuery {
            status: Some(ExecutionStatus::Aborted),
            ..q.clone()
        })
        .collect();
    all.append(&mut with_status);
    all.push(ExecutionQuery {
        user: Some("u1".into()),
        execution_type: Some(ExecutionType::Scheduled),
        ..q.clone()
    });
    all.push(ExecutionQuery {
        user: Some("u2".into()),
        ended_before: at(3000),
        ..q.clone()
    });
    all
}

/// Every query's total and two of its pages (the first, and one at its
/// end) are those of `held`, the executions the store should hold.
async fn check(s: &S, held: &[Execution], when: &str) {
    for q in queries() {
        let mut want: Vec<&Execution> = held.iter().filter(|e| matches(&q, e)).collect();
        want.sort_by_key(|e| std::cmp::Reverse((e.date_started, e.id)));
        for offset in [0, want.len().saturating_sub(5) as u64] {
            let page = s
                .query_executions(&ExecutionQuery {
                    offset,
                    max: 20,
                    ..q.clone()
                })
                .await
                .unwrap();
            assert_eq!(page.total, want.len() as u64, "{when}: total of {q:?}");
            let got: Vec<u64> = page.items.iter().map(|e| e.id).collect();
            let ids: Vec<u64> = want
                .iter()
                .skip(offset as usize)
                .take(20)
                .map(|e| e.id)
                .collect();
            assert_eq!(got, ids, "{when}: page at {offset} of {q:?}");
        }
    }
}

/// Totals and pages of the type, user, aborter and end-time filters follow
/// every change of the executions.
pub async fn filter_totals_follow_changes(s: S) {
    s.create_project(&Project::new("ops")).await.unwrap();
    s.create_project(&Project::new("dev")).await.unwrap();
    let fire_at = t0() - Duration::hours(1);
    s.put_trigger(&Trigger::new("bulk", "ops", None, fire_at))
        .await
        .unwrap();
    let claimed = s.claim_due_triggers("s1", t0(), LEASE, 1).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let mut held = bulk();
    let fired = s
        .fire_trigger(&TriggerFire {
            trigger_id: "bulk".into(),
            server: "s1".into(),
            fire_time: fire_at,
            next_fire: None,
            executions: held.clone(),
            exclusive: false,
            scheduled: None,
        })
        .await
        .unwrap();
    let FireOutcome::Fired(ids) = fired else {
        panic!("bulk fire: {fired:?}");
    };
    assert_eq!(ids.len(), held.len());
    for (e, id) in held.iter_mut().zip(ids) {
        e.id = id;
    }
    // another project's runs, by the same users, count in none of these
    for i in 0..30 {
        let mut e = execution("dev", None, "u1", t0() + Duration::minutes(7 * i));
        e.status = ExecutionStatus::Aborted;
        e.aborted_by = Some("a1".into());
        e.execution_type = ExecutionType::Scheduled;
        e.date_ended = Some(e.date_started + Duration::minutes(1));
        s.create_execution(&e).await.unwrap();
    }
    check(&s, &held, "fired").await;

    // finished: the running ones end (some on the hour), a few are
    // aborted by carol
    for e in held
        .iter_mut()
        .filter(|e| e.status == ExecutionStatus::Running)
    {
        if e.id % 3 == 0 {
            e.status = ExecutionStatus::Aborted;
            e.aborted_by = Some("carol".into());
        } else {
            e.status = ExecutionStatus::Succeeded;
        }
        e.date_ended = Some(e.date_started + Duration::minutes(60 - (e.id % 2) as i64));
        s.update_execution(e).await.unwrap();
    }
    // deleted: one in 40
    let gone: Vec<u64> = held.iter().map(|e| e.id).step_by(40).collect();
    for id in &gone {
        s.delete_execution(*id).await.unwrap();
    }
    held.retain(|e| !gone.contains(&e.id));
    check(&s, &held, "finished and deleted").await;

    // a run at a later time aborted before that time: it ends before it
    // starts, and an end bound is then no bound on the start
    let mut e = execution("ops", None, "u2", t0() + Duration::days(10));
    e.execution_type = ExecutionType::UserScheduled;
    e.status = ExecutionStatus::Scheduled;
    e.id = s.create_execution(&e).await.unwrap();
    e.status = ExecutionStatus::Aborted;
    e.aborted_by = Some("carol".into());
    e.date_ended = Some(t0() + Duration::minutes(90));
    s.update_execution(&e).await.unwrap();
    held.push(e);
    check(&s, &held, "aborted before its time").await;

    // a deleted project's runs leave every total, and a project made again
    // under its name starts from none
    s.delete_project("dev").await.unwrap();
    s.create_project(&Project::new("dev")).await.unwrap();
    let dev = s
        .query_executions(&ExecutionQuery {
            project: Some("dev".into()),
            user: Some("u1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(dev.total, 0, "a deleted project's runs by user");
    let dev = s
        .query_executions(&ExecutionQuery {
            project: Some("dev".into()),
            ended_after: Some(t0() - Duration::days(1)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(dev.total, 0, "a deleted project's runs by end");
    check(&s, &held, "another project deleted").await;
}
