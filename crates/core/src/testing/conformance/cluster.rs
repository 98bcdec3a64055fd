//! Conformance tests: servers, execution claims, and the races between claimers
//! and writers.

use super::support::cluster_t0 as t0;
use super::support::{is_not_found, scheduled, LEASE, S};
use crate::model::{Execution, ExecutionStatus, Project};
use crate::store::prelude::*;
use crate::store::{
    ExecutionClaim, ExecutionQuery, FireOutcome, ServerHeartbeat, Trigger, TriggerFire,
};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeSet;

/// Server heartbeats, and executions claimed by the servers that take them
/// over.
pub async fn servers_and_execution_claims(s: S) {
    let beat = |server: &str, at: DateTime<Utc>| ServerHeartbeat {
        server: server.into(),
        started: t0(),
        last_seen: at,
        info: serde_json::json!({"host": "h1"}),
    };
    s.heartbeat(&beat("b", t0())).await.unwrap();
    s.heartbeat(&beat("a", t0())).await.unwrap();
    s.heartbeat(&beat("a", t0() + Duration::seconds(30)))
        .await
        .unwrap();
    let servers = s.list_servers().await.unwrap();
    assert_eq!(
        servers,
        vec![beat("a", t0() + Duration::seconds(30)), beat("b", t0())]
    );
    s.delete_server("b").await.unwrap();
    assert!(is_not_found(s.delete_server("b").await));
    assert_eq!(s.list_servers().await.unwrap().len(), 1);

    // a server's settings: per server and key, replaced, kept after its
    // heartbeat row is gone
    assert_eq!(
        s.get_server_setting("b", "executionMode").await.unwrap(),
        None
    );
    s.put_server_setting("b", "executionMode", "passive")
        .await
        .unwrap();
    s.put_server_setting("a", "executionMode", "active")
        .await
        .unwrap();
    s.put_server_setting("b", "other", "x").await.unwrap();
    assert_eq!(
        s.get_server_setting("b", "executionMode")
            .await
            .unwrap()
            .as_deref(),
        Some("passive")
    );
    s.put_server_setting("b", "executionMode", "active")
        .await
        .unwrap();
    assert_eq!(
        s.get_server_setting("b", "executionMode")
            .await
            .unwrap()
            .as_deref(),
        Some("active")
    );
    assert_eq!(
        s.get_server_setting("b", "other").await.unwrap().as_deref(),
        Some("x")
    );
    assert_eq!(
        s.get_server_setting("c", "executionMode").await.unwrap(),
        None
    );

    let mut ids = Vec::new();
    for i in 0..3 {
        let mut e = scheduled("j", t0() + Duration::minutes(i));
        e.status = ExecutionStatus::Queued;
        ids.push(s.create_execution(&e).await.unwrap());
    }
    let mut orphan = scheduled("k", t0());
    orphan.server_uuid = Some("dead".into());
    let orphan = s.create_execution(&orphan).await.unwrap();
    let mut other_job = scheduled("other", t0());
    other_job.status = ExecutionStatus::Queued;
    let other_job = s.create_execution(&other_job).await.unwrap();

    let queued = |job: Option<&str>, due: Option<DateTime<Utc>>| ExecutionClaim {
        status: ExecutionStatus::Queued,
        owner: None,
        due_by: due,
        job_id: job.map(str::to_owned),
        id: None,
    };
    let got = s
        .claim_executions("me", &queued(Some("j"), None), 2)
        .await
        .unwrap();
    assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), ids[..2]);
    assert!(got.iter().all(|e| e.server_uuid.as_deref() == Some("me")));
    assert_eq!(
        s.get_execution(ids[0]).await.unwrap().unwrap().server_uuid,
        Some("me".into())
    );
    // Due-by: the third is due a minute later.
    assert!(s
        .claim_executions("you", &queued(Some("j"), Some(t0())), 5)
        .await
        .unwrap()
        .is_empty());
    let got = s
        .claim_executions("you", &queued(None, Some(t0() + Duration::minutes(5))), 5)
        .await
        .unwrap();
    assert_eq!(
        got.iter().map(|e| e.id).collect::<Vec<_>>(),
        [ids[2], other_job]
    );
    // Taking over a dead server's running execution.
    let takeover = ExecutionClaim {
        status: ExecutionStatus::Running,
        owner: Some("dead".into()),
        due_by: None,
        job_id: None,
        id: None,
    };
    let got = s.claim_executions("me", &takeover, 10).await.unwrap();
    assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), [orphan]);
    assert!(s
        .claim_executions("you", &takeover, 10)
        .await
        .unwrap()
        .is_empty());
}

/// History totals come from per-status counts: they must follow creates,
/// status changes, deletes and claims exactly.
pub async fn totals_follow_changes(s: S) {
    let mut ids = Vec::new();
    for i in 0..12 {
        let job = match i % 3 {
            0 => None,
            1 => Some("j1"),
            _ => Some("j2"),
        };
        let mut e = Execution::new(if i < 9 { "ops" } else { "dev" }, "x", "u");
        e.job_id = job.map(str::to_owned);
        e.date_started = t0() + Duration::minutes(i);
        ids.push((s.create_execution(&e).await.unwrap(), e));
    }
    for (n, (id, e)) in ids.iter_mut().enumerate() {
        e.id = *id;
        e.status = match n % 4 {
            0 => ExecutionStatus::Succeeded,
            1 => ExecutionStatus::Failed,
            2 => continue,
            _ => ExecutionStatus::Other("custom".into()),
        };
        s.update_execution(e).await.unwrap();
        // updating again without a change leaves the totals alone
        s.update_execution(e).await.unwrap();
    }
    s.delete_execution(ids[4].0).await.unwrap();
    ids.remove(4);
    let statuses = [
        None,
        Some(ExecutionStatus::Running),
        Some(ExecutionStatus::Succeeded),
        Some(ExecutionStatus::Failed),
        Some(ExecutionStatus::Other("custom".into())),
    ];
    for project in [None, Some("ops"), Some("dev"), Some("none")] {
        for job_ids in [
            vec![],
            vec!["j1".to_owned()],
            vec!["j1".into(), "j2".into()],
        ] {
            for adhoc in [None, Some(true), Some(false)] {
                for status in &statuses {
                    let q = ExecutionQuery {
                        project: project.map(str::to_owned),
                        job_ids: job_ids.clone(),
                        adhoc,
                        status: status.clone(),
                        ..Default::default()
                    };
                    let want = ids
                        .iter()
                        .filter(|(_, e)| {
                            project.is_none_or(|p| p == e.project)
                                && (job_ids.is_empty()
                                    || e.job_id.as_ref().is_some_and(|j| job_ids.contains(j)))
                                && adhoc.is_none_or(|a| a == e.job_id.is_none())
                                && status.as_ref().is_none_or(|st| st == &e.status)
                        })
                        .count();
                    let page = s.query_executions(&q).await.unwrap();
                    assert_eq!(page.total, want as u64, "{q:?}");
                }
            }
        }
    }
    // a deleted project's executions leave every total, and a project made
    // again under its name starts from nothing
    s.create_project(&Project::new("dev")).await.unwrap();
    s.delete_project("dev").await.unwrap();
    s.create_project(&Project::new("dev")).await.unwrap();
    let total = |project: Option<&str>, adhoc: Option<bool>| {
        let s = s.clone();
        let q = ExecutionQuery {
            project: project.map(str::to_owned),
            adhoc,
            ..Default::default()
        };
        async move { s.query_executions(&q).await.unwrap().total }
    };
    let ops = ids.iter().filter(|(_, e)| e.project == "ops");
    let ops_adhoc = ops.clone().filter(|(_, e)| e.job_id.is_none()).count() as u64;
    assert_eq!(total(Some("dev"), None).await, 0);
    assert_eq!(total(Some("dev"), Some(false)).await, 0);
    assert_eq!(total(Some("ops"), None).await, ops.count() as u64);
    assert_eq!(total(Some("ops"), Some(true)).await, ops_adhoc);
    assert_eq!(total(None, None).await, total(Some("ops"), None).await);
}

/// Four claimers race over `n` due triggers and 200 queued executions:
/// every trigger and every execution is claimed exactly once.
pub async fn claim_race(s: S, n: usize) {
    let mut puts = Vec::new();
    for w in 0..8 {
        let s = s.clone();
        puts.push(tokio::spawn(async move {
            for i in (w..n).step_by(8) {
                let t = Trigger::new(
                    format!("t{i:05}"),
                    "ops",
                    None,
                    t0() - Duration::milliseconds(i as i64),
                );
                s.put_trigger(&t).await.unwrap();
            }
        }));
    }
    for p in puts {
        p.await.unwrap();
    }
    for i in 0..200 {
        let mut e = scheduled("q", t0() + Duration::seconds(i));
        e.status = ExecutionStatus::Queued;
        s.create_execution(&e).await.unwrap();
    }
    let mut tasks = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let server = format!("server-{w}");
            let mut triggers = Vec::new();
            loop {
                let got = s
                    .claim_due_triggers(&server, t0(), LEASE, 50)
                    .await
                    .unwrap();
                if got.is_empty() {
                    break;
                }
                for t in got {
                    // advance past `now` so that it is not due again
                    let fired = s
                        .fire_trigger(&TriggerFire {
                            trigger_id: t.id.clone(),
                            server: server.clone(),
                            fire_time: t.next_fire,
                            next_fire: Some(t0() + Duration::days(1)),
                            executions: Vec::new(),
                            exclusive: false,
                            scheduled: None,
                        })
                        .await
                        .unwrap();
                    assert_eq!(
                        fired,
                        FireOutcome::Fired(Vec::new()),
                        "{server} holds {}",
                        t.id
                    );
                    triggers.push(t.id);
                }
            }
            let mut executions = Vec::new();
            let claim = ExecutionClaim {
                status: ExecutionStatus::Queued,
                owner: None,
                due_by: None,
                job_id: None,
                id: None,
            };
            loop {
                let got = s.claim_executions(&server, &claim, 7).await.unwrap();
                if got.is_empty() {
                    break;
                }
                executions.extend(got.into_iter().map(|e| e.id));
            }
            (triggers, executions)
        }));
    }
    let mut triggers = Vec::new();
    let mut executions = Vec::new();
    for t in tasks {
        let (tr, ex) = t.await.unwrap();
        triggers.extend(tr);
        executions.extend(ex);
    }
    let unique: BTreeSet<&String> = triggers.iter().collect();
    assert_eq!(triggers.len(), n, "every trigger claimed once");
    assert_eq!(unique.len(), n, "no trigger claimed twice");
    let unique: BTreeSet<u64> = executions.iter().copied().collect();
    assert_eq!((executions.len(), unique.len()), (200, 200));
    assert!(s
        .list_triggers(Some("ops"))
        .await
        .unwrap()
        .iter()
        .all(|t| t.next_fire == t0() + Duration::days(1) && t.claimed_by.is_none()));
}

/// [`claim_race`] over 1,000 triggers.
pub async fn claim_race_1000(s: S) {
    claim_race(s, 1000).await
}

/// Eight writers create, update and delete executions at once (SQLite
/// serialises them; none may fail with "database is locked"), and the
/// totals stay exact.
pub async fn concurrent_writers(s: S) {
    let mut tasks = Vec::new();
    for w in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut kept = 0u64;
            for i in 0..25 {
                let mut e = scheduled(if i % 2 == 0 { "a" } else { "b" }, t0());
                e.id = s.create_execution(&e).await.unwrap();
                e.status = ExecutionStatus::Succeeded;
                s.update_execution(&e).await.unwrap();
                if (w + i) % 5 == 0 {
                    s.delete_execution(e.id).await.unwrap();
                } else {
                    kept += 1;
                }
            }
            kept
        }));
    }
    let mut kept = 0;
    for t in tasks {
        kept += t.await.unwrap();
    }
    let total = |status: Option<ExecutionStatus>| {
        let s = s.clone();
        async move {
            s.query_executions(&ExecutionQuery {
                status,
                ..Default::default()
            })
            .await
            .unwrap()
            .total
        }
    };
    assert_eq!(total(None).await, kept);
    assert_eq!(total(Some(ExecutionStatus::Succeeded)).await, kept);
    assert_eq!(total(Some(ExecutionStatus::Running)).await, 0);
}
