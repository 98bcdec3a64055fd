//! The log pipeline of one execution: applies log limits, batches events
//! into the Store, and hands each event to a live listener.

use super::limits::LogLimit;
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
}

pub(crate) struct LogLimits {
    pub limit: LogLimit,
    pub action: LogLimitAction,
    pub status: Option<String>,
}

/// Starts the writer task for execution `id`. It ends, after a final
/// append, when every `LogTx` is dropped; its result is the store error, if any.
pub(crate) fn start(
    store: Arc<dyn Store>,
    id: u64,
    limits: Option<LogLimits>,
    listener: Option<LogListener>,
    control: Arc<Control>,
) -> (LogTx, JoinHandle<Option<String>>) {
    let (tx, mut rx) = mpsc::channel::<LogEvent>(1024);
    let task = tokio::spawn(async move {
        let mut batch: Vec<LogEvent> = Vec::with_capacity(BATCH_EVENTS);
        let mut counter = Counter::default();
        let mut cut = false;
        let mut cut_nodes: std::collections::HashSet<String> = Default::default();
        let mut error: Option<String> = None;
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
                            push(&mut batch, notice, &listener);
                        } else {
                            push(&mut batch, ev, &listener);
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
                if let Err(e) = store.append_log(id, &batch).await {
                    error.get_or_insert(e.to_string());
                }
                batch.clear();
            }
            (batch_bytes, counted) = (0, 0);
            deadline = None;
        }
        if !batch.is_empty() {
            if let Err(e) = store.append_log(id, &batch).await {
                error.get_or_insert(e.to_string());
            }
        }
        error
    });
    (LogTx { tx }, task)
}

fn push(batch: &mut Vec<LogEvent>, ev: LogEvent, listener: &Option<LogListener>) {
    if let Some(l) = listener {
        (l.0)(&ev);
    }
    batch.push(ev);
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
        let (tx, task) = start(store.clone(), id, None, None, control);
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
