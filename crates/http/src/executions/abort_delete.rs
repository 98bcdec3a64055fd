//! Abort, delete and bulk delete.

use crate::error::{ApiError, Code};
use crate::extract::{ids_of, path, Caller, Params};
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use foredeck_core::runs::Aborted;
use serde_json::{json, Value};
use std::collections::HashMap;

/// `POST /api/{v}/execution/{id}/abort`: stops it when it runs on this
/// server, ends it when it waits for a server to continue it or for its
/// scheduled time (`runAtTime`: it then never runs).
pub(crate) async fn abort(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let id = path(&p, "id");
    let mut e = state.execution_for(&caller.subject, &id, "kill").await?;
    let by = caller.subject.user.clone();
    let (status, reason) = match state.runs.abort_by(&e, Some(&by)).await? {
        Aborted::Finished => ("failed", Some("Job is not running")),
        Aborted::Ended(ended) => {
            e = *ended;
            ("aborted", None)
        }
        Aborted::Pending => ("pending", None),
        Aborted::NotHere => (
            "failed",
            Some("The execution is not running on this server"),
        ),
    };
    state
        .audit(
            &caller,
            "abort",
            "execution",
            &e.id.to_string(),
            Some(&e.project),
            json!({"result": status}),
        )
        .await;
    let mut abort = json!({"status": status});
    if let Some(r) = reason {
        abort["reason"] = json!(r);
    }
    Ok(Json(json!({
        "abort": abort,
        "execution": {
            "id": e.id.to_string(),
            "status": crate::views::executions::api_status(&e.status),
            "href": format!("/api/{}/execution/{}", caller.version.0, e.id),
            "permalink": format!("/project/{}/execution/show/{}", e.project, e.id),
        }
    })))
}

/// Deletes one execution the caller may see, with Rundeck's
/// `delete_execution` project permission; running ones are refused.
pub(crate) async fn delete_one(
    state: &ApiState,
    caller: &Caller,
    id: &str,
) -> Result<(), ApiError> {
    let e = state.execution_for(&caller.subject, id, "read").await?;
    let project = foredeck_core::Resource::new("project").with("name", e.project.clone());
    if !state.authorizer.allowed(
        &caller.subject,
        "delete_execution",
        &project,
        &foredeck_core::AuthContext::Application,
    ) {
        return Err(ApiError::unauthorized(
            "delete_execution",
            &format!("Execution ID {id}"),
        ));
    }
    if !e.status.is_final() {
        return Err(ApiError::of(
            Code::ExecDeleteFailed,
            format!("Execution ID {id} is still running: abort it first"),
        ));
    }
    state.store.delete_execution(e.id).await?;
    state.finished.forget(&e.id);
    state
        .audit(
            caller,
            "delete",
            "execution",
            id,
            Some(&e.project),
            json!({}),
        )
        .await;
    Ok(())
}

/// `DELETE /api/{v}/execution/{id}`.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<StatusCode, ApiError> {
    delete_one(&state, &caller, &path(&p, "id")).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/{v}/executions/delete` with `{"ids": [...]}`.
pub(crate) async fn bulk_delete(
    State(state): State<ApiState>,
    caller: Caller,
    Query(q): Params,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let ids = ids_of(&body, &q)?;
    let mut failures = Vec::new();
    for id in &ids {
        if let Err(e) = delete_one(&state, &caller, id).await {
            failures.push(json!({"id": id, "message": e.message}));
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
