//! `scheduler/jobs` and `scheduler/server/{uuid}/jobs`: the scheduled jobs
//! a server of the cluster fires, in Rundeck's job list shape.
//!
//! Rundeck gives each scheduled job an owning server. Foredeck's servers
//! share the schedules instead: every live server in active execution mode
//! claims due fires, and the first to claim one fires it (see core's
//! scheduler). So the list of a live, active server (this one, or one
//! whose heartbeat is recent) is every scheduled job; that of a passive
//! server, or of a uuid that is no live server's, is empty. Each job is
//! listed only to callers who may `read` it in a project they may `read`.

use crate::error::ApiError;
use crate::extract::Caller;
use crate::views::jobs::job_json;
use crate::ApiState;
use axum::extract::{Path, State};
use axum::routing;
use axum::{Json, Router};
use foredeck_core::runs::mode::mode_name;
use foredeck_core::JobQuery;
use serde_json::Value;

/// The scheduler routes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/api/{v}/scheduler/jobs",
            routing::get(mine).layer(axum::middleware::from_fn(
                crate::extract::json_only_from_v18,
            )),
        )
        .route(
            "/api/{v}/scheduler/server/{uuid}/jobs",
            routing::get(of_server).layer(axum::middleware::from_fn(
                crate::extract::json_only_from_v18,
            )),
        )
}

/// Whether server `uuid` fires schedules now: this server when active; a
/// live peer (heard from within the scheduler's `dead_after`, 90 s by
/// default) whose heartbeat does not say passive.
async fn fires_schedules(state: &ApiState, uuid: &str) -> Result<bool, ApiError> {
    if uuid == state.runs.scheduler.server() || uuid == state.server_uuid {
        return Ok(state.runs.engine.execution_mode().is_active());
    }
    let dead_after = chrono::Duration::seconds(90);
    let now = chrono::Utc::now();
    Ok(state.store.list_servers().await?.iter().any(|s| {
        s.server == uuid
            && now - s.last_seen <= dead_after
            && s.info.get("executionMode").and_then(Value::as_str) != Some(mode_name(false))
    }))
}

/// Every scheduled job the caller may see, in the job list shape, with its
/// next fire time.
async fn scheduled_jobs(state: &ApiState, caller: &Caller) -> Result<Vec<Value>, ApiError> {
    let mut next: std::collections::HashMap<String, chrono::DateTime<chrono::Utc>> =
        std::collections::HashMap::new();
    for t in state.store.list_triggers(None).await? {
        if let (true, Some(j)) = (t.enabled, t.job_id) {
            let e = next.entry(j).or_insert(t.next_fire);
            *e = (*e).min(t.next_fire);
        }
    }
    let mut out = Vec::new();
    for p in state.store.list_projects().await? {
        if !state.may_read_project(&caller.subject, &p.name) {
            continue;
        }
        for j in state
            .store
            .list_job_summaries(&p.name, &JobQuery::default())
            .await?
        {
            if j.scheduled && state.sees_job_in(&caller.subject, &p.name, &j) {
                out.push(job_json(
                    caller.version,
                    &p.name,
                    &j,
                    next.get(&j.uuid).copied(),
                ));
            }
        }
    }
    Ok(out)
}

/// `GET /api/{v}/scheduler/jobs`: the scheduled jobs this server fires.
pub(crate) async fn mine(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let me = state.server_uuid.clone();
    list_for(&state, &caller, &me).await
}

/// `GET /api/{v}/scheduler/server/{uuid}/jobs`: those server `uuid` fires.
pub(crate) async fn of_server(
    State(state): State<ApiState>,
    caller: Caller,
    Path((_, uuid)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    if uuid.len() > 200 || uuid.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "server uuid: at most 200 characters, without control characters",
        ));
    }
    list_for(&state, &caller, &uuid).await
}

async fn list_for(state: &ApiState, caller: &Caller, uuid: &str) -> Result<Json<Value>, ApiError> {
    if !fires_schedules(state, uuid).await? {
        return Ok(Json(Value::Array(Vec::new())));
    }
    Ok(Json(Value::Array(scheduled_jobs(state, caller).await?)))
}
