//! The project execution query and the running list.

use crate::error::ApiError;
use crate::extract::{flag, number, param, path, Caller, Params};
use crate::ApiState;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use foredeck_core::store::ExecutionQuery;
use foredeck_core::{Execution, ExecutionStatus, ExecutionType};
use serde_json::Value;
use std::collections::HashMap;

/// The filters of Rundeck's execution query on the executions' jobs: with
/// any of them, only job executions match (`adhoc=true` is refused).
const JOB_FILTERS: &[&str] = &[
    "jobIdListFilter",
    "excludeJobIdListFilter",
    "jobListFilter",
    "excludeJobListFilter",
    "groupPath",
    "groupPathExact",
    "excludeGroupPath",
    "excludeGroupPathExact",
    "jobFilter",
    "excludeJobFilter",
    "jobExactFilter",
    "excludeJobExactFilter",
];

/// Every value of a list parameter (given once per value), blanks left out.
fn all<'a>(q: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    q.iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A text parameter, unless blank.
fn text(q: &[(String, String)], name: &str) -> Option<String> {
    param(q, name)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
}

fn parse_time(name: &str, s: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(ms) = s.parse::<i64>() {
        return DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| ApiError::invalid(format!("parameter {name}: {s:?} is out of range")));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::invalid(format!(
                "parameter {name}: {s:?} is neither milliseconds nor an ISO-8601 time"
            ))
        })
}

/// Narrows a query to what the caller may see in `project`; `false` when
/// they can see nothing.
pub(crate) async fn restrict(
    state: &ApiState,
    caller: &Caller,
    project: &str,
    query: &mut ExecutionQuery,
) -> Result<bool, ApiError> {
    let adhoc = state.may_adhoc(&caller.subject, "read", project);
    if adhoc && state.sees_every_job(&caller.subject, project) {
        return Ok(true);
    }
    let jobs = state
        .store
        .list_job_summaries(project, &foredeck_core::JobQuery::default())
        .await?;
    // the caller reads the project (checked by every route before this)
    let visible: Vec<String> = jobs
        .iter()
        .filter(|j| state.sees_job_in(&caller.subject, project, *j))
        .map(|j| j.uuid.clone())
        .collect();
    if visible.len() == jobs.len() && adhoc {
        return Ok(true);
    }
    // executions of jobs no longer defined are shown only to those who see
    // every job and ad-hoc run of the project
    if query.adhoc == Some(true) {
        return Ok(adhoc);
    }
    if !adhoc {
        query.adhoc = Some(false);
    } else if query.job_ids.is_empty() && visible.is_empty() {
        query.adhoc = Some(true);
        return Ok(true);
    } else {
        query.adhoc = Some(false);
    }
    if query.job_ids.is_empty() {
        query.job_ids = visible;
    } else {
        query.job_ids.retain(|j| visible.contains(j));
    }
    Ok(!query.job_ids.is_empty())
}

pub(crate) async fn project_for(
    state: &ApiState,
    caller: &Caller,
    name: &str,
) -> Result<(), ApiError> {
    if !state.may_read_project(&caller.subject, name) {
        return Err(ApiError::unauthorized("read", &format!("Project {name}")));
    }
    if !state.project_exists(name).await? {
        return Err(ApiError::not_found("Project", name));
    }
    Ok(())
}

fn empty_page(q: &ExecutionQuery) -> foredeck_core::Page<Execution> {
    foredeck_core::Page {
        items: Vec::new(),
        total: 0,
        offset: q.offset,
        max: q.max,
    }
}

/// Reads Rundeck's execution query filters from `q` into `query` (the
/// project query's and the metrics'), as Rundeck reads them for API
/// version `version`: `begin`, `end`, `recentFilter` and `olderFilter` are
/// of the time an execution ended (`olderFilter` before `end`, `begin`
/// before `recentFilter`); `executionTypeFilter` is ignored before version
/// 20; a job filter limits the answer to job executions. `false` when
/// nothing can match.
pub(crate) fn filters(
    q: &[(String, String)],
    version: u32,
    query: &mut ExecutionQuery,
) -> Result<bool, ApiError> {
    for v in all(q, "jobIdListFilter") {
        query.job_ids.extend(
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
    }
    for v in all(q, "excludeJobIdListFilter") {
        query.exclude_job_ids.extend(
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
    }
    query
        .job_full_names
        .extend(all(q, "jobListFilter").map(str::to_owned));
    query
        .exclude_job_full_names
        .extend(all(q, "excludeJobListFilter").map(str::to_owned));
    if let Some(s) = param(q, "statusFilter").filter(|s| !s.is_empty()) {
        let status = ExecutionStatus::parse(s);
        if let ExecutionStatus::Other(_) = status {
            return Err(ApiError::invalid(format!(
                "parameter statusFilter: {s:?} is not one of running, succeeded, failed, aborted, timedout, failed-with-retry, scheduled, queued, incomplete, missed"
            )));
        }
        // waiting durable runs show as running: listed with them
        query.with_waiting = status == ExecutionStatus::Running;
        query.status = Some(status);
    }
    query.user = text(q, "userFilter");
    query.aborted_by = text(q, "abortedbyFilter");
    // "-": the top-level jobs
    let top = |s: String| if s == "-" { String::new() } else { s };
    let mut possible = true;
    match text(q, "groupPath").as_deref() {
        None | Some("*") => {}
        Some("-") => match text(q, "groupPathExact").map(top) {
            Some(g) if !g.is_empty() => possible = false,
            _ => query.group_path_exact = Some(String::new()),
        },
        Some(g) => query.group_path = Some(g.to_owned()),
    }
    if query.group_path_exact.is_none() {
        query.group_path_exact = text(q, "groupPathExact").map(top);
    }
    query.exclude_group_path = text(q, "excludeGroupPath").map(top);
    query.exclude_group_path_exact = text(q, "excludeGroupPathExact").map(top);
    query.job_name_contains = text(q, "jobFilter");
    query.exclude_job_name_contains = text(q, "excludeJobFilter");
    query.job_name_exact = text(q, "jobExactFilter");
    query.exclude_job_name_exact = text(q, "excludeJobExactFilter");
    query.adhoc = flag(q, "adhoc")?;
    if JOB_FILTERS.iter().any(|f| all(q, f).next().is_some()) {
        if query.adhoc == Some(true) {
            return Err(ApiError::invalid(
                "parameter adhoc: true asks for ad hoc executions, which no job filter matches \
                 (jobIdListFilter, jobListFilter, groupPath, jobFilter and their exclusions)",
            ));
        }
        query.adhoc = Some(false);
    }
    if version >= 20 {
        if let Some(t) = text(q, "executionTypeFilter") {
            query.execution_type = Some(ExecutionType::parse(&t).ok_or_else(|| {
                ApiError::invalid(format!(
                    "parameter executionTypeFilter: {t:?} is not one of scheduled, user, user-scheduled"
                ))
            })?);
        }
    }
    let now = Utc::now();
    if let Some(r) = text(q, "recentFilter") {
        *query = std::mem::take(query).recent(&r, now)?;
    }
    if let Some(b) = text(q, "begin") {
        query.ended_after = Some(parse_time("begin", &b)?);
    }
    if let Some(o) = text(q, "olderFilter") {
        *query = std::mem::take(query).older(&o, now)?;
    } else if let Some(e) = text(q, "end") {
        query.ended_before = Some(parse_time("end", &e)?);
    }
    Ok(possible)
}

/// `GET /api/{v}/project/{project}/executions` with every filter Rundeck
/// documents for it (see [`filters`]) and paging (`max`, `offset`).
pub(crate) async fn query(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let project = path(&p, "project");
    project_for(&state, &caller, &project).await?;
    let mut query = ExecutionQuery {
        project: Some(project.clone()),
        offset: number(&q, "offset")?.unwrap_or(0),
        max: number(&q, "max")?.unwrap_or(20).clamp(1, 1_000),
        ..ExecutionQuery::default()
    };
    let possible = filters(&q, caller.version.0, &mut query)?;
    let page = if possible && restrict(&state, &caller, &project, &mut query).await? {
        state.store.query_executions(&query).await?
    } else {
        empty_page(&query)
    };
    Ok(Json(state.paged(caller.version, page).await?))
}

/// `GET /api/{v}/project/{project}/executions/running` (`*` for every
/// project the caller may read); with `includePostponed=true`, the
/// scheduled and queued executions too.
pub(crate) async fn running(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let project = path(&p, "project");
    let projects: Vec<String> = if project == "*" {
        state
            .store
            .list_projects()
            .await?
            .into_iter()
            .map(|p| p.name)
            .filter(|p| state.may_read_project(&caller.subject, p))
            .collect()
    } else {
        project_for(&state, &caller, &project).await?;
        vec![project]
    };
    let max = number(&q, "max")?.unwrap_or(20).clamp(1, 1_000);
    let offset = number(&q, "offset")?.unwrap_or(0);
    // Rundeck's `includePostponed` (v32): scheduled and queued runs too
    let mut statuses = vec![ExecutionStatus::Running];
    if flag(&q, "includePostponed")?.unwrap_or(false) {
        statuses.extend([ExecutionStatus::Scheduled, ExecutionStatus::Queued]);
    }
    let mut items = Vec::new();
    let mut total = 0;
    for p in projects {
        for status in &statuses {
            let mut query = ExecutionQuery {
                project: Some(p.clone()),
                status: Some(status.clone()),
                with_waiting: true,
                max: 1_000,
                ..ExecutionQuery::default()
            };
            if restrict(&state, &caller, &p, &mut query).await? {
                let page = state.store.query_executions(&query).await?;
                total += page.total;
                items.extend(page.items);
            }
        }
    }
    items.sort_by(|a, b| b.date_started.cmp(&a.date_started).then(b.id.cmp(&a.id)));
    let items = items
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(max).unwrap_or(usize::MAX))
        .collect();
    let page = foredeck_core::Page {
        items,
        total,
        offset,
        max,
    };
    Ok(Json(state.paged(caller.version, page).await?))
}
