//! `system/info` and the metrics probes: `metrics` (the list),
//! `metrics/ping`, `metrics/healthcheck` and `metrics/threads`, and
//! `system/logstorage`; all need `read` on `resource {kind: system}`, as
//! in Rundeck.
//!
//! Foredeck is a native process, not a JVM: `system/info` fills Rundeck's
//! `jvm` block with `none` and its `memory` block with the process's own
//! figures (see [`crate::process`]); `metrics/threads` lists the process's
//! OS threads and the tokio runtime's figures instead of JVM stacks.

use crate::error::ApiError;
use crate::process;
use crate::{ApiState, ApiVersion, CURRENT_API};
use axum::extract::State;
use axum::routing;
use axum::Extension;
use axum::Json;
use axum::Router;
use foredeck_core::authorizer::{AuthContext, Resource, Subject};
use serde_json::{json, Value};

/// The system routes: `system/info` and the metrics probes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/{v}/system/info", routing::get(info))
        .route(
            "/api/{v}/metrics",
            routing::get(metrics_list).layer(axum::middleware::from_fn(crate::extract::json_only)),
        )
        .route(
            "/api/{v}/metrics/",
            routing::get(metrics_list).layer(axum::middleware::from_fn(crate::extract::json_only)),
        )
        .route("/api/{v}/metrics/ping", routing::get(ping))
        .route("/api/{v}/metrics/healthcheck", routing::get(healthcheck))
        .route("/api/{v}/metrics/threads", routing::get(threads))
        .route("/api/{v}/system/logstorage", routing::get(logstorage))
}

/// What `jvm` says of a process without a JVM.
const NO_JVM: &str = "none";

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

/// `GET /api/{v}/system/info`, in Rundeck's shape. Where Rundeck reports
/// its JVM, Foredeck reports the native process: `jvm` fields are `none`;
/// `stats.memory` is the process's resident memory (`total`), the most it
/// may use (`max`: its cgroup's memory limit, else the machine's memory)
/// and their difference (`free`); `stats.threads.active` its OS threads;
/// `stats.scheduler` the executions running in this server's engine
/// (`running`) and how many scheduled executions it runs at once
/// (`threadPoolSize`). Figures `/proc` does not give are left out.
pub(crate) async fn info(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Extension(v): Extension<ApiVersion>,
) -> Result<Json<Value>, ApiError> {
    may_read_system(&state, &subject)?;
    let uptime = state.uptime();
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok());
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let active = state.runs.engine.execution_mode().is_active();
    let mut os = json!({
        "arch": std::env::consts::ARCH,
        "name": std::env::consts::OS,
    });
    if let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        os["version"] = json!(release.trim());
    }
    let mut stats = json!({
        "uptime": {
            "duration": u64::try_from(uptime.as_millis()).unwrap_or(u64::MAX),
            "unit": "ms",
            "since": time(state.started),
        },
        "cpu": {
            "loadAverage": {"unit": "percent", "average": load},
            "processors": cpus,
        },
    });
    if let Some(memory) = process::memory() {
        stats["memory"] = memory;
    }
    stats["scheduler"] = json!({
        "running": state.runs.engine.running().len(),
        "threadPoolSize": state.runs.scheduler.max_running(),
    });
    if let Some(n) = process::thread_count() {
        stats["threads"] = json!({"active": n});
    }
    let link = |path: &str, ctype: &str| json!({"href": format!("/api/{}/metrics/{path}", v.0), "contentType": ctype});
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
            "executions": {
                "active": active,
                "executionMode": foredeck_core::runs::mode::mode_name(active),
            },
            "os": os,
            "jvm": {
                "name": NO_JVM,
                "vendor": NO_JVM,
                "version": NO_JVM,
                "implementationVersion": NO_JVM,
            },
            "stats": stats,
            "metrics": link("metrics", "application/json"),
            "threadDump": link("threads", "text/plain"),
            "healthcheck": link("healthcheck", "application/json"),
            "ping": link("ping", "text/plain"),
        }
    })))
}

/// `GET /api/{v}/metrics`: links to the metrics endpoints, in Rundeck's
/// `_links` shape.
pub(crate) async fn metrics_list(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Extension(v): Extension<ApiVersion>,
) -> Result<Json<Value>, ApiError> {
    may_read_system(&state, &subject)?;
    let href = |path: &str| json!({"href": format!("/api/{}/metrics/{path}", v.0)});
    Ok(Json(json!({
        "_links": {
            "metrics": href("metrics"),
            "ping": href("ping"),
            "threads": href("threads"),
            "healthcheck": href("healthcheck"),
        }
    })))
}

/// `GET /api/{v}/metrics/threads`: the process's threads as text (see
/// [`process::thread_dump`]).
pub(crate) async fn threads(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), ApiError> {
    may_read_system(&state, &subject)?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        process::thread_dump(),
    ))
}

/// `GET /api/{v}/system/logstorage`, in Rundeck's shape. Foredeck has no
/// log storage plugin that uploads a finished log somewhere: every run
/// appends its output to the store as it goes, and every server of a
/// cluster reads it there, which is what Rundeck's plugins are for. So the
/// store is the log storage (`enabled`, plugin `store`), each execution is
/// one storage request, counted from the store: `totalCount` every
/// execution, `queuedCount` those whose log is still being written
/// (scheduled, queued, running, waiting), `succeededCount` the finished
/// ones, whose log is complete. A log append the store refuses fails the
/// write at once, so nothing is left to retry: the failed, incomplete,
/// missing and retry counts are 0 (and `system/logstorage/incomplete` is
/// absent, see docs/API-COVERAGE.md).
pub(crate) async fn logstorage(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Extension(v): Extension<ApiVersion>,
) -> Result<Json<Value>, ApiError> {
    crate::jobs::since(v, 17)?;
    may_read_system(&state, &subject)?;
    let all = state
        .store
        .execution_metrics(&foredeck_core::ExecutionQuery::default())
        .await?;
    let open: u64 = all
        .by_status
        .iter()
        .filter(|(name, _)| !foredeck_core::ExecutionStatus::parse(name).is_final())
        .map(|(_, n)| *n)
        .sum();
    Ok(Json(json!({
        "enabled": true,
        "pluginName": LOG_STORAGE,
        "succeededCount": all.total.saturating_sub(open),
        "failedCount": 0,
        "queuedCount": open,
        "queuedRequestCount": open,
        "queuedRetriesCount": 0,
        "queuedIncompleteCount": 0,
        "totalCount": all.total,
        "incompleteCount": 0,
        "missingCount": 0,
        "retriesCount": 0,
    })))
}

/// The name `system/logstorage` gives the log storage: the store.
const LOG_STORAGE: &str = "store";

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
