//! `GET /api/{v}/project/{project}/meta` (v46): Rundeck's UI metadata of a
//! project, as its open-source components give it: `authz` (what the
//! caller may do with the project and its jobs) and `config` (whether
//! executions and schedules are on, the job group expand level).
//!
//! Not given: Rundeck's `sysMode` (Foredeck has no server-wide execution
//! mode), `scm` (no SCM integration).

use crate::error::ApiError;
use crate::extract::{param, path, Caller, Params};
use crate::ApiState;
use axum::extract::{Path, Query, State};
use axum::Json;
use foredeck_core::authorizer::{AuthContext, Resource};
use foredeck_core::runs::rules::{PROJECT_DISABLE_EXECUTIONS, PROJECT_DISABLE_SCHEDULE};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// The project actions `authz` reports (application context).
const PROJECT_ACTIONS: [&str; 7] = [
    "configure",
    "admin",
    "app_admin",
    "export",
    "scm_export",
    "import",
    "scm_import",
];

/// Rundeck's key of the job group expand level.
const GROUP_EXPAND_LEVEL: &str = "project.jobs.gui.groupExpandLevel";

/// `GET /api/{v}/project/{project}/meta?meta=`: `[{name, data}]` of the
/// items asked for (comma-separated, `*` or nothing for all); needs `read`
/// on the project.
pub(crate) async fn meta(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    crate::jobs::since(caller.version, 46)?;
    let name = path(&p, "project");
    if !state.may_read_project(&caller.subject, &name) {
        return Err(ApiError::unauthorized("read", &format!("Project {name}")));
    }
    let project = state
        .store
        .get_project(&name)
        .await?
        .ok_or_else(|| ApiError::not_found("Project", &name))?;
    let meta = param(&q, "meta")
        .filter(|m| !m.trim().is_empty())
        .unwrap_or("*");
    let names: Vec<&str> = meta.split(',').map(str::trim).collect();
    let want = |n: &str| names.contains(&"*") || names.contains(&n);
    let mut out = Vec::new();
    if want("authz") {
        let s = &caller.subject;
        let ctx = AuthContext::Project(name.clone());
        let types = |kind: &str, actions: &[&str]| -> Map<String, Value> {
            let r = Resource::new("resource").with("kind", kind);
            actions
                .iter()
                .map(|a| {
                    (
                        (*a).to_owned(),
                        json!(state.authorizer.allowed(s, a, &r, &ctx)),
                    )
                })
                .collect()
        };
        let r = Resource::new("project").with("name", name.clone());
        let project_actions: Map<String, Value> = PROJECT_ACTIONS
            .iter()
            .map(|a| {
                let ok = state
                    .authorizer
                    .allowed(s, a, &r, &AuthContext::Application);
                ((*a).to_owned(), json!(ok))
            })
            .collect();
        out.push(json!({"name": "authz", "data": {
            "types": {
                "job": types("job", &["create", "delete"]),
                "event": types("event", &["read"]),
            },
            "project": project_actions,
        }}));
    }
    if want("config") {
        let on = |k: &str| project.config.get(k).map(String::as_str) != Some("true");
        let mut data = json!({
            "executionsEnabled": on(PROJECT_DISABLE_EXECUTIONS),
            "scheduleEnabled": on(PROJECT_DISABLE_SCHEDULE),
        });
        if let Some(level) = project.config.get(GROUP_EXPAND_LEVEL) {
            data["groupExpandLevel"] = json!(level.trim().parse::<i64>().unwrap_or(1));
        }
        out.push(json!({"name": "config", "data": data}));
    }
    Ok(Json(Value::Array(out)))
}
