//! `GET /api/{v}/execution/{id}/output/stream`: the log as Server-Sent Events.

use super::output::Entry;
use crate::error::ApiError;
use crate::extract::{number, path, Caller, Params};
use crate::ApiState;
use axum::extract::{Path, Query, State};
use axum::http::header::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use foredeck_core::engine::{LiveError, LiveLog};
use foredeck_core::{Execution, ExecutionStatus, LogEvent};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// Events read from the store at once.
const PAGE: usize = 2_000;
/// How often a stream looks for new output of an execution that runs on
/// another server (or before its live feed starts).
const STREAM_POLL: Duration = Duration::from_millis(50);

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
                f.live = f.state.runs.engine.subscribe_log(f.execution.id);
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
            f.live = f.state.runs.engine.subscribe_log(f.execution.id);
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
