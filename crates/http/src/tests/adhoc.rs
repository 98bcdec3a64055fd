//! Ad-hoc routes: a command and a script on the nodes of a real file node
//! source, run by the local executor; denied and bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::auth::{hash_token, TOKEN_HEADER};
use crate::tests::answer;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use foredeck_core::store::ApiToken;
use foredeck_core::{ExecutionStatus, MemoryStore, Project};
use serde_json::Value;

pub(super) const ADMIN: &str = "adhoc-admin-token";
pub(super) const NOBODY: &str = "adhoc-nobody-token";

/// Project `ops` with nodes web1, web2 (tag web) and db1 (tag db), all run
/// by the local executor; an admin token and one without grants.
pub(super) async fn state(dir: &std::path::Path) -> ApiState {
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
    post_as(s, uri, token, "application/json", body).await
}

/// A POST with this content type; the answer's status and JSON.
pub(super) async fn post_as(
    s: &ApiState,
    uri: &str,
    token: &str,
    content_type: &str,
    body: &str,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(TOKEN_HEADER, token)
        .header("content-type", content_type)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let (status, _, bytes) = answer(s, req).await;
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v)
}

/// Waits for the execution to end: its status, its log as `node: text`
/// lines, and whether it is ad-hoc (has no job).
pub(super) async fn finished_log(s: &ApiState, id: u64) -> (ExecutionStatus, String, bool) {
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

/// Without a filter (or with a blank one) a command runs on the server's
/// own node only, as Rundeck runs it; the audit names that node.
#[tokio::test]
async fn a_command_without_a_filter_runs_on_the_server_node() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path()).await;
    for body in [
        r#"{"exec": "echo here on ${node.name}"}"#,
        r#"{"exec": "echo here on ${node.name}", "filter": "  "}"#,
    ] {
        let (status, v) = post(&s, "/api/59/project/ops/run/command", ADMIN, body).await;
        assert_eq!(status, StatusCode::OK, "{body} -> {v}");
        let (st, log, _) = finished_log(&s, v["execution"]["id"].as_u64().unwrap()).await;
        assert_eq!(st, ExecutionStatus::Succeeded, "{log}");
        assert_eq!(log, "localhost: here on localhost");
    }
    let audit = s
        .store
        .query_audit(&Default::default())
        .await
        .unwrap()
        .items;
    let filters: Vec<_> = audit
        .iter()
        .filter(|a| a.resource_type == "adhoc")
        .map(|a| a.detail["filter"].clone())
        .collect();
    assert_eq!(filters, ["name: localhost", "name: localhost"], "{audit:?}");
    // a caller without grants gets nothing run on the server node either
    let (status, _) = post(
        &s,
        "/api/59/project/ops/run/command",
        NOBODY,
        r#"{"exec": "true"}"#,
    )
    .await;
    assert_ne!(status, StatusCode::OK);
}

/// `project.disable.executions` stops ad-hoc runs as it stops job runs:
/// Rundeck's `api.error.execution.disabled`, nothing started; re-enabled, they run again.
#[tokio::test]
async fn a_project_with_executions_disabled_runs_no_adhoc_command() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path()).await;
    let mut p = s.store.get_project("ops").await.unwrap().unwrap();
    p.config
        .insert("project.disable.executions".into(), "true".into());
    s.store.update_project(&p).await.unwrap();
    let uri = "/api/59/project/ops/run/command";
    let body = r#"{"exec": "true", "filter": "web1"}"#;
    let (status, v) = post(&s, uri, ADMIN, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["errorCode"], "api.error.execution.disabled", "{v}");
    assert!(
        s.store
            .query_executions(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "nothing started"
    );
    p.config.remove("project.disable.executions");
    s.store.update_project(&p).await.unwrap();
    let (status, v) = post(&s, uri, ADMIN, body).await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn bad_requests_and_callers_without_grants_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path()).await;
    for (body, needle) in [
        (r#"{"filter": "web1"}"#, "exec"),
        (
            r#"{"exec": "true", "filter": "name: nowhere"}"#,
            "No nodes matched",
        ),
        (r#"{"exec": "true", "filter": "name: \"open"}"#, "filter"),
        (r#"{"exec": ["true"], "filter": "web1"}"#, "field exec"),
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

const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test]
async fn scripts_and_commands_come_as_rundeck_forms() {
    use crate::extract::form::test_multipart;
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path()).await;
    // multipart: the script as a `scriptFile` file part, the rest as fields
    let (ctype, body) = test_multipart(&[
        (
            "scriptFile",
            Some("say.sh"),
            "#!/bin/sh\necho multipart says $1",
        ),
        ("argString", None, "hello"),
        ("filter", None, "tags: web"),
        ("nodeThreadcount", None, "2"),
        ("nodeKeepgoing", None, "true"),
    ]);
    let (status, v) = post_as(&s, "/api/59/project/ops/run/script", ADMIN, &ctype, &body).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (st, log, adhoc) = finished_log(&s, v["execution"]["id"].as_u64().unwrap()).await;
    assert_eq!(st, ExecutionStatus::Succeeded, "{log}");
    assert!(adhoc);
    assert!(
        log.contains("web1: multipart says hello") && log.contains("web2: multipart says hello"),
        "{log}"
    );
    assert!(!log.contains("db1"), "{log}");
    // multipart with the filter in the query; an interpreter and extension
    let (ctype, body) = test_multipart(&[
        ("scriptFile", Some("plain"), "echo interpreted \"$0\""),
        ("scriptInterpreter", None, "sh"),
        ("fileExtension", None, ".sh"),
    ]);
    let (status, v) = post_as(
        &s,
        "/api/59/project/ops/run/script?filter=db1",
        ADMIN,
        &ctype,
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (st, log, _) = finished_log(&s, v["execution"]["id"].as_u64().unwrap()).await;
    assert_eq!(st, ExecutionStatus::Succeeded, "{log}");
    assert!(
        log.contains("db1: interpreted") && log.contains(".sh"),
        "{log}"
    );
    // form-urlencoded: scriptFile holds the script text
    let form = serde_urlencoded::to_string([
        ("scriptFile", "#!/bin/sh\necho form says $1"),
        ("argString", "bye"),
        ("filter", "db1"),
    ])
    .unwrap();
    let (status, v) = post_as(&s, "/api/59/project/ops/run/script", ADMIN, FORM, &form).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (st, log, _) = finished_log(&s, v["execution"]["id"].as_u64().unwrap()).await;
    assert_eq!(st, ExecutionStatus::Succeeded, "{log}");
    assert!(log.contains("db1: form says bye"), "{log}");
    // run/command takes request parameters too
    let form =
        serde_urlencoded::to_string([("exec", "echo cmd on ${node.name}"), ("filter", "web2")])
            .unwrap();
    let (status, v) = post_as(&s, "/api/59/project/ops/run/command", ADMIN, FORM, &form).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (st, log, _) = finished_log(&s, v["execution"]["id"].as_u64().unwrap()).await;
    assert_eq!(st, ExecutionStatus::Succeeded, "{log}");
    assert!(log.contains("web2: cmd on web2"), "{log}");
}

#[tokio::test]
async fn bad_forms_and_callers_without_grants_run_nothing() {
    use crate::extract::form::test_multipart;
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path()).await;
    let uri = "/api/59/project/ops/run/script";
    let (mp, no_script) = test_multipart(&[("filter", None, "web1")]);
    let (_, empty_script) =
        test_multipart(&[("scriptFile", Some("e.sh"), "  "), ("filter", None, "web1")]);
    let (_, bad_count) = test_multipart(&[
        ("scriptFile", Some("a.sh"), "echo x"),
        ("filter", None, "web1"),
        ("nodeThreadcount", None, "many"),
    ]);
    let (_, bad_flag) = test_multipart(&[
        ("scriptFile", Some("a.sh"), "echo x"),
        ("filter", None, "web1"),
        ("nodeKeepgoing", None, "maybe"),
    ]);
    let full = test_multipart(&[
        ("scriptFile", Some("a.sh"), "echo x"),
        ("filter", None, "web1"),
    ])
    .1;
    let truncated = &full[..full.len() - 20];
    for (ctype, body, needle) in [
        (mp.as_str(), no_script.as_str(), "scriptFile"),
        (mp.as_str(), empty_script.as_str(), "scriptFile"),
        (mp.as_str(), bad_count.as_str(), "nodeThreadcount"),
        (mp.as_str(), bad_flag.as_str(), "nodeKeepgoing"),
        (mp.as_str(), truncated, "multipart body"),
        ("multipart/form-data", full.as_str(), "boundary"),
        (FORM, "filter=web1", "scriptFile"),
        (
            FORM,
            r#"{"script": "echo x", "filter": "web1"}"#,
            "looks like JSON",
        ),
        ("text/plain", "echo x", "JSON"),
    ] {
        let (status, v) = post_as(&s, uri, ADMIN, ctype, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{needle}: {v}");
        assert_eq!(v["errorCode"], "api.error.invalid.request", "{v}");
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{needle}: {v}"
        );
    }
    let (status, v) = post_as(
        &s,
        "/api/59/project/ops/run/command",
        ADMIN,
        FORM,
        "filter=web1",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().contains("exec"), "{v}");
    // no grant: refused whatever the body holds, and nothing leaks of it
    for body in [full.as_str(), no_script.as_str()] {
        let (status, v) = post_as(&s, uri, NOBODY, &mp, body).await;
        assert!(
            matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
            "{v}"
        );
        assert!(!v.to_string().contains("web1"), "{v}");
    }
    assert!(s
        .store
        .query_executions(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty());
}
