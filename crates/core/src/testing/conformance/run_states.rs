//! Conformance tests: durable runs' states, and the `waiting` status.

use super::support::{execution, is_not_found, job, t0, S};
use crate::model::{ExecutionStatus, Project};
use crate::store::prelude::*;
use crate::store::{ExecutionClaim, ExecutionQuery, FireOutcome, RunState, StepOutcome};
use chrono::Duration;

fn state(execution: u64, next_step: u32) -> RunState {
    let mut s = RunState::new(execution);
    s.next_step = next_step;
    s.updated = t0() + Duration::nanoseconds(987_654_321);
    s
}

/// Run states: recorded, replaced and read back exactly, one per
/// execution, only for an execution that exists, gone with their
/// execution and their project; `waiting` executions are found, claimed
/// and keep a job that allows no multiple executions busy.
pub async fn run_states(s: S) {
    s.create_project(&Project::new("ops")).await.unwrap();
    let j = s.put_job("ops", &job("deploy", None)).await.unwrap();
    let id = s
        .create_execution(&execution("ops", Some(&j), "alice", t0()))
        .await
        .unwrap();
    let other = s
        .create_execution(&execution("ops", None, "bob", t0()))
        .await
        .unwrap();
    assert_eq!(s.get_run_state(id).await.unwrap(), None);
    assert!(is_not_found(
        s.put_run_state(&state(other + 1_000, 1)).await
    ));
    assert_eq!(s.get_run_state(other + 1_000).await.unwrap(), None);

    let mut first = state(id, 1);
    first.data.insert("token".into(), "a=b ✓ \"quoted\"".into());
    first
        .node_data
        .entry("web1".into())
        .or_default()
        .insert("token".into(), "a=b ✓ \"quoted\"".into());
    first.results = vec![StepOutcome::Succeeded];
    s.put_run_state(&first).await.unwrap();
    assert_eq!(s.get_run_state(id).await.unwrap(), Some(first.clone()));

    let mut second = first.clone();
    second.next_step = 3;
    second.results.push(StepOutcome::Failed);
    second.results.push(StepOutcome::Recovered);
    second.failure = Some("step 2 failed".into());
    second.data.insert("more".into(), String::new());
    second.updated = first.updated + Duration::seconds(1);
    s.put_run_state(&second).await.unwrap();
    s.put_run_state(&state(other, 0)).await.unwrap();
    assert_eq!(s.get_run_state(id).await.unwrap(), Some(second.clone()));
    assert_eq!(s.get_run_state(other).await.unwrap(), Some(state(other, 0)));

    // the same state written again changes nothing and is no error
    s.put_run_state(&second).await.unwrap();
    assert_eq!(s.get_run_state(id).await.unwrap(), Some(second));

    // `waiting`: stored, queried, claimed, and busy for exclusive starts
    let mut e = s.get_execution(id).await.unwrap().unwrap();
    e.status = ExecutionStatus::Waiting;
    e.server_uuid = None;
    s.update_execution(&e).await.unwrap();
    let waiting = s
        .query_executions(&ExecutionQuery {
            status: Some(ExecutionStatus::Waiting),
            ..ExecutionQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(waiting.items, vec![e.clone()]);
    // listed with the running ones when asked (Rundeck's clients see a
    // waiting run as running), in the page and in the total, also with
    // filters the totals are counted for; not otherwise
    let ids = |page: crate::store::Page<crate::model::Execution>| {
        (
            page.items.iter().map(|e| e.id).collect::<Vec<_>>(),
            page.total,
        )
    };
    for project in [None, Some("ops".to_owned())] {
        for job_ids in [Vec::new(), vec![j.uuid.clone().unwrap()]] {
            let running = |with_waiting| ExecutionQuery {
                project: project.clone(),
                job_ids: job_ids.clone(),
                status: Some(ExecutionStatus::Running),
                with_waiting,
                ..ExecutionQuery::default()
            };
            let both = s.query_executions(&running(true)).await.unwrap();
            let only = s.query_executions(&running(false)).await.unwrap();
            if job_ids.is_empty() {
                // same start: the higher id first
                assert_eq!(ids(both), (vec![other, id], 2), "{project:?}");
                assert_eq!(ids(only), (vec![other], 1), "{project:?}");
            } else {
                assert_eq!(ids(both), (vec![id], 1), "{project:?}");
                assert_eq!(ids(only), (Vec::new(), 0), "{project:?}");
            }
        }
    }
    let by_user = ExecutionQuery {
        user: Some("alice".into()),
        status: Some(ExecutionStatus::Running),
        with_waiting: true,
        ..ExecutionQuery::default()
    };
    assert_eq!(
        ids(s.query_executions(&by_user).await.unwrap()),
        (vec![id], 1)
    );
    assert!(!e.status.is_final());
    let again = execution("ops", Some(&j), "carol", t0() + Duration::seconds(2));
    assert_eq!(
        s.create_exclusive_execution(&again).await.unwrap(),
        FireOutcome::Busy(id)
    );
    let claim = ExecutionClaim {
        status: ExecutionStatus::Waiting,
        owner: None,
        due_by: None,
        job_id: None,
        id: None,
    };
    // one execution by id: only when it matches the rest of the claim
    let just = |id| ExecutionClaim {
        id: Some(id),
        ..claim.clone()
    };
    for no in [other, id + other + 1_000, u64::MAX] {
        assert!(s
            .claim_executions("server-b", &just(no), 10)
            .await
            .unwrap()
            .is_empty());
    }
    let claimed = s.claim_executions("server-b", &claim, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, id);
    assert_eq!(claimed[0].status, ExecutionStatus::Waiting);
    assert_eq!(claimed[0].server_uuid.as_deref(), Some("server-b"));
    assert!(s
        .claim_executions("server-c", &claim, 10)
        .await
        .unwrap()
        .is_empty());
    let mine = ExecutionClaim {
        owner: Some("server-b".into()),
        ..just(id)
    };
    let again = s.claim_executions("server-b", &mine, 10).await.unwrap();
    assert_eq!(again.iter().map(|e| e.id).collect::<Vec<_>>(), vec![id]);

    // deleting a run state: once gone, deleting it again is no error
    s.delete_run_state(other).await.unwrap();
    assert_eq!(s.get_run_state(other).await.unwrap(), None);
    s.delete_run_state(other).await.unwrap();

    // it goes with its execution
    s.put_run_state(&state(other, 2)).await.unwrap();
    s.delete_execution(other).await.unwrap();
    assert_eq!(s.get_run_state(other).await.unwrap(), None);

    // and with its project
    s.delete_project("ops").await.unwrap();
    assert_eq!(s.get_run_state(id).await.unwrap(), None);
}
