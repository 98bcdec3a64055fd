//! Jobs: list, export, import, get, delete (one or many), info, run, retry,
//! enable/disable execution and schedule, and a job's executions.

use crate::error::{ApiError, Code};
use crate::executions::ids_of;
use crate::extract::Caller;
use crate::extract::{flag, number, optional_json, param, path, Params};
use crate::job_lists::{self, accepts_gzip, ListKey};
use crate::views::jobs::{import_entry, job_json, scheduled_json, JobItem};
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Json;
use axum::Router;
use chrono::{DateTime, Utc};
use foredeck_core::jobs::{OnDuplicate, SaveError, Saved, Toggle};
use foredeck_core::schedule::TriggerSpec;
use foredeck_core::store::{ExecutionQuery, JobQuery};
use foredeck_core::{ExecutionStatus, Job, JobSummary, Scheduler, ScriptTokens, StartRun, Started};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// The job routes: lists, export, import, one job, its runs, retries, executions and toggles.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/{v}/project/{project}/jobs", routing::get(list))
        .route(
            "/api/{v}/project/{project}/jobs/export",
            routing::get(export),
        )
        .route(
            "/api/{v}/project/{project}/jobs/import",
            routing::post(import),
        )
        .route(
            "/api/{v}/jobs/delete",
            routing::post(bulk_delete).delete(bulk_delete),
        )
        .route("/api/{v}/job/{id}", routing::get(get).delete(delete))
        .route("/api/{v}/job/{id}/info", routing::get(info))
        .route("/api/{v}/job/{id}/forecast", routing::get(forecast))
        .route("/api/{v}/job/{id}/run", routing::post(run))
        .route(
            "/api/{v}/job/{id}/executions",
            routing::get(executions).post(run),
        )
        .route("/api/{v}/job/{id}/retry/{execid}", routing::post(retry))
        .route(
            "/api/{v}/job/{id}/execution/enable",
            routing::post(enable_execution),
        )
        .route(
            "/api/{v}/job/{id}/execution/disable",
            routing::post(disable_execution),
        )
        .route(
            "/api/{v}/job/{id}/schedule/enable",
            routing::post(enable_schedule),
        )
        .route(
            "/api/{v}/job/{id}/schedule/disable",
            routing::post(disable_schedule),
        )
}

/// The project named in the path, when the caller may read it. `writes`:
/// the route changes the project, so its existence is read from the store
/// rather than taken from what was found recently.
async fn project_of(
    state: &ApiState,
    caller: &Caller,
    p: &HashMap<String, String>,
    writes: bool,
) -> Result<String, ApiError> {
    let name = path(p, "project");
    if !state.may_read_project(&caller.subject, &name) {
        return Err(ApiError::unauthorized("read", &format!("Project {name}")));
    }
    let exists = if writes {
        state.store.get_project(&name).await?.is_some()
    } else {
        state.project_exists(&name).await?
    };
    if !exists {
        return Err(ApiError::not_found("Project", &name));
    }
    Ok(name)
}

/// Next fire times of a project's scheduled jobs, by job uuid.
async fn next_fires(
    state: &ApiState,
    project: &str,
) -> Result<HashMap<String, DateTime<Utc>>, ApiError> {
    let mut out: HashMap<String, DateTime<Utc>> = HashMap::new();
    for t in state.store.list_triggers(Some(project)).await? {
        if let (true, Some(j)) = (t.enabled, t.job_id) {
            let e = out.entry(j).or_insert(t.next_fire);
            *e = (*e).min(t.next_fire);
        }
    }
    Ok(out)
}

/// Rundeck's job list filters: what the store filters by, and the flags
/// checked on each job.
struct ListFilter {
    query: JobQuery,
    scheduled: Option<bool>,
    schedule_enabled: Option<bool>,
    execution_enabled: Option<bool>,
}

impl ListFilter {
    fn parse(q: &[(String, String)]) -> Result<Self, ApiError> {
        let text = |k: &str| param(q, k).filter(|s| !s.is_empty()).map(str::to_owned);
        let mut query = JobQuery {
            name_contains: text("jobFilter"),
            name_exact: text("jobExactFilter"),
            group_exact: text("groupPathExact"),
            ..JobQuery::default()
        };
        match text("groupPath").as_deref() {
            None | Some("*") => {}
            Some("-") => query.group_exact = Some(String::new()),
            Some(g) => query.group_path = Some(g.to_owned()),
        }
        for (k, v) in q {
            if k == "idlist" {
                query.ids.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
            }
        }
        Ok(ListFilter {
            query,
            scheduled: flag(q, "scheduledFilter")?,
            schedule_enabled: flag(q, "scheduleEnabledFilter")?,
            execution_enabled: flag(q, "executionEnabledFilter")?,
        })
    }

    fn flags_match(&self, j: &JobSummary) -> bool {
        self.scheduled.is_none_or(|s| j.scheduled == s)
            && self
                .schedule_enabled
                .is_none_or(|s| j.schedule_enabled == s)
            && self
                .execution_enabled
                .is_none_or(|s| j.execution_enabled == s)
    }
}

/// `GET /api/{v}/project/{project}/jobs` with `jobFilter`, `jobExactFilter`,
/// `groupPath` (`*` all, `-` top level), `groupPathExact`, `idlist`,
/// `scheduledFilter`, `scheduleEnabledFilter`, `executionEnabledFilter`.
///
/// For a caller who sees every job of the project the body is rendered
/// once per job revision and next fire times, and sent gzip-compressed to
/// clients that take it ([`job_lists`](crate::job_lists)).
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let project = project_of(&state, &caller, &p, false).await?;
    let filter = ListFilter::parse(&q)?;
    let all = state.sees_every_job(&caller.subject, &project);
    // read before the jobs: a change after it makes the next list new;
    // only a list that every such caller gets alike is kept
    let kept_as = match all {
        true => state.store.job_revision(&project).await?,
        false => None,
    }
    .map(|rev| {
        let key = ListKey {
            project: project.clone(),
            version: caller.version.0,
            query: filter.query.clone(),
            flags: [
                filter.scheduled,
                filter.schedule_enabled,
                filter.execution_enabled,
            ],
        };
        (rev, key)
    });
    let next = next_fires(&state, &project).await?;
    let gzip = accepts_gzip(&headers);
    if let Some((rev, key)) = &kept_as {
        if let Some(kept) = state.job_lists.get(key, *rev, &next) {
            return Ok(job_lists::respond(&kept, gzip).await);
        }
    }
    let jobs = state
        .store
        .list_job_summaries(&project, &filter.query)
        .await?;
    let items: Vec<JobItem> = jobs
        .iter()
        .filter(|j| filter.flags_match(j))
        .filter(|j| all || state.sees_job_in(&caller.subject, &project, *j))
        .map(|j| JobItem::new(caller.version, &project, j, next.get(&j.uuid).copied()))
        .collect();
    // serialized here, while the items borrow the summaries
    let body = serde_json::to_vec(&items)
        .map_err(|e| ApiError::of(Code::Unknown, format!("job list: {e}")))?;
    match kept_as {
        Some((rev, key)) => {
            let kept = state.job_lists.put(key, rev, next, body.into());
            Ok(job_lists::respond(&kept, gzip).await)
        }
        None => Ok(([(CONTENT_TYPE, "application/json")], body).into_response()),
    }
}

/// Which document format a request asks for: `format` parameter, else the
/// `Accept` header, else JSON.
fn wanted_format(q: &[(String, String)], headers: &HeaderMap) -> Result<&'static str, ApiError> {
    match param(q, "format") {
        Some("yaml") => Ok("yaml"),
        Some("json") => Ok("json"),
        Some(other) => Err(ApiError::invalid(format!(
            "parameter format: {other:?} is not yaml or json (xml is not supported)"
        ))),
        None => Ok(
            if headers
                .get(ACCEPT)
                .and_then(|a| a.to_str().ok())
                .is_some_and(|a| a.contains("yaml"))
            {
                "yaml"
            } else {
                "json"
            },
        ),
    }
}

fn document(format: &str, jobs: &[Job]) -> Result<Response, ApiError> {
    let jobs = &without_secure_defaults(jobs);
    Ok(if format == "yaml" {
        let text = foredeck_core::format::jobs_to_yaml(jobs)?;
        ([(CONTENT_TYPE, "application/yaml")], text).into_response()
    } else {
        let text = foredeck_core::format::jobs_to_json(jobs)?;
        ([(CONTENT_TYPE, "application/json")], text).into_response()
    })
}

/// The jobs with the default value of every secure option left out: job
/// GET and export never show it (an export re-imported runs without it,
/// unless the option names a `storagePath`).
fn without_secure_defaults(jobs: &[Job]) -> Vec<Job> {
    let mut jobs = jobs.to_vec();
    for opt in jobs.iter_mut().flat_map(|j| j.options.iter_mut()) {
        if opt.secure {
            opt.default = None;
        }
    }
    jobs
}

/// `GET /api/{v}/project/{project}/jobs/export?format=yaml|json` with the
/// list filters: the definitions of the jobs the caller may `read`.
pub(crate) async fn export(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let project = project_of(&state, &caller, &p, false).await?;
    let format = wanted_format(&q, &headers)?;
    let filter = ListFilter::parse(&q)?;
    let all = state.may_every_job(&caller.subject, "read", &project);
    let jobs: Vec<Job> = state
        .store
        .list_jobs(&project, &filter.query)
        .await?
        .into_iter()
        .filter(|j| filter.flags_match(&j.summary()))
        .filter(|j| all || state.may_job(&caller.subject, "read", &project, j))
        .collect();
    document(format, &jobs)
}

/// 415 with Rundeck's code for an import format that is not taken.
fn unsupported_format(name: &str, format: &str) -> ApiError {
    ApiError::of(Code::ImportFormatUnsupported, format!(
            "The specified format is not supported: {format} (parameter {name}: yaml or json; xml is not supported)"
        ),
    )
}

/// Whether an import document is YAML (else JSON): the `fileformat` (or
/// `format`) parameter, else the content type (of the body, or of a form's
/// `xmlBatch` part), else, for a form, the document's first character.
fn import_is_yaml(
    q: &[(String, String)],
    content_type: &str,
    form_text: Option<&str>,
) -> Result<bool, ApiError> {
    let named = match param(q, "fileformat") {
        Some(f) => Some(("fileformat", f)),
        None => param(q, "format").map(|f| ("format", f)),
    };
    match named {
        Some((_, "yaml")) => Ok(true),
        Some((_, "json")) => Ok(false),
        Some((name, other)) => Err(unsupported_format(name, other)),
        None if content_type.contains("yaml") => Ok(true),
        None if content_type.contains("json") => Ok(false),
        None => match form_text.map(|t| t.trim_start().chars().next()) {
            Some(Some('[' | '{')) => Ok(false),
            Some(Some('<')) => Err(unsupported_format("fileformat", "xml")),
            Some(_) => Ok(true),
            None => Err(ApiError::invalid(
                "send the jobs as application/yaml or application/json, or name the format with fileformat=yaml|json",
            )),
        },
    }
}

/// `POST /api/{v}/project/{project}/jobs/import`: a job YAML or JSON
/// document, as the body or (Rundeck's form uploads) as the `xmlBatch`
/// field of an `application/x-www-form-urlencoded` body or part of a
/// `multipart/form-data` one; the format from `fileformat`, else the
/// `Content-Type`. Options (query parameters, or form fields): `dupeOption`
/// (`create` (default, as Rundeck; a job whose group and name exist fails),
/// `update`, `skip`) and `uuidOption` (`preserve`
/// (default), `remove`). Answers which jobs succeeded, failed or were skipped.
pub(crate) async fn import(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(p): Path<HashMap<String, String>>,
    Query(mut q): Params,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let project = project_of(&state, &caller, &p, true).await?;
    let form = crate::extract::Form::parse(&headers, body.clone()).await?;
    if let Some(f) = &form {
        q.extend(f.fields().into_iter().filter(|(n, _)| n != "xmlBatch"));
    }
    let dupe = match param(&q, "dupeOption").unwrap_or("create") {
        "create" => OnDuplicate::Create,
        "update" => OnDuplicate::Update,
        "skip" => OnDuplicate::Skip,
        other => {
            return Err(ApiError::invalid(format!(
                "parameter dupeOption: {other:?} is not create, update or skip"
            )))
        }
    };
    let remove_uuids = match param(&q, "uuidOption").unwrap_or("preserve") {
        "preserve" => false,
        "remove" => true,
        other => {
            return Err(ApiError::invalid(format!(
                "parameter uuidOption: {other:?} is not preserve or remove"
            )))
        }
    };
    let (text, source, yaml) = match &form {
        Some(f) => {
            let part = f
                .part("xmlBatch")
                .ok_or_else(|| crate::extract::required("xmlBatch"))?;
            let text = part.text()?;
            let ctype = part.content_type.as_deref().unwrap_or("");
            (text, "xmlBatch", import_is_yaml(&q, ctype, Some(text))?)
        }
        None => {
            let ctype = crate::extract::media_type(&headers);
            let yaml = import_is_yaml(&q, &ctype, None)?;
            let text = std::str::from_utf8(&body)
                .map_err(|e| ApiError::invalid(format!("request body is not UTF-8: {e}")))?;
            (text, "request body", yaml)
        }
    };
    let jobs = if yaml {
        foredeck_core::format::parse_jobs_yaml(text, source)?
    } else {
        foredeck_core::format::parse_jobs_json(text, source)?
    };
    let (mut succeeded, mut failed, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for (i, mut job) in jobs.into_iter().enumerate() {
        let index = i + 1;
        job.project = Some(project.clone());
        if remove_uuids {
            job.uuid = None;
        }
        let entry = |job: &Job, error: Option<String>| {
            import_entry(caller.version, &project, index, job, error)
        };
        match import_one(&state, &caller, &project, job.clone(), dupe).await {
            Ok(Saved::Created(stored) | Saved::Updated(stored)) => {
                succeeded.push(entry(&stored, None))
            }
            Ok(Saved::Skipped(existing)) => skipped.push(entry(&existing, None)),
            Err(msg) => {
                // a uuid the caller sent is theirs to see; nothing else leaks
                failed.push(entry(&job, Some(msg)));
            }
        }
    }
    Ok(Json(json!({
        "succeeded": succeeded,
        "failed": failed,
        "skipped": skipped,
    })))
}

/// Saves one job of an import through core's job service and records it;
/// a failure is the message of the import's `failed` entry.
async fn import_one(
    state: &ApiState,
    caller: &Caller,
    project: &str,
    job: Job,
    dupe: OnDuplicate,
) -> Result<Saved, String> {
    let saved = state
        .jobs()
        .save(&caller.subject, project, job, dupe)
        .await
        .map_err(|e| match e {
            // store messages are logged, not sent
            SaveError::Other(e) => ApiError::from(e).message,
            e => e.to_string(),
        })?;
    let (action, stored) = match &saved {
        Saved::Created(j) => ("create", j),
        Saved::Updated(j) => ("update", j),
        Saved::Skipped(_) => return Ok(saved),
    };
    let id = stored.uuid.clone().unwrap_or_default();
    state
        .audit(
            caller,
            action,
            "job",
            &id,
            Some(project),
            json!({"name": stored.full_name(), "via": "import"}),
        )
        .await;
    Ok(saved)
}

/// `GET /api/{v}/job/{id}?format=yaml|json`: the definition (a list of one).
pub(crate) async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let format = wanted_format(&q, &headers)?;
    let (_, job) = state
        .job_for(&caller.subject, &path(&p, "id"), "read")
        .await?;
    document(format, &[job])
}

async fn delete_job(state: &ApiState, caller: &Caller, id: &str) -> Result<Job, ApiError> {
    let (project, job) = state.job_for(&caller.subject, id, "delete").await?;
    state.jobs().delete(&caller.subject, &project, &job).await?;
    state
        .audit(
            caller,
            "delete",
            "job",
            id,
            Some(&project),
            json!({"name": job.full_name()}),
        )
        .await;
    Ok(job)
}

/// `DELETE /api/{v}/job/{id}`: the job and its schedule (its executions stay).
pub(crate) async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<StatusCode, ApiError> {
    delete_job(&state, &caller, &path(&p, "id")).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST|DELETE /api/{v}/jobs/delete` with `{"ids": [...]}` or `idlist`.
pub(crate) async fn bulk_delete(
    State(state): State<ApiState>,
    caller: Caller,
    Query(q): Params,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let ids = ids_of(&body, &q)?;
    let (mut succeeded, mut failed) = (Vec::new(), Vec::new());
    for id in &ids {
        match delete_job(&state, &caller, id).await {
            Ok(job) => succeeded.push(json!({
                "id": id,
                "message": format!("Job was successfully deleted: {}", job.full_name()),
            })),
            Err(e) => failed.push(json!({
                "id": id,
                "errorCode": e.code,
                "message": e.message,
            })),
        }
    }
    Ok(Json(json!({
        "requestCount": ids.len(),
        "allsuccessful": failed.is_empty(),
        "succeeded": succeeded,
        "failed": failed,
    })))
}

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
    let now = Utc::now();
    let until = now + period;
    let mut times: Vec<DateTime<Utc>> = Vec::new();
    for t in state.store.list_triggers(Some(&project)).await? {
        if !t.enabled || t.job_id.as_deref() != Some(id.as_str()) {
            continue;
        }
        let spec: Option<TriggerSpec> = serde_json::from_value(t.spec.clone()).ok();
        match spec.as_ref().and_then(|s| s.cron.as_deref()) {
            Some(cron) => {
                let zone = spec.as_ref().and_then(|s| s.zone.as_deref());
                let sched = foredeck_core::cron::CronSchedule::parse_at(cron, zone, now)?;
                times.push(t.next_fire);
                times.extend(sched.upcoming(t.next_fire, usize::try_from(max).unwrap_or(100)));
            }
            None => times.push(t.next_fire),
        }
    }
    times.sort();
    times.dedup();
    let future: Vec<Value> = times
        .into_iter()
        .filter(|t| *t <= until)
        .take(usize::try_from(max).unwrap_or(100))
        .map(|t| json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        .collect();
    let next = state.runs.scheduler.next_fire_time(&project, &id).await?;
    let mut out = job_json(caller.version, &project, &job.summary(), next);
    out["futureScheduledExecutions"] = Value::Array(future);
    Ok(Json(out))
}

async fn toggle(
    state: ApiState,
    caller: Caller,
    id: String,
    what: Toggle,
    on: bool,
) -> Result<Json<Value>, ApiError> {
    let (project, job) = state.job_for(&caller.subject, &id, what.action()).await?;
    state
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
            &caller,
            &format!("{verb}_{what}"),
            "job",
            &id,
            Some(&project),
            json!({}),
        )
        .await;
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

/// The body of a run or retry request (all fields optional; query
/// parameters of the same names are read too).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OptionValue {
    One(String),
    Number(serde_json::Number),
    Bool(bool),
    Many(Vec<String>),
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
/// included); the body wins.
fn run_body(body: &Bytes, q: &[(String, String)]) -> Result<RunBody, ApiError> {
    let mut b: RunBody = optional_json(body)?.unwrap_or_default();
    let text = |k: &str| param(q, k).map(str::to_owned);
    b.arg_string = b.arg_string.or_else(|| text("argString"));
    b.loglevel = b.loglevel.or_else(|| text("loglevel"));
    b.as_user = b.as_user.or_else(|| text("asUser"));
    b.filter = b.filter.or_else(|| text("filter"));
    b.run_at_time = b.run_at_time.or_else(|| text("runAtTime"));
    if b.failed_nodes.is_none() {
        b.failed_nodes = flag(q, "failedNodes")?;
    }
    let from_query: BTreeMap<String, OptionValue> = q
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("option.")
                .map(|n| (n.to_owned(), OptionValue::One(v.clone())))
        })
        .collect();
    if b.options.is_none() && !from_query.is_empty() {
        b.options = Some(from_query);
    }
    Ok(b)
}

/// Starts `job` (or schedules it with `runAtTime`) through the run
/// service and answers with the execution.
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
    let e = match state.runs.start_run(project, job, request).await? {
        Started::Now(e) => e,
        Started::Scheduled { at, user } => {
            state
                .audit(
                    caller,
                    "schedule_run",
                    "job",
                    &id,
                    Some(project),
                    json!({"runAtTime": at.to_rfc3339(), "as": user}),
                )
                .await;
            return Ok(Json(scheduled_json(
                caller.version,
                project,
                job,
                at,
                &user,
            )));
        }
    };
    let mut detail = json!({"execution": e.id, "as": e.user, "retryOf": retry_of});
    if job.script_tokens == ScriptTokens::Raw {
        // the job opted out of token quoting: its scripts take values raw
        detail["scriptTokens"] = json!(ScriptTokens::Raw.as_str());
    }
    state
        .audit(caller, "run", "job", &id, Some(project), detail)
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
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (project, job) = state
        .job_for(&caller.subject, &path(&p, "id"), "run")
        .await?;
    let b = run_body(&body, &q)?;
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
    let mut b = run_body(&body, &q)?;
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

/// `GET /api/{v}/job/{id}/executions?status=&max=&offset=`.
pub(crate) async fn executions(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let id = path(&p, "id");
    let (project, _) = state.visible_job(&caller.subject, &id).await?;
    let status = match param(&q, "status").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match ExecutionStatus::parse(s) {
            ExecutionStatus::Other(_) => {
                return Err(ApiError::invalid(format!(
                    "parameter status: {s:?} is not an execution status"
                )))
            }
            st => Some(st),
        },
    };
    let page = state
        .store
        .query_executions(&ExecutionQuery {
            project: Some(project),
            job_ids: vec![id],
            status,
            offset: number(&q, "offset")?.unwrap_or(0),
            max: number(&q, "max")?.unwrap_or(20).clamp(1, 1_000),
            ..ExecutionQuery::default()
        })
        .await?;
    Ok(Json(state.paged(caller.version, page).await?))
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
