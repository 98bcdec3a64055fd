//! Rundeck's UI metadata of jobs (API v46): `job/{id}/meta` and the job
//! group browser `project/{p}/jobs/browse`.
//!
//! The metadata items are those Rundeck's open-source server provides:
//! `authz` (which actions the caller may take on the job), `schedule` (its
//! schedule, the switches and the next fire time) and `stats` (average
//! duration, number of ended executions, success rate). Rundeck's `scm`
//! item is not given: Foredeck has no SCM integration.

use super::{project_of, ListFilter};
use crate::api::ApiVersion;
use crate::error::{ApiError, Code};
use crate::extract::{number, param, path, Caller, Params};
use crate::ApiState;
use axum::extract::{Path, Query, State};
use axum::Json;
use foredeck_core::store::ExecutionQuery;
use foredeck_core::{ExecutionStatus, Job, JobSummary, Schedule, Scheduler};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};

/// The metadata items Foredeck provides, by name.
const ITEMS: [&str; 3] = ["authz", "schedule", "stats"];

/// The actions `authz` reports (Rundeck's set).
const JOB_ACTIONS: [&str; 8] = [
    "view",
    "read",
    "run",
    "update",
    "create",
    "delete",
    "toggle_execution",
    "toggle_schedule",
];

/// 400 with Rundeck's code when the route is newer than the path's version.
pub(crate) fn since(v: ApiVersion, min: u32) -> Result<(), ApiError> {
    if v.0 >= min {
        return Ok(());
    }
    Err(ApiError::of(
        Code::ApiVersionUnsupported,
        format!(
            "Unsupported API Version \"{}\". Reason: Minimum supported version: {min}",
            v.0
        ),
    ))
}

/// The item names asked for by `meta` (comma-separated, `*` for all) less
/// `metaExclude` (read from API v58). Unknown names are ignored, as Rundeck
/// ignores names no component provides.
fn wanted(v: ApiVersion, q: &[(String, String)], default: &str) -> BTreeSet<&'static str> {
    let meta = param(q, "meta")
        .filter(|m| !m.trim().is_empty())
        .unwrap_or(default);
    let names: Vec<&str> = meta.split(',').map(str::trim).collect();
    let exclude: Vec<&str> = match param(q, "metaExclude") {
        Some(x) if v.0 >= 58 => x.split(',').map(str::trim).collect(),
        _ => Vec::new(),
    };
    ITEMS
        .into_iter()
        .filter(|i| names.contains(&"*") || names.contains(i))
        .filter(|i| !exclude.contains(i))
        .collect()
}

/// The asked items of one job, in Rundeck's `[{name, data}]` list.
async fn items(
    state: &ApiState,
    caller: &Caller,
    project: &str,
    job: &Job,
    names: &BTreeSet<&'static str>,
) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    let id = job.uuid.clone().unwrap_or_default();
    if names.contains("authz") {
        let data: serde_json::Map<String, Value> = JOB_ACTIONS
            .iter()
            .map(|a| {
                let ok = state.may_job(&caller.subject, a, project, job);
                ((*a).to_owned(), json!(ok))
            })
            .collect();
        out.push(json!({"name": "authz", "data": data}));
    }
    if names.contains("schedule") {
        let next = match job.schedule.is_some() && job.schedule_enabled {
            true => state.runs.scheduler.next_fire_time(project, &id).await?,
            false => None,
        };
        out.push(json!({"name": "schedule", "data": {
            "scheduleEnabled": job.schedule_enabled,
            "executionEnabled": job.execution_enabled,
            "schedule": schedule_data(job.schedule.as_ref()),
            // any server of a cluster fires a schedule: none owns it
            "serverNodeUUID": null,
            "nextExecutionTime": next.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "hasSchedule": job.schedule.is_some(),
        }}));
    }
    if names.contains("stats") {
        out.push(json!({"name": "stats", "data": stats(state, project, &id).await?}));
    }
    Ok(out)
}

/// Rundeck's schedule fields, from the job's Quartz expression.
fn schedule_data(s: Option<&Schedule>) -> Value {
    let Some(s) = s else { return json!({}) };
    let quartz = s.to_quartz();
    let f: Vec<&str> = quartz.split_whitespace().collect();
    let at = |i: usize| f.get(i).copied();
    json!({
        "seconds": at(0),
        "minute": at(1),
        "hour": at(2),
        "dayOfMonth": at(3),
        "month": at(4),
        "dayOfWeek": at(5),
        "year": at(6).unwrap_or("*"),
        "crontabString": match s {
            Schedule::Crontab { crontab } => Some(crontab.trim()),
            Schedule::Structured(_) => None,
        },
    })
}

/// `averageDuration` (ms, of the last 20 successful runs; 0 without any),
/// `executionCount` (ended executions) and `successRate` (succeeded / ended,
/// `-1` without any ended).
async fn stats(state: &ApiState, project: &str, id: &str) -> Result<Value, ApiError> {
    let count = |status: Option<ExecutionStatus>, max: u64| {
        let q = ExecutionQuery {
            project: Some(project.to_owned()),
            job_ids: vec![id.to_owned()],
            with_waiting: matches!(status, Some(ExecutionStatus::Running)),
            status,
            max,
            ..ExecutionQuery::default()
        };
        async move { state.store.query_executions(&q).await }
    };
    let all = count(None, 1).await?.total;
    let mut unfinished = 0;
    for s in [
        ExecutionStatus::Running,
        ExecutionStatus::Scheduled,
        ExecutionStatus::Queued,
    ] {
        unfinished += count(Some(s), 1).await?.total;
    }
    let ended = all.saturating_sub(unfinished);
    let ok = count(Some(ExecutionStatus::Succeeded), 20).await?;
    let durations: Vec<i64> = ok
        .items
        .iter()
        .filter_map(|e| {
            e.date_ended
                .map(|d| (d - e.date_started).num_milliseconds())
        })
        .collect();
    let average = match i64::try_from(durations.len()) {
        Ok(n) if n > 0 => durations.iter().sum::<i64>() / n,
        _ => 0,
    };
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let rate = if ended > 0 {
        ok.total as f64 / ended as f64
    } else {
        -1.0
    };
    Ok(json!({
        "averageDuration": average,
        "executionCount": ended,
        "successRate": rate,
    }))
}

/// `GET /api/{v}/job/{id}/meta?meta=&metaExclude=` (v46): the job's
/// metadata items (default all); needs `read` or `view` on the job.
pub(crate) async fn job_meta(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    since(caller.version, 46)?;
    let (project, job) = state.visible_job(&caller.subject, &path(&p, "id")).await?;
    let names = wanted(caller.version, &q, "*");
    Ok(Json(Value::Array(
        items(&state, &caller, &project, &job, &names).await?,
    )))
}

/// `GET /api/{v}/project/{project}/jobs/browse?path=&meta=&breakpoint=&max=`
/// (v46) with the job list filters: the jobs directly in group `path` (the
/// top level when blank) and the groups just below it that hold a job the
/// caller sees; each job with the `meta` items asked for, unless there are
/// at least `breakpoint` entries. `max` (v54) bounds the jobs read.
pub(crate) async fn browse(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    since(caller.version, 46)?;
    let project = project_of(&state, &caller, &p, false).await?;
    let root = param(&q, "path")
        .map(|s| s.trim_matches('/'))
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let mut filter = ListFilter::parse(&q)?;
    filter.query.group_path = root.clone();
    let breakpoint = number(&q, "breakpoint")?;
    let max = match caller.version.0 >= 54 {
        true => number(&q, "max")?,
        false => None,
    };
    let mut jobs = state
        .store
        .list_job_summaries(&project, &filter.query)
        .await?;
    if let Some(m) = max.filter(|m| *m > 0) {
        jobs.truncate(usize::try_from(m).unwrap_or(usize::MAX));
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut groups = BTreeSet::new();
    for j in jobs.iter().filter(|j| filter.flags_match(j)) {
        let group = j.group.as_deref().unwrap_or_default();
        if group == root.as_deref().unwrap_or_default() {
            if state.sees_job_in(&caller.subject, &project, j) {
                entries.push(Entry::Job(j));
            }
            continue;
        }
        let below = match &root {
            Some(r) => group
                .strip_prefix(r.as_str())
                .and_then(|g| g.strip_prefix('/')),
            None => Some(group),
        };
        let Some(first) = below.and_then(|g| g.split('/').next()) else {
            continue;
        };
        let child = match &root {
            Some(r) => format!("{r}/{first}"),
            None => first.to_owned(),
        };
        if !groups.contains(&child) && state.sees_job_in(&caller.subject, &project, j) {
            groups.insert(child.clone());
            entries.push(Entry::Group(child));
        }
    }
    let names = match param(&q, "meta").filter(|m| !m.trim().is_empty()) {
        Some(_) => wanted(caller.version, &q, ""),
        None => BTreeSet::new(),
    };
    let with_meta = !names.is_empty()
        && breakpoint.is_none_or(|b| b == 0 || usize::try_from(b).is_ok_and(|b| b > entries.len()));
    let mut items = Vec::with_capacity(entries.len());
    for e in entries {
        items.push(match e {
            Entry::Group(g) => json!({"job": false, "groupPath": g}),
            Entry::Job(j) => {
                let mut item = json!({
                    "job": true,
                    "groupPath": j.group,
                    "jobName": j.name,
                    "description": j.description,
                    "id": j.uuid,
                });
                if with_meta {
                    item["meta"] = json!(job_items(&state, &caller, &project, j, &names).await?);
                }
                item
            }
        });
    }
    Ok(Json(json!({"path": root, "items": items})))
}

/// One entry of the browser.
enum Entry<'a> {
    Job(&'a JobSummary),
    Group(String),
}

/// The items of a listed job (its definition read for the schedule).
async fn job_items(
    state: &ApiState,
    caller: &Caller,
    project: &str,
    j: &JobSummary,
    names: &BTreeSet<&'static str>,
) -> Result<Vec<Value>, ApiError> {
    match state.store.get_job(project, &j.uuid).await? {
        Some(job) => items(state, caller, project, &job, names).await,
        // deleted meanwhile
        None => Ok(Vec::new()),
    }
}
