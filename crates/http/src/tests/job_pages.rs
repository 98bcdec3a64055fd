//! The job list's paging (`max`, `offset`) as python-rundeck's
//! `jobs.iter()` walks it: every page request ends, and the pages cover
//! every job the caller may see exactly once, in the whole list's order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::auth::{hash_token, TOKEN_HEADER};
use crate::tests::answer;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use foredeck_core::authorizer::{AuthContext, Decision, Resource, Subject};
use foredeck_core::store::ApiToken;
use foredeck_core::{MemoryStore, Project};
use serde_json::Value;

const ADMIN: &str = "pages-admin-token";
/// Reads the project and the jobs of group `public` only.
const DEV: &str = "pages-dev-token";
const JOBS: usize = 31;

#[derive(Debug)]
struct PublicOnly;

impl Authorizer for PublicOnly {
    fn decide(&self, s: &Subject, action: &str, r: &Resource, _: &AuthContext) -> Decision {
        if s.groups.contains("admin") {
            return Decision::Allow;
        }
        let public = r.attributes.get("group").map(String::as_str) == Some("public");
        match r.kind.as_str() {
            "project" if action == "read" => Decision::Allow,
            "job" if public && action == "read" => Decision::Allow,
            _ => Decision::Reject,
        }
    }

    fn allows_every(&self, s: &Subject, _: &str, _: &str, _: &AuthContext) -> bool {
        s.groups.contains("admin")
    }
}

async fn get(s: &ApiState, uri: &str, token: &str) -> (StatusCode, Value) {
    let req = Request::builder()
        .uri(uri)
        .header(TOKEN_HEADER, token)
        .body(Body::empty())
        .unwrap();
    let (status, _, bytes) = answer(s, req).await;
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// Project `p` with [`JOBS`] jobs, a third each in `public`, `ops` and at
/// the top level.
async fn state() -> ApiState {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    for (id, secret, role) in [("a", ADMIN, "admin"), ("d", DEV, "dev")] {
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
    store.create_project(&Project::new("p")).await.unwrap();
    let s = ApiState::new(store, Arc::new(PublicOnly));
    let mut yaml = String::new();
    for i in 0..JOBS {
        let group = ["  group: public\n", "  group: ops\n", ""][i % 3];
        yaml.push_str(&format!(
            "- name: job-{i:02}\n{group}  sequence:\n    commands:\n      - exec: 'true'\n"
        ));
    }
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/59/project/p/jobs/import")
        .header(TOKEN_HEADER, ADMIN)
        .header("content-type", "application/yaml")
        .body(Body::from(yaml))
        .unwrap();
    let (status, _, body) = answer(&s, req).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    s
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect()
}

/// python-rundeck 2.0's `iter()`: `offset` from 0 (and `max` when a page
/// size is given) until a page is empty or short. The ids in the order
/// seen, and how many requests it took.
async fn walk(s: &ApiState, token: &str, query: &str, page: Option<usize>) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut offset = 0;
    for requests in 1..=JOBS + 2 {
        let max = page.map(|m| format!("&max={m}")).unwrap_or_default();
        let (status, v) = get(
            s,
            &format!("/api/59/project/p/jobs?offset={offset}{max}{query}"),
            token,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let got = ids(&v);
        if got.is_empty() || page.is_some_and(|m| got.len() < m) {
            seen.extend(got);
            return (seen, requests);
        }
        offset += got.len();
        seen.extend(got);
    }
    panic!("the walk over {query:?} with pages of {page:?} did not end");
}

#[tokio::test]
async fn pages_cover_every_visible_job_once_and_end() {
    let s = state().await;
    for (token, query, visible) in [
        (ADMIN, "", JOBS),
        (ADMIN, "&groupPath=ops", JOBS / 3),
        (DEV, "", JOBS.div_ceil(3)),
    ] {
        let (status, whole) = get(&s, &format!("/api/59/project/p/jobs?x=1{query}"), token).await;
        assert_eq!(status, StatusCode::OK, "{whole}");
        let whole = ids(&whole);
        assert_eq!(whole.len(), visible, "{query}");
        for page in [
            None,
            Some(1),
            Some(4),
            Some(visible),
            Some(visible + 1),
            Some(100),
        ] {
            let (seen, requests) = walk(&s, token, query, page).await;
            assert_eq!(seen, whole, "{query} pages of {page:?}");
            let pages = page.map_or(1, |m| visible / m + 1);
            assert!(
                requests <= pages + 1,
                "{query} pages of {page:?}: {requests} requests"
            );
        }
    }
    // a page in the middle, and past the end
    let (_, all) = get(&s, "/api/59/project/p/jobs", ADMIN).await;
    let all = ids(&all);
    let (_, middle) = get(&s, "/api/59/project/p/jobs?offset=5&max=3", ADMIN).await;
    assert_eq!(ids(&middle), all[5..8]);
    let (_, rest) = get(&s, "/api/59/project/p/jobs?offset=29", ADMIN).await;
    assert_eq!(ids(&rest), all[29..]);
    let (_, past) = get(&s, "/api/59/project/p/jobs?offset=1000&max=10", ADMIN).await;
    assert_eq!(past, Value::Array(vec![]));
    // max=0 is no limit, as Rundeck reads it
    let (_, zero) = get(&s, "/api/59/project/p/jobs?max=0", ADMIN).await;
    assert_eq!(ids(&zero), all);
}

#[tokio::test]
async fn bad_paging_values_name_their_parameter() {
    let s = state().await;
    for (query, name) in [
        ("max=-1", "max"),
        ("max=ten", "max"),
        ("max=2.5", "max"),
        ("offset=-3", "offset"),
        ("offset=x&max=2", "offset"),
    ] {
        let (status, v) = get(&s, &format!("/api/59/project/p/jobs?{query}"), ADMIN).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {v}");
        assert_eq!(v["errorCode"], "api.error.invalid.request", "{v}");
        let message = v["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("parameter {name}")),
            "{query}: {message}"
        );
    }
}
