//! Rundeck's execution query metrics: `executions/metrics` (every project
//! the caller may read, or the one named by `project`) and
//! `project/{project}/executions/metrics`.
//!
//! The same filters as the project execution query (paging ignored),
//! narrowed to what the caller may see as that query narrows them;
//! counted by the store in one aggregate per project. The answer is
//! Rundeck's: `total`, counts by `status`, and `duration` `average`,
//! `min` and `max` of the executions that took at least a millisecond,
//! written as Rundeck writes them (`0s` under a second, whole seconds
//! under a minute, whole minutes above).

use super::query::{filters, project_for, restrict};
use crate::error::{ApiError, Code};
use crate::extract::{param, path, Caller, Params};
use crate::ApiState;
use axum::extract::{Path, Query, State};
use axum::Json;
use foredeck_core::store::{ExecutionMetrics, ExecutionQuery};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// The API version that brought the route.
const SINCE: u32 = 29;

/// A duration as Rundeck's metrics write it.
fn rundeck_duration(ms: u64) -> String {
    match ms {
        0..=999 => "0s".into(),
        1_000..=59_999 => format!("{}s", ms / 1_000),
        _ => format!("{}m", ms / 60_000),
    }
}

fn answer(m: &ExecutionMetrics) -> Value {
    let mut duration = Map::new();
    if let (Some(avg), Some(min), Some(max)) =
        (m.duration_avg_ms(), m.duration_min_ms, m.duration_max_ms)
    {
        duration.insert("average".into(), json!(rundeck_duration(avg)));
        duration.insert("min".into(), json!(rundeck_duration(min)));
        duration.insert("max".into(), json!(rundeck_duration(max)));
    }
    json!({
        "total": m.total,
        "status": m.by_status,
        "duration": duration,
    })
}

fn merge(into: &mut ExecutionMetrics, m: ExecutionMetrics) {
    into.total += m.total;
    for (k, n) in m.by_status {
        *into.by_status.entry(k).or_default() += n;
    }
    into.timed += m.timed;
    into.duration_sum_ms = into.duration_sum_ms.saturating_add(m.duration_sum_ms);
    for (mine, theirs, pick) in [
        (
            &mut into.duration_min_ms,
            m.duration_min_ms,
            u64::min as fn(u64, u64) -> u64,
        ),
        (&mut into.duration_max_ms, m.duration_max_ms, u64::max),
    ] {
        if let Some(t) = theirs {
            *mine = Some(mine.map_or(t, |x| pick(x, t)));
        }
    }
}

async fn of_projects(
    state: &ApiState,
    caller: &Caller,
    projects: Vec<String>,
    q: &[(String, String)],
) -> Result<Json<Value>, ApiError> {
    if caller.version.0 < SINCE {
        return Err(ApiError::of(
            Code::ApiVersionUnsupported,
            format!("Execution metrics need API version {SINCE} or later"),
        ));
    }
    let mut base = ExecutionQuery::default();
    let possible = filters(q, caller.version.0, &mut base)?;
    let mut total = ExecutionMetrics::default();
    for p in projects.into_iter().filter(|_| possible) {
        let mut query = ExecutionQuery {
            project: Some(p.clone()),
            ..base.clone()
        };
        if restrict(state, caller, &p, &mut query).await? {
            merge(&mut total, state.store.execution_metrics(&query).await?);
        }
    }
    Ok(Json(answer(&total)))
}

/// `GET /api/{v}/project/{project}/executions/metrics`.
pub(crate) async fn project_metrics(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let project = path(&p, "project");
    project_for(&state, &caller, &project).await?;
    of_projects(&state, &caller, vec![project], &q).await
}

/// `GET /api/{v}/executions/metrics`: over every project the caller may
/// read, or the one `project` names.
pub(crate) async fn metrics(
    State(state): State<ApiState>,
    caller: Caller,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let projects = match param(&q, "project").filter(|p| !p.is_empty()) {
        Some(p) => {
            project_for(&state, &caller, p).await?;
            vec![p.to_owned()]
        }
        None => state
            .store
            .list_projects()
            .await?
            .into_iter()
            .map(|p| p.name)
            .filter(|p| state.may_read_project(&caller.subject, p))
            .collect(),
    };
    of_projects(&state, &caller, projects, &q).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_rundeck_writes_them() {
        for (ms, s) in [
            (0, "0s"),
            (999, "0s"),
            (1_000, "1s"),
            (59_999, "59s"),
            (60_000, "1m"),
            (3_599_999, "59m"),
            (7_200_000, "120m"),
        ] {
            assert_eq!(rundeck_duration(ms), s);
        }
        let mut a = ExecutionMetrics {
            total: 2,
            timed: 1,
            duration_sum_ms: 5_000,
            duration_min_ms: Some(5_000),
            duration_max_ms: Some(5_000),
            ..Default::default()
        };
        a.by_status.insert("failed".into(), 2);
        let mut b = ExecutionMetrics {
            total: 1,
            timed: 1,
            duration_sum_ms: 61_000,
            duration_min_ms: Some(61_000),
            duration_max_ms: Some(61_000),
            ..Default::default()
        };
        b.by_status.insert("succeeded".into(), 1);
        merge(&mut a, b);
        assert_eq!(
            answer(&a),
            json!({"total": 3, "status": {"failed": 2, "succeeded": 1},
                   "duration": {"average": "33s", "min": "5s", "max": "1m"}})
        );
        assert_eq!(
            answer(&ExecutionMetrics::default()),
            json!({"total": 0, "status": {}, "duration": {}})
        );
    }
}
