//! Router tests: every route with success, denied and bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::auth::{hash_token, TOKEN_HEADER};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use foredeck_core::store::ApiToken;
use foredeck_core::MemoryStore;
use serde_json::Value;
use tower::ServiceExt;

const ADMIN: &str = "admin-secret-token";
const NOBODY: &str = "user-without-grants";
const EXPIRED: &str = "expired-admin-token";

async fn state() -> ApiState {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let now = chrono::Utc::now();
    for (id, secret, roles, expiration) in [
        ("t1", ADMIN, vec!["admin".to_owned()], None),
        ("t2", NOBODY, vec!["dev".to_owned()], None),
        (
            "t3",
            EXPIRED,
            vec!["admin".to_owned()],
            Some(now - chrono::Duration::seconds(1)),
        ),
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
                expiration,
            })
            .await
            .unwrap();
    }
    ApiState::new(store, Arc::new(RoleAuthorizer::new(["admin"])))
}

/// Sends a request through the router: status, headers and the body as
/// sent. Every router test module's request helper ends here.
pub(crate) async fn answer(
    state: &ApiState,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, axum::body::Bytes) {
    let resp = router(state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, bytes)
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

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn assert_error(body: &str, code: &str) {
    let v = json(body);
    assert_eq!(v["error"], true, "{body}");
    assert_eq!(v["apiversion"], 59, "{body}");
    assert_eq!(v["errorCode"], code, "{body}");
    assert!(
        v["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn api_versions_outside_14_to_59_get_rundecks_error() {
    let s = state().await;
    for (v, reason) in [
        ("13", "Minimum supported version: 14"),
        ("0", "Minimum supported version: 14"),
        ("abc", "Minimum supported version: 14"),
        ("60", "Current version: 59"),
    ] {
        let (status, body) = call(
            &s,
            Method::GET,
            &format!("/api/{v}/system/info"),
            Some(ADMIN),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert_error(&body, "api.error.api-version.unsupported");
        assert!(body.contains(reason), "{body}");
    }
    for v in [14, 45, 59] {
        let (status, _) = call(
            &s,
            Method::GET,
            &format!("/api/{v}/system/info"),
            Some(ADMIN),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
}

#[tokio::test]
async fn tokens_authenticate_by_header_or_query() {
    let s = state().await;
    for token in [None, Some(""), Some("wrong"), Some(EXPIRED)] {
        let (status, body) = call(&s, Method::GET, "/api/59/system/info", token, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{token:?}");
        assert_error(&body, "api.error.item.unauthorized");
    }
    let (status, _) = call(
        &s,
        Method::GET,
        &format!("/api/59/system/info?authtoken={ADMIN}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Unknown routes answer 404 only to an authenticated client.
    let (status, _) = call(&s, Method::GET, "/api/59/nothing/here", None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = call(&s, Method::GET, "/api/59/nothing/here", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "api.error.invalid.request");
}

#[tokio::test]
async fn system_info_ping_and_healthcheck() {
    let s = state().await;
    let (status, body) = call(&s, Method::GET, "/api/59/system/info", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK);
    let v = json(&body);
    assert_eq!(v["system"]["rundeck"]["apiversion"], 59);
    assert_eq!(v["system"]["rundeck"]["serverUUID"], s.server_uuid.as_str());
    assert_eq!(v["system"]["timestamp"]["unit"], "ms");
    assert!(v["system"]["stats"]["uptime"]["duration"].is_u64());
    let (status, body) = call(&s, Method::GET, "/api/59/metrics/ping", Some(ADMIN), None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "pong"));
    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/metrics/healthcheck",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["store.connection"]["healthy"], true);
}

#[tokio::test]
async fn projects_create_list_get_delete() {
    let s = state().await;
    let (status, body) = call(
        &s,
        Method::POST,
        "/api/59/projects",
        Some(ADMIN),
        Some(r#"{"name":"ops","config":{"project.description":"Operations","a.b":"c"}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let v = json(&body);
    assert_eq!(v["name"], "ops");
    assert_eq!(v["description"], "Operations");
    assert_eq!(v["config"]["a.b"], "c");
    assert_eq!(v["url"], "/api/59/project/ops");

    let (status, body) = call(
        &s,
        Method::POST,
        "/api/59/projects",
        Some(ADMIN),
        Some(r#"{"name":"ops"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "api.error.item.alreadyexists");

    for bad in [
        r#"{"name":"../etc"}"#,
        r#"{"name":""}"#,
        r#"{"name":".hidden"}"#,
        r#"{"name":"a b"}"#,
        r#"{"name":5}"#,
        r#"{"name":"ok""#,
        r#"[1,2]"#,
        r#"{"name":"ok","config":{"k":1}}"#,
    ] {
        let (status, body) =
            call(&s, Method::POST, "/api/59/projects", Some(ADMIN), Some(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_error(&body, "api.error.invalid.request");
    }

    call(
        &s,
        Method::POST,
        "/api/41/projects",
        Some(ADMIN),
        Some(r#"{"name":"dev"}"#),
    )
    .await;
    let (status, body) = call(&s, Method::GET, "/api/41/projects", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<String> = json(&body)
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} {}", p["name"], p["url"]))
        .collect();
    assert_eq!(
        names,
        [
            r#""dev" "/api/41/project/dev""#,
            r#""ops" "/api/41/project/ops""#
        ]
    );

    let (status, body) = call(&s, Method::GET, "/api/59/project/ops", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["config"]["a.b"], "c");
    let (status, body) = call(&s, Method::GET, "/api/59/project/nope", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "api.error.item.doesnotexist");

    // the read-only routes remember a project they found...
    let reads = ["/api/59/project/ops/jobs", "/api/59/project/ops/executions"];
    for uri in reads {
        let (status, body) = call(&s, Method::GET, uri, Some(ADMIN), None).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    }
    let (status, _) = call(&s, Method::DELETE, "/api/59/project/ops", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&s, Method::DELETE, "/api/59/project/ops", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // ...and forget it as soon as it is deleted here
    for uri in reads {
        let (status, body) = call(&s, Method::GET, uri, Some(ADMIN), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
        assert_error(&body, "api.error.item.doesnotexist");
    }
}

/// A token without grants gets 403 (or an empty list) on every route and
/// never sees a project's name or configuration.
#[tokio::test]
async fn a_subject_without_grants_sees_nothing() {
    let s = state().await;
    call(
        &s,
        Method::POST,
        "/api/59/projects",
        Some(ADMIN),
        Some(r#"{"name":"secret-proj","config":{"token":"s3cr3t-value"}}"#),
    )
    .await;
    let routes = [
        (Method::GET, "/api/59/system/info", None),
        (Method::GET, "/api/59/metrics/ping", None),
        (Method::GET, "/api/59/metrics/healthcheck", None),
        (Method::GET, "/api/59/project/secret-proj", None),
        (Method::DELETE, "/api/59/project/secret-proj", None),
        (Method::POST, "/api/59/projects", Some(r#"{"name":"mine"}"#)),
    ];
    for (method, uri, body) in routes {
        let (status, text) = call(&s, method.clone(), uri, Some(NOBODY), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}: {text}");
        assert_error(&text, "api.error.item.unauthorized");
        assert!(!text.contains("s3cr3t-value"), "{text}");
    }
    let (status, text) = call(&s, Method::GET, "/api/59/projects", Some(NOBODY), None).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "[]"));
    // Nothing was changed.
    let (status, _) = call(
        &s,
        Method::GET,
        "/api/59/project/secret-proj",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&s, Method::GET, "/api/59/project/mine", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn overload_and_oversized_bodies_are_refused() {
    let mut s = state().await;
    s.limits.max_body = 64;
    let big = format!(r#"{{"name":"p","config":{{"k":"{}"}}}}"#, "x".repeat(1000));
    let (status, _) = call(
        &s,
        Method::POST,
        "/api/59/projects",
        Some(ADMIN),
        Some(&big),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // No capacity at all (token lookups have their own budget on top of
    // the in-flight limit): every request is shed at once with 503.
    s.limits.max_in_flight = 0;
    s.limits.max_unauthenticated = 0;
    let (status, body) = call(&s, Method::GET, "/api/59/system/info", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_error(&body, "api.error.overloaded");
}

mod adhoc;
mod exec_filters;
mod item9;
mod job_pages;
mod jobs;
mod lenient;
mod nodes_config;
mod run_url;
mod scheduled;
mod stream;
mod system;
mod waiting;
mod webhooks;
mod xml;
