//! Issue 19 item 9, project- and job-level routes: job workflow and
//! metadata, the job browser, project metadata, bulk toggles, deleting a
//! job's executions, output with state, readme/motd, project archives
//! (export and import).
//! Success, denied and bad input for each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod archive;
mod bulk;
mod files;
mod meta;
mod output;

use super::*;
use crate::auth::{hash_token, TOKEN_HEADER};
use crate::tests::answer;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use foredeck_core::authorizer::{AuthContext, Decision, Resource, Subject};
use foredeck_core::store::ApiToken;
use foredeck_core::{Execution, MemoryStore, Project};
use serde_json::Value;

const ADMIN: &str = "admin-secret-token";
/// Reads project `p`; reads, views, runs and toggles jobs of `public*`.
const DEV: &str = "dev-secret-token";
/// Reads project `p`; only views jobs of `public*`.
const VIEWER: &str = "viewer-secret-token";
/// Has no grant at all.
const NOBODY: &str = "user-without-grants";
/// Exports and imports projects; creates and replaces `public*` jobs
/// ([`importer`]).
const IMPORTER: &str = "importer-secret-token";

#[derive(Debug)]
struct TestAuthorizer;

impl Authorizer for TestAuthorizer {
    fn decide(&self, s: &Subject, action: &str, r: &Resource, _: &AuthContext) -> Decision {
        if s.groups.contains("admin") {
            return Decision::Allow;
        }
        if s.groups.contains("importer") {
            return importer(action, r);
        }
        let dev = s.groups.contains("dev");
        let viewer = s.groups.contains("viewer");
        if !dev && !viewer {
            return Decision::Reject;
        }
        let public = r
            .attributes
            .get("group")
            .is_some_and(|g| g == "public" || g.starts_with("public/"));
        let dev_actions = [
            "read",
            "view",
            "run",
            "kill",
            "toggle_execution",
            "toggle_schedule",
        ];
        match r.kind.as_str() {
            "project" if action == "read" => Decision::Allow,
            "node"
                if dev
                    && action == "run"
                    && r.attributes.get("nodename").map(String::as_str) == Some("localhost") =>
            {
                Decision::Allow
            }
            "job" if public && dev && dev_actions.contains(&action) => Decision::Allow,
            "job" if public && viewer && action == "view" => Decision::Allow,
            _ => Decision::Reject,
        }
    }

    fn allows_every(&self, s: &Subject, _: &str, _: &str, _: &AuthContext) -> bool {
        s.groups.contains("admin")
    }
}

/// Project archives: exports and imports project `p` or `q`, reads,
/// creates and replaces `public*` jobs (not deletes them); nothing else.
fn importer(action: &str, r: &Resource) -> Decision {
    let public = r
        .attributes
        .get("group")
        .is_some_and(|g| g == "public" || g.starts_with("public/"));
    match r.kind.as_str() {
        "project" if ["read", "export", "import"].contains(&action) => Decision::Allow,
        "job" if public && ["read", "view", "create", "update"].contains(&action) => {
            Decision::Allow
        }
        _ => Decision::Reject,
    }
}

const HELLO: &str = "11111111-1111-1111-1111-111111111111";
const SECRET: &str = "22222222-2222-2222-2222-222222222222";
const CHILD: &str = "33333333-3333-3333-3333-333333333333";
const PLAIN: &str = "44444444-4444-4444-4444-444444444444";

const JOBS: &str = r#"
- name: hello
  group: public
  uuid: 11111111-1111-1111-1111-111111111111
  description: says hello
  schedule: {crontab: '0 0 3 * * ? *'}
  sequence:
    commands:
      - exec: echo hi
        description: greet
      - script: echo from-script
      - jobref: {uuid: 33333333-3333-3333-3333-333333333333}
        errorhandler: {exec: echo handled}
      - jobref: {uuid: 22222222-2222-2222-2222-222222222222}
- name: classified
  group: secret
  uuid: 22222222-2222-2222-2222-222222222222
  description: the secret plan
  sequence:
    commands:
      - exec: echo top-secret-output
- name: child
  group: public/sub
  uuid: 33333333-3333-3333-3333-333333333333
  sequence:
    commands:
      - exec: echo child-step
      - jobref: {name: hello, group: public}
- name: plain
  group: public
  uuid: 44444444-4444-4444-4444-444444444444
  sequence:
    commands:
      - exec: echo line-one; echo line-two
      - exec: echo step-two
"#;

async fn state() -> ApiState {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let now = chrono::Utc::now();
    for (id, secret, roles) in [
        ("t1", ADMIN, vec!["admin".to_owned()]),
        ("t2", DEV, vec!["dev".to_owned()]),
        ("t3", VIEWER, vec!["viewer".to_owned()]),
        ("t4", NOBODY, vec![]),
        ("t5", IMPORTER, vec!["importer".to_owned()]),
    ] {
        store
            .create_token(&ApiToken {
                id: id.into(),
                token_hash: hash_token(secret),
                user: format!("user-{id}"),
                roles,
                name: None,
                creator: "test".into(),
                created: now,
                expiration: None,
            })
            .await
            .unwrap();
    }
    store.create_project(&Project::new("p")).await.unwrap();
    ApiState::new(store, Arc::new(TestAuthorizer))
}

/// A state with [`JOBS`] imported into project `p`.
async fn loaded() -> ApiState {
    let s = state().await;
    let (status, body) = send(
        &s,
        Method::POST,
        "/api/59/project/p/jobs/import",
        ADMIN,
        Some("application/yaml"),
        JOBS.as_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        json(&body)["succeeded"].as_array().unwrap().len(),
        4,
        "{body}"
    );
    s
}

async fn send(
    s: &ApiState,
    method: Method,
    uri: &str,
    token: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> (StatusCode, String) {
    let (status, _, bytes) = send_raw(s, method, uri, token, content_type, None, body).await;
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// The whole answer, with an optional `Accept` header.
async fn send_raw(
    s: &ApiState,
    method: Method,
    uri: &str,
    token: &str,
    content_type: Option<&str>,
    accept: Option<&str>,
    body: &[u8],
) -> (StatusCode, axum::http::HeaderMap, axum::body::Bytes) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(TOKEN_HEADER, token);
    if let Some(c) = content_type {
        req = req.header("content-type", c);
    }
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let req = req.body(Body::from(body.to_vec())).unwrap();
    answer(s, req).await
}

async fn get(s: &ApiState, uri: &str, token: &str) -> (StatusCode, String) {
    send(s, Method::GET, uri, token, None, b"").await
}

async fn post_json(s: &ApiState, uri: &str, token: &str, body: &str) -> (StatusCode, String) {
    send(
        s,
        Method::POST,
        uri,
        token,
        Some("application/json"),
        body.as_bytes(),
    )
    .await
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn assert_error(status: StatusCode, body: &str, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    let v = json(body);
    assert_eq!(v["error"], true, "{body}");
    assert_eq!(v["errorCode"], code, "{body}");
}

/// The body leaks nothing of the secret job (its uuid is checked where
/// the request did not name it).
fn no_leak(body: &str) {
    for secret in ["classified", "secret plan", "top-secret-output"] {
        assert!(!body.contains(secret), "leaked {secret:?}: {body}");
    }
}

/// Runs a job as the admin and waits for its end (a bound, not a timing
/// assertion).
async fn run_job(s: &ApiState, id: &str) -> Execution {
    let (status, body) = post_json(s, &format!("/api/59/job/{id}/run"), ADMIN, "{}").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let e = json(&body)["id"].as_u64().unwrap();
    finished(s, e).await
}

async fn finished(s: &ApiState, id: u64) -> Execution {
    for _ in 0..1_000 {
        let e = s.store.get_execution(id).await.unwrap().unwrap();
        if e.status.is_final() {
            return e;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("execution {id} did not end");
}
