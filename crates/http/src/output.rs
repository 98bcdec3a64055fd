//! Execution output answers with a bounded buffer, whatever the log's size.
//!
//! The log is read from the store a page of [`READ_PAGE`] events at a time
//! and each page is serialized at once. An answer that stays within
//! [`BUFFERED`] bytes is sent whole, its fields first as Rundeck sends them;
//! a larger one is streamed as it is read: `{"entries":[...]` first, then
//! the fields that depend on where the reading ended (`offset`,
//! `completed`, `lastModified`...), so at most about one buffer and one page
//! are held per request. A store error after the first bytes went out can
//! only end the connection (the body is then incomplete, never wrong).

use crate::executions::{Entry, Selection};
use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use foredeck_core::{Execution, LogEvent, Store};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Arc;

/// Events read from the store at once.
pub(crate) const READ_PAGE: usize = 256;
/// Largest answer built in memory before sending; larger ones stream.
pub(crate) const BUFFERED: usize = 1 << 20;

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

/// Reads a log forward from an offset, writing the wanted entries as JSON
/// array items or text lines.
pub(crate) struct LogReader {
    store: Arc<dyn Store>,
    pub(crate) execution: Arc<Execution>,
    pub(crate) sel: Selection,
    text: bool,
    /// The offset of the next event to read.
    pub(crate) next: u64,
    /// Read up to this offset, whatever the entry count (`lastlines`).
    stop: Option<u64>,
    /// Entries still wanted (without a `stop`).
    left: usize,
    /// The time of the last event read.
    pub(crate) last_time: Option<DateTime<Utc>>,
    /// Whether the reads reached the end of the stored log.
    pub(crate) at_end: bool,
    /// Entries written.
    pub(crate) entries: usize,
    done: bool,
}

impl LogReader {
    /// Up to `max` wanted entries from `offset`.
    pub(crate) fn from_offset(
        store: Arc<dyn Store>,
        execution: Arc<Execution>,
        sel: Selection,
        text: bool,
        offset: u64,
        max: usize,
    ) -> Self {
        LogReader {
            store,
            execution,
            sel,
            text,
            next: offset,
            stop: None,
            left: max,
            last_time: None,
            at_end: false,
            entries: 0,
            done: false,
        }
    }

    /// The last `n` wanted entries of the log. Without a node or step
    /// selection they are the last `n` events; with one, a first pass keeps
    /// only the offsets of the last `n` wanted events (8 bytes each), and
    /// the reads then start at the first of them.
    pub(crate) async fn last_lines(
        store: Arc<dyn Store>,
        execution: Arc<Execution>,
        sel: Selection,
        text: bool,
        n: usize,
    ) -> Result<Self, foredeck_core::Error> {
        let id = execution.id;
        let (start, end, last_time) = if sel.node.is_none() && sel.stepctx.is_none() {
            let end = store.log_length(id).await?;
            (end.saturating_sub(n as u64), end, None)
        } else {
            let mut kept: VecDeque<u64> = VecDeque::with_capacity(n.min(READ_PAGE));
            let mut at = 0u64;
            let mut last_time = None;
            loop {
                let page = store.read_log(id, at, READ_PAGE).await?;
                if page.events.is_empty() {
                    break;
                }
                // a short page is where the stored log ends
                let end = page.events.len() < READ_PAGE;
                let mut k = at;
                for ev in &page.events {
                    last_time = Some(ev.time);
                    if n > 0 && sel.wants(ev) {
                        if kept.len() == n {
                            kept.pop_front();
                        }
                        kept.push_back(k);
                    }
                    k += 1;
                }
                at = page.next_offset.max(k);
                if end {
                    break;
                }
            }
            (kept.front().copied().unwrap_or(at), at, last_time)
        };
        let mut reader = LogReader::from_offset(store, execution, sel, text, start, n);
        reader.stop = Some(end);
        reader.last_time = last_time;
        Ok(reader)
    }

    fn write(&mut self, ev: &LogEvent, out: &mut Vec<u8>) {
        if self.text {
            out.extend_from_slice(ev.text.as_bytes());
            out.push(b'\n');
        } else {
            if self.entries > 0 {
                out.push(b',');
            }
            // a struct of strings: writing to a Vec cannot fail
            if let Err(e) = serde_json::to_writer(&mut *out, &Entry::new(&self.execution, ev)) {
                tracing::error!(error = %e, "output: an entry not serialized");
            }
        }
        self.entries += 1;
    }

    /// Reads one page, writing its wanted entries to `out`; nothing once
    /// the reading is [done](Self::done).
    pub(crate) async fn page(&mut self, out: &mut Vec<u8>) -> Result<(), foredeck_core::Error> {
        if self.done {
            return Ok(());
        }
        let limit = match self.stop {
            Some(s) => usize::try_from(s.saturating_sub(self.next))
                .unwrap_or(READ_PAGE)
                .min(READ_PAGE),
            None => READ_PAGE,
        };
        if limit == 0 {
            self.at_end = true;
            self.done = true;
            return Ok(());
        }
        let page = self
            .store
            .read_log(self.execution.id, self.next, limit)
            .await?;
        if page.events.is_empty() {
            self.at_end = true;
            self.done = true;
            return Ok(());
        }
        let short = page.events.len() < limit;
        let mut at = self.next;
        for ev in &page.events {
            if self.stop.is_none() && self.left == 0 {
                self.next = at;
                self.done = true;
                return Ok(());
            }
            at += 1;
            self.last_time = Some(ev.time);
            if self.sel.wants(ev) {
                self.write(ev, out);
                self.left = self.left.saturating_sub(1);
            }
        }
        self.next = page.next_offset.max(at);
        if short || self.stop.is_some_and(|s| self.next >= s) {
            self.at_end = true;
            self.done = true;
        }
        Ok(())
    }

    /// Whether the reading has ended.
    pub(crate) fn done(&self) -> bool {
        self.done
    }
}

/// The fields of an answer, known once the reading ended.
pub(crate) type Head = Box<
    dyn FnOnce(
            LogReader,
        ) -> futures::future::BoxFuture<'static, Result<Value, foredeck_core::Error>>
        + Send,
>;

/// The answer of `reader`: read until done or [`BUFFERED`] bytes, then sent
/// whole or streamed; `head` gives the fields of a JSON answer.
pub(crate) async fn respond(
    mut reader: LogReader,
    head: Head,
) -> Result<Response, foredeck_core::Error> {
    let mut buf = Vec::new();
    while !reader.done() && buf.len() <= BUFFERED {
        reader.page(&mut buf).await?;
    }
    let text = reader.text;
    if reader.done() {
        if text {
            return Ok(([(CONTENT_TYPE, TEXT)], buf).into_response());
        }
        let head = head(reader).await?;
        let mut body = serde_json::to_vec(&head).map_err(encode)?;
        // `{...}` to `{...,"entries":[...]}`: the fields first, as before
        body.pop();
        body.extend_from_slice(br#","entries":["#);
        body.extend_from_slice(&buf);
        body.extend_from_slice(b"]}");
        return Ok(([(CONTENT_TYPE, JSON)], body).into_response());
    }
    let id = reader.execution.id;
    if !text {
        let mut first = br#"{"entries":["#.to_vec();
        first.extend_from_slice(&buf);
        buf = first;
    }
    enum Phase {
        First(Vec<u8>, LogReader, Head),
        Reading(LogReader, Head),
        Ended,
    }
    let stream =
        futures::stream::unfold(Phase::First(buf, reader, head), move |phase| async move {
            match phase {
                Phase::First(buf, reader, head) => {
                    Some((Ok(Bytes::from(buf)), Phase::Reading(reader, head)))
                }
                Phase::Reading(mut reader, head) => loop {
                    if reader.done() {
                        if reader.text {
                            return None;
                        }
                        let tail = head(reader).await.and_then(|v| {
                            let mut fields = serde_json::to_vec(&v).map_err(encode)?;
                            // `{a,b}` to `],a,b}`
                            fields[0] = b',';
                            let mut tail = b"]".to_vec();
                            tail.extend_from_slice(&fields);
                            Ok(tail)
                        });
                        return Some((
                            tail.map(Bytes::from).map_err(|e| failed(id, e)),
                            Phase::Ended,
                        ));
                    }
                    let mut out = Vec::new();
                    if let Err(e) = reader.page(&mut out).await {
                        return Some((Err(failed(id, e)), Phase::Ended));
                    }
                    if !out.is_empty() {
                        return Some((Ok(Bytes::from(out)), Phase::Reading(reader, head)));
                    }
                },
                Phase::Ended => None,
            }
        });
    let ctype = if text { TEXT } else { JSON };
    Ok(([(CONTENT_TYPE, ctype)], Body::from_stream(stream)).into_response())
}

fn encode(e: serde_json::Error) -> foredeck_core::Error {
    foredeck_core::Error::Store(format!("output fields not encoded: {e}"))
}

/// A store error in the middle of a streamed answer: logged, and the
/// connection ends (the status line went out already).
fn failed(id: u64, e: foredeck_core::Error) -> std::io::Error {
    tracing::warn!(execution = id, error = %e, "output: reading the log failed while streaming it");
    std::io::Error::other(e.to_string())
}
