//! Running a job: `run` (and `executions` by POST), `retry`, and runs for
//! callers that are not at the API itself (webhooks), all started through
//! core's run service.

use crate::error::{ApiError, Code};
use crate::extract::{flag, optional_json, param, path, Caller, Form, Params};
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use foredeck_core::{Job, ScriptTokens, StartRun, Started};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// The JSON body of a run or retry request (all fields optional; query
/// parameters of the same names are read too). As Rundeck reads it: other
/// keys (pyrundeck's `logLevel`, async-rundeck's `arg_string`) are ignored
/// and `null` is the same as absent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunBody {
    #[serde(default)]
    arg_string: Option<String>,
    #[serde(default)]
    loglevel: Option<String>,
    #[serde(default)]
    as_user: Option<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    run_at_time: Option<String>,
    #[serde(default)]
    options: Option<BTreeMap<String, OptionValue>>,
    /// Retry only: run on the failed nodes only (default true).
    #[serde(default)]
    failed_nodes: Option<bool>,
}

/// An option's value: text, a number or true/false (as text), or a list
/// of text for a multi-valued option.
#[derive(Debug)]
enum OptionValue {
    One(String),
    Number(serde_json::Number),
    Bool(bool),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for OptionValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let wrong = || D::Error::custom("expected text, a number, true/false or a list of text");
        match Value::deserialize(d)? {
            Value::String(s) => Ok(OptionValue::One(s)),
            Value::Number(n) => Ok(OptionValue::Number(n)),
            Value::Bool(b) => Ok(OptionValue::Bool(b)),
            Value::Array(a) => a
                .into_iter()
                .map(|x| match x {
                    Value::String(s) => Ok(s),
                    _ => Err(wrong()),
                })
                .collect::<Result<_, _>>()
                .map(OptionValue::Many),
            _ => Err(wrong()),
        }
    }
}

impl OptionValue {
    fn text(self) -> String {
        match self {
            OptionValue::One(s) => s,
            OptionValue::Number(n) => n.to_string(),
            OptionValue::Bool(b) => b.to_string(),
            OptionValue::Many(v) => v.join(","),
        }
    }
}

/// The run request of a body and query parameters (`option.NAME=value`
/// included); the body wins. A form body (urlencoded or multipart) is read
/// as Rundeck reads it: its fields are parameters like the query's, and
/// its file parts are ignored.
async fn run_body(
    headers: &HeaderMap,
    body: Bytes,
    query: &[(String, String)],
) -> Result<RunBody, ApiError> {
    let (mut b, fields) = match Form::parse(headers, body.clone()).await? {
        Some(form) => (RunBody::default(), form.fields()),
        None => (optional_json(&body)?.unwrap_or_default(), Vec::new()),
    };
    // the form's fields after the query's: the last value is read
    let mut all = query.to_vec();
    all.extend(fields.iter().cloned());
    let q = &all[..];
    let text = |k: &str| param(q, k).map(str::to_owned);
    b.arg_string = b.arg_string.or_else(|| text("argString"));
    b.loglevel = b.loglevel.or_else(|| text("loglevel"));
    b.as_user = b.as_user.or_else(|| text("asUser"));
    b.filter = b.filter.or_else(|| text("filter"));
    b.run_at_time = b.run_at_time.or_else(|| text("runAtTime"));
    if b.failed_nodes.is_none() {
        b.failed_nodes = flag(q, "failedNodes")?;
    }
    if b.options.is_none() {
        // an option the form names takes the form's values only
        let mut options = options_of(query);
        options.extend(options_of(&fields));
        if !options.is_empty() {
            b.options = Some(options);
        }
    }
    Ok(b)
}

/// The `option.NAME=value` parameters; `option.NAME=a&option.NAME=b` gives
/// a multi-valued option both values.
fn options_of(params: &[(String, String)]) -> BTreeMap<String, OptionValue> {
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in params {
        if let Some(n) = k.strip_prefix("option.") {
            by_name.entry(n.to_owned()).or_default().push(v.clone());
        }
    }
    by_name
        .into_iter()
        .map(|(n, mut v)| {
            let value = if v.len() == 1 {
                OptionValue::One(v.remove(0))
            } else {
                OptionValue::Many(v)
            };
            (n, value)
        })
        .collect()
}

/// Starts `job` (or schedules it with `runAtTime`: its execution is then
/// `scheduled`, and starts at that time) through the run service and
/// answers with the execution.
async fn start(
    state: &ApiState,
    caller: &Caller,
    project: &str,
    job: &Job,
    b: RunBody,
    kept_options: BTreeMap<String, String>,
    retry_of: Option<u64>,
) -> Result<Json<Value>, ApiError> {
    let id = job.uuid.clone().unwrap_or_default();
    let request = StartRun {
        subject: caller.subject.clone(),
        kept_options,
        arg_string: b.arg_string,
        options: b
            .options
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.text()))
            .collect(),
        loglevel: b.loglevel,
        as_user: b.as_user,
        filter: b.filter,
        run_at_time: b.run_at_time,
    };
    let (e, action) = match state.runs.start_run(project, job, request).await? {
        Started::Now(e) => (e, "run"),
        Started::Scheduled(e) => (e, "schedule_run"),
    };
    let mut detail = json!({"execution": e.id, "as": e.user, "retryOf": retry_of});
    if action == "schedule_run" {
        detail["runAtTime"] = json!(e.date_started.to_rfc3339());
    }
    if job.script_tokens == ScriptTokens::Raw {
        // the job opted out of token quoting: its scripts take values raw
        detail["scriptTokens"] = json!(ScriptTokens::Raw.as_str());
    }
    state
        .audit(caller, action, "job", &id, Some(project), detail)
        .await;
    Ok(Json(crate::views::executions::execution_json(
        caller.version,
        &e,
        Some(&job.summary()),
    )))
}

/// `POST /api/{v}/job/{id}/run` (and `/executions`): runs the job with
/// `argString` or `options`, `loglevel`, `asUser`, `filter`, or at
/// `runAtTime`; answers with the execution, which runs in the background.
pub(crate) async fn run(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (project, job) = state
        .job_for(&caller.subject, &path(&p, "id"), "run")
        .await?;
    let b = run_body(&headers, body, &q).await?;
    start(&state, &caller, &project, &job, b, BTreeMap::new(), None).await
}

/// `POST /api/{v}/job/{id}/retry/{execid}`: runs the job again on the
/// execution's failed nodes (unless `failedNodes=false`), with its options
/// unless others are given. Secure option values are not kept in records,
/// so they must be given again.
pub(crate) async fn retry(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let id = path(&p, "id");
    let (project, job) = state.job_for(&caller.subject, &id, "run").await?;
    let e = state
        .execution_for(&caller.subject, &path(&p, "execid"), "read")
        .await?;
    if e.job_id.as_deref() != Some(id.as_str()) {
        return Err(ApiError::invalid(format!(
            "Execution ID {} is not an execution of job {id}",
            e.id
        )));
    }
    if !e.status.is_final() {
        return Err(ApiError::of(
            Code::ExecutionRunning,
            format!("Execution ID {} is still running", e.id),
        ));
    }
    let mut b = run_body(&headers, body, &q).await?;
    if b.failed_nodes.unwrap_or(true) && b.filter.is_none() {
        let failed = e.failed_nodes();
        if !failed.is_empty() {
            b.filter = Some(format!("name: {}", failed.join(",")));
        }
    }
    let given = b.arg_string.is_some() || b.options.is_some();
    let options = if given {
        BTreeMap::new()
    } else {
        e.options
            .iter()
            .filter(|(k, _)| job.option(k).is_some_and(|o| !o.secure))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    start(&state, &caller, &project, &job, b, options, Some(e.id)).await
}

/// Runs `job` for a caller that is not at the API itself (a webhook, as its
/// user and roles), as `POST /job/{id}/run` would with these options and
/// node filter.
pub(crate) async fn run_for(
    state: &ApiState,
    caller: &Caller,
    project: &str,
    job: &Job,
    options: BTreeMap<String, String>,
    filter: Option<String>,
) -> Result<Json<Value>, ApiError> {
    let b = RunBody {
        filter,
        ..RunBody::default()
    };
    start(state, caller, project, job, b, options, None).await
}
