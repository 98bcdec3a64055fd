//! Triggers, claims, heartbeats, known hosts, users, tokens, ACL policies,
//! audit events and execution totals, on every store; and the claim races:
//! several tasks claiming the same due triggers and queued executions, each
//! item claimed exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;
use common::*;

use chrono::{DateTime, Duration, TimeZone, Utc};
use foredeck_core::model::{Execution, ExecutionStatus, Job, Project, Step, Workflow};
use foredeck_core::store::{
    AclPolicy, ApiToken, AuditEvent, AuditQuery, ExecutionClaim, ExecutionQuery, FireOutcome,
    ServerHeartbeat, Trigger, TriggerFire, User, Webhook,
};
use foredeck_core::Error;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration as StdDuration;

store_tests!(
    known_hosts,
    triggers,
    trigger_fire_is_compare_and_set,
    exclusive_fire_waits_for_the_job,
    exclusive_fire_race,
    servers_and_execution_claims,
    users_and_tokens,
    acl_policies,
    audit_events,
    webhooks,
    totals_follow_changes,
    claim_race_1000,
    concurrent_writers,
);

mod postgres_scale {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn claim_race_10000() {
        crate::on_postgres(|s| crate::claim_race(s, 10_000)).await
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

async fn webhooks(s: S) {
    s.create_project(&Project::new("ops")).await.unwrap();
    s.create_project(&Project::new("dev")).await.unwrap();
    let hook = |id: &str, project: &str, name: &str, hash: &str| Webhook {
        id: id.into(),
        project: project.into(),
        name: name.into(),
        token_hash: hash.into(),
        user: "ci".into(),
        roles: vec!["deployer".into()],
        enabled: true,
        event_plugin: "webhook-run-job".into(),
        config: [("jobId".to_owned(), "job-1".to_owned())].into(),
        created: t0(),
    };
    let a = hook("w1", "ops", "deploy", "h1");
    s.put_webhook(&a).await.unwrap();
    s.put_webhook(&hook("w2", "ops", "build", "h2"))
        .await
        .unwrap();
    s.put_webhook(&hook("w3", "dev", "deploy", "h3"))
        .await
        .unwrap();
    assert_eq!(s.get_webhook("w1").await.unwrap(), Some(a.clone()));
    assert_eq!(s.find_webhook("h2").await.unwrap().unwrap().id, "w2");
    assert_eq!(s.find_webhook("nope").await.unwrap(), None);
    let names: Vec<String> = s
        .list_webhooks("ops")
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.name)
        .collect();
    assert_eq!(names, ["build", "deploy"]);
    // a second name in one project, or a taken token, is a conflict that
    // does not quote the hash, and changes nothing
    for bad in [
        hook("w4", "ops", "deploy", "h4"),
        hook("w4", "dev", "x", "h1"),
    ] {
        match s.put_webhook(&bad).await {
            Err(Error::Conflict(m)) => assert!(!m.contains("h1"), "{m}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(s.get_webhook("w4").await.unwrap(), None);
    }
    // an update keeps its id
    let mut renamed = a.clone();
    renamed.name = "ship".into();
    renamed.enabled = false;
    s.put_webhook(&renamed).await.unwrap();
    assert_eq!(s.get_webhook("w1").await.unwrap(), Some(renamed));
    s.delete_webhook("w2").await.unwrap();
    assert!(is_not_found(s.delete_webhook("w2").await));
    // deleting a project deletes its webhooks
    s.delete_project("ops").await.unwrap();
    assert_eq!(s.get_webhook("w1").await.unwrap(), None);
    assert_eq!(s.list_webhooks("dev").await.unwrap().len(), 1);
}

fn is_not_found<T: std::fmt::Debug>(r: foredeck_core::Result<T>) -> bool {
    matches!(r, Err(Error::NotFound { .. }))
}

const LEASE: StdDuration = StdDuration::from_secs(60);

async fn known_hosts(s: S) {
    assert_eq!(s.get_known_host("[10.0.0.1]:2222").await.unwrap(), None);
    s.put_known_host("[10.0.0.1]:2222", "ssh-ed25519 AAAA1")
        .await
        .unwrap();
    s.put_known_host("web1", "ssh-ed25519 AAAA2").await.unwrap();
    s.put_known_host("web1", "ssh-ed25519 AAAA3").await.unwrap();
    assert_eq!(
        s.get_known_host("[10.0.0.1]:2222")
            .await
            .unwrap()
            .as_deref(),
        Some("ssh-ed25519 AAAA1")
    );
    assert_eq!(
        s.get_known_host("web1").await.unwrap().as_deref(),
        Some("ssh-ed25519 AAAA3")
    );
    assert_eq!(s.get_known_host("WEB1").await.unwrap(), None);
    assert!(s.delete_known_host("web1").await.unwrap());
    assert!(!s.delete_known_host("web1").await.unwrap());
    assert_eq!(s.get_known_host("web1").await.unwrap(), None);
    assert!(s.get_known_host("[10.0.0.1]:2222").await.unwrap().is_some());
}

async fn triggers(s: S) {
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

fn scheduled(job: &str, at: DateTime<Utc>) -> Execution {
    let mut e = Execution::new("ops", job, "scheduler");
    e.job_id = Some(job.into());
    e.date_started = at;
    e
}

async fn trigger_fire_is_compare_and_set(s: S) {
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

async fn servers_and_execution_claims(s: S) {
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
    };
    let got = s.claim_executions("me", &takeover, 10).await.unwrap();
    assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), [orphan]);
    assert!(s
        .claim_executions("you", &takeover, 10)
        .await
        .unwrap()
        .is_empty());
}

fn user(login: &str, roles: &[&str]) -> User {
    User {
        login: login.into(),
        password_hash: Some(format!("$argon2id$v=19$m=19456,t=2,p=1$salt${login}")),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        email: Some(format!("{login}@example.com")),
        first_name: None,
        last_name: Some("Ops".into()),
        created: t0(),
        modified: t0(),
    }
}

fn token(id: &str, user: &str, n: i64) -> ApiToken {
    ApiToken {
        id: id.into(),
        token_hash: format!("{:064x}", n),
        user: user.into(),
        roles: vec!["ops".into()],
        name: Some(format!("token {id}")),
        creator: "admin".into(),
        created: t0() + Duration::seconds(n),
        expiration: Some(t0() + Duration::days(30)),
    }
}

async fn users_and_tokens(s: S) {
    s.put_user(&user("bob", &["ops"])).await.unwrap();
    s.put_user(&user("alice", &["admin"])).await.unwrap();
    let mut bob = user("bob", &["ops", "dev"]);
    bob.modified = t0() + Duration::hours(1);
    s.put_user(&bob).await.unwrap();
    assert_eq!(s.get_user("bob").await.unwrap(), Some(bob.clone()));
    assert_eq!(s.get_user("carol").await.unwrap(), None);
    let logins: Vec<String> = s
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.login)
        .collect();
    assert_eq!(logins, ["alice", "bob"]);

    s.create_token(&token("t2", "bob", 2)).await.unwrap();
    s.create_token(&token("t1", "bob", 1)).await.unwrap();
    s.create_token(&token("t3", "alice", 3)).await.unwrap();
    // Same id, or same hash: a conflict that does not quote the hash.
    match s.create_token(&token("t1", "bob", 9)).await {
        Err(Error::Conflict(m)) => assert!(!m.contains(&format!("{:064x}", 9))),
        other => panic!("{other:?}"),
    }
    match s.create_token(&token("t9", "bob", 1)).await {
        Err(Error::Conflict(m)) => assert!(!m.contains(&format!("{:064x}", 1)), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.find_token(&format!("{:064x}", 2)).await.unwrap(),
        Some(token("t2", "bob", 2))
    );
    assert_eq!(s.find_token(&format!("{:064x}", 7)).await.unwrap(), None);
    let ids = |v: Vec<ApiToken>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(ids(s.list_tokens(Some("bob")).await.unwrap()), ["t1", "t2"]);
    assert_eq!(ids(s.list_tokens(None).await.unwrap()), ["t1", "t2", "t3"]);
    s.delete_token("t1").await.unwrap();
    assert!(is_not_found(s.delete_token("t1").await));
    // Deleting a user deletes their tokens.
    s.delete_user("bob").await.unwrap();
    assert!(is_not_found(s.delete_user("bob").await));
    assert_eq!(ids(s.list_tokens(None).await.unwrap()), ["t3"]);
    assert_eq!(s.find_token(&format!("{:064x}", 2)).await.unwrap(), None);
}

async fn acl_policies(s: S) {
    let policy = |project: Option<&str>, name: &str, body: &str| AclPolicy {
        project: project.map(str::to_owned),
        name: name.into(),
        content: body.into(),
        modified: t0(),
    };
    s.create_project(&Project::new("ops")).await.unwrap();
    s.put_acl_policy(&policy(None, "admin.aclpolicy", "system"))
        .await
        .unwrap();
    s.put_acl_policy(&policy(Some("ops"), "admin.aclpolicy", "project"))
        .await
        .unwrap();
    s.put_acl_policy(&policy(Some("ops"), "b.aclpolicy", "b"))
        .await
        .unwrap();
    s.put_acl_policy(&policy(Some("ops"), "b.aclpolicy", "b2"))
        .await
        .unwrap();
    assert_eq!(
        s.get_acl_policy(None, "admin.aclpolicy")
            .await
            .unwrap()
            .unwrap()
            .content,
        "system"
    );
    assert_eq!(
        s.get_acl_policy(Some("ops"), "admin.aclpolicy")
            .await
            .unwrap()
            .unwrap(),
        policy(Some("ops"), "admin.aclpolicy", "project")
    );
    assert_eq!(
        s.get_acl_policy(Some("dev"), "b.aclpolicy").await.unwrap(),
        None
    );
    let names = |v: Vec<AclPolicy>| {
        v.into_iter()
            .map(|p| format!("{}={}", p.name, p.content))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(s.list_acl_policies(Some("ops")).await.unwrap()),
        ["admin.aclpolicy=project", "b.aclpolicy=b2"]
    );
    assert_eq!(
        names(s.list_acl_policies(None).await.unwrap()),
        ["admin.aclpolicy=system"]
    );
    s.delete_acl_policy(Some("ops"), "b.aclpolicy")
        .await
        .unwrap();
    assert!(is_not_found(
        s.delete_acl_policy(Some("ops"), "b.aclpolicy").await
    ));
    // Deleting the project deletes its policies, not the system ones.
    s.delete_project("ops").await.unwrap();
    assert!(s.list_acl_policies(Some("ops")).await.unwrap().is_empty());
    assert_eq!(s.list_acl_policies(None).await.unwrap().len(), 1);
}

async fn audit_events(s: S) {
    let mut ids = Vec::new();
    for i in 0..30i64 {
        let e = AuditEvent {
            id: 0,
            time: t0() + Duration::minutes(i),
            user: ["alice", "bob", "carol"][i as usize % 3].into(),
            action: if i % 2 == 0 { "run" } else { "update" }.into(),
            resource_type: "job".into(),
            resource: format!("job-{}", i % 5),
            project: (i % 4 != 0).then(|| "ops".to_owned()),
            source: Some("127.0.0.1".into()),
            detail: serde_json::json!({"n": i}),
        };
        let id = s.append_audit(&e).await.unwrap();
        ids.push((id, e));
    }
    let all = s.query_audit(&AuditQuery::default()).await.unwrap();
    assert_eq!((all.total, all.items.len(), all.max), (30, 20, 20));
    assert_eq!(all.items[0].id, ids[29].0, "newest first");
    assert_eq!(all.items[0].detail, serde_json::json!({"n": 29}));
    let q = AuditQuery {
        user: Some("bob".into()),
        action: Some("run".into()),
        project: Some("ops".into()),
        since: Some(t0() + Duration::minutes(5)),
        until: Some(t0() + Duration::minutes(25)),
        offset: 1,
        max: 2,
        ..Default::default()
    };
    let want: Vec<u64> = ids
        .iter()
        .rev()
        .filter(|(_, e)| {
            e.user == "bob"
                && e.action == "run"
                && e.project.as_deref() == Some("ops")
                && e.time >= t0() + Duration::minutes(5)
                && e.time < t0() + Duration::minutes(25)
        })
        .map(|(id, _)| *id)
        .collect();
    let page = s.query_audit(&q).await.unwrap();
    assert_eq!(page.total, want.len() as u64);
    assert_eq!(
        page.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        want.iter().skip(1).take(2).copied().collect::<Vec<_>>()
    );
    let by_resource = s
        .query_audit(&AuditQuery {
            resource: Some("job-3".into()),
            max: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_resource.total, 6);
}

/// History totals come from per-status counts: they must follow creates,
/// status changes, deletes and claims exactly.
async fn totals_follow_changes(s: S) {
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
async fn claim_race(s: S, n: usize) {
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

async fn claim_race_1000(s: S) {
    claim_race(s, 1000).await
}

/// Eight writers create, update and delete executions at once (SQLite
/// serialises them; none may fail with "database is locked"), and the
/// totals stay exact.
async fn concurrent_writers(s: S) {
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
async fn exclusive_fire_waits_for_the_job(s: S) {
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
async fn exclusive_fire_race(s: S) {
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
