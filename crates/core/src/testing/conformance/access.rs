//! Conformance tests: users, API tokens, ACL policies, the audit log and
//! webhooks.

use super::support::cluster_t0 as t0;
use super::support::{is_not_found, S};
use crate::model::Project;
use crate::store::prelude::*;
use crate::store::{AclPolicy, ApiToken, AuditEvent, AuditQuery, User, Webhook};
use crate::Error;
use chrono::Duration;

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

/// Users and API tokens: put, find by hash, list, delete (a user's tokens with
/// the user).
pub async fn users_and_tokens(s: S) {
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

/// ACL policies, per project and for the system: put, get, list, delete.
pub async fn acl_policies(s: S) {
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

/// The audit log: appended events queried by user, action, project, time and
/// resource, newest first, in pages.
pub async fn audit_events(s: S) {
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

/// Webhooks: put (name unique per project, token hash unique), get, find by
/// hash, list, delete.
pub async fn webhooks(s: S) {
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
