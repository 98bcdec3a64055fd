//! The project execution query and the running list.

use crate::error::ApiError;
use crate::extract::{flag, number, param, path, Caller, Params};
use crate::ApiState;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use foredeck_core::store::ExecutionQuery;
use foredeck_core::{Execution, ExecutionStatus};
use serde_json::Value;
use std::collections::HashMap;

/// The parameters of the project execution query Rundeck has and this
/// server does not filter by: refused rather than ignored.
const UNSUPPORTED: &[&str] = &[
    "abortedbyFilter",
    "excludeJobIdListFilter",
    "jobListFilter",
    "excludeJobListFilter",
    "groupPathExact",
    "excludeGroupPath",
    "excludeGroupPathExact",
    "excludeJobFilter",
    "jobExactFilter",
    "excludeJobExactFilter",
    "executionTypeFilter",
    "olderFilter",
];

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
/// project query's and the metrics'); a filter this server does not have
/// is refused rather than ignored.
pub(crate) fn filters(q: &[(String, String)], query: &mut ExecutionQuery) -> Result<(), ApiError> {
    if let Some((k, _)) = q.iter().find(|(k, _)| UNSUPPORTED.contains(&k.as_str())) {
        return Err(ApiError::invalid(format!(
            "parameter {k}: this filter is not supported by this server"
        )));
    }
    for (k, v) in q {
        if k == "jobIdListFilter" {
            query.job_ids.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
    }
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
    query.user = param(q, "userFilter")
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    query.group_path = param(q, "groupPath")
        .filter(|s| !s.is_empty() && *s != "*")
        .map(str::to_owned);
    query.job_name_contains = param(q, "jobFilter")
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    query.adhoc = flag(q, "adhoc")?;
    if let Some(b) = param(q, "begin").filter(|s| !s.is_empty()) {
        query.begin = Some(parse_time("begin", b)?);
    }
    if let Some(e) = param(q, "end").filter(|s| !s.is_empty()) {
        query.end = Some(parse_time("end", e)?);
    }
    if let Some(r) = param(q, "recentFilter").filter(|s| !s.is_empty()) {
        *query = std::mem::take(query).recent(r, Utc::now())?;
    }
    Ok(())
}

/// `GET /api/{v}/project/{project}/executions` with Rundeck's filters
/// (`statusFilter`, `userFilter`, `recentFilter`, `begin`, `end`, `adhoc`,
/// `jobIdListFilter`, `groupPath`, `jobFilter`) and paging (`max`, `offset`).
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
    filters(&q, &mut query)?;
    let page = if restrict(&state, &caller, &project, &mut query).await? {
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
