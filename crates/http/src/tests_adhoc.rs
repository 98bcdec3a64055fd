//! Ad-hoc routes: a command and a script on the nodes of a real file node
//! source, run by the local executor; denied and bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::auth::{hash_token, TOKEN_HEADER};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use foredeck_core::store::ApiToken;
use foredeck_core::{ExecutionStatus, MemoryStore, Project};
use serde_json::Value;
use tower::ServiceExt;

const ADMIN: &str = "adhoc-admin-token";
const NOBODY: &str = "adhoc-nobody-token";

async fn state(dir: &std::path::Path) -> ApiState {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    for (id, secret, role) in [("a", ADMIN, "admin"), ("n", NOBODY, "dev")] {
        store
            .create_token(&ApiToken {
                id: id.into(),
                token_hash: hash_token(secret),
                user: format!("user-{id}"),
                roles: vec![role.into()],
                name: None,
                creator: "test".into(),
                created: chrono::Utc::now(),
                expiration: None,
            })
            .await
            .unwrap();
    }
    let nodes = dir.join("nodes.yaml");
    let mut yaml = String::new();
    for (n, tag) in [("web1", "web"), ("web2", "web"), ("db1", "db")] {
        yaml.push_str(&format!(
            "{n}:\n  hostname: {n}\n  tags: {tag}\n  node-executor: local\n"
        ));
    }
    std::fs::write(&nodes, yaml).unwrap();
    let mut p = Project::new("ops");
    p.config
        .insert("resources.source.1.type".into(), "file".into());
    p.config.insert(
        "resources.source.1.config.file".into(),
        nodes.display().to_string(),
    );
    store.create_project(&p).await.unwrap();
    ApiState::new(store, Arc::new(RoleAuthorizer::new(["admin"])))
}

async fn post(s: &ApiState, uri: &str, token: &str, body: &str) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(TOKEN_HEADER, token)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let resp = router(s.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v)
}

async fn finished_log(s: &ApiState, id: u64) -> (ExecutionStatus, String, bool) {
    for _ in 0..400 {
        let e = s.store.get_execution(id).await.unwrap().unwrap();
        if e.status.is_final() {
            let log = s.store.read_log(id, 0, 1000).await.unwrap();
            let text: Vec<String> = log
                .events
                .into_iter()
                .map(|e| format!("{}: {}", e.node.unwrap_or_default(), e.text))
                .collect();
            return (e.status, text.join("\n"), e.job_id.is_none());
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("execution {id} did not end");
}

#[tokio::test]
async fn commands_and_scripts_run_on_the_filtered_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path()).await;
    let (status, v) = post(
        &s,
        "/api/59/project/ops/run/command",
        ADMIN,
        r#"{"exec": "echo hi from ${node.name}", "filter": "tags: web", "nodeThreadcount": 2}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let id = v["execution"]["id"].as_u64().unwrap();
    assert!(v["message"].as_str().unwrap().contains(&id.to_string()));
    let (st, log, adhoc) = finished_log(&s, id).await;
    assert_eq!(st, ExecutionStatus::Succeeded, "{log}");
    assert!(adhoc, "an ad-hoc execution has no job");
    assert!(
        log.contains("web1: hi from web1") && log.contains("web2: hi from web2"),
        "{log}"
    );
    assert!(!log.contains("db1"), "{log}");

    let (status, v) = post(
        &s,
        "/api/59/project/ops/run/script",
        ADMIN,
        r##"{"script": "#!/bin/sh\necho script says $1", "argString": "hello", "filter": "db1"}"##,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (st, log, _) = finished_log(&s, v["execution"]["id"].as_u64().unwrap()).await;
    assert_eq!(st, ExecutionStatus::Succeeded, "{log}");
    assert!(log.contains("db1: script says hello"), "{log}");
    let audit = s
        .store
        .query_audit(&Default::default())
        .await
        .unwrap()
        .items;
    assert_eq!(
        audit.iter().filter(|a| a.resource_type == "adhoc").count(),
        2
    );
}

#[tokio::test]
async fn bad_requests_and_callers_without_grants_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path()).await;
    for (body, needle) in [
        (r#"{"exec": "true"}"#, "filter"),
        (r#"{"filter": "web1"}"#, "exec"),
        (
            r#"{"exec": "true", "filter": "name: nowhere"}"#,
            "No nodes matched",
        ),
        (r#"{"exec": "true", "filter": "name: \"open"}"#, "filter"),
        (
            r#"{"exec": "true", "filter": "web1", "shell": "x"}"#,
            "shell",
        ),
        ("{not json", "JSON"),
    ] {
        let (status, v) = post(&s, "/api/59/project/ops/run/command", ADMIN, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {v}");
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{body} -> {v}"
        );
    }
    let (status, v) = post(
        &s,
        "/api/59/project/ops/run/script",
        ADMIN,
        r#"{"filter": "web1"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, _) = post(
        &s,
        "/api/59/project/nope/run/command",
        ADMIN,
        r#"{"exec": "true", "filter": "web1"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, v) = post(
        &s,
        "/api/59/project/ops/run/command",
        NOBODY,
        r#"{"exec": "true", "filter": "web1"}"#,
    )
    .await;
    assert!(
        matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
        "{v}"
    );
    assert!(s
        .store
        .query_executions(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty());
}
