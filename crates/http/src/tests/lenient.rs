//! Request bodies read as Rundeck reads them: each route's documented body
//! with keys Foredeck does not know and `null` values still does what the
//! known keys say; a run takes a form body like query parameters; the
//! bodies real clients send (pyrundeck, async-rundeck) start jobs; a known
//! key of the wrong type is a 400 naming it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::adhoc::{finished_log, post_as, state, ADMIN};
use super::*;
use crate::auth::TOKEN_HEADER;
use crate::extract::form::test_multipart;
use crate::tests::answer;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use foredeck_core::ExecutionStatus;
use serde_json::{json, Value};

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";
const GREET: &str = "33333333-3333-3333-3333-333333333333";
const SPARE: &str = "44444444-4444-4444-4444-444444444444";
const JOBS: &str = r#"
- name: greet
  uuid: 33333333-3333-3333-3333-333333333333
  multipleExecutions: true
  options:
    - name: greeting
      value: default-greeting
  sequence:
    commands:
      - exec: echo "greeting ${option.greeting}"
- name: spare
  uuid: 44444444-4444-4444-4444-444444444444
  sequence:
    commands:
      - exec: "true"
"#;
const POLICY: &str = "description: ops read jobs\ncontext:\n  application: rundeck\nfor:\n  project:\n    - allow: read\nby:\n  group: ops\n";
const PROJECT_POLICY: &str =
    "description: ops read jobs\nfor:\n  job:\n    - allow: read\nby:\n  group: ops\n";

async fn send(
    s: &ApiState,
    method: Method,
    uri: &str,
    content_type: &str,
    body: &str,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(TOKEN_HEADER, ADMIN)
        .header("content-type", content_type)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let (status, _, bytes) = answer(s, req).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Project `ops` (nodes from a file, run locally) with jobs `greet` and
/// `spare`.
async fn loaded(dir: &std::path::Path) -> ApiState {
    let s = state(dir).await;
    let (status, v) = send(
        &s,
        Method::POST,
        "/api/59/project/ops/jobs/import",
        "application/yaml",
        JOBS,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["succeeded"].as_array().unwrap().len(), 2, "{v}");
    s
}

/// Starts a run of `greet` with this body; the execution's log once ended.
async fn greet_with(s: &ApiState, route: &str, ctype: &str, body: &str) -> (u64, String) {
    let (status, v) = post_as(
        s,
        &format!("/api/59/job/{GREET}/{route}"),
        ADMIN,
        ctype,
        body,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}: {v}");
    let id = v["id"].as_u64().unwrap();
    let (st, log, _) = finished_log(s, id).await;
    assert_eq!(st, ExecutionStatus::Succeeded, "{log}");
    (id, log)
}

#[tokio::test]
async fn every_rundeck_body_takes_unknown_keys_and_nulls() {
    let dir = tempfile::tempdir().unwrap();
    let s = loaded(dir.path()).await;
    // what some rows refer to: a finished execution, a webhook
    let (done, _) = greet_with(&s, "run", JSON, "").await;
    let (status, hook) = send(
        &s,
        Method::POST,
        "/api/59/project/ops/webhook",
        JSON,
        &json!({"name": "w0", "config": {"jobId": GREET}}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let hook = hook["id"].as_str().unwrap().to_owned();
    let (form_ct, form_script) = test_multipart(&[
        ("scriptFile", Some("a.sh"), "echo form script"),
        ("filter", None, "db1"),
        ("nodeThreadCount", None, "2"),
    ]);

    let rows: Vec<(&str, Method, String, &str, String, StatusCode)> = vec![
        (
            "create project",
            Method::POST,
            "/api/59/projects".into(),
            JSON,
            json!({"name": "extra", "description": null, "config": {"a": "b", "gone": null},
                   "url": "http://elsewhere", "unknownKey": {"x": 1}})
            .to_string(),
            StatusCode::CREATED,
        ),
        (
            "replace project config",
            Method::PUT,
            "/api/59/project/extra/config".into(),
            JSON,
            json!({"k1": "v1", "gone": null}).to_string(),
            StatusCode::OK,
        ),
        (
            "set one config key",
            Method::PUT,
            "/api/59/project/extra/config/k2".into(),
            JSON,
            json!({"key": "k2", "value": "v2", "comment": "ignored"}).to_string(),
            StatusCode::OK,
        ),
        (
            "system ACL policy",
            Method::POST,
            "/api/59/system/acl/lenient.aclpolicy".into(),
            JSON,
            json!({"contents": POLICY, "id": 7}).to_string(),
            StatusCode::CREATED,
        ),
        (
            "project ACL policy",
            Method::POST,
            "/api/59/project/extra/acl/lenient.aclpolicy".into(),
            JSON,
            json!({"contents": PROJECT_POLICY, "path": "x"}).to_string(),
            StatusCode::CREATED,
        ),
        (
            "token",
            Method::POST,
            "/api/59/tokens".into(),
            JSON,
            json!({"user": "bob", "roles": ["dev"], "duration": "1h", "name": null,
                   "expiration": "2030-01-01"})
            .to_string(),
            StatusCode::CREATED,
        ),
        (
            "token for a user in the path",
            Method::POST,
            "/api/59/tokens/carol".into(),
            JSON,
            json!({"roles": "dev", "user": null, "creator": "x"}).to_string(),
            StatusCode::CREATED,
        ),
        (
            "ad-hoc command",
            Method::POST,
            "/api/59/project/ops/run/command".into(),
            JSON,
            json!({"exec": "echo adhoc", "filter": "web1", "asUser": null,
                   "nodeThreadCount": 3, "project": "ops"})
            .to_string(),
            StatusCode::OK,
        ),
        (
            "ad-hoc script",
            Method::POST,
            "/api/59/project/ops/run/script".into(),
            JSON,
            json!({"script": "echo script", "filter": "web2", "argString": null, "x": [1]})
                .to_string(),
            StatusCode::OK,
        ),
        (
            "ad-hoc script as a form",
            Method::POST,
            "/api/59/project/ops/run/script".into(),
            form_ct.as_str(),
            form_script,
            StatusCode::OK,
        ),
        (
            "webhook create",
            Method::POST,
            "/api/59/project/ops/webhook".into(),
            JSON,
            json!({"name": "w1", "user": null, "enabled": true, "id": 99, "authToken": "x",
                   "config": {"jobId": GREET, "shell": "rm -rf /"}})
            .to_string(),
            StatusCode::CREATED,
        ),
        (
            "webhook update",
            Method::POST,
            format!("/api/59/project/ops/webhook/{hook}"),
            JSON,
            json!({"name": "w0 renamed", "uuid": "u", "creator": "c", "project": "ops",
                   "roles": null, "config": {"jobId": GREET}})
            .to_string(),
            StatusCode::OK,
        ),
        (
            "run",
            Method::POST,
            format!("/api/59/job/{GREET}/run"),
            JSON,
            json!({"options": {"greeting": "from run"}, "logLevel": null, "meta": {}}).to_string(),
            StatusCode::OK,
        ),
        (
            "run by POST executions",
            Method::POST,
            format!("/api/59/job/{GREET}/executions"),
            JSON,
            json!({"argString": "-greeting from-executions", "runAtTime": null, "x": 1})
                .to_string(),
            StatusCode::OK,
        ),
        (
            "retry",
            Method::POST,
            format!("/api/59/job/{GREET}/retry/{done}"),
            JSON,
            json!({"options": {"greeting": "from retry"}, "failedNodes": null, "why": "x"})
                .to_string(),
            StatusCode::OK,
        ),
        (
            "bulk delete jobs",
            Method::POST,
            "/api/59/jobs/delete".into(),
            JSON,
            json!({"ids": [SPARE], "idlist": null, "x": 1}).to_string(),
            StatusCode::OK,
        ),
        (
            "bulk delete executions",
            Method::POST,
            "/api/59/executions/delete".into(),
            JSON,
            json!({"ids": [done], "x": 1}).to_string(),
            StatusCode::OK,
        ),
    ];
    let mut runs = Vec::new();
    for (name, method, uri, ctype, body, want) in rows {
        let (status, v) = send(&s, method, &uri, ctype, &body).await;
        assert_eq!(status, want, "{name}: {body} -> {v}");
        assert_ne!(v["error"], true, "{name}: {v}");
        if uri.contains(GREET) && !uri.contains("webhook") {
            runs.push((name, v["id"].as_u64().unwrap()));
        }
    }

    // the known keys did what they say; the nulls left keys out
    let (_, config) = send(&s, Method::GET, "/api/59/project/extra/config", JSON, "").await;
    assert_eq!(config["k1"], "v1", "{config}");
    assert_eq!(config["k2"], "v2", "{config}");
    assert!(
        config.get("gone").is_none() && config.get("a").is_none(),
        "{config}"
    );
    let (_, hook) = send(
        &s,
        Method::GET,
        &format!("/api/59/project/ops/webhook/{hook}"),
        JSON,
        "",
    )
    .await;
    assert_eq!(hook["name"], "w0 renamed", "{hook}");
    let (_, hooks) = send(&s, Method::GET, "/api/59/project/ops/webhooks", JSON, "").await;
    assert!(!hooks.to_string().contains("rm -rf"), "{hooks}");
    for ((name, id), want) in runs
        .into_iter()
        .zip(["from run", "from-executions", "from retry"])
    {
        let (st, log, _) = finished_log(&s, id).await;
        assert_eq!(st, ExecutionStatus::Succeeded, "{name}: {log}");
        assert!(log.contains(&format!("greeting {want}")), "{name}: {log}");
    }
    assert!(s.store.get_job("ops", SPARE).await.unwrap().is_none());
    assert!(s.store.get_execution(done).await.unwrap().is_none());
}

#[tokio::test]
async fn a_run_takes_a_form_body_like_query_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let s = loaded(dir.path()).await;
    let form = serde_urlencoded::to_string([
        ("option.greeting", "from a form"),
        ("loglevel", "DEBUG"),
        ("unknown", "ignored"),
    ])
    .unwrap();
    let (id, log) = greet_with(&s, "run", FORM, &form).await;
    assert!(log.contains("greeting from a form"), "{log}");
    let e = s.store.get_execution(id).await.unwrap().unwrap();
    assert_eq!(e.loglevel, foredeck_core::model::LogLevel::Debug);

    let form = serde_urlencoded::to_string([("argString", "-greeting by-argString")]).unwrap();
    let (_, log) = greet_with(&s, "executions", FORM, &form).await;
    assert!(log.contains("greeting by-argString"), "{log}");

    // multipart: fields are parameters, file parts are not read
    let (ct, body) = test_multipart(&[
        ("option.greeting", None, "from multipart"),
        ("upload", Some("f.txt"), "not read"),
    ]);
    let (_, log) = greet_with(&s, "run", &ct, &body).await;
    assert!(log.contains("greeting from multipart"), "{log}");

    // the form's field wins over the query's
    let (status, v) = post_as(
        &s,
        &format!("/api/59/job/{GREET}/run?option.greeting=from-query"),
        ADMIN,
        FORM,
        "option.greeting=from-body",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, log, _) = finished_log(&s, v["id"].as_u64().unwrap()).await;
    assert!(log.contains("greeting from-body"), "{log}");

    // JSON sent with a form's content type is named, not run without it
    let (status, v) = post_as(
        &s,
        &format!("/api/59/job/{GREET}/run"),
        ADMIN,
        FORM,
        r#"{"options": {"greeting": "x"}}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("looks like JSON"),
        "{v}"
    );
}

#[tokio::test]
async fn the_bodies_of_python_clients_start_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let s = loaded(dir.path()).await;
    // pyrundeck 0.10 run_job: every parameter, None as null; logLevel is
    // not a key Rundeck reads
    for (body, want) in [
        (
            json!({"logLevel": null, "asUser": null, "filter": null,
                   "options": {"greeting": "from pyrundeck"}}),
            "from pyrundeck",
        ),
        (
            json!({"logLevel": "DEBUG", "asUser": null, "filter": null,
                   "argString": "-greeting py-args"}),
            "py-args",
        ),
    ] {
        let (_, log) = greet_with(&s, "run", JSON, &body.to_string()).await;
        assert!(log.contains(&format!("greeting {want}")), "{body}: {log}");
    }
    // async-rundeck 0.1 execute_job: pydantic field names (snake_case,
    // which Rundeck does not read either) to `executions`
    let body = json!({"arg_string": null, "log_level": "DEBUG", "as_user": null,
                      "filter": null, "run_at_time": null,
                      "options": {"greeting": "from async-rundeck"}});
    let (id, log) = greet_with(&s, "executions", JSON, &body.to_string()).await;
    assert!(log.contains("greeting from async-rundeck"), "{log}");
    let e = s.store.get_execution(id).await.unwrap().unwrap();
    assert_eq!(
        e.loglevel,
        foredeck_core::model::LogLevel::Info,
        "log_level is not read"
    );
}

#[tokio::test]
async fn known_keys_of_the_wrong_type_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let s = loaded(dir.path()).await;
    let run = format!("/api/59/job/{GREET}/run");
    let rows = [
        (
            Method::POST,
            run.as_str(),
            json!({"argString": 5}),
            "field argString",
        ),
        (
            Method::POST,
            run.as_str(),
            json!({"options": {"greeting": {"a": 1}}}),
            "field options.greeting",
        ),
        (
            Method::POST,
            run.as_str(),
            json!({"options": ["x"]}),
            "field options",
        ),
        (
            Method::POST,
            "/api/59/projects",
            json!({"name": ["x"]}),
            "field name",
        ),
        (
            Method::POST,
            "/api/59/projects",
            json!({"description": "d"}),
            "name",
        ),
        (
            Method::POST,
            "/api/59/projects",
            json!({"name": "y", "config": {"k": 1}}),
            "field config.k",
        ),
        (
            Method::POST,
            "/api/59/tokens",
            json!({"user": "u", "duration": 5}),
            "field duration",
        ),
        (
            Method::PUT,
            "/api/59/project/ops/config",
            json!({"k": true}),
            "field k",
        ),
        (
            Method::PUT,
            "/api/59/project/ops/config/k",
            json!({"value": 1}),
            "field value",
        ),
        (
            Method::POST,
            "/api/59/system/acl/x.aclpolicy",
            json!({"contents": ["x"]}),
            "field contents",
        ),
        (
            Method::POST,
            "/api/59/project/ops/run/command",
            json!({"exec": "echo x", "filter": "web1", "nodeThreadcount": "many"}),
            "field nodeThreadcount",
        ),
        (
            Method::POST,
            "/api/59/jobs/delete",
            json!({"ids": "x"}),
            "field ids",
        ),
    ];
    for (method, uri, body, needle) in rows {
        let (status, v) = send(&s, method, uri, JSON, &body.to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri} {body}: {v}");
        assert_eq!(v["errorCode"], "api.error.invalid.request", "{v}");
        let message = v["message"].as_str().unwrap();
        assert!(message.contains(needle), "{uri} {body}: {message}");
    }
    // nothing of it was done
    assert!(s.store.get_project("y").await.unwrap().is_none());
    let runs = s
        .store
        .query_executions(&Default::default())
        .await
        .unwrap()
        .items;
    assert!(runs.is_empty(), "{runs:?}");
}
