//! `GET /api/{v}/execution/{id}/output` and its node and step variants.

use crate::error::ApiError;
use crate::extract::{number, path, Caller, Params};
use crate::output::{Head, LogReader};
use crate::ApiState;
use axum::extract::{Path, Query, State};
use axum::http::header::HeaderMap;
use axum::response::Response;
use chrono::Utc;
use foredeck_core::{Execution, LogEvent, LogLevel};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Entries one output response carries at most; clients continue from the
/// returned offset.
const MAX_ENTRIES: usize = 10_000;

/// Rundeck's name of a log level in output entries.
fn level_name(l: LogLevel) -> &'static str {
    match l {
        LogLevel::Info => "NORMAL",
        other => other.as_str(),
    }
}

/// One output entry in Rundeck's shape, serialized without building a JSON
/// tree.
#[derive(serde::Serialize)]
pub(crate) struct Entry<'a> {
    time: String,
    absolute_time: String,
    level: &'static str,
    log: &'a str,
    user: &'a str,
    node: &'a str,
    stepctx: &'a str,
}

impl<'a> Entry<'a> {
    pub(crate) fn new(e: &'a Execution, ev: &'a LogEvent) -> Self {
        Entry {
            time: ev.time.format("%H:%M:%S").to_string(),
            absolute_time: ev.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            level: level_name(ev.level),
            log: &ev.text,
            user: &e.user,
            node: ev.node.as_deref().unwrap_or_default(),
            stepctx: ev.stepctx.as_deref().unwrap_or_default(),
        }
    }
}

/// Which entries of the log an output request wants.
#[derive(Clone, Debug, Default)]
pub(crate) struct Selection {
    pub(crate) node: Option<String>,
    pub(crate) stepctx: Option<String>,
}

impl Selection {
    pub(crate) fn wants(&self, ev: &LogEvent) -> bool {
        self.node
            .as_ref()
            .is_none_or(|n| ev.node.as_deref() == Some(n.as_str()))
            && self.stepctx.as_ref().is_none_or(|s| {
                ev.stepctx
                    .as_deref()
                    .is_some_and(|c| c == s || c.starts_with(&format!("{s}/")))
            })
    }
}

async fn output_of(
    state: ApiState,
    caller: Caller,
    headers: HeaderMap,
    q: Vec<(String, String)>,
    id: String,
    sel: Selection,
) -> Result<Response, ApiError> {
    let e = state.finished_execution_for(&caller.subject, &id).await?;
    // the execution deleted since it was read: as if it never was
    let gone = |err: foredeck_core::Error| match foredeck_core::ErrorCode::kind(&err) {
        foredeck_core::ErrorKind::NotFound => ApiError::not_found("Execution ID", &id),
        _ => ApiError::from(err),
    };
    // Rundeck's `tailExecutionOutput` answers in a `withFormat` of `text`
    // and `*` (JSON); its `xml` branch exists only with the `legacyXml`
    // feature, off by default: every other format, `xml` included, is JSON
    // (docs/XML.md).
    let text = crate::extract::response_format(&q, &headers).as_deref() == Some("text");
    let offset = number(&q, "offset")?.unwrap_or(0);
    let lastlines = number(&q, "lastlines")?;
    let maxlines = number(&q, "maxlines")?
        .map_or(MAX_ENTRIES, |n| usize::try_from(n).unwrap_or(MAX_ENTRIES))
        .min(MAX_ENTRIES);
    let lastmod = number(&q, "lastmod")?;
    let store = state.store.clone();
    // read with a bounded buffer, sent whole or streamed (crate::output)
    let reader = match lastlines {
        Some(n) => {
            // the last n wanted lines of the whole log
            let n = usize::try_from(n).unwrap_or(MAX_ENTRIES).min(MAX_ENTRIES);
            LogReader::last_lines(store.clone(), e, sel, text, n)
                .await
                .map_err(gone)?
        }
        None => LogReader::from_offset(store.clone(), e, sel, text, offset, maxlines),
    };
    let head: Head = Box::new(move |r: LogReader| Box::pin(head_of(store, r, lastmod)));
    crate::output::respond(reader, head).await.map_err(gone)
}

/// The fields of an output answer, once its reading ended.
async fn head_of(
    store: Arc<dyn foredeck_core::Store>,
    r: LogReader,
    lastmod: Option<u64>,
) -> Result<Value, foredeck_core::Error> {
    let e = &r.execution;
    let completed_exec = e.status.is_final();
    let next = r.next;
    let last_modified = r
        .last_time
        .or(e.date_ended)
        .unwrap_or(e.date_started)
        .timestamp_millis();
    let unmodified = lastmod
        .is_some_and(|m| i64::try_from(m).is_ok_and(|m| m >= last_modified) && r.entries == 0);
    // complete: the execution ended and nothing is left after `next`; its
    // status was final before the reads, so a read that reached the end of
    // the stored log reached the end of the whole log
    let completed =
        completed_exec && (r.at_end || store.read_log(e.id, next, 1).await?.events.is_empty());
    let duration = e
        .date_ended
        .unwrap_or_else(Utc::now)
        .signed_duration_since(e.date_started)
        .num_milliseconds();
    let mut out = json!({
        "id": e.id.to_string(),
        "offset": next.to_string(),
        "completed": completed,
        "execCompleted": completed_exec,
        "hasFailedNodes": !e.failed_nodes().is_empty(),
        "execState": crate::views::executions::api_status(&e.status),
        "lastModified": last_modified.to_string(),
        "execDuration": duration,
        "percentLoaded": Value::Null,
        "totalSize": next,
        "retryBackoff": 0,
        "clusterExec": false,
        "compacted": false,
    });
    if unmodified {
        out["unmodified"] = json!(true);
    }
    if r.sel.node.is_some() || r.sel.stepctx.is_some() {
        out["filter"] = json!({"nodename": r.sel.node, "stepctx": r.sel.stepctx});
    }
    Ok(out)
}

/// `GET /api/{v}/execution/{id}/output` (and its `/node/{node}`,
/// `/node/{node}/step/{stepctx}` and `/step/{stepctx}` forms): the log from
/// `offset`, or its last `lastlines` lines; at most `maxlines` entries;
/// `format=text|json`.
pub(crate) async fn output(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let sel = Selection {
        node: p.get("node").cloned(),
        stepctx: p.get("stepctx").cloned(),
    };
    output_of(state, caller, headers, q, path(&p, "id"), sel).await
}
