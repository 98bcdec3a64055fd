//! Rundeck's execution mode: `system/executions/enable`, `.../disable` and
//! `.../status`.
//!
//! A passive server starts no execution: job runs (API, webhooks), ad-hoc
//! runs and scheduled fires are refused or skipped; runs under way go on.
//! The mode is this server's, kept in the store (it survives a restart) and
//! told the cluster through the scheduler's heartbeat; `system/info`
//! reports it as `executions.executionMode`. Changing it needs
//! `enable_executions` / `disable_executions` (or `ops_admin`,
//! `app_admin`, `admin`) on `resource {kind: system}`; reading it, `read`
//! there, as in Rundeck.

use crate::auth::allowed_any;
use crate::error::ApiError;
use crate::extract::{flag, Caller, Params};
use crate::ApiState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing;
use axum::{Json, Router};
use foredeck_core::authorizer::{AuthContext, Resource};
use serde_json::{json, Value};

/// The execution mode routes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/{v}/system/executions/enable", routing::post(enable))
        .route("/api/{v}/system/executions/disable", routing::post(disable))
        .route("/api/{v}/system/executions/status", routing::get(status))
}

/// The API version from which a passive status is a 200 (before it, a 503).
const STATUS_200_SINCE: u32 = 36;

fn may(state: &ApiState, caller: &Caller, action: &str) -> Result<(), ApiError> {
    let system = Resource::new("resource").with("kind", "system");
    let actions: &[&str] = match action {
        "read" => &["read", "ops_admin", "app_admin", "admin"],
        other => &[other, "ops_admin", "app_admin", "admin"],
    };
    if allowed_any(
        state,
        &caller.subject,
        actions,
        &system,
        &AuthContext::Application,
    ) {
        Ok(())
    } else {
        Err(ApiError::unauthorized(action, "System"))
    }
}

fn mode_json(active: bool) -> Json<Value> {
    Json(json!({"executionMode": foredeck_core::runs::mode::mode_name(active)}))
}

async fn set(state: &ApiState, caller: &Caller, active: bool) -> Result<Json<Value>, ApiError> {
    let action = if active {
        "enable_executions"
    } else {
        "disable_executions"
    };
    may(state, caller, action)?;
    state.runs.set_execution_mode(active).await?;
    state
        .audit(
            caller,
            action,
            "system",
            state.runs.scheduler.server(),
            None,
            json!({"executionMode": foredeck_core::runs::mode::mode_name(active)}),
        )
        .await;
    Ok(mode_json(active))
}

/// `POST /api/{v}/system/executions/enable`: active mode.
pub(crate) async fn enable(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    set(&state, &caller, true).await
}

/// `POST /api/{v}/system/executions/disable`: passive mode.
pub(crate) async fn disable(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    set(&state, &caller, false).await
}

/// `GET /api/{v}/system/executions/status`: the mode; passive answers 503
/// before API 36, or with `passiveAs503=true`.
pub(crate) async fn status(
    State(state): State<ApiState>,
    caller: Caller,
    Query(q): Params,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    may(&state, &caller, "read")?;
    let as_503 = flag(&q, "passiveAs503")?.unwrap_or(false);
    let active = state.runs.engine.execution_mode().is_active();
    let code = if !active && (as_503 || caller.version.0 < STATUS_200_SINCE) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    Ok((code, mode_json(active)))
}
