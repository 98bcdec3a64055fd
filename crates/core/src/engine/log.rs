//! The log pipeline of one execution: applies log limits, hands each event
//! to the live feed and listener at once, and batches events into the Store
//! on a task of its own (so no live follower waits for a store append).

use super::live::Feed;
use super::parse::LogLimit;
use super::{Control, LogListener, StopReason};
use crate::model::{LogEvent, LogLevel, LogLimitAction};
use crate::store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Events per store append, at most.
const BATCH_EVENTS: usize = 512;
/// Bytes of text per store append: a batch is appended once it holds this
/// much (long lines make few, large events).
const BATCH_BYTES: usize = 64 * 1024;
/// Longest an event waits before it is appended.
const BATCH_DELAY: Duration = Duration::from_millis(100);
/// Full batches waiting for the store, at most: beyond that the pipeline
/// waits (and so do the steps writing to it).
const APPEND_QUEUE: usize = 2;

/// Sends events into the pipeline. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct LogTx {
    tx: mpsc::Sender<LogEvent>,
}

impl LogTx {
    pub(crate) async fn send(&self, event: LogEvent) {
        // The writer outlives every sender; a closed channel only happens at shutdown.
        let _ = self.tx.send(event).await;
    }

    /// Sends without waiting; false when the pipeline is full or closed.
    pub(crate) fn try_send(&self, event: LogEvent) -> bool {
        self.tx.try_send(event).is_ok()
    }
}

pub(crate) struct LogLimits {
    pub limit: LogLimit,
    pub action: LogLimitAction,
    pub status: Option<String>,
}

/// Starts the writer task for execution `id`. It ends, after a final
/// append, when every `LogTx` is dropped; its result is the store error, if any.
/// Every event written goes to `feed` before it goes to the store.
pub(crate) fn start(
    store: Arc<dyn Store>,
    id: u64,
    limits: Option<LogLimits>,
    listener: Option<LogListener>,
    control: Arc<Control>,
    feed: Arc<Feed>,
) -> (LogTx, JoinHandle<Option<String>>) {
    let (tx, mut rx) = mpsc::channel::<LogEvent>(1024);
    let (appends, appender) = appender(store, id, feed.clone());
    let sink = Sink { listener, feed };
    let task = tokio::spawn(async move {
        let mut batch: Vec<LogEvent> = Vec::with_capacity(BATCH_EVENTS);
        let mut counter = Counter::default();
        let mut cut = false;
        let mut cut_nodes: std::collections::HashSet<String> = Default::default();
        let mut deadline: Option<tokio::time::Instant> = None;
        // Text bytes of the first `counted` events of the batch.
        let (mut batch_bytes, mut counted) = (0usize, 0usize);
        loop {
            let next = match deadline {
                Some(d) => tokio::select! {
                    ev = rx.recv() => ev.map(Some),
                    _ = tokio::time::sleep_until(d) => Some(None),
                },
                None => rx.recv().await.map(Some),
            };
            match next {
                None => break,
                Some(None) => {}
                Some(Some(ev)) => {
                    let node = ev.node.clone().unwrap_or_default();
                    let dropped = cut || cut_nodes.contains(&node);
                    if !dropped {
                        let over = limits.as_ref().filter(|l| counter.exceeds(&l.limit, &ev));
                        if let Some(l) = over {
                            let per_node = matches!(l.limit, LogLimit::LinesPerNode(_));
                            let msg = match l.action {
                                LogLimitAction::Truncate if per_node => {
                                    cut_nodes.insert(node.clone());
                                    format!("Log output limit exceeded ({}) on node {node}: its further output is dropped", l.limit)
                                }
                                LogLimitAction::Truncate => {
                                    cut = true;
                                    format!(
                                        "Log output limit exceeded ({}): further output is dropped",
                                        l.limit
                                    )
                                }
                                LogLimitAction::Halt => {
                                    cut = true;
                                    control.stop(StopReason::LogLimit(l.status.clone()));
                                    format!(
                                        "Log output limit exceeded ({}): halting the execution",
                                        l.limit
                                    )
                                }
                            };
                            let notice = LogEvent::system(
                                LogLevel::Error,
                                ev.node.as_deref(),
                                ev.stepctx.as_deref(),
                                msg,
                            );
                            sink.push(&mut batch, notice);
                        } else {
                            sink.push(&mut batch, ev);
                        }
                    }
                    if deadline.is_none() && !batch.is_empty() {
                        deadline = Some(tokio::time::Instant::now() + BATCH_DELAY);
                    }
                    batch_bytes += batch
                        .iter()
                        .skip(counted)
                        .map(|e| e.text.len())
                        .sum::<usize>();
                    counted = batch.len();
                    if batch.len() < BATCH_EVENTS && batch_bytes < BATCH_BYTES {
                        continue;
                    }
                }
            }
            if !batch.is_empty() {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_EVENTS));
                // the appender ends only after this task drops `appends`
                let _ = appends.send(full).await;
            }
            (batch_bytes, counted) = (0, 0);
            deadline = None;
        }
        if !batch.is_empty() {
            let _ = appends.send(batch).await;
        }
        drop(appends);
        match appender.await {
            Ok(error) => error,
            Err(e) => Some(format!("log appender failed: {e}")),
        }
    });
    (LogTx { tx }, task)
}

/// Appends batches to the store in order and tells the feed what the store
/// holds. Its result is the first store error; after one, the feed closes
/// (its offsets would no longer be the store's), so live followers go back
/// to reading the store.
fn appender(
    store: Arc<dyn Store>,
    id: u64,
    feed: Arc<Feed>,
) -> (mpsc::Sender<Vec<LogEvent>>, JoinHandle<Option<String>>) {
    let (tx, mut rx) = mpsc::channel::<Vec<LogEvent>>(APPEND_QUEUE);
    let task = tokio::spawn(async move {
        let mut error: Option<String> = None;
        while let Some(batch) = rx.recv().await {
            match store.append_log(id, &batch).await {
                Ok(()) => feed.stored(batch.len()),
                Err(e) => {
                    feed.close();
                    error.get_or_insert(e.to_string());
                }
            }
        }
        feed.close();
        error
    });
    (tx, task)
}

/// Where each written event goes besides the store.
struct Sink {
    listener: Option<LogListener>,
    feed: Arc<Feed>,
}

impl Sink {
    fn push(&self, batch: &mut Vec<LogEvent>, ev: LogEvent) {
        self.feed.publish(&ev);
        if let Some(l) = &self.listener {
            (l.0)(&ev);
        }
        batch.push(ev);
    }
}

#[derive(Default)]
struct Counter {
    lines: u64,
    bytes: u64,
    per_node: HashMap<String, u64>,
}

impl Counter {
    /// Counts an output event and says whether it goes over the limit.
    /// Engine messages are not counted.
    fn exceeds(&mut self, limit: &LogLimit, ev: &LogEvent) -> bool {
        if ev.stream == crate::model::Stream::System {
            return false;
        }
        self.lines += 1;
        self.bytes += ev.text.len() as u64 + 1;
        match *limit {
            LogLimit::Lines(n) => self.lines > n,
            LogLimit::Bytes(n) => self.bytes > n,
            LogLimit::LinesPerNode(n) => {
                let c = self
                    .per_node
                    .entry(ev.node.clone().unwrap_or_default())
                    .or_default();
                *c += 1;
                *c > n
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{Execution, LogLevel};
    use crate::MemoryStore;
    use tokio_util::sync::CancellationToken;

    fn line(i: usize, len: usize) -> LogEvent {
        LogEvent::system(
            LogLevel::Info,
            Some("n"),
            None,
            format!("{i:04}{}", "x".repeat(len - 4)),
        )
    }

    async fn stored(store: &Arc<dyn Store>, id: u64) -> usize {
        // let the writer task run (time is paused: no deadline passes)
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        store
            .read_log(id, 0, usize::MAX)
            .await
            .unwrap()
            .events
            .len()
    }

    /// Batches go to the store at 64 KiB of text even before the 100 ms
    /// delay, so long lines never pile up 512 to a batch (32 MiB).
    #[tokio::test(start_paused = true)]
    async fn batches_are_bounded_by_bytes_and_by_delay() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let id = store
            .create_execution(&Execution::new("p", "d", "u"))
            .await
            .unwrap();
        let control = Arc::new(Control::child(&CancellationToken::new()));
        let (tx, task) = start(store.clone(), id, None, None, control, Feed::new(0));
        for i in 0..6 {
            tx.send(line(i, 10 * 1024)).await;
        }
        assert_eq!(stored(&store, id).await, 0, "60 KiB waits for the delay");
        tx.send(line(6, 10 * 1024)).await;
        assert_eq!(stored(&store, id).await, 7, "70 KiB is appended at once");
        // Short lines wait for the delay ...
        tx.send(line(7, 100)).await;
        assert_eq!(stored(&store, id).await, 7);
        tokio::time::advance(BATCH_DELAY + Duration::from_millis(1)).await;
        assert_eq!(stored(&store, id).await, 8);
        // ... or for 512 of them.
        for i in 0..BATCH_EVENTS {
            tx.send(line(8 + i, 10)).await;
        }
        assert_eq!(stored(&store, id).await, 8 + BATCH_EVENTS);
        drop(tx);
        assert_eq!(task.await.unwrap(), None);
    }
}
