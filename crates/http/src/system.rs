//! `system/info` and the metrics probes.

use crate::error::ApiError;
use crate::{ApiState, CURRENT_API};
use axum::extract::State;
use axum::routing;
use axum::Extension;
use axum::Json;
use axum::Router;
use foredeck_core::authorizer::{AuthContext, Resource, Subject};
use serde_json::{json, Value};

/// The system routes: `system/info`, `metrics/ping`, `metrics/healthcheck`.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/{v}/system/info", routing::get(info))
        .route("/api/{v}/metrics/ping", routing::get(ping))
        .route("/api/{v}/metrics/healthcheck", routing::get(healthcheck))
}

fn may_read_system(state: &ApiState, subject: &Subject) -> Result<(), ApiError> {
    let system = Resource::new("resource").with("kind", "system");
    if state
        .authorizer
        .allowed(subject, "read", &system, &AuthContext::Application)
    {
        Ok(())
    } else {
        Err(ApiError::unauthorized("read", "System"))
    }
}

fn time(t: chrono::DateTime<chrono::Utc>) -> Value {
    json!({
        "epoch": t.timestamp_millis(),
        "unit": "ms",
        "datetime": t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// `GET /api/{v}/system/info`, in Rundeck's shape (no `jvm` section: there
/// is no JVM).
pub(crate) async fn info(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
) -> Result<Json<Value>, ApiError> {
    may_read_system(&state, &subject)?;
    let uptime = state.uptime();
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok());
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(Json(json!({
        "system": {
            "timestamp": time(chrono::Utc::now()),
            "rundeck": {
                "version": env!("CARGO_PKG_VERSION"),
                "build": format!("foredeck-{}", env!("CARGO_PKG_VERSION")),
                "node": state.node_name,
                "base": ".",
                "apiversion": CURRENT_API,
                "serverUUID": state.server_uuid,
            },
            "executions": {"active": true, "executionMode": "active"},
            "os": {
                "arch": std::env::consts::ARCH,
                "name": std::env::consts::OS,
            },
            "stats": {
                "uptime": {
                    "duration": u64::try_from(uptime.as_millis()).unwrap_or(u64::MAX),
                    "unit": "ms",
                    "since": time(state.started),
                },
                "cpu": {
                    "loadAverage": {"unit": "percent", "average": load},
                    "processors": cpus,
                },
            },
        }
    })))
}

/// `GET /api/{v}/metrics/ping`: `pong`.
pub(crate) async fn ping(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
) -> Result<&'static str, ApiError> {
    may_read_system(&state, &subject)?;
    Ok("pong")
}

/// `GET /api/{v}/metrics/healthcheck`: whether the store answers.
pub(crate) async fn healthcheck(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    may_read_system(&state, &subject)?;
    let started = std::time::Instant::now();
    let (status, check) = match state.store.get_project("").await {
        Ok(_) => (
            axum::http::StatusCode::OK,
            json!({"healthy": true, "message": format!("store answered in {} ms", started.elapsed().as_millis())}),
        ),
        Err(e) => {
            tracing::error!(error = %e, "health check: store failed");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                json!({"healthy": false, "message": "store did not answer"}),
            )
        }
    };
    Ok((status, Json(json!({ "store.connection": check }))))
}
