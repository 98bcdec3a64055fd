//! Bulk `jobs/execution|schedule/enable|disable` and
//! `DELETE job/{id}/executions`.

use super::*;

async fn flags(s: &ApiState, id: &str) -> (bool, bool) {
    let j = s.store.get_job("p", id).await.unwrap().unwrap();
    (j.execution_enabled, j.schedule_enabled)
}

#[tokio::test]
async fn bulk_toggles_authorize_each_job_and_report_each() {
    let s = loaded().await;
    // ids in the body, idlist in the query, both combined
    let (status, body) = post_json(
        &s,
        &format!("/api/59/jobs/execution/disable?idlist={CHILD}"),
        ADMIN,
        &format!(r#"{{"ids":["{HELLO}"]}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v["requestCount"], 2, "{body}");
    assert_eq!(v["enabled"], false, "{body}");
    assert_eq!(v["allsuccessful"], true, "{body}");
    assert_eq!(v["succeeded"].as_array().unwrap().len(), 2, "{body}");
    assert!(
        body.contains("Job Execution was disabled for: public/hello"),
        "{body}"
    );
    assert_eq!(flags(&s, HELLO).await, (false, true));
    assert_eq!(flags(&s, CHILD).await, (false, true));

    // dev may toggle public jobs, not the secret one (missing for it) nor
    // an unknown id; each is answered apart
    let (status, body) = post_json(
        &s,
        "/api/59/jobs/execution/enable",
        DEV,
        &format!(r#"{{"idlist":"{HELLO},{SECRET}","ids":["no-such-job"]}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v["requestCount"], 3, "{body}");
    assert_eq!(v["allsuccessful"], false, "{body}");
    assert_eq!(v["succeeded"][0]["id"], HELLO, "{body}");
    let failed = v["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{body}");
    for f in failed {
        assert_eq!(f["errorCode"], "api.error.item.doesnotexist", "{body}");
    }
    no_leak(&body);
    assert_eq!(flags(&s, HELLO).await, (true, true));
    assert_eq!(flags(&s, SECRET).await, (true, true));

    // a viewer sees the job but may not toggle it: 403 for that id
    let (_, body) = send(
        &s,
        Method::POST,
        &format!("/api/59/jobs/schedule/disable?ids={HELLO}"),
        VIEWER,
        None,
        b"",
    )
    .await;
    let v = json(&body);
    assert_eq!(
        v["failed"][0]["errorCode"], "api.error.item.unauthorized",
        "{body}"
    );
    assert_eq!(flags(&s, HELLO).await, (true, true));
    let (_, body) = send(
        &s,
        Method::POST,
        &format!("/api/59/jobs/schedule/disable?ids={HELLO}&ids={CHILD}"),
        DEV,
        None,
        b"",
    )
    .await;
    let v = json(&body);
    assert_eq!(
        (v["allsuccessful"].clone(), v["enabled"].clone()),
        (true.into(), false.into())
    );
    assert!(body.contains("Job Schedule was disabled for"), "{body}");
    assert_eq!(flags(&s, HELLO).await, (true, false));
    let (_, body) = post_json(
        &s,
        "/api/59/jobs/schedule/enable",
        ADMIN,
        &format!(r#"[ "{HELLO}" ]"#),
    )
    .await;
    assert_eq!(json(&body)["allsuccessful"], true, "{body}");
    assert_eq!(flags(&s, HELLO).await, (true, true));

    // bad input: no ids, malformed body, wrong types
    for (uri, body) in [
        ("/api/59/jobs/execution/enable", ""),
        ("/api/59/jobs/execution/enable", "{"),
        ("/api/59/jobs/schedule/enable", r#"{"ids":"not-a-list"}"#),
        ("/api/59/jobs/schedule/disable", r#"{"idlist":["a"]}"#),
        ("/api/59/jobs/schedule/disable", r#"{"ids":[{"x":1}]}"#),
    ] {
        let (status, text) = post_json(&s, uri, ADMIN, body).await;
        assert_error(
            status,
            &text,
            StatusCode::BAD_REQUEST,
            "api.error.invalid.request",
        );
    }
    // no credentials: refused outright
    let (status, _) = send(
        &s,
        Method::POST,
        &format!("/api/59/jobs/execution/disable?ids={HELLO}"),
        "wrong-token",
        None,
        b"",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // a caller with no grants: every id refused, nothing changed
    let (_, body) = send(
        &s,
        Method::POST,
        &format!("/api/59/jobs/execution/disable?ids={HELLO}"),
        NOBODY,
        None,
        b"",
    )
    .await;
    assert_eq!(json(&body)["allsuccessful"], false, "{body}");
    assert_eq!(flags(&s, HELLO).await, (true, true));
}

#[tokio::test]
async fn deleting_a_jobs_executions_keeps_others_and_needs_delete_execution() {
    let s = loaded().await;
    let a = run_job(&s, PLAIN).await;
    let b = run_job(&s, PLAIN).await;
    let other = run_job(&s, SECRET).await;
    // a running one is refused and reported, the rest deleted
    let mut running = a.clone();
    running.id = 0;
    running.status = foredeck_core::ExecutionStatus::Running;
    running.date_ended = None;
    let running = s.store.create_execution(&running).await.unwrap();

    // dev sees the job but may not delete executions: 403
    let uri = format!("/api/59/job/{PLAIN}/executions");
    let (status, body) = send(&s, Method::DELETE, &uri, DEV, None, b"").await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "api.error.item.unauthorized",
    );
    // nobody, or dev on the secret job: missing
    let (status, body) = send(&s, Method::DELETE, &uri, NOBODY, None, b"").await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
    let secret = format!("/api/59/job/{SECRET}/executions");
    let (status, body) = send(&s, Method::DELETE, &secret, DEV, None, b"").await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
    let (status, body) = send(
        &s,
        Method::DELETE,
        "/api/59/job/nope/executions",
        ADMIN,
        None,
        b"",
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
    assert!(s.store.get_execution(a.id).await.unwrap().is_some());

    let (status, body) = send(&s, Method::DELETE, &uri, ADMIN, None, b"").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v["requestCount"], 3, "{body}");
    assert_eq!(v["successCount"], 2, "{body}");
    assert_eq!(v["failedCount"], 1, "{body}");
    assert_eq!(v["allsuccessful"], false, "{body}");
    assert_eq!(v["failures"][0]["id"], running.to_string(), "{body}");
    assert!(s.store.get_execution(a.id).await.unwrap().is_none());
    assert!(s.store.get_execution(b.id).await.unwrap().is_none());
    assert!(s.store.get_execution(running).await.unwrap().is_some());
    assert!(s.store.get_execution(other.id).await.unwrap().is_some());
    // the job itself stays
    assert!(s.store.get_job("p", PLAIN).await.unwrap().is_some());
    // nothing left to delete but the running one
    let (_, body) = send(&s, Method::DELETE, &uri, ADMIN, None, b"").await;
    assert_eq!(json(&body)["requestCount"], 1, "{body}");
}
