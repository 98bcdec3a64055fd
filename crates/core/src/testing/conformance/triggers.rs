//! Conformance tests: schedule triggers: claims, compare-and-set fires,
//! exclusive fires.

use super::support::cluster_t0 as t0;
use super::support::{is_not_found, scheduled, LEASE, S};
use crate::model::{Execution, ExecutionStatus, Job, Project, Step, Workflow};
use crate::store::prelude::*;
use crate::store::{ExecutionClaim, ExecutionQuery, FireOutcome, Trigger, TriggerFire};
use crate::Error;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Triggers: put, get, list, delete, and claims that lapse with their lease.
pub async fn triggers(s: S) {
    s.create_project(&Project::new("ops")).await.unwrap();
    let mut a = Trigger::new("job:a", "ops", Some("a".into()), t0());
    a.spec = serde_json::json!({"cron": "0 0 * * * ?", "tz": "Europe/Berlin"});
    let b = Trigger::new(
        "job:b",
        "ops",
        Some("b".into()),
        t0() - Duration::seconds(30),
    );
    let later = Trigger::new("job:later", "ops", None, t0() + Duration::hours(1));
    let mut off = Trigger::new("job:off", "other", None, t0() - Duration::hours(1));
    off.enabled = false;
    for t in [&a, &b, &later, &off] {
        s.put_trigger(t).await.unwrap();
    }
    assert_eq!(s.get_trigger("job:a").await.unwrap().unwrap(), a);
    assert_eq!(s.get_trigger("nope").await.unwrap(), None);
    let ids = |v: Vec<Trigger>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_triggers(None).await.unwrap()),
        ["job:off", "job:b", "job:a", "job:later"]
    );
    assert_eq!(
        ids(s.list_triggers(Some("ops")).await.unwrap()),
        ["job:b", "job:a", "job:later"]
    );

    // Due, enabled, earliest first; the limit holds.
    let got = s.claim_due_triggers("s1", t0(), LEASE, 1).await.unwrap();
    assert_eq!(ids(got.clone()), ["job:b"]);
    assert_eq!(got[0].claimed_by.as_deref(), Some("s1"));
    assert_eq!(got[0].claim_expires, Some(t0() + Duration::seconds(60)));
    let got = s.claim_due_triggers("s1", t0(), LEASE, 10).await.unwrap();
    assert_eq!(ids(got), ["job:a"]);
    // Live claims are not taken by another server.
    assert!(s
        .claim_due_triggers("s2", t0() + Duration::seconds(10), LEASE, 10)
        .await
        .unwrap()
        .is_empty());
    // A lapsed claim is.
    let got = s
        .claim_due_triggers("s2", t0() + Duration::seconds(61), LEASE, 10)
        .await
        .unwrap();
    assert_eq!(ids(got), ["job:b", "job:a"]);
    assert_eq!(
        s.get_trigger("job:a").await.unwrap().unwrap().claimed_by,
        Some("s2".into())
    );
    // Release: only by the holder.
    s.release_trigger("job:a", "s1").await.unwrap();
    assert_eq!(
        s.get_trigger("job:a").await.unwrap().unwrap().claimed_by,
        Some("s2".into())
    );
    s.release_trigger("job:a", "s2").await.unwrap();
    let a_now = s.get_trigger("job:a").await.unwrap().unwrap();
    assert_eq!((a_now.claimed_by, a_now.claim_expires), (None, None));
    // Replacing a trigger drops its claim.
    s.put_trigger(&b).await.unwrap();
    assert_eq!(s.get_trigger("job:b").await.unwrap().unwrap(), b);

    assert!(is_not_found(s.delete_trigger("nope").await));
    s.delete_trigger("job:later").await.unwrap();
    assert_eq!(s.get_trigger("job:later").await.unwrap(), None);
    // Deleting a project deletes its triggers.
    s.delete_project("ops").await.unwrap();
    assert_eq!(ids(s.list_triggers(None).await.unwrap()), ["job:off"]);
}

/// Firing a trigger changes it only while the firer holds the claim at the
/// expected fire time.
pub async fn trigger_fire_is_compare_and_set(s: S) {
    let t = Trigger::new("job:a", "ops", Some("a".into()), t0());
    s.put_trigger(&t).await.unwrap();
    let fire =
        |server: &str, at: DateTime<Utc>, next: Option<DateTime<Utc>>, n: usize| TriggerFire {
            trigger_id: "job:a".into(),
            server: server.into(),
            fire_time: at,
            next_fire: next,
            executions: (0..n).map(|_| scheduled("a", at)).collect(),
            exclusive: false,
            scheduled: None,
        };
    // Not claimed: nothing happens.
    assert_eq!(
        s.fire_trigger(&fire("s1", t0(), Some(t0()), 1))
            .await
            .unwrap(),
        FireOutcome::Lost
    );
    s.claim_due_triggers("s1", t0(), LEASE, 10).await.unwrap();
    // Wrong server, wrong fire time: nothing happens.
    let next = t0() + Duration::hours(1);
    assert_eq!(
        s.fire_trigger(&fire("s2", t0(), Some(next), 1))
            .await
            .unwrap(),
        FireOutcome::Lost
    );
    assert_eq!(
        s.fire_trigger(&fire("s1", t0() - Duration::hours(1), Some(next), 1))
            .await
            .unwrap(),
        FireOutcome::Lost
    );
    assert_eq!(
        s.query_executions(&ExecutionQuery::default())
            .await
            .unwrap()
            .total,
        0
    );
    // The holder fires: executions created, trigger advanced, claim dropped.
    let FireOutcome::Fired(ids) = s
        .fire_trigger(&fire("s1", t0(), Some(next), 2))
        .await
        .unwrap()
    else {
        panic!("the holder fires")
    };
    assert_eq!(ids.len(), 2);
    for id in &ids {
        let e = s.get_execution(*id).await.unwrap().unwrap();
        assert_eq!((e.job_id.as_deref(), e.date_started), (Some("a"), t0()));
    }
    let after = s.get_trigger("job:a").await.unwrap().unwrap();
    assert_eq!(after.next_fire, next);
    assert_eq!(after.claimed_by, None);
    // Firing the same time again does nothing: no double run.
    assert_eq!(
        s.fire_trigger(&fire("s1", t0(), Some(next), 1))
            .await
            .unwrap(),
        FireOutcome::Lost
    );
    // Not due yet.
    assert!(s
        .claim_due_triggers("s1", t0(), LEASE, 10)
        .await
        .unwrap()
        .is_empty());
    // The last fire deletes a one-off trigger.
    s.claim_due_triggers("s1", next, LEASE, 10).await.unwrap();
    let FireOutcome::Fired(ids) = s.fire_trigger(&fire("s1", next, None, 1)).await.unwrap() else {
        panic!("the holder fires")
    };
    assert_eq!(ids.len(), 1);
    assert_eq!(s.get_trigger("job:a").await.unwrap(), None);
    assert_eq!(
        s.query_executions(&ExecutionQuery::default())
            .await
            .unwrap()
            .total,
        3
    );
}

/// Stores project `ops` (if missing) and a job with this uuid.
async fn stored_job(s: &S, uuid: &str) {
    match s.create_project(&Project::new("ops")).await {
        Ok(()) | Err(Error::Conflict(_)) => {}
        Err(e) => panic!("creating project ops: {e}"),
    }
    let mut j = Job::new(uuid, Workflow::new(vec![Step::command("true")]));
    j.uuid = Some(uuid.into());
    s.put_job("ops", &j).await.unwrap();
}

fn with_status(mut e: Execution, status: ExecutionStatus) -> Execution {
    e.status = status;
    e
}

/// `exclusive` fires only while the trigger's job has no running or queued
/// execution; a busy job changes nothing and names the execution in the way.
pub async fn exclusive_fire_waits_for_the_job(s: S) {
    stored_job(&s, "x").await;
    for id in ["job:x", "once:x:1", "once:x:2"] {
        s.put_trigger(&Trigger::new(id, "ops", Some("x".into()), t0()))
            .await
            .unwrap();
    }
    assert_eq!(
        s.claim_due_triggers("s1", t0(), LEASE, 10)
            .await
            .unwrap()
            .len(),
        3
    );
    let next = t0() + Duration::minutes(1);
    let fire = |id: &str, status: ExecutionStatus, exclusive: bool| TriggerFire {
        trigger_id: id.into(),
        server: "s1".into(),
        fire_time: t0(),
        next_fire: Some(next),
        executions: vec![with_status(scheduled("x", t0()), status)],
        exclusive,
        scheduled: None,
    };
    let FireOutcome::Fired(first) = s
        .fire_trigger(&fire("job:x", ExecutionStatus::Running, true))
        .await
        .unwrap()
    else {
        panic!("an idle job fires")
    };
    // The second trigger of the job finds the first run.
    assert_eq!(
        s.fire_trigger(&fire("once:x:1", ExecutionStatus::Running, true))
            .await
            .unwrap(),
        FireOutcome::Busy(first[0])
    );
    let t = s.get_trigger("once:x:1").await.unwrap().unwrap();
    assert_eq!((t.next_fire, t.claimed_by.as_deref()), (t0(), Some("s1")));
    assert_eq!(count(&s, None).await, 1);
    // Lost wins over busy: a fire nobody holds says so.
    let mut stranger = fire("once:x:1", ExecutionStatus::Running, true);
    stranger.server = "s2".into();
    assert_eq!(s.fire_trigger(&stranger).await.unwrap(), FireOutcome::Lost);
    // Queued behind the run (what `queue` does after `Busy`).
    let FireOutcome::Fired(queued) = s
        .fire_trigger(&fire("once:x:1", ExecutionStatus::Queued, false))
        .await
        .unwrap()
    else {
        panic!("a non-exclusive fire does not look at the job")
    };
    // The run ends; the queued one still makes the job busy.
    let mut e = s.get_execution(first[0]).await.unwrap().unwrap();
    e.status = ExecutionStatus::Succeeded;
    s.update_execution(&e).await.unwrap();
    assert_eq!(
        s.fire_trigger(&fire("once:x:2", ExecutionStatus::Running, true))
            .await
            .unwrap(),
        FireOutcome::Busy(queued[0])
    );
    // Other jobs are not held back by x.
    stored_job(&s, "y").await;
    s.put_trigger(&Trigger::new("job:y", "ops", Some("y".into()), t0()))
        .await
        .unwrap();
    s.claim_due_triggers("s1", t0(), LEASE, 10).await.unwrap();
    let mut y = fire("job:y", ExecutionStatus::Running, true);
    y.executions = vec![scheduled("y", t0())];
    assert!(matches!(
        s.fire_trigger(&y).await.unwrap(),
        FireOutcome::Fired(_)
    ));
    // When the queued one has ended too, x fires again.
    let mut e = s.get_execution(queued[0]).await.unwrap().unwrap();
    e.status = ExecutionStatus::Succeeded;
    s.update_execution(&e).await.unwrap();
    assert!(matches!(
        s.fire_trigger(&fire("once:x:2", ExecutionStatus::Running, true))
            .await
            .unwrap(),
        FireOutcome::Fired(_)
    ));
}

/// A one-off run's execution recorded `scheduled` when it was asked for:
/// its fire writes the run over it (same id) while it is still scheduled
/// and claimed by no server, and a scheduled execution keeps no job busy;
/// once an abort has claimed it, the fire consumes the trigger and changes
/// and creates nothing.
pub async fn fire_starts_a_scheduled_execution(s: S) {
    stored_job(&s, "x").await;
    let waiting = || with_status(scheduled("x", t0()), ExecutionStatus::Scheduled);
    let first = s.create_execution(&waiting()).await.unwrap();
    let second = s.create_execution(&waiting()).await.unwrap();
    assert_eq!(count(&s, Some(ExecutionStatus::Scheduled)).await, 2);
    let stored = s.get_execution(first).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.server_uuid),
        (ExecutionStatus::Scheduled, None)
    );
    for id in ["once:x:1", "once:x:2"] {
        s.put_trigger(&Trigger::new(id, "ops", Some("x".into()), t0()))
            .await
            .unwrap();
    }
    assert_eq!(
        s.claim_due_triggers("s1", t0(), LEASE, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    let fire = |trigger: &str, id: u64, exclusive: bool| {
        let mut run = scheduled("x", t0() + Duration::seconds(1));
        run.server_uuid = Some("s1".into());
        TriggerFire {
            trigger_id: trigger.into(),
            server: "s1".into(),
            fire_time: t0(),
            next_fire: None,
            executions: vec![run],
            exclusive,
            scheduled: Some(id),
        }
    };
    // Started under its own id; the other scheduled one does not make the
    // job busy.
    assert_eq!(
        s.fire_trigger(&fire("once:x:1", first, true))
            .await
            .unwrap(),
        FireOutcome::Fired(vec![first])
    );
    let started = s.get_execution(first).await.unwrap().unwrap();
    assert_eq!(started.status, ExecutionStatus::Running);
    assert_eq!(started.server_uuid.as_deref(), Some("s1"));
    assert_eq!(started.date_started, t0() + Duration::seconds(1));
    assert_eq!(s.get_trigger("once:x:1").await.unwrap(), None);
    assert_eq!(count(&s, Some(ExecutionStatus::Scheduled)).await, 1);
    assert_eq!(count(&s, Some(ExecutionStatus::Running)).await, 1);
    // An abort claims the second before its time: its fire runs nothing.
    let claim = ExecutionClaim {
        status: ExecutionStatus::Scheduled,
        owner: None,
        due_by: None,
        job_id: None,
        id: Some(second),
    };
    assert_eq!(s.claim_executions("s2", &claim, 1).await.unwrap().len(), 1);
    assert_eq!(
        s.fire_trigger(&fire("once:x:2", second, false))
            .await
            .unwrap(),
        FireOutcome::Fired(Vec::new())
    );
    assert_eq!(s.get_trigger("once:x:2").await.unwrap(), None);
    let kept = s.get_execution(second).await.unwrap().unwrap();
    assert_eq!(kept.status, ExecutionStatus::Scheduled);
    assert_eq!(kept.server_uuid.as_deref(), Some("s2"));
    assert_eq!(count(&s, None).await, 2);
}

async fn count(s: &S, status: Option<ExecutionStatus>) -> u64 {
    s.query_executions(&ExecutionQuery {
        status,
        ..Default::default()
    })
    .await
    .unwrap()
    .total
}

/// Four firers at once, each with a different trigger of the same job, all
/// `exclusive` with a run: per job exactly one run starts, the others are
/// told the job is busy (and record a `missed` fire, as `skip` does).
pub async fn exclusive_fire_race(s: S) {
    const JOBS: usize = 25;
    const FIRERS: usize = 4;
    for j in 0..JOBS {
        let job = format!("j{j:02}");
        stored_job(&s, &job).await;
        for f in 0..FIRERS {
            let t = Trigger::new(format!("{job}:{f}"), "ops", Some(job.clone()), t0());
            s.put_trigger(&t).await.unwrap();
        }
    }
    let claimed = s.claim_due_triggers("s1", t0(), LEASE, 1000).await.unwrap();
    assert_eq!(claimed.len(), JOBS * FIRERS);
    let barrier = Arc::new(tokio::sync::Barrier::new(FIRERS));
    let mut tasks = Vec::new();
    for f in 0..FIRERS {
        let (s, barrier) = (s.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for j in 0..JOBS {
                let job = format!("j{j:02}");
                let mut fire = TriggerFire {
                    trigger_id: format!("{job}:{f}"),
                    server: "s1".into(),
                    fire_time: t0(),
                    next_fire: Some(t0() + Duration::minutes(1)),
                    executions: vec![scheduled(&job, t0())],
                    exclusive: true,
                    scheduled: None,
                };
                // all four fire this job's triggers at the same instant
                barrier.wait().await;
                let outcome = s.fire_trigger(&fire).await.unwrap();
                if let FireOutcome::Busy(_) = outcome {
                    fire.exclusive = false;
                    fire.executions =
                        vec![with_status(scheduled(&job, t0()), ExecutionStatus::Missed)];
                    assert!(matches!(
                        s.fire_trigger(&fire).await.unwrap(),
                        FireOutcome::Fired(_)
                    ));
                }
                outcomes.push((job, outcome));
            }
            outcomes
        }));
    }
    let mut per_job: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for t in tasks {
        for (job, outcome) in t.await.unwrap() {
            let slot = per_job.entry(job).or_default();
            match outcome {
                FireOutcome::Fired(_) => slot.0 += 1,
                FireOutcome::Busy(_) => slot.1 += 1,
                FireOutcome::Lost => panic!("the firer holds its trigger"),
            }
        }
    }
    for (job, (fired, busy)) in &per_job {
        assert_eq!((*fired, *busy), (1, FIRERS - 1), "job {job}");
    }
    assert_eq!(count(&s, Some(ExecutionStatus::Running)).await, JOBS as u64);
    assert_eq!(
        count(&s, Some(ExecutionStatus::Missed)).await,
        (JOBS * (FIRERS - 1)) as u64
    );
    assert!(s
        .list_triggers(Some("ops"))
        .await
        .unwrap()
        .iter()
        .all(|t| t.next_fire == t0() + Duration::minutes(1) && t.claimed_by.is_none()));
}

/// Runs started directly (`create_exclusive_execution`, as the run service
/// does for an API start) and exclusive trigger fires of the same job, all
/// at the same instant: per job exactly one run is created, every other
/// attempt is told which execution keeps the job busy.
pub async fn exclusive_start_race(s: S) {
    const JOBS: usize = 10;
    const EACH: usize = 2;
    for j in 0..JOBS {
        let job = format!("j{j:02}");
        stored_job(&s, &job).await;
        for f in 0..EACH {
            let t = Trigger::new(format!("{job}:{f}"), "ops", Some(job.clone()), t0());
            s.put_trigger(&t).await.unwrap();
        }
    }
    let claimed = s.claim_due_triggers("s1", t0(), LEASE, 1000).await.unwrap();
    assert_eq!(claimed.len(), JOBS * EACH);
    let barrier = Arc::new(tokio::sync::Barrier::new(2 * EACH));
    let mut tasks = Vec::new();
    for f in 0..2 * EACH {
        let (s, barrier) = (s.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for j in 0..JOBS {
                let job = format!("j{j:02}");
                barrier.wait().await;
                let outcome = if f < EACH {
                    s.fire_trigger(&TriggerFire {
                        trigger_id: format!("{job}:{f}"),
                        server: "s1".into(),
                        fire_time: t0(),
                        next_fire: Some(t0() + Duration::minutes(1)),
                        executions: vec![scheduled(&job, t0())],
                        exclusive: true,
                        scheduled: None,
                    })
                    .await
                    .unwrap()
                } else {
                    s.create_exclusive_execution(&scheduled(&job, t0()))
                        .await
                        .unwrap()
                };
                outcomes.push((job, outcome));
            }
            outcomes
        }));
    }
    let mut per_job: BTreeMap<String, (Vec<u64>, Vec<u64>)> = BTreeMap::new();
    for t in tasks {
        for (job, outcome) in t.await.unwrap() {
            let slot = per_job.entry(job).or_default();
            match outcome {
                FireOutcome::Fired(ids) => slot.0.extend(ids),
                FireOutcome::Busy(other) => slot.1.push(other),
                FireOutcome::Lost => panic!("the firer holds its trigger"),
            }
        }
    }
    for (job, (fired, busy)) in &per_job {
        assert_eq!(fired.len(), 1, "job {job}: {fired:?}");
        assert_eq!(busy, &vec![fired[0]; 2 * EACH - 1], "job {job}");
    }
    assert_eq!(count(&s, Some(ExecutionStatus::Running)).await, JOBS as u64);
    // An execution of no job is never refused.
    let mut adhoc = scheduled("none", t0());
    adhoc.job_id = None;
    for _ in 0..2 {
        assert!(matches!(
            s.create_exclusive_execution(&adhoc).await.unwrap(),
            FireOutcome::Fired(_)
        ));
    }
}
