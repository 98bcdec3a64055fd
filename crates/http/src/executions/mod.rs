//! Executions: get, state, output (polling with offsets and as Server-Sent
//! Events), input files, abort, delete, bulk delete, the project query and the running
//! list, with Rundeck's JSON shapes.
//!
//! Output offsets are event indexes in the execution's log (Rundeck's are
//! byte offsets into its log file); clients pass back the `offset` they were
//! given, which works with either.

mod abort_delete;
mod metrics;
mod output;
mod output_state;
mod query;
mod stream;

use crate::views::executions::execution_json;
pub(crate) use abort_delete::{abort, bulk_delete, delete, delete_one};
pub(crate) use metrics::{metrics, project_metrics};
pub(crate) use output::{output, Entry, Selection};
use output_state::output_state;
pub(crate) use query::{query, running};
pub(crate) use stream::stream;

use crate::api::ApiVersion;
use crate::error::ApiError;
use crate::extract::{path, Caller};
use crate::ApiState;
use axum::extract::{Path, State};
use axum::routing;
use axum::Json;
use axum::Router;
use chrono::{DateTime, Utc};
use foredeck_core::Execution;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The execution routes: one execution, its state and output, abort, delete, the project query and the running list.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/{v}/execution/{id}", routing::get(get).delete(delete))
        .route("/api/{v}/execution/{id}/state", routing::get(state))
        .route("/api/{v}/execution/{id}/output", routing::get(output))
        .route(
            "/api/{v}/execution/{id}/output/node/{node}",
            routing::get(output),
        )
        .route(
            "/api/{v}/execution/{id}/output/node/{node}/step/{stepctx}",
            routing::get(output),
        )
        .route(
            "/api/{v}/execution/{id}/output/step/{stepctx}",
            routing::get(output),
        )
        .route(
            "/api/{v}/execution/{id}/output/state",
            routing::get(output_state),
        )
        .route(
            "/api/{v}/execution/{id}/output/stream",
            routing::get(stream),
        )
        .route(
            "/api/{v}/execution/{id}/abort",
            routing::post(abort).get(abort),
        )
        .route(
            "/api/{v}/execution/{id}/input/files",
            routing::get(input_files).layer(axum::middleware::from_fn(crate::extract::json_only)),
        )
        .route("/api/{v}/executions/delete", routing::post(bulk_delete))
        .route("/api/{v}/project/{project}/executions", routing::get(query))
        .route(
            "/api/{v}/project/{project}/executions/running",
            routing::get(running),
        )
        .route("/api/{v}/executions/metrics", routing::get(metrics))
        .route(
            "/api/{v}/project/{project}/executions/metrics",
            routing::get(project_metrics),
        )
}

impl ApiState {
    pub(crate) async fn execution_out(
        &self,
        v: ApiVersion,
        e: &Execution,
    ) -> Result<Value, ApiError> {
        let job = self.execution_job(e).await?;
        Ok(execution_json(v, e, job.as_ref()))
    }

    /// Executions in Rundeck's paged wrapper.
    pub(crate) async fn paged(
        &self,
        v: ApiVersion,
        page: foredeck_core::Page<Execution>,
    ) -> Result<Value, ApiError> {
        let jobs = self.execution_jobs(&page.items).await?;
        let list: Vec<Value> = page
            .items
            .iter()
            .zip(&jobs)
            .map(|(e, job)| execution_json(v, e, job.as_ref()))
            .collect();
        Ok(json!({
            "paging": {
                "count": list.len(),
                "total": page.total,
                "offset": page.offset,
                "max": page.max,
            },
            "executions": list,
        }))
    }
}

/// `GET /api/{v}/execution/{id}`.
pub(crate) async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let e = state
        .execution_for(&caller.subject, &path(&p, "id"), "read")
        .await?;
    Ok(Json(state.execution_out(caller.version, &e).await?))
}

/// `GET /api/{v}/execution/{id}/input/files`: the files uploaded for the
/// execution's file options, in Rundeck's shape (`{"files": [...]}`, no
/// paging). Foredeck has no file-type job options, so no execution has
/// input files: the list is empty, as Rundeck answers for an execution of a
/// job without file options. Who may not read the execution gets 404.
pub(crate) async fn input_files(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    crate::jobs::since(caller.version, 19)?;
    state
        .execution_for(&caller.subject, &path(&p, "id"), "read")
        .await?;
    Ok(Json(json!({ "files": [] })))
}

fn rfc(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| {
        json!(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    })
}

/// `GET /api/{v}/execution/{id}/state`: per-node and per-step state.
pub(crate) async fn state(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let e = state
        .execution_for(&caller.subject, &path(&p, "id"), "read")
        .await?;
    let ws = &e.state;
    let state_of = |s| serde_json::to_value(s).unwrap_or(Value::Null);
    let mut nodes = serde_json::Map::new();
    for (name, n) in &ws.nodes {
        nodes.insert(
            name.clone(),
            json!(n
                .steps
                .iter()
                .map(|(ctx, st)| json!({"stepctx": ctx, "executionState": state_of(*st)}))
                .collect::<Vec<_>>()),
        );
    }
    let steps: Vec<Value> = ws
        .steps
        .iter()
        .map(|s| {
            let mut node_states = serde_json::Map::new();
            for (name, n) in &s.node_states {
                node_states.insert(
                    name.clone(),
                    json!({
                        "executionState": state_of(n.execution_state),
                        "startTime": rfc(n.start_time),
                        "endTime": rfc(n.end_time),
                    }),
                );
            }
            json!({
                "id": s.stepctx,
                "stepctx": s.stepctx,
                "nodeStep": s.node_step,
                "executionState": state_of(s.execution_state),
                "startTime": rfc(s.start_time),
                "endTime": rfc(s.end_time),
                "nodeStates": node_states,
            })
        })
        .collect();
    let mut all: Vec<&String> = ws.nodes.keys().collect();
    for n in &ws.target_nodes {
        if !all.contains(&n) {
            all.push(n);
        }
    }
    Ok(Json(json!({
        "executionId": e.id,
        "serverNode": state.runs.engine.server_node().name,
        "executionState": state_of(ws.execution_state),
        "completed": e.status.is_final(),
        "startTime": rfc(Some(e.date_started)),
        "endTime": rfc(e.date_ended),
        "updateTime": rfc(Some(e.date_ended.unwrap_or_else(Utc::now))),
        "stepCount": ws.steps.len(),
        "targetNodes": ws.target_nodes,
        "allNodes": all,
        "nodes": nodes,
        "steps": steps,
    })))
}
