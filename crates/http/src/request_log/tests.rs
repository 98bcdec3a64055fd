//! The access log as an operator reads it: tracing's JSON output captured
//! while requests go through the router.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::security_tests::{env, Env, ADMIN, PASSWORD};
use crate::ApiState;
use axum::http::{Method, StatusCode};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// What the subscriber wrote.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// Every line, each a JSON object (the test's format is JSON).
    fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// The lines of the access log's target with this message and request
    /// id.
    fn of(&self, message: &str, id: &str) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter(|l| {
                l["target"] == super::TARGET
                    && l["fields"]["message"] == message
                    && l["fields"]["request_id"] == id
            })
            .collect()
    }

    /// The one access line of request `id`.
    fn access(&self, id: &str) -> Value {
        let found = self.of("request", id);
        assert_eq!(found.len(), 1, "{id}: {}", self.text());
        found.into_iter().next().unwrap()
    }
}

/// Everything at debug and above, as JSON lines, while the guard lives (the
/// test's runtime is the current thread's).
fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let out = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(out.clone())
        .finish();
    (out, tracing::subscriber::set_default(subscriber))
}

fn request_id(a: &crate::security_tests::Answer) -> String {
    a.headers[super::REQUEST_ID_HEADER]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn each_request_logs_method_route_status_user_and_the_id_it_answers() {
    let (out, _guard) = capture();
    let env = env().await;
    let a = env
        .call(Method::GET, "/api/59/system/info")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let id = request_id(&a);
    let line = out.access(&id);
    assert_eq!(line["level"], "INFO", "{line}");
    let f = &line["fields"];
    assert_eq!(f["method"], "GET", "{line}");
    assert_eq!(f["route"], "/api/{v}/system/info", "{line}");
    assert_eq!(f["status"], 200, "{line}");
    assert_eq!(f["user"], "root", "{line}");
    assert!(f["duration_ms"].as_f64().unwrap() >= 0.0, "{line}");

    // ids are new for each request
    let b = env
        .call(Method::GET, "/api/59/system/info")
        .token(ADMIN)
        .send()
        .await;
    assert_ne!(request_id(&b), id);

    // a proxy's sane id is kept; one with a space or too long is replaced
    let a = env
        .call(Method::GET, "/api/59/system/info")
        .token(ADMIN)
        .header("X-Request-Id", "edge-7f3a/01")
        .send()
        .await;
    assert_eq!(request_id(&a), "edge-7f3a/01");
    assert_eq!(out.access("edge-7f3a/01")["fields"]["user"], "root");
    for bad in ["two words".to_owned(), "x".repeat(129)] {
        let a = env
            .call(Method::GET, "/api/59/system/info")
            .token(ADMIN)
            .header("X-Request-Id", &bad)
            .send()
            .await;
        let id = request_id(&a);
        assert_ne!(id, bad);
        out.access(&id);
    }

    // no credentials: no user
    let a = env.call(Method::GET, "/api/59/system/info").send().await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let line = out.access(&request_id(&a));
    assert_eq!(line["fields"]["status"], 403, "{line}");
    assert!(line["fields"].get("user").is_none(), "{line}");
}

#[tokio::test]
async fn a_4xx_reason_is_logged_at_debug_and_a_5xx_at_error() {
    let (out, _guard) = capture();
    let env = env().await;
    let a = env
        .call(Method::GET, "/api/59/project/no-such-project")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    let id = request_id(&a);
    let refused = out.of("request refused", &id);
    assert_eq!(refused.len(), 1, "{}", out.text());
    assert_eq!(refused[0]["level"], "DEBUG");
    let f = &refused[0]["fields"];
    assert_eq!(f["status"], 404);
    assert_eq!(f["user"], "root");
    assert_eq!(f["route"], "/api/{v}/project/{project}");
    assert_eq!(f["code"], "api.error.item.doesnotexist");
    assert_eq!(f["reason"], "Project does not exist: no-such-project");
    assert_eq!(out.access(&id)["fields"]["status"], 404);

    // a server without key storage answers its storage routes 503
    let bare = Env {
        state: ApiState::new(env.state.store.clone(), env.state.authorizer.clone()),
        store: env.store.clone(),
    };
    let a = bare
        .call(Method::GET, "/api/59/storage/keys/some/key")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.body);
    let id = request_id(&a);
    let failed = out.of("request failed", &id);
    assert_eq!(failed.len(), 1, "{}", out.text());
    assert_eq!(failed[0]["level"], "ERROR");
    let f = &failed[0]["fields"];
    assert_eq!(f["status"], 503);
    assert_eq!(f["code"], "api.error.storage.unavailable");
    assert_eq!(f["user"], "root");
    assert!(out.of("request refused", &id).is_empty());
}

#[tokio::test]
async fn no_token_password_path_secret_or_option_value_is_logged() {
    let (out, _guard) = capture();
    let env = env().await;
    env.project("p").await;
    let job = "10900000-0000-4000-8000-000000000010";
    env.import_one(
        "p",
        "application/yaml",
        format!(
            "- name: j\n  uuid: {job}\n  options:\n    - {{name: pw, secure: true, valueExposed: true, regex: 'given-.*'}}\n    - {{name: plain}}\n  sequence:\n    commands:\n      - exec: 'echo ran ${{option.plain}}'\n"
        ),
    )
    .await;

    // the token as header and as query parameter
    let a = env
        .call(
            Method::GET,
            &format!("/api/59/system/info?authtoken={ADMIN}"),
        )
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(out.access(&request_id(&a))["fields"]["user"], "root");

    // a form login: the user is logged, never the password
    let a = env
        .call(Method::POST, "/j_security_check")
        .body(
            "application/x-www-form-urlencoded",
            format!("j_username=olga&j_password={}", PASSWORD.replace(' ', "+")),
        )
        .send()
        .await;
    assert_eq!(a.status, StatusCode::FOUND, "{}", a.body);
    let line = out.access(&request_id(&a));
    assert_eq!(line["fields"]["user"], "olga", "{line}");
    assert_eq!(line["fields"]["route"], "/j_security_check", "{line}");

    // a run with a secure and a plain option value
    let run = format!("/api/59/job/{job}/run");
    let a = env
        .call(Method::POST, &run)
        .token(ADMIN)
        .json(r#"{"options":{"pw":"given-s3cr3t-value","plain":"plain-option-value"}}"#)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let (_, log) = env.finished(a.json()["id"].as_u64().unwrap()).await;
    assert!(log.contains("ran plain-option-value"), "it ran: {log}");
    assert_eq!(
        out.access(&request_id(&a))["fields"]["route"],
        "/api/{v}/job/{id}/run"
    );
    // a secure value refused: its reason is logged, not the value
    let a = env
        .call(Method::POST, &run)
        .token(ADMIN)
        .json(r#"{"options":{"pw":"refused-s3cr3t-value"}}"#)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert_eq!(out.of("request refused", &request_id(&a)).len(), 1);

    // a webhook's token is its path: the route is logged, not the path,
    // also where the answer quotes the path
    let a = env
        .call(Method::POST, "/api/59/webhook/hook-s3cr3t-token")
        .json("{}")
        .send()
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    let a = env
        .call(Method::POST, "/api/99/webhook/hook-s3cr3t-token")
        .json("{}")
        .send()
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert!(a.body.contains("hook-s3cr3t-token"), "{}", a.body);
    let refused = out.of("request refused", &request_id(&a));
    assert_eq!(refused.len(), 1, "{}", out.text());
    let reason = refused[0]["fields"]["reason"].as_str().unwrap();
    assert!(reason.contains("/api/{v}/webhook/{token}"), "{reason}");

    let text = out.text();
    assert!(text.contains("foredeck::access"), "{text}");
    for secret in [
        ADMIN,
        PASSWORD,
        "correct+horse",
        "given-s3cr3t-value",
        "refused-s3cr3t-value",
        "plain-option-value",
        "hook-s3cr3t-token",
    ] {
        assert!(!text.contains(secret), "{secret} is in the log: {text}");
    }
}
