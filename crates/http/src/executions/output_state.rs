//! `GET /api/{v}/execution/{id}/output/state`: the output with the state
//! changes of steps and nodes between its lines (Rundeck's `stepbegin`,
//! `stepend`, `nodebegin`, `nodeend` entries; log lines are `log`), or the
//! state changes alone (`stateOnly=true`).
//!
//! Foredeck's log holds only the lines; the state changes are the start and
//! end times the execution's state records for each step and each step on
//! each node, placed among the lines by time (a change before the lines of
//! the same instant when it begins, after them when it ends). A page of
//! lines (`offset`, `maxlines`) carries the changes that happened after the
//! line before it, up to its last line (to the end when it reaches the end
//! of the log).

use crate::error::ApiError;
use crate::extract::{flag, number, path, Caller, Params};
use crate::views::executions::api_status;
use crate::ApiState;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use foredeck_core::{Execution, LogEvent};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Log lines one answer carries at most.
const MAX_LINES: u64 = 10_000;
/// Events read from the store at once.
const PAGE: usize = 500;

/// A state change.
struct Change {
    time: DateTime<Utc>,
    /// Ends sort after the lines of their instant, begins before.
    end: bool,
    kind: &'static str,
    stepctx: String,
    node: Option<String>,
}

/// The state changes the execution's state records, in time order.
fn changes(e: &Execution) -> Vec<Change> {
    let mut out = Vec::new();
    for s in &e.state.steps {
        let at = |time, end, kind, node: Option<&String>| Change {
            time,
            end,
            kind,
            stepctx: s.stepctx.clone(),
            node: node.cloned(),
        };
        if let Some(t) = s.start_time {
            out.push(at(t, false, "stepbegin", None));
        }
        for (node, ns) in &s.node_states {
            if let Some(t) = ns.start_time {
                out.push(at(t, false, "nodebegin", Some(node)));
            }
            if let Some(t) = ns.end_time {
                out.push(at(t, true, "nodeend", Some(node)));
            }
        }
        if let Some(t) = s.end_time {
            out.push(at(t, true, "stepend", None));
        }
    }
    // stable: a step's begin stays before its nodes' at the same instant
    out.sort_by_key(|c| c.time);
    out
}

fn time_fields(t: DateTime<Utc>) -> (String, String) {
    (
        t.format("%H:%M:%S").to_string(),
        t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}

fn change_json(e: &Execution, c: &Change) -> Value {
    let (time, absolute) = time_fields(c.time);
    json!({
        "time": time,
        "absolute_time": absolute,
        "level": "NORMAL",
        "log": "",
        "user": e.user,
        "node": c.node.clone().unwrap_or_default(),
        "stepctx": c.stepctx,
        "type": c.kind,
    })
}

fn line_json(e: &Execution, ev: &LogEvent) -> Value {
    let mut v = serde_json::to_value(super::Entry::new(e, ev)).unwrap_or(Value::Null);
    v["type"] = json!("log");
    v
}

/// `GET /api/{v}/execution/{id}/output/state?stateOnly=&offset=&maxlines=`.
pub(crate) async fn output_state(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let id = path(&p, "id");
    let state_only = flag(&q, "stateOnly")?.unwrap_or(false);
    let offset = number(&q, "offset")?.unwrap_or(0);
    let max = number(&q, "maxlines")?
        .unwrap_or(MAX_LINES)
        .clamp(1, MAX_LINES);
    let e = state.execution_for(&caller.subject, &id, "read").await?;
    let store = &state.store;
    let mut lines = Vec::new();
    // the time of the line before the page: changes after it belong here
    let mut after: Option<DateTime<Utc>> = None;
    let mut next = offset;
    let mut at_end = false;
    if state_only {
        next = store.log_length(e.id).await?;
        at_end = true;
    } else {
        if offset > 0 {
            let before = store.read_log(e.id, offset - 1, 1).await?;
            after = before.events.first().map(|ev| ev.time);
        }
        while (lines.len() as u64) < max {
            let want = usize::try_from(max - lines.len() as u64)
                .unwrap_or(PAGE)
                .min(PAGE);
            let page = store.read_log(e.id, next, want).await?;
            if page.events.is_empty() {
                at_end = true;
                break;
            }
            next = page.next_offset;
            lines.extend(page.events);
        }
        if !at_end {
            at_end = store.read_log(e.id, next, 1).await?.events.is_empty();
        }
    }
    let until = match at_end {
        true => None,
        false => lines.last().map(|l: &LogEvent| l.time),
    };
    let in_page =
        |c: &Change| after.is_none_or(|a| c.time > a) && until.is_none_or(|u| c.time <= u);
    let mut entries = Vec::new();
    let mut pending = changes(&e).into_iter().filter(in_page).peekable();
    for line in &lines {
        while let Some(c) =
            pending.next_if(|c| c.time < line.time || (!c.end && c.time == line.time))
        {
            entries.push(change_json(&e, &c));
        }
        entries.push(line_json(&e, line));
    }
    entries.extend(pending.map(|c| change_json(&e, &c)));
    let done = e.status.is_final();
    let last = lines
        .last()
        .map(|l| l.time)
        .or(e.date_ended)
        .unwrap_or(e.date_started);
    let duration = e
        .date_ended
        .unwrap_or_else(Utc::now)
        .signed_duration_since(e.date_started)
        .num_milliseconds();
    Ok(Json(json!({
        "id": e.id.to_string(),
        "offset": next.to_string(),
        "completed": done && at_end,
        "execCompleted": done,
        "hasFailedNodes": !e.failed_nodes().is_empty(),
        "execState": api_status(&e.status),
        "lastModified": last.timestamp_millis().to_string(),
        "execDuration": duration,
        "percentLoaded": Value::Null,
        "totalSize": next,
        "retryBackoff": 0,
        "clusterExec": false,
        "compacted": false,
        "entries": entries,
    })))
}
