//! Durable runs waiting for a server to continue them, as Rundeck's
//! clients see them: running, listed with the running ones, abortable.

use super::*;
use foredeck_core::store::{AuditQuery, RunState};
use foredeck_core::{Execution, ExecutionStatus, Project};

/// A waiting execution of project `p`, created as recovery leaves one:
/// status `waiting`, owned by no server, with its run state.
async fn waiting(s: &ApiState) -> u64 {
    s.store.create_project(&Project::new("p")).await.unwrap();
    let mut e = Execution::new("p", "deploy", "alice");
    e.status = ExecutionStatus::Waiting;
    let id = s.store.create_execution(&e).await.unwrap();
    s.store.put_run_state(&RunState::new(id)).await.unwrap();
    id
}

async fn listed(s: &ApiState, uri: &str) -> (Vec<u64>, Value) {
    let (status, body) = call(s, Method::GET, uri, Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    let v = json(&body);
    let ids = v["executions"]
        .as_array()
        .unwrap_or_else(|| panic!("{uri}: {body}"))
        .iter()
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    (ids, v["paging"]["total"].clone())
}

#[tokio::test]
async fn a_waiting_run_is_listed_as_running() {
    let s = state().await;
    let id = waiting(&s).await;
    for uri in [
        "/api/59/project/p/executions/running",
        "/api/59/project/*/executions/running",
        "/api/59/project/p/executions?statusFilter=running",
    ] {
        let (ids, total) = listed(&s, uri).await;
        assert_eq!(ids, vec![id], "{uri}");
        assert_eq!(total, 1, "{uri}");
    }
    let (_, body) = call(
        &s,
        Method::GET,
        "/api/59/project/p/executions/running",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(json(&body)["executions"][0]["status"], "running", "{body}");
    let (ids, total) = listed(&s, "/api/59/project/p/executions?statusFilter=succeeded").await;
    assert!(ids.is_empty());
    assert_eq!(total, 0);
}

#[tokio::test]
async fn aborting_a_waiting_run_ends_it() {
    let s = state().await;
    let id = waiting(&s).await;
    let uri = format!("/api/59/execution/{id}/abort");
    let (status, body) = call(&s, Method::POST, &uri, Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v["abort"]["status"], "aborted", "{body}");
    assert!(v["abort"].get("reason").is_none(), "{body}");
    assert_eq!(v["execution"]["id"], id.to_string(), "{body}");
    assert_eq!(v["execution"]["status"], "aborted", "{body}");
    let e = s.store.get_execution(id).await.unwrap().unwrap();
    assert_eq!(e.status, ExecutionStatus::Aborted);
    assert_eq!(e.aborted_by.as_deref(), Some("user-t1"));
    assert!(e.date_ended.is_some());
    assert_eq!(s.store.get_run_state(id).await.unwrap(), None);
    let (ids, total) = listed(&s, "/api/59/project/p/executions/running").await;
    assert!(ids.is_empty());
    assert_eq!(total, 0);
    let audit = s
        .store
        .query_audit(&AuditQuery {
            action: Some("abort".into()),
            resource: Some(id.to_string()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.items.len(), 1, "{audit:?}");
    assert_eq!(audit.items[0].detail["result"], "aborted");

    // a second abort: as Rundeck answers for a finished execution
    let (status, body) = call(&s, Method::POST, &uri, Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v["abort"]["status"], "failed", "{body}");
    assert_eq!(v["abort"]["reason"], "Job is not running", "{body}");
    assert_eq!(v["execution"]["status"], "aborted", "{body}");
}
