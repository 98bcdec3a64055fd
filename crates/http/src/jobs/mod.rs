//! Jobs: list, export, import, get, delete (one or many), info, run, retry,
//! enable/disable execution and schedule, and a job's executions.

mod bulk;
mod import;
mod meta;
mod run;
mod schedule;
mod workflow;

pub(crate) use meta::since;
pub(crate) use run::run_for;

use bulk::{
    delete_executions, disable_executions, disable_schedules, enable_executions, enable_schedules,
};
use import::import;
use meta::{browse, job_meta};
use run::{retry, run};
use schedule::{
    disable_execution, disable_schedule, enable_execution, enable_schedule, forecast, info,
};
use workflow::workflow;

use crate::error::{ApiError, Code};
use crate::extract::{flag, ids_of, number, param, path, Caller, Params};
use crate::job_lists::{self, accepts_gzip, ListKey};
use crate::views::jobs::JobItem;
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::{HeaderMap, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Json;
use axum::Router;
use chrono::{DateTime, Utc};
use foredeck_core::store::{ExecutionQuery, JobQuery};
use foredeck_core::{ExecutionStatus, Job, JobSummary};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The job routes: lists, export, import, one job, its runs, retries, executions and toggles.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/api/{v}/project/{project}/jobs",
            routing::get(list).layer(axum::middleware::from_fn(
                crate::extract::json_only_from_v18,
            )),
        )
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
        .route(
            "/api/{v}/job/{id}/info",
            routing::get(info).layer(axum::middleware::from_fn(crate::extract::json_only)),
        )
        .route(
            "/api/{v}/job/{id}/forecast",
            routing::get(forecast).layer(axum::middleware::from_fn(crate::extract::json_only)),
        )
        .route("/api/{v}/job/{id}/workflow", routing::get(workflow))
        .route(
            "/api/{v}/job/{id}/meta",
            routing::get(job_meta).layer(axum::middleware::from_fn(crate::extract::json_only)),
        )
        .route(
            "/api/{v}/project/{project}/jobs/browse",
            routing::get(browse),
        )
        .route("/api/{v}/job/{id}/run", routing::post(run))
        .route(
            "/api/{v}/job/{id}/executions",
            routing::get(executions).post(run).delete(delete_executions),
        )
        .route(
            "/api/{v}/jobs/execution/enable",
            routing::post(enable_executions),
        )
        .route(
            "/api/{v}/jobs/execution/disable",
            routing::post(disable_executions),
        )
        .route(
            "/api/{v}/jobs/schedule/enable",
            routing::post(enable_schedules),
        )
        .route(
            "/api/{v}/jobs/schedule/disable",
            routing::post(disable_schedules),
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

/// A page of a job list, as Rundeck pages it: skip `offset` jobs, then at
/// most `max` (`max` absent or 0: no limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Page {
    offset: usize,
    max: Option<usize>,
}

impl Page {
    /// The page the request asks for; `None` when it asks for none (no
    /// `max` or `offset` above 0). A value that is not a whole number of 0
    /// or more is a 400 naming its parameter.
    fn parse(q: &[(String, String)]) -> Result<Option<Page>, ApiError> {
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let max = number(q, "max")?.filter(|&n| n > 0).map(size);
        let offset = number(q, "offset")?.map_or(0, size);
        Ok((max.is_some() || offset > 0).then_some(Page { offset, max }))
    }
}

/// `GET /api/{v}/project/{project}/jobs` with `jobFilter`, `jobExactFilter`,
/// `groupPath` (`*` all, `-` top level), `groupPathExact`, `idlist`,
/// `scheduledFilter`, `scheduleEnabledFilter`, `executionEnabledFilter`,
/// and Rundeck's paging: `offset` and `max`, over the jobs the caller may
/// see, in the list's order (group, then name).
///
/// For a caller who sees every job of the project and asks for no page,
/// the body is rendered once per job revision and next fire times, and
/// sent gzip-compressed to clients that take it
/// ([`job_lists`](crate::job_lists)).
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let project = project_of(&state, &caller, &p, false).await?;
    let filter = ListFilter::parse(&q)?;
    let page = Page::parse(&q)?;
    let all = state.sees_every_job(&caller.subject, &project);
    // read before the jobs: a change after it makes the next list new;
    // only a whole list that every such caller gets alike is kept
    let kept_as = match all && page.is_none() {
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
    let (skip, take) = page.map_or((0, usize::MAX), |p| (p.offset, p.max.unwrap_or(usize::MAX)));
    let items: Vec<JobItem> = jobs
        .iter()
        .filter(|j| filter.flags_match(j))
        .filter(|j| all || state.sees_job_in(&caller.subject, &project, *j))
        .skip(skip)
        .take(take)
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

/// The document format of a job export or definition, as Rundeck decides
/// it: the requested format ([`crate::extract::response_format`]) must be
/// one the route serves (`all`, `xml`, `yaml`, `json` from API 44, and for
/// the export also `html`), else Rundeck's `api.error.item.unsupported-format`
/// (406 for the export, 415 for one job, which also refuses `html`); a
/// request naming no format is `all`, as Grails reads a missing `Accept`;
/// `xml` and `yaml` are served as such, anything else as JSON.
fn wanted_format(
    q: &[(String, String)],
    headers: &HeaderMap,
    version: u32,
    export: bool,
) -> Result<&'static str, ApiError> {
    let requested = crate::extract::response_format(q, headers);
    let served = match requested.as_deref() {
        None => Some("all"),
        Some(f @ ("all" | "xml" | "yaml")) => Some(f),
        Some("json") if version > 43 => Some("json"),
        Some("html") if export => Some("html"),
        _ => None,
    };
    match served {
        Some("xml") => Ok("xml"),
        Some("yaml") => Ok("yaml"),
        Some(_) => Ok("json"),
        None => {
            let name = requested.unwrap_or_default();
            let code = if export {
                Code::FormatNotAcceptable
            } else {
                Code::FormatUnsupported
            };
            Err(ApiError::of(
                code,
                format!("The format is not valid: {name}"),
            ))
        }
    }
}

fn document(format: &str, jobs: &[Job]) -> Result<Response, ApiError> {
    let jobs = &without_secure_defaults(jobs);
    Ok(match format {
        "yaml" => {
            let text = foredeck_core::format::jobs_to_yaml(jobs)?;
            ([(CONTENT_TYPE, "application/yaml")], text).into_response()
        }
        "xml" => {
            let text = foredeck_core::format::jobs_to_xml(jobs)?;
            ([(CONTENT_TYPE, "text/xml;charset=UTF-8")], text).into_response()
        }
        _ => {
            let text = foredeck_core::format::jobs_to_json(jobs)?;
            ([(CONTENT_TYPE, "application/json")], text).into_response()
        }
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

/// `GET /api/{v}/project/{project}/jobs/export?format=xml|yaml|json` with the
/// list filters: the definitions of the jobs the caller may `read`.
pub(crate) async fn export(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let project = project_of(&state, &caller, &p, false).await?;
    let format = wanted_format(&q, &headers, caller.version.0, true)?;
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

/// `GET /api/{v}/job/{id}?format=xml|yaml|json`: the definition (a list of one).
pub(crate) async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let format = wanted_format(&q, &headers, caller.version.0, false)?;
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
    let mut results = Vec::with_capacity(ids.len());
    for id in &ids {
        let done = delete_job(&state, &caller, id).await;
        results.push((id.as_str(), done.map(|job| job.full_name())));
    }
    let (succeeded, failed) = bulk::outcomes(results, "Job was successfully deleted");
    Ok(Json(json!({
        "requestCount": ids.len(),
        "allsuccessful": failed.is_empty(),
        "succeeded": succeeded,
        "failed": failed,
    })))
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
