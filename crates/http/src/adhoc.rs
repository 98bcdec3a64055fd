//! Ad-hoc executions (Rundeck's `run/command`, `run/script` and `run/url`):
//! one command line, inline script or downloaded script on the nodes a
//! filter selects, or on the server's own node when no filter is given (as
//! Rundeck runs it).
//!
//! Each takes a JSON body or Rundeck's form bodies: `run/command` and
//! `run/url` form fields (`application/x-www-form-urlencoded`, or
//! `multipart/form-data`), `run/script` the script in a `scriptFile` field or
//! multipart part. Form requests may also carry the fields as query
//! parameters, as Rundeck's do.
//!
//! Authorized as Rundeck does: `run` on the project's `adhoc` resource,
//! then `run` on each `node`; nodes the caller may not run on are left out
//! (as if the filter had not matched them). A project whose executions are
//! disabled (`project.disable.executions`) runs no ad-hoc command either.
//! `run/url` checks all of that
//! before the server downloads anything (see [`crate::script_url`]). The
//! run is audited.

use crate::error::ApiError;
use crate::extract::{flag, number, param, path, Caller, Form, Params};

use crate::resources::node_resource;
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing;
use axum::Json;
use axum::Router;
use foredeck_core::authorizer::AuthContext;
use foredeck_core::engine::RunOptions;
use foredeck_core::model::{Dispatch, NodeFilters, ScriptSpec, StepKind};
use foredeck_core::runs::rules;
use foredeck_core::StartError;
use foredeck_core::{Job, Node, NodeFilter, Step, Workflow};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The ad-hoc run routes: `run/command`, `run/script`, `run/url`.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/api/{v}/project/{project}/run/command",
            routing::post(command),
        )
        .route(
            "/api/{v}/project/{project}/run/script",
            routing::post(script),
        )
        .route("/api/{v}/project/{project}/run/url", routing::post(url))
}

/// Longest command line or script taken.
const MAX_COMMAND: usize = 1 << 20;

/// Rundeck's keys; others are ignored and `null` is absent, as Rundeck
/// reads the body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdhocBody {
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    exec: Option<String>,
    #[serde(default)]
    script: Option<String>,
    /// `run/url`: Rundeck's JSON names it `url`, its form `scriptURL`.
    #[serde(default, alias = "scriptURL")]
    url: Option<String>,
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

/// The fields a form body may send (Rundeck's names).
const FORM_FIELDS: &[&str] = &[
    "project",
    "exec",
    "scriptFile",
    "scriptURL",
    "argString",
    "scriptInterpreter",
    "interpreterArgsQuoted",
    "fileExtension",
    "filter",
    "nodeThreadcount",
    "nodeKeepgoing",
    "asUser",
];

/// The request as an [`AdhocBody`]: a form (fields from the body, else the
/// query) or a JSON document.
async fn parse(
    headers: &HeaderMap,
    q: &[(String, String)],
    body: Bytes,
) -> Result<AdhocBody, ApiError> {
    let Some(form) = Form::parse(headers, body.clone()).await? else {
        if body.is_empty() {
            return Err(ApiError::invalid("an ad-hoc run needs a JSON or form body"));
        }
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))?;
        return crate::extract::lenient(v);
    };
    // fields Rundeck does not read are ignored, as it does
    let fields: Vec<(String, String)> = form
        .fields()
        .into_iter()
        .filter(|(n, _)| FORM_FIELDS.contains(&n.as_str()))
        .collect();
    // the body's fields win over the query's
    let mut all: Vec<(String, String)> = q.to_vec();
    all.extend(fields);
    let text = |name: &str| param(&all, name).map(str::to_owned);
    let script = match form.part("scriptFile") {
        Some(part) => Some(part.text()?.to_owned()),
        None => text("scriptFile"),
    };
    let node_threadcount = match number(&all, "nodeThreadcount")? {
        None => None,
        Some(n) => Some(u32::try_from(n).map_err(|_| {
            ApiError::invalid(format!("parameter nodeThreadcount: {n} is too large"))
        })?),
    };
    Ok(AdhocBody {
        project: text("project"),
        exec: text("exec"),
        script,
        url: text("scriptURL"),
        arg_string: text("argString"),
        script_interpreter: text("scriptInterpreter"),
        interpreter_args_quoted: flag(&all, "interpreterArgsQuoted")?,
        file_extension: text("fileExtension"),
        filter: text("filter"),
        node_threadcount,
        node_keepgoing: flag(&all, "nodeKeepgoing")?,
        as_user: text("asUser"),
    })
}

/// `POST /api/{v}/project/{project}/run/command` with `{exec, filter,
/// nodeThreadcount?, nodeKeepgoing?, asUser?}` (JSON or form fields).
pub(crate) async fn command(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b = parse(&headers, &q, body).await?;
    let target = admit(&state, &caller, &path(&p, "project"), &b).await?;
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
    let label = exec.clone();
    run(&state, &caller, target, StepKind::Command { exec }, label).await
}

fn script_spec(b: &AdhocBody) -> ScriptSpec {
    ScriptSpec {
        args: b.arg_string.clone().filter(|a| !a.trim().is_empty()),
        interpreter: b
            .script_interpreter
            .clone()
            .filter(|i| !i.trim().is_empty()),
        args_quoted: b.interpreter_args_quoted.unwrap_or(false),
        file_extension: b.file_extension.clone().filter(|e| !e.trim().is_empty()),
        expand_tokens: true,
    }
}

/// `POST /api/{v}/project/{project}/run/script` with a JSON body `{script,
/// argString?, scriptInterpreter?, interpreterArgsQuoted?, fileExtension?,
/// filter, nodeThreadcount?, nodeKeepgoing?, asUser?}`, or those fields in a
/// form with the script as `scriptFile`.
pub(crate) async fn script(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b = parse(&headers, &q, body).await?;
    let field = if crate::extract::media_type(&headers).contains("form") {
        "scriptFile"
    } else {
        "script"
    };
    let target = admit(&state, &caller, &path(&p, "project"), &b).await?;
    let script = b
        .script
        .clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::invalid(format!("{field}: the script is required")))?;
    if script.len() > MAX_COMMAND {
        return Err(ApiError::invalid(format!(
            "{field}: longer than {MAX_COMMAND} bytes"
        )));
    }
    let spec = script_spec(&b);
    run(
        &state,
        &caller,
        target,
        StepKind::Script { script, spec },
        "script".to_owned(),
    )
    .await
}

/// `POST /api/{v}/project/{project}/run/url`: as `run/script`, the script
/// downloaded by the server from `scriptURL` (form) or `url` (JSON) once
/// the caller is authorized and the filter selects nodes.
pub(crate) async fn url(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b = parse(&headers, &q, body).await?;
    let target = admit(&state, &caller, &path(&p, "project"), &b).await?;
    let url = b
        .url
        .clone()
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| crate::extract::required("scriptURL"))?;
    let limits = state.limits;
    let script =
        crate::script_url::fetch(&url, limits.script_url_timeout, limits.script_url_max_bytes)
            .await?;
    let spec = script_spec(&b);
    let label = crate::script_url::shown(url.trim());
    run(
        &state,
        &caller,
        target,
        StepKind::Script { script, spec },
        label,
    )
    .await
}

/// Who runs an ad-hoc execution where, once the caller is admitted.
struct Target {
    project: String,
    user: String,
    filter: String,
    nodes: Vec<Node>,
    threadcount: u32,
    keepgoing: bool,
}

/// Checks the project, the caller's grants and the node filter: the nodes
/// the filter selects and the caller may run on.
async fn admit(
    state: &ApiState,
    caller: &Caller,
    project: &str,
    b: &AdhocBody,
) -> Result<Target, ApiError> {
    let subject = &caller.subject;
    let Some(stored) = state
        .store
        .get_project(project)
        .await?
        .filter(|_| state.may_read_project(subject, project))
    else {
        return Err(ApiError::not_found("Project", project));
    };
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
    // the project's switch stops ad-hoc runs too, as in Rundeck
    if rules::project_executions_disabled(&stored) {
        return Err(StartError::ProjectDisabled(project.to_owned()).into());
    }
    // and a passive server starts none (system/executions/disable)
    if !state.runs.engine.execution_mode().is_active() {
        return Err(StartError::Passive.into());
    }
    // no filter: the server's own node, as Rundeck runs it
    let given = b.filter.clone().filter(|f| !f.trim().is_empty());
    let parsed = given
        .as_deref()
        .map(NodeFilter::parse)
        .transpose()
        .map_err(|e| ApiError::invalid(format!("filter: {e}")))?;
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
    let all = state.runs.nodes(project).await?;
    let server = std::slice::from_ref(state.nodes.server_node());
    let selected = match &parsed {
        Some(parsed) => parsed.select(&all, true),
        None => server.iter().collect(),
    };
    let filter = given.unwrap_or_else(|| format!("name: {}", server[0].name));
    let ctx = AuthContext::Project(project.to_owned());
    let nodes: Vec<_> = selected
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
    Ok(Target {
        project: project.to_owned(),
        user,
        filter,
        nodes,
        threadcount: b.node_threadcount.unwrap_or(1).max(1),
        keepgoing: b.node_keepgoing.unwrap_or(false),
    })
}

/// Starts the execution of `kind` on the target's nodes, named `label`.
async fn run(
    state: &ApiState,
    caller: &Caller,
    target: Target,
    kind: StepKind,
    label: String,
) -> Result<Json<Value>, ApiError> {
    let Target {
        project,
        user,
        filter,
        nodes,
        threadcount,
        keepgoing,
    } = target;
    let project = project.as_str();
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
            threadcount,
            keepgoing,
            ..Dispatch::default()
        },
        ..NodeFilters::default()
    });
    let opts = RunOptions {
        user: Some(user.clone()),
        nodes: Some(nodes),
        subject: Some(caller.subject.clone()),
        ..RunOptions::default()
    };
    let handle = state.runs.engine.start_job(project, &job, opts).await?;
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
