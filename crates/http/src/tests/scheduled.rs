//! Runs at a later time (`runAtTime`) as Rundeck's clients see them: the
//! answer is the execution, `scheduled`, listed at once; it runs at its
//! time under the same id, or is aborted before and never runs. The
//! scheduler's clock is a manual one: time passes when the test says so.

use super::*;
use chrono::{DateTime, TimeZone, Utc};
use foredeck_core::engine::Engine;
use foredeck_core::runs::RunService;
use foredeck_core::schedule::{DurableScheduler, ManualClock};
use foredeck_core::store::AuditQuery;
use foredeck_core::{ExecutionStatus, Project};

const JOB: &str = "33333333-3333-3333-3333-333333333333";
const YAML: &str = r#"
- name: later
  uuid: 33333333-3333-3333-3333-333333333333
  options:
    - name: who
  sequence:
    commands:
      - exec: echo "hello ${option.who}"
"#;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2031, 6, 1, 8, 0, 0).unwrap()
}

/// A server with project `p` and job `later`, whose scheduler's clock
/// stands at [`t0`] until the test moves it.
async fn clocked() -> (ApiState, ManualClock) {
    let s = state().await;
    s.store.create_project(&Project::new("p")).await.unwrap();
    let clock = ManualClock::new(t0());
    let store = s.store.clone();
    let engine = Engine::builder().shared_store(store.clone()).build();
    let c = clock.clone();
    let runs = RunService::new(engine, move |launcher| {
        DurableScheduler::builder(store, launcher)
            .clock(Arc::new(c))
            .build()
    });
    let s = s.with_run_service(runs);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/59/project/p/jobs/import")
        .header(TOKEN_HEADER, ADMIN)
        .header("content-type", "application/yaml")
        .body(Body::from(YAML))
        .unwrap();
    let (status, _, body) = answer(&s, req).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    (s, clock)
}

async fn schedule(s: &ApiState, at: &str) -> (StatusCode, Value) {
    let body = serde_json::json!({"runAtTime": at, "options": {"who": "later"}}).to_string();
    let uri = format!("/api/59/job/{JOB}/run");
    let (status, body) = call(s, Method::POST, &uri, Some(ADMIN), Some(&body)).await;
    (status, json(&body))
}

async fn get(s: &ApiState, uri: &str) -> Value {
    let (status, body) = call(s, Method::GET, uri, Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    json(&body)
}

fn ids(listing: &Value) -> Vec<u64> {
    listing["executions"]
        .as_array()
        .unwrap_or_else(|| panic!("{listing}"))
        .iter()
        .map(|e| e["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_run_at_a_time_answers_its_scheduled_execution_and_runs_it_then() {
    let (s, clock) = clocked().await;
    let (status, v) = schedule(&s, "2031-06-01T10:00:30+0200").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let id = v["id"].as_u64().unwrap_or_else(|| panic!("no id: {v}"));
    assert_eq!(v["href"], format!("/api/59/execution/{id}"), "{v}");
    assert!(
        v["permalink"]
            .as_str()
            .is_some_and(|p| p.ends_with(&format!("/execution/show/{id}"))),
        "{v}"
    );
    assert_eq!(v["status"], "scheduled", "{v}");
    assert_eq!(v["project"], "p", "{v}");
    assert_eq!(v["user"], "user-t1", "{v}");
    assert_eq!(v["argstring"], "-who later", "{v}");
    assert_eq!(v["date-started"]["date"], "2031-06-01T08:00:30Z", "{v}");
    assert_eq!(v["job"]["id"], JOB, "{v}");

    // listed at once: in the project's executions, and as Rundeck does
    // in the running ones only when postponed runs are asked for
    let all = get(&s, "/api/59/project/p/executions").await;
    assert_eq!(ids(&all), vec![id]);
    let only = get(&s, "/api/59/project/p/executions?statusFilter=scheduled").await;
    assert_eq!(ids(&only), vec![id]);
    let running = get(&s, "/api/59/project/p/executions/running").await;
    assert!(ids(&running).is_empty(), "{running}");
    for uri in [
        "/api/59/project/p/executions/running?includePostponed=true",
        "/api/59/project/*/executions/running?includePostponed=true",
    ] {
        let running = get(&s, uri).await;
        assert_eq!(ids(&running), vec![id], "{uri}");
        assert_eq!(running["paging"]["total"], 1, "{uri}");
    }
    assert_eq!(
        get(&s, &format!("/api/59/execution/{id}")).await["status"],
        "scheduled"
    );
    let audit = s
        .store
        .query_audit(&AuditQuery {
            action: Some("schedule_run".into()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.items.len(), 1);
    assert_eq!(audit.items[0].detail["execution"], id);

    // its time comes: the same execution runs
    let scheduler = &s.runs.scheduler;
    clock.set(t0() + chrono::Duration::seconds(29));
    assert_eq!(scheduler.tick().await.unwrap().started, 0);
    clock.set(t0() + chrono::Duration::seconds(30));
    assert_eq!(scheduler.tick().await.unwrap().started, 1);
    scheduler.wait_idle().await;
    let e = get(&s, &format!("/api/59/execution/{id}")).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    let all = get(&s, "/api/59/project/p/executions").await;
    assert_eq!(ids(&all), vec![id], "no second execution");
}

#[tokio::test]
async fn a_scheduled_run_aborted_before_its_time_never_runs() {
    let (s, clock) = clocked().await;
    let (status, v) = schedule(&s, "2031-06-01T08:01:00Z").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let id = v["id"].as_u64().unwrap();
    let uri = format!("/api/59/execution/{id}/abort");
    let (status, body) = call(&s, Method::POST, &uri, Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let a = json(&body);
    assert_eq!(a["abort"]["status"], "aborted", "{body}");
    assert_eq!(a["execution"]["status"], "aborted", "{body}");
    let e = s.store.get_execution(id).await.unwrap().unwrap();
    assert_eq!(e.status, ExecutionStatus::Aborted);
    assert!(s.store.list_triggers(None).await.unwrap().is_empty());

    clock.set(t0() + chrono::Duration::minutes(5));
    let scheduler = &s.runs.scheduler;
    assert_eq!(scheduler.tick().await.unwrap().started, 0);
    scheduler.wait_idle().await;
    let all = get(&s, "/api/59/project/p/executions").await;
    assert_eq!(ids(&all), vec![id]);
    assert_eq!(all["executions"][0]["status"], "aborted");
    // aborted again: it is not running
    let (_, body) = call(&s, Method::POST, &uri, Some(ADMIN), None).await;
    assert_eq!(json(&body)["abort"]["status"], "failed", "{body}");
}

#[tokio::test]
async fn a_run_at_a_time_past_is_refused() {
    let (s, _clock) = clocked().await;
    let (status, v) = schedule(&s, "2031-06-01T07:59:59Z").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("in the past")),
        "{v}"
    );
    let all = get(&s, "/api/59/project/p/executions").await;
    assert!(ids(&all).is_empty(), "{all}");
}
