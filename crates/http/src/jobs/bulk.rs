//! Bulk switches of jobs (`jobs/execution/enable|disable`,
//! `jobs/schedule/enable|disable`) and deleting a job's executions
//! (`DELETE job/{id}/executions`), with Rundeck's bulk answers.

use super::schedule::set_enabled;
use crate::error::ApiError;
use crate::extract::{ids_of, path, Caller, Params};
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use foredeck_core::jobs::Toggle;
use foredeck_core::store::ExecutionQuery;
use foredeck_core::{AuthContext, Resource};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Rundeck's lists of a bulk answer: each id as `succeeded` (with
/// `message: "{done}: {job's full name}"`) or `failed` (its error code and
/// message), in the order given.
pub(super) fn outcomes<'a>(
    results: impl IntoIterator<Item = (&'a str, Result<String, ApiError>)>,
    done: &str,
) -> (Vec<Value>, Vec<Value>) {
    let (mut succeeded, mut failed) = (Vec::new(), Vec::new());
    for (id, result) in results {
        match result {
            Ok(name) => succeeded.push(json!({ "id": id, "message": format!("{done}: {name}") })),
            Err(e) => failed.push(json!({ "id": id, "errorCode": e.code, "message": e.message })),
        }
    }
    (succeeded, failed)
}

/// Toggles `what` of every job named by `ids`/`idlist` (query or JSON
/// body), each authorized apart (`toggle_execution` / `toggle_schedule`):
/// `{requestCount, enabled, allsuccessful, succeeded, failed}`.
async fn bulk(
    state: ApiState,
    caller: Caller,
    q: Vec<(String, String)>,
    body: Bytes,
    what: Toggle,
    on: bool,
) -> Result<Json<Value>, ApiError> {
    let ids = ids_of(&body, &q)?;
    let message = match (what, on) {
        (Toggle::Execution, true) => "Job Execution was enabled for",
        (Toggle::Execution, false) => "Job Execution was disabled for",
        (Toggle::Schedule, true) => "Job Schedule was enabled for",
        (Toggle::Schedule, false) => "Job Schedule was disabled for",
    };
    let mut results = Vec::with_capacity(ids.len());
    for id in &ids {
        let done = set_enabled(&state, &caller, id, what, on).await;
        results.push((id.as_str(), done.map(|job| job.full_name())));
    }
    let (succeeded, failed) = outcomes(results, message);
    Ok(Json(json!({
        "requestCount": ids.len(),
        "enabled": on,
        "allsuccessful": failed.is_empty(),
        "succeeded": succeeded,
        "failed": failed,
    })))
}

/// `POST /api/{v}/jobs/execution/enable`.
pub(crate) async fn enable_executions(
    State(state): State<ApiState>,
    caller: Caller,
    Query(q): Params,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    bulk(state, caller, q, body, Toggle::Execution, true).await
}

/// `POST /api/{v}/jobs/execution/disable`.
pub(crate) async fn disable_executions(
    State(state): State<ApiState>,
    caller: Caller,
    Query(q): Params,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    bulk(state, caller, q, body, Toggle::Execution, false).await
}

/// `POST /api/{v}/jobs/schedule/enable`.
pub(crate) async fn enable_schedules(
    State(state): State<ApiState>,
    caller: Caller,
    Query(q): Params,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    bulk(state, caller, q, body, Toggle::Schedule, true).await
}

/// `POST /api/{v}/jobs/schedule/disable`.
pub(crate) async fn disable_schedules(
    State(state): State<ApiState>,
    caller: Caller,
    Query(q): Params,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    bulk(state, caller, q, body, Toggle::Schedule, false).await
}

/// Executions read per store query while collecting a job's executions.
const PAGE: u64 = 1_000;

/// `DELETE /api/{v}/job/{id}/executions`: deletes every execution of the
/// job (Rundeck's bulk-delete answer). The job must be visible (404) and
/// the caller allowed `delete_execution` (or `admin`/`app_admin`) on the
/// project (403); each execution is then deleted as `executions/delete`
/// deletes it, so a running one is refused and reported in `failures`.
pub(crate) async fn delete_executions(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let id = path(&p, "id");
    let (project, _) = state.visible_job(&caller.subject, &id).await?;
    let r = Resource::new("project").with("name", project.clone());
    let allowed = ["delete_execution", "admin", "app_admin"].iter().any(|a| {
        state
            .authorizer
            .allowed(&caller.subject, a, &r, &AuthContext::Application)
    });
    if !allowed {
        return Err(ApiError::unauthorized(
            "delete_execution",
            &format!("Project {project}"),
        ));
    }
    let mut ids = Vec::new();
    loop {
        let page = state
            .store
            .query_executions(&ExecutionQuery {
                project: Some(project.clone()),
                job_ids: vec![id.clone()],
                offset: ids.len() as u64,
                max: PAGE,
                ..ExecutionQuery::default()
            })
            .await?;
        let n = page.items.len();
        ids.extend(page.items.into_iter().map(|e| e.id.to_string()));
        if n == 0 || ids.len() as u64 >= page.total {
            break;
        }
    }
    let mut failures = Vec::new();
    for e in &ids {
        if let Err(err) = crate::executions::delete_one(&state, &caller, e).await {
            failures.push(json!({"id": e, "message": err.message}));
        }
    }
    Ok(Json(json!({
        "requestCount": ids.len(),
        "allsuccessful": failures.is_empty(),
        "successCount": ids.len() - failures.len(),
        "failedCount": failures.len(),
        "failures": failures,
    })))
}
