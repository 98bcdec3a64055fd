//! Executions: get, state, output (polling with offsets and as Server-Sent
//! Events), abort, delete, bulk delete, the project query and the running
//! list, with Rundeck's JSON shapes.
//!
//! Output offsets are event indexes in the execution's log (Rundeck's are
//! byte offsets into its log file); clients pass back the `offset` they were
//! given, which works with either.

use crate::access::Caller;
use crate::api::ApiVersion;
use crate::error::ApiError;
use crate::output::{Head, LogReader};
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::HeaderMap;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use foredeck_core::engine::{LiveError, LiveLog};
use foredeck_core::store::ExecutionQuery;
use foredeck_core::{Execution, ExecutionStatus, JobSummary, LogEvent, LogLevel};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// Entries one output response carries at most; clients continue from the
/// returned offset.
const MAX_ENTRIES: usize = 10_000;
/// Events read from the store at once.
const PAGE: usize = 2_000;
/// How often a stream looks for new output of an execution that runs on
/// another server (or before its live feed starts).
const STREAM_POLL: Duration = Duration::from_millis(50);

pub(crate) type Params = Query<Vec<(String, String)>>;

/// The last value of a query parameter.
pub(crate) fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A whole-number parameter; 400 naming it otherwise.
pub(crate) fn number(q: &[(String, String)], name: &str) -> Result<Option<u64>, ApiError> {
    match param(q, name).map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            ApiError::invalid(format!("parameter {name}: {s:?} is not a whole number"))
        }),
    }
}

/// A `true`/`false` parameter; 400 naming it otherwise.
pub(crate) fn flag(q: &[(String, String)], name: &str) -> Result<Option<bool>, ApiError> {
    match param(q, name).map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(s) => Err(ApiError::invalid(format!(
            "parameter {name}: {s:?} is not true or false"
        ))),
    }
}

pub(crate) fn path(p: &HashMap<String, String>, name: &str) -> String {
    p.get(name).cloned().unwrap_or_default()
}

/// Rundeck's date object.
pub(crate) fn date(t: DateTime<Utc>) -> Value {
    json!({
        "unixtime": t.timestamp_millis(),
        "date": t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// An execution in Rundeck's shape.
pub(crate) fn execution_json(v: ApiVersion, e: &Execution, job: Option<&JobSummary>) -> Value {
    let mut out = json!({
        "id": e.id,
        "href": format!("/api/{}/execution/{}", v.0, e.id),
        "permalink": format!("/project/{}/execution/show/{}", e.project, e.id),
        "status": e.status.as_str(),
        "project": e.project,
        "executionType": if e.job_id.is_some() { "user" } else { "user-adhoc" },
        "user": e.user,
        "date-started": date(e.date_started),
        "description": e.description,
        "argstring": if e.arg_string.is_empty() { Value::Null } else { json!(e.arg_string) },
        "serverUUID": e.server_uuid,
        "successfulNodes": e.succeeded_nodes(),
        "failedNodes": e.failed_nodes(),
    });
    if let Some(end) = e.date_ended {
        out["date-ended"] = date(end);
    }
    if let Some(f) = &e.filter {
        out["filter"] = json!(f);
    }
    if e.retry_attempt > 0 {
        out["retryAttempt"] = json!(e.retry_attempt);
    }
    if let Some(r) = e.retry_of {
        out["retriedExecution"] = json!({
            "id": r,
            "href": format!("/api/{}/execution/{}", v.0, r),
        });
    }
    if let (Some(id), Some(job)) = (&e.job_id, job) {
        out["job"] = json!({
            "id": id,
            "name": job.name,
            "group": job.group.clone().unwrap_or_default(),
            "project": e.project,
            "description": job.description,
            "href": format!("/api/{}/job/{}", v.0, id),
            "permalink": format!("/project/{}/job/show/{}", e.project, id),
            "options": e.options,
        });
    }
    out
}

impl ApiState {
    pub(crate) async fn execution_out(
        &self,
        v: ApiVersion,
        e: &Execution,
    ) -> Result<Value, ApiError> {
        let job = self.execution_job(e).await?;
        Ok(execution_json(v, e, job.as_ref()))
    }

    /// Executions in Rundeck's paged wrapper.
    pub(crate) async fn paged(
        &self,
        v: ApiVersion,
        page: foredeck_core::Page<Execution>,
    ) -> Result<Value, ApiError> {
        let jobs = self.execution_jobs(&page.items).await?;
        let list: Vec<Value> = page
            .items
            .iter()
            .zip(&jobs)
            .map(|(e, job)| execution_json(v, e, job.as_ref()))
            .collect();
        Ok(json!({
            "paging": {
                "count": list.len(),
                "total": page.total,
                "offset": page.offset,
                "max": page.max,
            },
            "executions": list,
        }))
    }
}

/// `GET /api/{v}/execution/{id}`.
pub(crate) async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let e = state
        .execution_for(&caller.subject, &path(&p, "id"), "read")
        .await?;
    Ok(Json(state.execution_out(caller.version, &e).await?))
}

fn rfc(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| {
        json!(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    })
}

/// `GET /api/{v}/execution/{id}/state`: per-node and per-step state.
pub(crate) async fn state(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let e = state
        .execution_for(&caller.subject, &path(&p, "id"), "read")
        .await?;
    let ws = &e.state;
    let state_of = |s| serde_json::to_value(s).unwrap_or(Value::Null);
    let mut nodes = serde_json::Map::new();
    for (name, n) in &ws.nodes {
        nodes.insert(
            name.clone(),
            json!(n
                .steps
                .iter()
                .map(|(ctx, st)| json!({"stepctx": ctx, "executionState": state_of(*st)}))
                .collect::<Vec<_>>()),
        );
    }
    let steps: Vec<Value> = ws
        .steps
        .iter()
        .map(|s| {
            let mut node_states = serde_json::Map::new();
            for (name, n) in &s.node_states {
                node_states.insert(
                    name.clone(),
                    json!({
                        "executionState": state_of(n.execution_state),
                        "startTime": rfc(n.start_time),
                        "endTime": rfc(n.end_time),
                    }),
                );
            }
            json!({
                "id": s.stepctx,
                "stepctx": s.stepctx,
                "nodeStep": s.node_step,
                "executionState": state_of(s.execution_state),
                "startTime": rfc(s.start_time),
                "endTime": rfc(s.end_time),
                "nodeStates": node_states,
            })
        })
        .collect();
    let mut all: Vec<&String> = ws.nodes.keys().collect();
    for n in &ws.target_nodes {
        if !all.contains(&n) {
            all.push(n);
        }
    }
    Ok(Json(json!({
        "executionId": e.id,
        "serverNode": state.runtime.engine.server_node().name,
        "executionState": state_of(ws.execution_state),
        "completed": e.status.is_final(),
        "startTime": rfc(Some(e.date_started)),
        "endTime": rfc(e.date_ended),
        "updateTime": rfc(Some(e.date_ended.unwrap_or_else(Utc::now))),
        "stepCount": ws.steps.len(),
        "targetNodes": ws.target_nodes,
        "allNodes": all,
        "nodes": nodes,
        "steps": steps,
    })))
}

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
    let text = match param(&q, "format") {
        None => headers
            .get(axum::http::header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.starts_with("text/plain")),
        Some("json") => false,
        Some("text") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "parameter format: {other:?} is not json or text"
            )))
        }
    };
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
        "execState": e.status.as_str(),
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

/// `GET /api/{v}/execution/{id}/output`: the log from `offset`, or its last
/// `lastlines` lines; at most `maxlines` entries; `format=text|json`.
pub(crate) async fn output(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    output_of(
        state,
        caller,
        headers,
        q,
        path(&p, "id"),
        Selection::default(),
    )
    .await
}

/// `GET /api/{v}/execution/{id}/output/node/{node}`.
pub(crate) async fn output_node(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let sel = Selection {
        node: Some(path(&p, "node")),
        stepctx: None,
    };
    output_of(state, caller, headers, q, path(&p, "id"), sel).await
}

/// `GET /api/{v}/execution/{id}/output/node/{node}/step/{stepctx}`.
pub(crate) async fn output_node_step(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let sel = Selection {
        node: Some(path(&p, "node")),
        stepctx: Some(path(&p, "stepctx")),
    };
    output_of(state, caller, headers, q, path(&p, "id"), sel).await
}

/// `GET /api/{v}/execution/{id}/output/step/{stepctx}`.
pub(crate) async fn output_step(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let sel = Selection {
        node: None,
        stepctx: Some(path(&p, "stepctx")),
    };
    output_of(state, caller, headers, q, path(&p, "id"), sel).await
}

/// Where a stream is.
struct Follow {
    state: ApiState,
    execution: Execution,
    offset: u64,
    pending: VecDeque<(u64, Arc<LogEvent>)>,
    /// The engine's live feed, while the execution runs on this server.
    live: Option<LiveLog>,
    done: bool,
}

/// What a stream does next.
enum Step {
    /// New entries are pending.
    More,
    /// Send this event.
    Send(Event),
    /// Nothing new: read the store again after [`STREAM_POLL`].
    Wait,
}

/// `GET /api/{v}/execution/{id}/output/stream`: the log as Server-Sent
/// Events from `offset` (or the `Last-Event-ID` header, which wins), live
/// until the execution ends. Each `log` event's `id` is the offset to resume
/// from; an `end` event carries the final status, then the stream closes.
///
/// While the execution runs on this server, entries come from the engine's
/// live feed as they are written (the store receives them in batches a
/// little later): the stream reads the store up to where the feed starts,
/// then follows the feed. Otherwise (another server of a cluster runs it,
/// or it ended) it reads the store every [`STREAM_POLL`]. Offsets are the
/// same event indexes either way.
pub(crate) async fn stream(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Response, ApiError> {
    let id = path(&p, "id");
    let e = state.execution_for(&caller.subject, &id, "read").await?;
    let resume = match headers.get("last-event-id") {
        None => None,
        Some(h) => Some(
            h.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| ApiError::invalid("header Last-Event-ID: not a whole number"))?,
        ),
    };
    let offset = match resume {
        Some(o) => o,
        None => number(&q, "offset")?.unwrap_or(0),
    };
    let follow = Follow {
        state,
        execution: e,
        offset,
        pending: VecDeque::new(),
        live: None,
        done: false,
    };
    let events = futures::stream::unfold(follow, |mut f| async move {
        loop {
            if let Some((next, ev)) = f.pending.pop_front() {
                let data =
                    serde_json::to_string(&Entry::new(&f.execution, &ev)).unwrap_or_default();
                let event = Event::default()
                    .event("log")
                    .id(next.to_string())
                    .data(data);
                return Some((Ok::<Event, std::convert::Infallible>(event), f));
            }
            if f.done {
                return None;
            }
            if f.live.is_none() {
                f.live = f.state.runtime.engine.subscribe_log(f.execution.id);
            }
            let step = match f.live.is_some() {
                true => follow_live(&mut f).await,
                false => follow_store(&mut f).await,
            };
            match step {
                Step::More => {}
                Step::Send(event) => return Some((Ok(event), f)),
                Step::Wait => tokio::time::sleep(STREAM_POLL).await,
            }
        }
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// The `error` event that ends a stream whose store read failed.
fn store_failed(f: &mut Follow, err: &foredeck_core::Error) -> Step {
    tracing::warn!(error = %err, "output stream: store read failed");
    f.done = true;
    Step::Send(Event::default().event("error").data("store read failed"))
}

/// Entries from the live feed; those before where the feed starts from the
/// store. Without a feed any more (it ended, or this stream fell behind
/// and none is left), the next step reads the store.
async fn follow_live(f: &mut Follow) -> Step {
    let Some(live) = f.live.as_mut() else {
        return Step::More;
    };
    if f.offset < live.stored() {
        let upto = usize::try_from(live.stored() - f.offset).unwrap_or(PAGE);
        return match f
            .state
            .store
            .read_log(f.execution.id, f.offset, PAGE.min(upto))
            .await
        {
            Ok(page) if !page.events.is_empty() => {
                for ev in page.events {
                    f.offset += 1;
                    f.pending.push_back((f.offset, Arc::new(ev)));
                }
                Step::More
            }
            // the execution was deleted meanwhile: the store says so next
            Ok(_) => {
                f.live = None;
                follow_store(f).await
            }
            Err(err) => store_failed(f, &err),
        };
    }
    match live.recv().await {
        // resuming past where the feed starts
        Ok(ev) if ev.offset < f.offset => {}
        Ok(ev) => {
            f.offset = ev.offset + 1;
            f.pending.push_back((f.offset, ev.event));
        }
        // fell behind: start over from the store at `offset`
        Err(LiveError::Lagged) => {
            f.live = f.state.runtime.engine.subscribe_log(f.execution.id);
        }
        // the log is complete in the store: the store tells the end
        Err(LiveError::Closed) => {
            f.live = None;
            return follow_store(f).await;
        }
    }
    Step::More
}

/// Entries from the store; the `end` event once the execution ended and
/// the store holds nothing more.
async fn follow_store(f: &mut Follow) -> Step {
    // status first: a final status read before an empty log read
    // means nothing more is coming
    let status = match f.state.store.get_execution(f.execution.id).await {
        Ok(Some(e)) => {
            let s = e.status.clone();
            f.execution = e;
            s
        }
        Ok(None) => ExecutionStatus::Other("deleted".into()),
        Err(err) => return store_failed(f, &err),
    };
    match f.state.store.read_log(f.execution.id, f.offset, PAGE).await {
        Ok(page) if !page.events.is_empty() => {
            for ev in page.events {
                f.offset += 1;
                f.pending.push_back((f.offset, Arc::new(ev)));
            }
            Step::More
        }
        Ok(_) if status.is_final() => {
            f.done = true;
            let data = json!({
                "execState": status.as_str(),
                "offset": f.offset,
            })
            .to_string();
            Step::Send(
                Event::default()
                    .event("end")
                    .id(f.offset.to_string())
                    .data(data),
            )
        }
        Ok(_) => Step::Wait,
        Err(err) => store_failed(f, &err),
    }
}

/// `POST /api/{v}/execution/{id}/abort`: stops it when it runs on this server.
pub(crate) async fn abort(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let id = path(&p, "id");
    let e = state.execution_for(&caller.subject, &id, "kill").await?;
    let (status, reason) = if e.status.is_final() {
        ("failed", Some("Job is not running"))
    } else if state.runtime.engine.abort(e.id) {
        ("pending", None)
    } else {
        (
            "failed",
            Some("The execution is not running on this server"),
        )
    };
    state
        .audit(
            &caller,
            "abort",
            "execution",
            &e.id.to_string(),
            Some(&e.project),
            json!({"result": status}),
        )
        .await;
    let mut abort = json!({"status": status});
    if let Some(r) = reason {
        abort["reason"] = json!(r);
    }
    Ok(Json(json!({
        "abort": abort,
        "execution": {
            "id": e.id.to_string(),
            "status": e.status.as_str(),
            "href": format!("/api/{}/execution/{}", caller.version.0, e.id),
            "permalink": format!("/project/{}/execution/show/{}", e.project, e.id),
        }
    })))
}

/// Deletes one execution the caller may see, with Rundeck's
/// `delete_execution` project permission; running ones are refused.
async fn delete_one(state: &ApiState, caller: &Caller, id: &str) -> Result<(), ApiError> {
    let e = state.execution_for(&caller.subject, id, "read").await?;
    let project = foredeck_core::Resource::new("project").with("name", e.project.clone());
    if !state.authorizer.allowed(
        &caller.subject,
        "delete_execution",
        &project,
        &foredeck_core::AuthContext::Application,
    ) {
        return Err(ApiError::unauthorized(
            "delete_execution",
            &format!("Execution ID {id}"),
        ));
    }
    if !e.status.is_final() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "api.error.exec.delete.failed",
            format!("Execution ID {id} is still running: abort it first"),
        ));
    }
    state.store.delete_execution(e.id).await?;
    state.finished.forget(&e.id);
    state
        .audit(
            caller,
            "delete",
            "execution",
            id,
            Some(&e.project),
            json!({}),
        )
        .await;
    Ok(())
}

/// `DELETE /api/{v}/execution/{id}`.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<StatusCode, ApiError> {
    delete_one(&state, &caller, &path(&p, "id")).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ids from a JSON body (`{"ids": [...]}` or a bare array, numbers or
/// strings) or from `ids` query parameters (comma-separated or repeated).
pub(crate) fn ids_of(body: &Bytes, q: &[(String, String)]) -> Result<Vec<String>, ApiError> {
    let mut ids = Vec::new();
    for (k, v) in q {
        if k == "ids" || k == "idlist" {
            ids.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
    }
    if !body.iter().all(u8::is_ascii_whitespace) {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::invalid(format!("request body: {e}")))?;
        let list = match &v {
            Value::Array(a) => a,
            Value::Object(o) => match o.get("ids") {
                Some(Value::Array(a)) => a,
                _ => return Err(ApiError::invalid("request body: expected {\"ids\": [...]}")),
            },
            _ => return Err(ApiError::invalid("request body: expected {\"ids\": [...]}")),
        };
        for item in list {
            match item {
                Value::String(s) => ids.push(s.clone()),
                Value::Number(n) => ids.push(n.to_string()),
                other => {
                    return Err(ApiError::invalid(format!(
                        "request body: ids: {other} is not an id"
                    )))
                }
            }
        }
    }
    if ids.is_empty() {
        return Err(ApiError::invalid(
            "no ids given (body {\"ids\": [...]} or ids=...)",
        ));
    }
    if ids.len() > 1_000 {
        return Err(ApiError::invalid("at most 1000 ids per request"));
    }
    Ok(ids)
}

/// `POST /api/{v}/executions/delete` with `{"ids": [...]}`.
pub(crate) async fn bulk_delete(
    State(state): State<ApiState>,
    caller: Caller,
    Query(q): Params,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let ids = ids_of(&body, &q)?;
    let mut failures = Vec::new();
    for id in &ids {
        if let Err(e) = delete_one(&state, &caller, id).await {
            failures.push(json!({"id": id, "message": e.message}));
        }
    }
    Ok(Json(json!({
        "requestCount": ids.len(),
        "allsuccessful": failures.is_empty(),
        "successCount": ids.len() - failures.len(),
        "failedCount": failures.len(),
        "failures": failures,
    })))
}

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

async fn project_for(state: &ApiState, caller: &Caller, name: &str) -> Result<(), ApiError> {
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
    if let Some((k, _)) = q.iter().find(|(k, _)| UNSUPPORTED.contains(&k.as_str())) {
        return Err(ApiError::invalid(format!(
            "parameter {k}: this filter is not supported by this server"
        )));
    }
    let mut query = ExecutionQuery {
        project: Some(project.clone()),
        offset: number(&q, "offset")?.unwrap_or(0),
        max: number(&q, "max")?.unwrap_or(20).clamp(1, 1_000),
        ..ExecutionQuery::default()
    };
    for (k, v) in &q {
        if k == "jobIdListFilter" {
            query.job_ids.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
    }
    if let Some(s) = param(&q, "statusFilter").filter(|s| !s.is_empty()) {
        let status = ExecutionStatus::parse(s);
        if let ExecutionStatus::Other(_) = status {
            return Err(ApiError::invalid(format!(
                "parameter statusFilter: {s:?} is not one of running, succeeded, failed, aborted, timedout, failed-with-retry, scheduled, queued, incomplete, missed"
            )));
        }
        query.status = Some(status);
    }
    query.user = param(&q, "userFilter")
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    query.group_path = param(&q, "groupPath")
        .filter(|s| !s.is_empty() && *s != "*")
        .map(str::to_owned);
    query.job_name_contains = param(&q, "jobFilter")
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    query.adhoc = flag(&q, "adhoc")?;
    if let Some(b) = param(&q, "begin").filter(|s| !s.is_empty()) {
        query.begin = Some(parse_time("begin", b)?);
    }
    if let Some(e) = param(&q, "end").filter(|s| !s.is_empty()) {
        query.end = Some(parse_time("end", e)?);
    }
    if let Some(r) = param(&q, "recentFilter").filter(|s| !s.is_empty()) {
        query = query.recent(r, Utc::now())?;
    }
    let page = if restrict(&state, &caller, &project, &mut query).await? {
        state.store.query_executions(&query).await?
    } else {
        empty_page(&query)
    };
    Ok(Json(state.paged(caller.version, page).await?))
}

/// `GET /api/{v}/project/{project}/executions/running` (`*` for every
/// project the caller may read).
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
    let mut items = Vec::new();
    let mut total = 0;
    for p in projects {
        let mut query = ExecutionQuery {
            project: Some(p.clone()),
            status: Some(ExecutionStatus::Running),
            max: 1_000,
            ..ExecutionQuery::default()
        };
        if restrict(&state, &caller, &p, &mut query).await? {
            let page = state.store.query_executions(&query).await?;
            total += page.total;
            items.extend(page.items);
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
