//! Ad-hoc executions (Rundeck's `run/command` and `run/script`): one
//! command line or inline script on the nodes a filter selects.
//!
//! Authorized as Rundeck does: `run` on the project's `adhoc` resource,
//! then `run` on each `node`; nodes the caller may not run on are left out
//! (as if the filter had not matched them). The run is audited.

use crate::access::Caller;
use crate::error::ApiError;
use crate::executions::path;
use crate::resources::node_resource;
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use foredeck_core::authorizer::AuthContext;
use foredeck_core::engine::RunOptions;
use foredeck_core::model::{Dispatch, NodeFilters, ScriptSpec, StepKind};
use foredeck_core::{Job, NodeFilter, Step, Workflow};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Longest command line or script taken.
const MAX_COMMAND: usize = 1 << 20;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AdhocBody {
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    exec: Option<String>,
    #[serde(default)]
    script: Option<String>,
    #[serde(default)]
    arg_string: Option<String>,
    #[serde(default)]
    script_interpreter: Option<String>,
    #[serde(default)]
    interpreter_args_quoted: Option<bool>,
    #[serde(default)]
    file_extension: Option<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    node_threadcount: Option<u32>,
    #[serde(default)]
    node_keepgoing: Option<bool>,
    #[serde(default)]
    as_user: Option<String>,
}

fn parse(body: &Bytes) -> Result<AdhocBody, ApiError> {
    if body.is_empty() {
        return Err(ApiError::invalid("an ad-hoc run needs a JSON body"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))
}

/// `POST /api/{v}/project/{project}/run/command` with `{exec, filter,
/// nodeThreadcount?, nodeKeepgoing?, asUser?}`.
pub(crate) async fn command(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b = parse(&body)?;
    let exec = b
        .exec
        .clone()
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("exec: the command line is required"))?;
    if exec.len() > MAX_COMMAND {
        return Err(ApiError::invalid(format!(
            "exec: longer than {MAX_COMMAND} bytes"
        )));
    }
    run(
        &state,
        &caller,
        &path(&p, "project"),
        b,
        StepKind::Command { exec },
    )
    .await
}

/// `POST /api/{v}/project/{project}/run/script` with a JSON body `{script,
/// argString?, scriptInterpreter?, interpreterArgsQuoted?, fileExtension?,
/// filter, nodeThreadcount?, nodeKeepgoing?, asUser?}`.
pub(crate) async fn script(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b = parse(&body)?;
    let script = b
        .script
        .clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("script: the script is required"))?;
    if script.len() > MAX_COMMAND {
        return Err(ApiError::invalid(format!(
            "script: longer than {MAX_COMMAND} bytes"
        )));
    }
    let spec = ScriptSpec {
        args: b.arg_string.clone().filter(|a| !a.trim().is_empty()),
        interpreter: b
            .script_interpreter
            .clone()
            .filter(|i| !i.trim().is_empty()),
        args_quoted: b.interpreter_args_quoted.unwrap_or(false),
        file_extension: b.file_extension.clone().filter(|e| !e.trim().is_empty()),
        expand_tokens: true,
    };
    run(
        &state,
        &caller,
        &path(&p, "project"),
        b,
        StepKind::Script { script, spec },
    )
    .await
}

async fn run(
    state: &ApiState,
    caller: &Caller,
    project: &str,
    b: AdhocBody,
    kind: StepKind,
) -> Result<Json<Value>, ApiError> {
    let subject = &caller.subject;
    if !state.may_read_project(subject, project)
        || state.store.get_project(project).await?.is_none()
    {
        return Err(ApiError::not_found("Project", project));
    }
    if b.project.as_deref().is_some_and(|bp| bp != project) {
        return Err(ApiError::invalid(
            "project in the body differs from the path",
        ));
    }
    if !state.may_adhoc(subject, "run", project) {
        return Err(ApiError::unauthorized(
            "run",
            &format!("ad-hoc commands in project {project}"),
        ));
    }
    let filter = b
        .filter
        .clone()
        .filter(|f| !f.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("filter: a node filter is required"))?;
    let parsed =
        NodeFilter::parse(&filter).map_err(|e| ApiError::invalid(format!("filter: {e}")))?;
    let user = match b.as_user.clone().filter(|u| !u.trim().is_empty()) {
        Some(u) if u != subject.user => {
            if !state.may_adhoc(subject, "runAs", project) {
                return Err(ApiError::unauthorized(
                    "runAs",
                    &format!("ad-hoc commands in project {project}"),
                ));
            }
            u
        }
        _ => subject.user.clone(),
    };
    // the nodes the filter selects and the caller may run on
    let all = state.runtime.nodes(project).await?;
    let ctx = AuthContext::Project(project.to_owned());
    let nodes: Vec<_> = parsed
        .select(&all, true)
        .into_iter()
        .filter(|n| {
            state
                .authorizer
                .allowed(subject, "run", &node_resource(n), &ctx)
        })
        .cloned()
        .collect();
    if nodes.is_empty() {
        return Err(ApiError::invalid(format!(
            "No nodes matched the filter: {filter}"
        )));
    }
    let label = match &kind {
        StepKind::Command { exec } => exec.clone(),
        _ => "script".to_owned(),
    };
    // an ad-hoc execution: a job without a uuid, named after its command
    let name: String = label
        .replace('/', "\u{2215}")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let mut job = Job::new(name, Workflow::new(vec![Step::new(kind)]));
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    // the run's node universe is exactly the selected, allowed nodes
    job.nodefilters = Some(NodeFilters {
        filter: Some(".*".into()),
        dispatch: Dispatch {
            threadcount: b.node_threadcount.unwrap_or(1).max(1),
            keepgoing: b.node_keepgoing.unwrap_or(false),
            ..Dispatch::default()
        },
        ..NodeFilters::default()
    });
    let opts = RunOptions {
        user: Some(user.clone()),
        nodes: Some(nodes),
        ..RunOptions::default()
    };
    let handle = state.runtime.engine.start_job(project, &job, opts).await?;
    let id = handle.id;
    drop(handle);
    state
        .audit(
            caller,
            "run",
            "adhoc",
            &id.to_string(),
            Some(project),
            json!({"command": label, "filter": filter, "nodes": names, "as": user}),
        )
        .await;
    let href = format!("/api/{}/execution/{id}", caller.version.0);
    Ok(Json(json!({
        "message": format!("Immediate execution scheduled ({id})"),
        "execution": {
            "id": id,
            "href": href,
            "permalink": format!("/project/{project}/execution/show/{id}"),
        }
    })))
}
