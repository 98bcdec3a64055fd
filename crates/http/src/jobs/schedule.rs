//! A job's metadata and schedule: `info`, `forecast`, and the switches of
//! its executions and schedule.

use crate::error::ApiError;
use crate::extract::{number, param, path, Caller, Params};
use crate::views::jobs::job_json;
use crate::ApiState;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::Utc;
use foredeck_core::jobs::Toggle;
use foredeck_core::store::ExecutionQuery;
use foredeck_core::{ExecutionStatus, Job, Scheduler};
use serde_json::{json, Value};
use std::collections::HashMap;

/// `GET /api/{v}/job/{id}/info`: metadata, with `nextScheduledExecution`
/// for scheduled jobs.
pub(crate) async fn info(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let id = path(&p, "id");
    let (project, job) = state.visible_job(&caller.subject, &id).await?;
    let next = state.runs.scheduler.next_fire_time(&project, &id).await?;
    let mut out = job_json(caller.version, &project, &job.summary(), next);
    let durations = state
        .store
        .query_executions(&ExecutionQuery {
            project: Some(project.clone()),
            job_ids: vec![id.clone()],
            status: Some(ExecutionStatus::Succeeded),
            max: 20,
            ..ExecutionQuery::default()
        })
        .await?
        .items
        .iter()
        .filter_map(|e| {
            e.date_ended
                .map(|d| (d - e.date_started).num_milliseconds())
        })
        .collect::<Vec<_>>();
    if !durations.is_empty() {
        let n = i64::try_from(durations.len()).unwrap_or(1);
        out["averageDuration"] = json!(durations.iter().sum::<i64>() / n);
    }
    Ok(Json(out))
}

/// Largest `max` of a forecast.
const MAX_FORECAST: u64 = 1000;

/// `GET /api/{v}/job/{id}/forecast?time=1d&max=N` (Rundeck's forecast):
/// the job with `futureScheduledExecutions`, its fire times within `time`
/// (a `recentFilter` period, default a day), at most `max` (default 100),
/// computed exactly as the scheduler will fire them (zone and DST rule).
pub(crate) async fn forecast(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let id = path(&p, "id");
    let (project, job) = state.visible_job(&caller.subject, &id).await?;
    let period = match param(&q, "time").filter(|t| !t.trim().is_empty()) {
        None => chrono::Duration::days(1),
        Some(t) => foredeck_core::store::parse_recent(t)
            .map_err(|e| ApiError::invalid(format!("parameter time: {e}")))?,
    };
    let max = number(&q, "max")?.unwrap_or(100).min(MAX_FORECAST);
    let max = usize::try_from(max).unwrap_or(100);
    let until = Utc::now() + period;
    let future: Vec<Value> = state
        .jobs()
        .forecast(&project, &id, until, max)
        .await?
        .into_iter()
        .map(|t| json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        .collect();
    let next = state.runs.scheduler.next_fire_time(&project, &id).await?;
    let mut out = job_json(caller.version, &project, &job.summary(), next);
    out["futureScheduledExecutions"] = Value::Array(future);
    Ok(Json(out))
}

/// Switches `what` of one job on or off for the caller (404 unless the job
/// is visible, 403 without `toggle_execution`/`toggle_schedule`), audited.
pub(super) async fn set_enabled(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    what: Toggle,
    on: bool,
) -> Result<Job, ApiError> {
    let (project, job) = state.job_for(&caller.subject, id, what.action()).await?;
    let job = state
        .jobs()
        .set_enabled(&caller.subject, &project, job, what, on)
        .await?;
    let what = match what {
        Toggle::Schedule => "schedule",
        Toggle::Execution => "execution",
    };
    let verb = if on { "enable" } else { "disable" };
    state
        .audit(
            caller,
            &format!("{verb}_{what}"),
            "job",
            id,
            Some(&project),
            json!({}),
        )
        .await;
    Ok(job)
}

async fn toggle(
    state: ApiState,
    caller: Caller,
    id: String,
    what: Toggle,
    on: bool,
) -> Result<Json<Value>, ApiError> {
    set_enabled(&state, &caller, &id, what, on).await?;
    Ok(Json(json!({"success": true})))
}

/// `POST /api/{v}/job/{id}/execution/enable`.
pub(crate) async fn enable_execution(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    toggle(state, caller, path(&p, "id"), Toggle::Execution, true).await
}

/// `POST /api/{v}/job/{id}/execution/disable`.
pub(crate) async fn disable_execution(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    toggle(state, caller, path(&p, "id"), Toggle::Execution, false).await
}

/// `POST /api/{v}/job/{id}/schedule/enable`.
pub(crate) async fn enable_schedule(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    toggle(state, caller, path(&p, "id"), Toggle::Schedule, true).await
}

/// `POST /api/{v}/job/{id}/schedule/disable`.
pub(crate) async fn disable_schedule(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    toggle(state, caller, path(&p, "id"), Toggle::Schedule, false).await
}
