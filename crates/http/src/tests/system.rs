//! System-level routes of issue 19 item 9: system/info's process figures,
//! the metrics list and thread list, the execution mode, plugins and
//! features, scheduled jobs, user roles and profile changes, and the removal
//! of expired tokens: success, denied and bad input for each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

const JOB: &str = "- name: tick\n  uuid: 11111111-2222-4333-8444-555555555555\n  schedule: {crontab: \"0 0 3 * * ?\"}\n  sequence:\n    commands:\n      - exec: 'true'\n";
const JOB_ID: &str = "11111111-2222-4333-8444-555555555555";

async fn with_job(s: &ApiState) {
    let (status, body) = call(
        s,
        Method::POST,
        "/api/59/projects",
        Some(ADMIN),
        Some(r#"{"name":"p"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/59/project/p/jobs/import")
        .header(TOKEN_HEADER, ADMIN)
        .header("content-type", "application/yaml")
        .body(Body::from(JOB))
        .unwrap();
    let (status, _, body) = answer(s, req).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
}

#[tokio::test]
async fn system_info_has_process_memory_threads_scheduler_and_no_jvm() {
    let s = state().await;
    let (status, body) = call(&s, Method::GET, "/api/59/system/info", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body)["system"].clone();
    assert_eq!(v["executions"]["executionMode"], "active");
    assert_eq!(v["executions"]["active"], true);
    for k in ["name", "vendor", "version", "implementationVersion"] {
        assert_eq!(v["jvm"][k], "none", "{k}");
    }
    let stats = &v["stats"];
    assert_eq!(stats["scheduler"]["running"], 0);
    assert_eq!(
        stats["scheduler"]["threadPoolSize"],
        s.runs.scheduler.max_running()
    );
    if cfg!(target_os = "linux") {
        // rundeck-exporter turns each of these into a gauge: numbers only
        let m = &stats["memory"];
        assert_eq!(m["unit"], "byte");
        let (total, max) = (m["total"].as_u64().unwrap(), m["max"].as_u64().unwrap());
        assert!(total > 0);
        assert_eq!(m["free"].as_u64().unwrap(), max.saturating_sub(total));
        assert!(stats["threads"]["active"].as_u64().unwrap() >= 1);
        assert!(v["os"]["version"].is_string());
    }
    assert_eq!(v["metrics"]["href"], "/api/59/metrics/metrics");
    assert_eq!(v["threadDump"]["href"], "/api/59/metrics/threads");
    assert_eq!(v["threadDump"]["contentType"], "text/plain");
    let (status, body) = call(&s, Method::GET, "/api/59/system/info", Some(NOBODY), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "api.error.item.unauthorized");
}

#[tokio::test]
async fn metrics_list_and_thread_list() {
    let s = state().await;
    for uri in ["/api/45/metrics", "/api/45/metrics/"] {
        let (status, body) = call(&s, Method::GET, uri, Some(ADMIN), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let links = &json(&body)["_links"];
        for name in ["metrics", "ping", "threads", "healthcheck"] {
            assert_eq!(links[name]["href"], format!("/api/45/metrics/{name}"));
        }
    }
    let req = Request::builder()
        .uri("/api/59/metrics/threads")
        .header(TOKEN_HEADER, ADMIN)
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = answer(&s, req).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains("tokio runtime:"), "{text}");
    if cfg!(target_os = "linux") {
        let me = format!(" id={} state=", std::process::id());
        assert!(text.contains(&me), "{text}");
    }
    for uri in ["/api/59/metrics", "/api/59/metrics/threads"] {
        let (status, body) = call(&s, Method::GET, uri, Some(NOBODY), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
        assert_error(&body, "api.error.item.unauthorized");
        let (status, _) = call(&s, Method::GET, uri, None, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
    }
}

#[tokio::test]
async fn passive_mode_refuses_runs_until_enabled_and_is_kept_in_the_store() {
    let s = state().await;
    with_job(&s).await;
    for uri in [
        "/api/59/system/executions/disable",
        "/api/59/system/executions/enable",
    ] {
        let (status, body) = call(&s, Method::POST, uri, Some(NOBODY), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
        assert_error(&body, "api.error.item.unauthorized");
    }
    let (status, _) = call(
        &s,
        Method::GET,
        "/api/59/system/executions/status",
        Some(NOBODY),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(s.runs.engine.execution_mode().is_active());

    let (status, body) = call(
        &s,
        Method::POST,
        "/api/59/system/executions/disable",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(
        (status, json(&body)),
        (
            StatusCode::OK,
            serde_json::json!({"executionMode": "passive"})
        )
    );
    let kept = s
        .store
        .get_server_setting(s.runs.scheduler.server(), "executionMode")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("passive"));
    for (uri, want) in [
        ("/api/59/system/executions/status", StatusCode::OK),
        ("/api/36/system/executions/status", StatusCode::OK),
        (
            "/api/35/system/executions/status",
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            "/api/59/system/executions/status?passiveAs503=true",
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    ] {
        let (status, body) = call(&s, Method::GET, uri, Some(ADMIN), None).await;
        assert_eq!(status, want, "{uri}");
        assert_eq!(json(&body)["executionMode"], "passive", "{uri}");
    }
    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/system/executions/status?passiveAs503=maybe",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("passiveAs503"), "{body}");
    let (_, body) = call(&s, Method::GET, "/api/59/system/info", Some(ADMIN), None).await;
    let v = json(&body);
    assert_eq!(v["system"]["executions"]["executionMode"], "passive");
    assert_eq!(v["system"]["executions"]["active"], false);

    // no run starts: job runs and ad-hoc commands are refused
    let run = format!("/api/59/job/{JOB_ID}/run");
    let (status, body) = call(&s, Method::POST, &run, Some(ADMIN), Some("{}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "api.error.execution.disabled");
    assert!(body.contains("passive"), "{body}");
    let (status, body) = call(
        &s,
        Method::POST,
        "/api/59/project/p/run/command",
        Some(ADMIN),
        Some(r#"{"exec":"true"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, "api.error.execution.disabled");
    let none = s
        .store
        .query_executions(&foredeck_core::ExecutionQuery::default())
        .await
        .unwrap();
    assert_eq!(none.total, 0);

    let (status, body) = call(
        &s,
        Method::POST,
        "/api/59/system/executions/enable",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(
        (status, json(&body)),
        (
            StatusCode::OK,
            serde_json::json!({"executionMode": "active"})
        )
    );
    let (status, body) = call(&s, Method::POST, &run, Some(ADMIN), Some("{}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        &s,
        Method::GET,
        "/api/35/system/executions/status",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["executionMode"], "active");
    let changes = s
        .store
        .query_audit(&foredeck_core::AuditQuery {
            resource_type: Some("system".into()),
            max: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = changes.items.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"disable_executions"), "{actions:?}");
    assert!(actions.contains(&"enable_executions"), "{actions:?}");
}

#[tokio::test]
async fn plugin_list_names_what_is_built_in() {
    let s = state().await;
    let (status, body) = call(&s, Method::GET, "/api/59/plugin/list", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = json(&body);
    let has = |service: &str, name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .any(|p| p["service"] == service && p["name"] == name && p["builtin"] == true)
    };
    assert!(has("NodeExecutor", "local"), "{body}");
    assert!(
        !has("NodeExecutor", "ssh"),
        "no ssh executor in this state: {body}"
    );
    assert!(has("ResourceModelSource", "file"));
    assert!(has("ResourceModelSource", "script"));
    assert!(has("LogFilter", "key-value-data"));
    assert!(list[0]["providerMetadata"].is_object());
    assert_eq!(list[0]["id"].as_str().unwrap().len(), 12);
    let (_, body) = call(&s, Method::GET, "/api/39/plugin/list", Some(ADMIN), None).await;
    assert!(json(&body)[0].get("providerMetadata").is_none(), "{body}");
    let (status, body) = call(&s, Method::GET, "/api/59/plugin/list", Some(NOBODY), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "api.error.item.unauthorized");
}

#[tokio::test]
async fn features_none_switchable_unknown_is_disabled() {
    let s = state().await;
    for uri in ["/api/59/feature", "/api/59/feature/"] {
        let (status, body) = call(&s, Method::GET, uri, Some(NOBODY), None).await;
        assert_eq!(
            (status, json(&body)),
            (StatusCode::OK, serde_json::json!([]))
        );
    }
    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/feature/runner",
        Some(NOBODY),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json(&body),
        serde_json::json!({"name": "runner", "enabled": false})
    );
    let (status, _) = call(&s, Method::GET, "/api/59/feature/runner", None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = call(&s, Method::GET, "/api/59/feature/a%01b", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "api.error.invalid.request");
}

#[tokio::test]
async fn scheduler_jobs_of_this_and_other_servers() {
    let s = state().await;
    with_job(&s).await;
    let (status, body) = call(&s, Method::GET, "/api/59/scheduler/jobs", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v.as_array().unwrap().len(), 1, "{body}");
    assert_eq!(v[0]["id"], JOB_ID);
    assert_eq!(v[0]["scheduled"], true);
    assert!(v[0]["nextScheduledExecution"].is_string(), "{body}");
    let mine = format!("/api/59/scheduler/server/{}/jobs", s.server_uuid);
    let (_, body) = call(&s, Method::GET, &mine, Some(ADMIN), None).await;
    assert_eq!(json(&body), v);
    // no grants: nothing listed
    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/scheduler/jobs",
        Some(NOBODY),
        None,
    )
    .await;
    assert_eq!(
        (status, json(&body)),
        (StatusCode::OK, serde_json::json!([]))
    );
    // a uuid that is no live server's fires nothing
    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/scheduler/server/00000000-0000-4000-8000-000000000000/jobs",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(
        (status, json(&body)),
        (StatusCode::OK, serde_json::json!([]))
    );
    // a live peer does; a passive one does not
    for (mode, listed) in [("active", 1), ("passive", 0)] {
        s.store
            .heartbeat(&foredeck_core::ServerHeartbeat {
                server: format!("peer-{mode}"),
                started: chrono::Utc::now(),
                last_seen: chrono::Utc::now(),
                info: serde_json::json!({"executionMode": mode}),
            })
            .await
            .unwrap();
        let uri = format!("/api/59/scheduler/server/peer-{mode}/jobs");
        let (_, body) = call(&s, Method::GET, &uri, Some(ADMIN), None).await;
        assert_eq!(json(&body).as_array().unwrap().len(), listed, "{mode}");
    }
    // this server, passive, fires nothing
    s.runs.set_execution_mode(false).await.unwrap();
    let (_, body) = call(&s, Method::GET, "/api/59/scheduler/jobs", Some(ADMIN), None).await;
    assert_eq!(json(&body), serde_json::json!([]));
    let long = format!("/api/59/scheduler/server/{}/jobs", "u".repeat(201));
    let (status, body) = call(&s, Method::GET, &long, Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "api.error.invalid.request");
    let (status, _) = call(&s, Method::GET, "/api/59/scheduler/jobs", None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn user_roles_and_profile_changes() {
    let s = state().await;
    let (status, body) = call(&s, Method::GET, "/api/59/user/roles", Some(NOBODY), None).await;
    assert_eq!(
        (status, json(&body)),
        (StatusCode::OK, serde_json::json!({"roles": ["dev"]}))
    );
    let (status, _) = call(&s, Method::GET, "/api/59/user/roles", None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // one's own profile, made on first change for a token-only user
    let (status, body) = call(
        &s,
        Method::POST,
        "/api/59/user/info",
        Some(NOBODY),
        Some(r#"{"firstName":"Ann","lastName":"Lee","email":"ann@example.com","extra":true}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        json(&body),
        serde_json::json!({"login": "user-t2", "firstName": "Ann", "lastName": "Lee", "email": "ann@example.com"})
    );
    let stored = s.store.get_user("user-t2").await.unwrap().unwrap();
    assert_eq!(stored.password_hash, None);
    assert!(stored.roles.is_empty(), "a profile grants nothing");
    // absent (or null) keys are kept, an empty string clears
    let (status, body) = call(
        &s,
        Method::POST,
        "/api/59/user/info/user-t2",
        Some(NOBODY),
        Some(r#"{"lastName":"","email":null}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["firstName"], "Ann");
    assert_eq!(json(&body)["lastName"], Value::Null);
    assert_eq!(json(&body)["email"], "ann@example.com");
    for bad in [
        r#"{"email":"not-an-address"}"#,
        r#"{"firstName":7}"#,
        "[1]",
        "{",
    ] {
        let (status, body) = call(
            &s,
            Method::POST,
            "/api/59/user/info",
            Some(NOBODY),
            Some(bad),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_error(&body, "api.error.invalid.request");
    }
    // another's needs admin; an unknown user is 404
    let (status, body) = call(
        &s,
        Method::POST,
        "/api/59/user/info/user-t1",
        Some(NOBODY),
        Some(r#"{"firstName":"Mallory"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "api.error.item.unauthorized");
    let (status, body) = call(
        &s,
        Method::POST,
        "/api/59/user/info/nobody-here",
        Some(ADMIN),
        Some(r#"{"firstName":"X"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "api.error.item.doesnotexist");
    let (status, body) = call(
        &s,
        Method::POST,
        "/api/59/user/info/user-t2",
        Some(ADMIN),
        Some(r#"{"email":"ann@corp.example"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = call(&s, Method::GET, "/api/59/user/info", Some(NOBODY), None).await;
    assert_eq!(json(&body)["email"], "ann@corp.example");
}

#[tokio::test]
async fn remove_expired_tokens() {
    let s = state().await;
    // another user's need admin
    let (status, body) = call(
        &s,
        Method::POST,
        "/api/59/tokens/user-t3/removeExpired",
        Some(NOBODY),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "api.error.item.unauthorized");
    // one's own: none expired
    let (status, body) = call(
        &s,
        Method::POST,
        "/api/59/tokens/user-t2/removeExpired",
        Some(NOBODY),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["count"], 0);
    let (status, body) = call(
        &s,
        Method::POST,
        "/api/59/tokens/*/removeExpired",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        json(&body),
        serde_json::json!({"count": 1, "message": "Removed 1 expired tokens"})
    );
    let left: Vec<String> = s
        .store
        .list_tokens(None)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(left, ["t1", "t2"]);
    let (_, body) = call(
        &s,
        Method::POST,
        "/api/59/tokens/user-t3/removeExpired",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(json(&body)["count"], 0);
}

#[tokio::test]
async fn execution_metrics_count_and_time_what_the_caller_may_see() {
    let s = state().await;
    with_job(&s).await;
    let t0 = chrono::Utc::now() - chrono::Duration::hours(1);
    for (status, took_ms) in [
        (foredeck_core::ExecutionStatus::Succeeded, 3_000),
        (foredeck_core::ExecutionStatus::Failed, 125_000),
    ] {
        let mut e = foredeck_core::Execution::new("p", "tick", "user-t1");
        e.job_id = Some(JOB_ID.into());
        e.status = status;
        e.date_started = t0;
        e.date_ended = Some(t0 + chrono::Duration::milliseconds(took_ms));
        s.store.create_execution(&e).await.unwrap();
    }
    let want = serde_json::json!({
        "total": 2,
        "status": {"failed": 1, "succeeded": 1},
        "duration": {"average": "1m", "min": "3s", "max": "2m"},
    });
    for uri in [
        "/api/59/project/p/executions/metrics",
        "/api/59/executions/metrics",
        "/api/29/executions/metrics?project=p&max=1&offset=1",
    ] {
        let (status, body) = call(&s, Method::GET, uri, Some(ADMIN), None).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        assert_eq!(json(&body), want, "{uri}");
    }
    let (_, body) = call(
        &s,
        Method::GET,
        "/api/59/executions/metrics?statusFilter=failed",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(json(&body)["total"], 1);
    assert_eq!(json(&body)["duration"]["min"], "2m");
    let (_, body) = call(
        &s,
        Method::GET,
        "/api/59/project/p/executions/metrics?recentFilter=1m&userFilter=someone-else",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(
        json(&body),
        serde_json::json!({"total": 0, "status": {}, "duration": {}})
    );
    // no grants: the project is refused, the whole-server figures are empty
    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/project/p/executions/metrics",
        Some(NOBODY),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "api.error.item.unauthorized");
    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/executions/metrics",
        Some(NOBODY),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["total"], 0);
    for (uri, code) in [
        (
            "/api/59/executions/metrics?statusFilter=bogus",
            "api.error.invalid.request",
        ),
        (
            "/api/59/executions/metrics?recentFilter=soon",
            "api.error.invalid.request",
        ),
        (
            "/api/59/project/nope/executions/metrics",
            "api.error.item.doesnotexist",
        ),
        (
            "/api/28/executions/metrics",
            "api.error.api-version.unsupported",
        ),
    ] {
        let (status, body) = call(&s, Method::GET, uri, Some(ADMIN), None).await;
        assert!(status.is_client_error(), "{uri}: {status}");
        assert_error(&body, code);
    }
}

#[tokio::test]
async fn log_storage_counts_the_stores_executions() {
    let s = state().await;
    with_job(&s).await;
    use foredeck_core::ExecutionStatus as S;
    for status in [
        S::Succeeded,
        S::Failed,
        S::Aborted,
        S::Running,
        S::Scheduled,
    ] {
        let mut e = foredeck_core::Execution::new("p", "tick", "user-t1");
        e.job_id = Some(JOB_ID.into());
        e.status = status;
        s.store.create_execution(&e).await.unwrap();
    }
    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/system/logstorage",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v["enabled"], true);
    assert_eq!(v["pluginName"], "store");
    // three ended with their whole log stored, two still writing theirs
    assert_eq!(v["totalCount"], 5);
    assert_eq!(v["succeededCount"], 3);
    assert_eq!(v["queuedCount"], 2);
    for zero in [
        "failedCount",
        "incompleteCount",
        "missingCount",
        "retriesCount",
    ] {
        assert_eq!(v[zero], 0, "{zero}");
    }
    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/system/logstorage",
        Some(NOBODY),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "api.error.item.unauthorized");
    let (status, body) = call(
        &s,
        Method::GET,
        "/api/16/system/logstorage",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "api.error.api-version.unsupported");
    // no route for what cannot happen here: nothing is left to resume
    for (method, uri) in [
        (Method::GET, "/api/59/system/logstorage/incomplete"),
        (Method::POST, "/api/59/system/logstorage/incomplete/resume"),
    ] {
        let (status, _) = call(&s, method, uri, Some(ADMIN), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
    }
}
