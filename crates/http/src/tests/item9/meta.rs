//! `job/{id}/workflow`, `job/{id}/meta`, `project/{p}/jobs/browse`,
//! `project/{p}/meta`.

use super::*;

#[tokio::test]
async fn workflow_in_full_for_readers_described_for_viewers_and_refs_followed() {
    let s = loaded().await;
    let (status, body) = get(&s, &format!("/api/59/job/{HELLO}/workflow"), ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let w = &json(&body)["workflow"];
    assert_eq!(w[0]["exec"], "echo hi", "{body}");
    assert_eq!(w[0]["description"], "greet", "{body}");
    assert_eq!(w[1]["script"], "echo from-script", "{body}");
    // the reference by uuid: resolved, named, its steps listed once
    assert_eq!(w[2]["jobId"], CHILD, "{body}");
    assert_eq!(w[2]["jobref"]["name"], "child", "{body}");
    assert_eq!(w[2]["jobref"]["group"], "public/sub", "{body}");
    assert_eq!(w[2]["errorhandler"]["exec"], "echo handled", "{body}");
    let child = &w[2]["workflow"];
    assert_eq!(child[0]["exec"], "echo child-step", "{body}");
    // the child's reference back to hello: its id, not its steps again
    assert_eq!(child[1]["jobId"], HELLO, "{body}");
    assert!(child[1].get("workflow").is_none(), "{body}");
    // the admin sees the secret job referenced
    assert_eq!(w[3]["jobId"], SECRET, "{body}");
    assert_eq!(w[3]["workflow"][0]["exec"], "echo top-secret-output");

    // dev reads hello but not the secret job: the reference stays as
    // written, nothing of the job it names
    let (status, body) = get(&s, &format!("/api/59/job/{HELLO}/workflow"), DEV).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let w = &json(&body)["workflow"];
    assert_eq!(w[0]["exec"], "echo hi", "{body}");
    assert!(w[3].get("jobId").is_none(), "{body}");
    assert!(w[3].get("workflow").is_none(), "{body}");
    assert!(!body.contains("top-secret-output"), "{body}");

    // a viewer sees what the steps are, not what they run
    let (status, body) = get(&s, &format!("/api/59/job/{HELLO}/workflow"), VIEWER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let w = &json(&body)["workflow"];
    assert_eq!(
        w[0],
        serde_json::json!({"exec": "exec", "description": "greet"})
    );
    assert_eq!(w[1], serde_json::json!({"script": "script"}));
    assert_eq!(w[2]["errorhandler"], serde_json::json!({"exec": "exec"}));
    assert_eq!(w[2]["workflow"][0], serde_json::json!({"exec": "exec"}));
    for content in ["echo hi", "from-script", "handled", "child-step"] {
        assert!(!body.contains(content), "{content}: {body}");
    }
    // the reference is shown as hello writes it (its uuid), nothing of the
    // job it names
    assert_eq!(w[3]["jobref"]["uuid"], SECRET, "{body}");
    assert!(w[3].get("jobId").is_none(), "{body}");
    no_leak(&body);

    // a job one may not see is missing; no grants at all: missing too
    for (id, token) in [(SECRET, DEV), (SECRET, VIEWER), (HELLO, NOBODY)] {
        let (status, body) = get(&s, &format!("/api/59/job/{id}/workflow"), token).await;
        assert_error(
            status,
            &body,
            StatusCode::NOT_FOUND,
            "api.error.item.doesnotexist",
        );
        no_leak(&body);
    }
    let (status, body) = get(&s, "/api/59/job/no-such-job/workflow", ADMIN).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
}

#[tokio::test]
async fn job_meta_items_with_selection_and_authorization() {
    let s = loaded().await;
    let uri = format!("/api/59/job/{HELLO}/meta");
    let (status, body) = get(&s, &uri, ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["authz", "schedule", "stats"], "{body}");
    assert_eq!(v[0]["data"]["delete"], true, "{body}");
    assert_eq!(v[0]["data"]["toggle_schedule"], true, "{body}");
    let sched = &v[1]["data"];
    assert_eq!(sched["hasSchedule"], true, "{body}");
    assert_eq!(sched["scheduleEnabled"], true, "{body}");
    assert_eq!(sched["schedule"]["hour"], "3", "{body}");
    assert_eq!(
        sched["schedule"]["crontabString"], "0 0 3 * * ? *",
        "{body}"
    );
    assert!(
        sched["nextExecutionTime"]
            .as_str()
            .is_some_and(|t| t.ends_with("03:00:00Z")),
        "{body}"
    );
    assert_eq!(v[2]["data"]["executionCount"], 0, "{body}");
    assert_eq!(v[2]["data"]["successRate"], -1.0, "{body}");

    let e = run_job(&s, PLAIN).await;
    let (_, body) = get(&s, &format!("/api/59/job/{PLAIN}/meta?meta=stats"), ADMIN).await;
    let v = json(&body);
    assert_eq!(v.as_array().unwrap().len(), 1, "{body}");
    assert_eq!(v[0]["name"], "stats");
    assert_eq!(v[0]["data"]["executionCount"], 1, "{body}");
    let rate = v[0]["data"]["successRate"].as_f64().unwrap();
    let ok = e.status == foredeck_core::ExecutionStatus::Succeeded;
    assert_eq!(rate, if ok { 1.0 } else { 0.0 }, "{body}");

    // dev: its own rights
    let (status, body) = get(&s, &format!("{uri}?meta=authz"), DEV).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let a = &json(&body)[0]["data"];
    assert_eq!(
        (a["read"].clone(), a["delete"].clone()),
        (true.into(), false.into())
    );
    // metaExclude from v58 on, ignored before
    let (_, body) = get(&s, &format!("{uri}?metaExclude=stats,authz"), ADMIN).await;
    assert_eq!(json(&body).as_array().unwrap().len(), 1, "{body}");
    let (_, body) = get(
        &s,
        &format!("/api/57/job/{HELLO}/meta?metaExclude=stats"),
        ADMIN,
    )
    .await;
    assert_eq!(json(&body).as_array().unwrap().len(), 3, "{body}");
    // unknown names give nothing
    let (_, body) = get(&s, &format!("{uri}?meta=nothing"), ADMIN).await;
    assert_eq!(body, "[]");
    // v46 and later only
    let (status, body) = get(&s, &format!("/api/45/job/{HELLO}/meta"), ADMIN).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "api.error.api-version.unsupported",
    );
    for (id, token) in [(SECRET, DEV), (HELLO, NOBODY)] {
        let (status, body) = get(&s, &format!("/api/59/job/{id}/meta"), token).await;
        assert_error(
            status,
            &body,
            StatusCode::NOT_FOUND,
            "api.error.item.doesnotexist",
        );
        no_leak(&body);
    }
}

fn entries(body: &str) -> Vec<String> {
    json(body)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| match i["job"].as_bool().unwrap() {
            true => format!("job {}", i["jobName"].as_str().unwrap()),
            false => format!("group {}", i["groupPath"].as_str().unwrap()),
        })
        .collect()
}

#[tokio::test]
async fn browse_lists_jobs_at_a_path_and_the_groups_below() {
    let s = loaded().await;
    let (status, body) = get(&s, "/api/59/project/p/jobs/browse", ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["path"], Value::Null);
    let mut got = entries(&body);
    got.sort();
    assert_eq!(got, ["group public", "group secret"], "{body}");
    // dev does not see the secret group (no job of it is visible)
    let (_, body) = get(&s, "/api/59/project/p/jobs/browse", DEV).await;
    assert_eq!(entries(&body), ["group public"], "{body}");
    no_leak(&body);

    let (_, body) = get(&s, "/api/59/project/p/jobs/browse?path=public", DEV).await;
    let mut got = entries(&body);
    got.sort();
    assert_eq!(
        got,
        ["group public/sub", "job hello", "job plain"],
        "{body}"
    );
    let v = json(&body);
    let hello = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["jobName"] == "hello")
        .unwrap();
    assert_eq!(hello["id"], HELLO);
    assert_eq!(hello["groupPath"], "public");
    assert_eq!(hello["description"], "says hello");
    assert!(hello.get("meta").is_none(), "{body}");
    // with metadata, unless the breakpoint is reached
    let (_, body) = get(
        &s,
        "/api/59/project/p/jobs/browse?path=public&meta=authz",
        DEV,
    )
    .await;
    let v = json(&body);
    let hello = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["jobName"] == "hello")
        .unwrap();
    assert_eq!(hello["meta"][0]["name"], "authz", "{body}");
    assert_eq!(hello["meta"][0]["data"]["run"], true, "{body}");
    let (_, body) = get(
        &s,
        "/api/59/project/p/jobs/browse?path=public&meta=*&breakpoint=3",
        DEV,
    )
    .await;
    assert!(!body.contains("\"meta\""), "{body}");
    // list filters apply
    let (_, body) = get(
        &s,
        "/api/59/project/p/jobs/browse?path=public&jobFilter=nope",
        ADMIN,
    )
    .await;
    assert_eq!(entries(&body), Vec::<String>::new(), "{body}");

    let (status, body) = get(&s, "/api/59/project/p/jobs/browse?breakpoint=x", ADMIN).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "api.error.invalid.request",
    );
    let (status, body) = get(&s, "/api/59/project/p/jobs/browse", NOBODY).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "api.error.item.unauthorized",
    );
    let (status, body) = get(&s, "/api/59/project/nope/jobs/browse", ADMIN).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
    let (status, body) = get(&s, "/api/45/project/p/jobs/browse", ADMIN).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "api.error.api-version.unsupported",
    );
}

#[tokio::test]
async fn project_meta_reports_rights_and_switches() {
    let s = loaded().await;
    let (status, body) = get(&s, "/api/59/project/p/meta", ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v[0]["name"], "authz", "{body}");
    assert_eq!(v[0]["data"]["project"]["configure"], true, "{body}");
    assert_eq!(v[0]["data"]["types"]["job"]["create"], true, "{body}");
    assert_eq!(v[1]["name"], "config", "{body}");
    assert_eq!(v[1]["data"]["executionsEnabled"], true, "{body}");

    let mut p = s.store.get_project("p").await.unwrap().unwrap();
    p.config
        .insert("project.disable.executions".into(), "true".into());
    p.config
        .insert("project.jobs.gui.groupExpandLevel".into(), "2".into());
    s.store.update_project(&p).await.unwrap();
    let (_, body) = get(&s, "/api/59/project/p/meta?meta=config", DEV).await;
    let v = json(&body);
    assert_eq!(v.as_array().unwrap().len(), 1, "{body}");
    assert_eq!(v[0]["data"]["executionsEnabled"], false, "{body}");
    assert_eq!(v[0]["data"]["scheduleEnabled"], true, "{body}");
    assert_eq!(v[0]["data"]["groupExpandLevel"], 2, "{body}");
    let (_, body) = get(&s, "/api/59/project/p/meta?meta=authz", DEV).await;
    let a = &json(&body)[0]["data"];
    assert_eq!(a["project"]["configure"], false, "{body}");
    assert_eq!(a["types"]["job"]["delete"], false, "{body}");

    let (status, body) = get(&s, "/api/59/project/p/meta", NOBODY).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "api.error.item.unauthorized",
    );
    let (status, body) = get(&s, "/api/59/project/nope/meta", ADMIN).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "api.error.item.doesnotexist",
    );
    let (status, body) = get(&s, "/api/45/project/p/meta", ADMIN).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "api.error.api-version.unsupported",
    );
}
