//! Webhook routes: management (success, denied, bad input) and firing a
//! job with the payload through the real local executor.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::auth::{hash_token, TOKEN_HEADER};
use crate::tests::answer;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use foredeck_core::store::ApiToken;
use foredeck_core::{ExecutionStatus, Job, JobOption, MemoryStore, Project, Step, Workflow};
use serde_json::{json, Value};

const ADMIN: &str = "webhook-admin-token";
const NOBODY: &str = "webhook-nobody-token";

async fn state() -> ApiState {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    for (id, secret, roles) in [("a", ADMIN, vec!["admin"]), ("n", NOBODY, vec!["dev"])] {
        store
            .create_token(&ApiToken {
                id: id.into(),
                token_hash: hash_token(secret),
                user: format!("user-{id}"),
                roles: roles.into_iter().map(str::to_owned).collect(),
                name: None,
                creator: "test".into(),
                created: chrono::Utc::now(),
                expiration: None,
            })
            .await
            .unwrap();
    }
    store.create_project(&Project::new("ops")).await.unwrap();
    let mut job = Job::new(
        "deploy",
        Workflow::new(vec![Step::command(
            "echo ref=${option.ref}; echo payload=${option.payload}",
        )]),
    );
    job.uuid = Some("job-deploy".into());
    job.options = vec![JobOption::new("ref"), JobOption::new("payload")];
    store.put_job("ops", &job).await.unwrap();
    ApiState::new(store, Arc::new(RoleAuthorizer::new(["admin"])))
}

async fn call(
    state: &ApiState,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(TOKEN_HEADER, t);
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(body.map(|b| Body::from(b.to_owned())).unwrap_or_default())
        .unwrap();
    let (status, _, bytes) = answer(state, req).await;
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

async fn create(state: &ApiState, body: Value) -> (StatusCode, Value) {
    let (status, text) = call(
        state,
        Method::POST,
        "/api/59/project/ops/webhook",
        Some(ADMIN),
        Some(&body.to_string()),
    )
    .await;
    (status, json_of(&text))
}

/// Waits for an execution to end and returns its log text.
async fn finished_log(state: &ApiState, id: u64) -> (ExecutionStatus, String) {
    for _ in 0..400 {
        let e = state.store.get_execution(id).await.unwrap().unwrap();
        if e.status.is_final() {
            let log = state.store.read_log(id, 0, 1000).await.unwrap();
            let text: Vec<String> = log.events.into_iter().map(|e| e.text).collect();
            return (e.status, text.join("\n"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("execution {id} did not end");
}

#[tokio::test]
async fn a_webhook_runs_its_job_with_the_payload_as_options() {
    let s = state().await;
    let (status, hook) = create(
        &s,
        json!({
            "name": "on push",
            "config": {"jobId": "job-deploy", "argString": "-ref ${data.ref}", "payloadOption": "payload"}
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let token = hook["authToken"].as_str().unwrap().to_owned();
    let id = hook["id"].as_str().unwrap().to_owned();
    assert_eq!(hook["user"], "user-a");
    assert_eq!(hook["eventPlugin"], "webhook-run-job");

    // the token is shown once: never in list or get
    let (status, list) = call(
        &s,
        Method::GET,
        "/api/59/project/ops/webhooks",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !list.contains(&token) && !list.contains("authToken"),
        "{list}"
    );
    assert_eq!(json_of(&list)[0]["name"], "on push");
    let (status, one) = call(
        &s,
        Method::GET,
        &format!("/api/59/project/ops/webhook/{id}"),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!one.contains(&token), "{one}");

    // fired without an API token; shell metacharacters stay text
    let payload = json!({"ref": "main; echo INJECTED $(id)", "extra": "-ref other"}).to_string();
    let (status, fired) = call(
        &s,
        Method::POST,
        &format!("/api/59/webhook/{token}#on%20push"),
        None,
        Some(&payload),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{fired}");
    let fired = json_of(&fired);
    assert_eq!(fired["jobId"], "job-deploy");
    let exec = fired["executionId"].as_u64().unwrap();
    let (st, log) = finished_log(&s, exec).await;
    assert_eq!(st, ExecutionStatus::Succeeded, "{log}");
    assert!(log.contains("ref=main; echo INJECTED $(id)"), "{log}");
    assert!(!log.lines().any(|l| l.starts_with("INJECTED")), "{log}");
    assert!(log.contains(&format!("payload={payload}")), "{log}");
    let e = s.store.get_execution(exec).await.unwrap().unwrap();
    assert_eq!(e.user, "user-a");

    // a wrong token is not found, and is not echoed
    let (status, body) = call(
        &s,
        Method::POST,
        "/api/59/webhook/not-a-token",
        None,
        Some("{}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.contains("not-a-token"), "{body}");

    // a new token replaces the old one
    let (status, updated) = call(
        &s,
        Method::POST,
        &format!("/api/59/project/ops/webhook/{id}"),
        Some(ADMIN),
        Some(r#"{"regenAuthToken": true, "enabled": false}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let new_token = json_of(&updated)["authToken"].as_str().unwrap().to_owned();
    assert_ne!(new_token, token);
    let (status, _) = call(
        &s,
        Method::POST,
        &format!("/api/59/webhook/{token}"),
        None,
        Some("{}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // disabled: refused
    let (status, body) = call(
        &s,
        Method::POST,
        &format!("/api/59/webhook/{new_token}"),
        None,
        Some("{}"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    call(
        &s,
        Method::POST,
        &format!("/api/59/project/ops/webhook/{id}"),
        Some(ADMIN),
        Some(r#"{"enabled": true}"#),
    )
    .await;
    // too large a payload
    let big = format!(
        "{{\"ref\": \"{}\"}}",
        "x".repeat(crate::webhooks::MAX_PAYLOAD)
    );
    let (status, _) = call(
        &s,
        Method::POST,
        &format!("/api/59/webhook/{new_token}"),
        None,
        Some(&big),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // deleted: gone
    let (status, _) = call(
        &s,
        Method::DELETE,
        &format!("/api/59/project/ops/webhook/{id}"),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(
        &s,
        Method::POST,
        &format!("/api/59/webhook/{new_token}"),
        None,
        Some("{}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let audit = s
        .store
        .query_audit(&Default::default())
        .await
        .unwrap()
        .items;
    let actions: Vec<&str> = audit
        .iter()
        .filter(|a| a.resource_type == "webhook")
        .map(|a| a.action.as_str())
        .collect();
    for a in ["create", "webhook", "update", "delete"] {
        assert!(actions.contains(&a), "{actions:?}");
    }
}

#[tokio::test]
async fn a_webhook_runs_only_what_its_user_may_run() {
    let s = state().await;
    // admin may make a webhook that acts as someone with fewer rights
    let (status, hook) = create(
        &s,
        json!({"name": "weak", "user": "bob", "roles": "dev", "config": {"jobId": "job-deploy"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let token = hook["authToken"].as_str().unwrap();
    let (status, body) = call(
        &s,
        Method::POST,
        &format!("/api/59/webhook/{token}"),
        None,
        Some("{}"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(s
        .store
        .query_executions(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

#[tokio::test]
async fn bad_webhook_definitions_and_callers_without_grants_are_refused() {
    let s = state().await;
    for (body, needle) in [
        (
            json!({"config": {"jobId": "job-deploy"}}),
            "name is required",
        ),
        (json!({"name": "x", "config": {}}), "jobId is required"),
        (json!({"name": "x", "config": {"jobId": "nope"}}), "no job"),
        (
            json!({"name": "x", "enabled": "yes", "config": {"jobId": "job-deploy"}}),
            "field enabled",
        ),
        (
            json!({"name": "x", "eventPlugin": "log-events", "config": {"jobId": "job-deploy"}}),
            "not available",
        ),
        (
            json!({"name": "x", "config": {"jobId": "job-deploy", "nodeFilter": "name: \"unclosed"}}),
            "nodeFilter",
        ),
        (
            json!({"name": "x", "config": {"jobId": "job-deploy", "payloadOption": "nope"}}),
            "payloadOption",
        ),
        (
            json!({"name": "x", "config": {"jobId": "job-deploy", "argString": "-ref 'unclosed"}}),
            "argString",
        ),
        (
            json!({"name": 5, "config": {"jobId": "job-deploy"}}),
            "field name",
        ),
    ] {
        let (status, err) = create(&s, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {err}");
        assert!(
            err["message"].as_str().unwrap().contains(needle),
            "{body} -> {err}"
        );
    }
    let (status, _) = call(
        &s,
        Method::POST,
        "/api/59/project/ops/webhook",
        Some(ADMIN),
        Some("{not json"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // two webhooks of one name
    let ok = json!({"name": "dup", "config": {"jobId": "job-deploy"}});
    assert_eq!(create(&s, ok.clone()).await.0, StatusCode::CREATED);
    assert_eq!(create(&s, ok).await.0, StatusCode::CONFLICT);

    // a caller without grants sees no webhook, and cannot make one
    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/project/ops/webhooks",
        Some(NOBODY),
        None,
    )
    .await;
    assert!(
        matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
        "{body}"
    );
    assert!(!body.contains("dup"), "{body}");
    let (status, _) = call(
        &s,
        Method::POST,
        "/api/59/project/ops/webhook",
        Some(NOBODY),
        Some(r#"{"name": "mine", "config": {"jobId": "job-deploy"}}"#),
    )
    .await;
    assert!(matches!(
        status,
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN
    ));
    // and without a token at all
    let (status, _) = call(&s, Method::GET, "/api/59/project/ops/webhooks", None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
