//! Live log feeds: each event an execution's log pipeline writes (after
//! secret masking and log limits), with its offset in the log, for
//! followers on this server (the SSE stream) that cannot wait for the
//! batched store appends.
//!
//! A feed keeps the events the store does not hold yet, so a new follower
//! reads the store up to [`LiveLog::stored`] and takes the rest from the
//! feed: no gap and no duplicate between the two. Memory is bounded: the
//! unstored events are the pipeline's pending batches, and the broadcast
//! channel holds [`LIVE_CAPACITY`] events; a follower that falls further
//! behind gets [`LiveError::Lagged`] and starts over from the store.

use crate::model::LogEvent;
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// Events a live feed buffers for its slowest follower.
pub const LIVE_CAPACITY: usize = 1024;

/// One event of a live feed.
#[derive(Clone, Debug)]
pub struct LiveEvent {
    /// Index of the event in the execution's log (the store's offset).
    pub offset: u64,
    /// The event as stored.
    pub event: Arc<LogEvent>,
}

/// Why a [`LiveLog`] yields no more events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    /// The follower fell more than [`LIVE_CAPACITY`] events behind and
    /// missed some: read the store from its offset and subscribe again.
    #[error("the live log follower fell behind")]
    Lagged,
    /// The feed ended: the execution's log is complete in the store (or a
    /// store append failed, and the store is the only truth left).
    #[error("the live log ended")]
    Closed,
}

/// A follower of one execution's log, from [`Engine::subscribe_log`](super::Engine::subscribe_log).
///
/// The store held the events before [`stored`](Self::stored) when it was
/// made; [`recv`](Self::recv) yields every event from there on, in order.
pub struct LiveLog {
    stored: u64,
    /// Offset of the next event `recv` yields.
    next: u64,
    backlog: VecDeque<Arc<LogEvent>>,
    rx: broadcast::Receiver<LiveEvent>,
}

impl fmt::Debug for LiveLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveLog")
            .field("stored", &self.stored)
            .field("next", &self.next)
            .field("backlog", &self.backlog.len())
            .finish_non_exhaustive()
    }
}

impl LiveLog {
    /// The store holds every event before this offset: read those there.
    pub fn stored(&self) -> u64 {
        self.stored
    }

    /// The next event of the log, from offset [`stored`](Self::stored) on,
    /// as soon as the pipeline writes it.
    pub async fn recv(&mut self) -> Result<LiveEvent, LiveError> {
        if let Some(event) = self.backlog.pop_front() {
            let offset = self.next;
            self.next += 1;
            return Ok(LiveEvent { offset, event });
        }
        match self.rx.recv().await {
            Ok(ev) if ev.offset == self.next => {
                self.next += 1;
                Ok(ev)
            }
            // never happens: the feed numbers events under the lock it
            // subscribes under; treat it as a miss all the same
            Ok(_) => Err(LiveError::Lagged),
            Err(broadcast::error::RecvError::Lagged(_)) => Err(LiveError::Lagged),
            Err(broadcast::error::RecvError::Closed) => Err(LiveError::Closed),
        }
    }
}

/// The live side of one execution's log pipeline.
#[derive(Debug)]
pub(crate) struct Feed {
    state: Mutex<FeedState>,
}

#[derive(Debug)]
struct FeedState {
    /// Made by the first subscriber: nobody following costs nothing.
    tx: Option<broadcast::Sender<LiveEvent>>,
    /// The store holds the events before this offset.
    stored: u64,
    /// Events from `stored` on, written but not in the store yet.
    unstored: VecDeque<Arc<LogEvent>>,
    closed: bool,
}

impl Feed {
    /// A feed for a log that holds `base` events already.
    pub(crate) fn new(base: u64) -> Arc<Feed> {
        Arc::new(Feed {
            state: Mutex::new(FeedState {
                tx: None,
                stored: base,
                unstored: VecDeque::new(),
                closed: false,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, FeedState> {
        // the state stays consistent at every await-free step: a panic
        // elsewhere cannot leave it half-updated
        match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        }
    }

    /// The pipeline wrote `ev` (it goes to the store next).
    pub(crate) fn publish(&self, ev: &LogEvent) {
        let mut s = self.lock();
        if s.closed {
            return;
        }
        let event = Arc::new(ev.clone());
        let offset = s.stored + s.unstored.len() as u64;
        s.unstored.push_back(event.clone());
        if let Some(tx) = &s.tx {
            // no receiver left is fine: the next subscriber reads the backlog
            let _ = tx.send(LiveEvent { offset, event });
        }
    }

    /// The store now holds `n` more events (the oldest unstored ones).
    pub(crate) fn stored(&self, n: usize) {
        let mut s = self.lock();
        if s.closed {
            return;
        }
        let n = n.min(s.unstored.len());
        s.unstored.drain(..n);
        s.stored += n as u64;
    }

    /// No more events: followers get [`LiveError::Closed`] after the ones
    /// they have, and new ones read the store.
    pub(crate) fn close(&self) {
        let mut s = self.lock();
        s.closed = true;
        s.tx = None;
        s.unstored.clear();
    }

    /// A follower from the store's offset on, unless the feed ended.
    pub(crate) fn subscribe(&self) -> Option<LiveLog> {
        let mut s = self.lock();
        if s.closed {
            return None;
        }
        let rx =
            s.tx.get_or_insert_with(|| broadcast::channel(LIVE_CAPACITY).0)
                .subscribe();
        Some(LiveLog {
            stored: s.stored,
            next: s.stored,
            backlog: s.unstored.clone(),
            rx,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::engine::{Engine, PluginCall, RunOptions, StepPlugin};
    use crate::executor::NodeOutcome;
    use crate::model::{Job, JobOption, LogLevel, Step, StepKind, Stream, Workflow};
    use async_trait::async_trait;
    use tokio::sync::mpsc;

    fn ev(text: &str) -> LogEvent {
        LogEvent::system(LogLevel::Info, None, None, text)
    }

    async fn next(live: &mut LiveLog) -> (u64, String) {
        let e = live.recv().await.unwrap();
        (e.offset, e.event.text.clone())
    }

    #[tokio::test]
    async fn followers_get_every_event_from_the_stored_offset_on() {
        let feed = Feed::new(3);
        let mut early = feed.subscribe().unwrap();
        assert_eq!(early.stored(), 3);
        feed.publish(&ev("a"));
        feed.publish(&ev("b"));
        // a late follower gets what the store does not hold from the feed
        let mut late = feed.subscribe().unwrap();
        assert_eq!(late.stored(), 3);
        feed.publish(&ev("c"));
        for live in [&mut early, &mut late] {
            assert_eq!(next(live).await, (3, "a".into()));
            assert_eq!(next(live).await, (4, "b".into()));
            assert_eq!(next(live).await, (5, "c".into()));
        }
        // once the store holds a and b, a follower reads them there
        feed.stored(2);
        let mut after = feed.subscribe().unwrap();
        assert_eq!(after.stored(), 5);
        assert_eq!(next(&mut after).await, (5, "c".into()));
        feed.publish(&ev("d"));
        assert_eq!(next(&mut after).await, (6, "d".into()));
        assert_eq!(next(&mut early).await, (6, "d".into()));
    }

    #[tokio::test]
    async fn a_lagging_follower_is_told_and_starts_over() {
        let feed = Feed::new(0);
        let mut slow = feed.subscribe().unwrap();
        let total = LIVE_CAPACITY + 5;
        for i in 0..total {
            feed.publish(&ev(&i.to_string()));
        }
        assert_eq!(slow.recv().await.unwrap_err(), LiveError::Lagged);
        // the store caught up with most of it meanwhile
        feed.stored(LIVE_CAPACITY);
        let mut again = feed.subscribe().unwrap();
        assert_eq!(again.stored(), LIVE_CAPACITY as u64);
        for i in LIVE_CAPACITY..total {
            assert_eq!(next(&mut again).await, (i as u64, i.to_string()));
        }
    }

    #[tokio::test]
    async fn a_closed_feed_ends_its_followers_and_takes_no_new_ones() {
        let feed = Feed::new(0);
        let mut live = feed.subscribe().unwrap();
        feed.publish(&ev("last"));
        feed.close();
        assert_eq!(next(&mut live).await, (0, "last".into()));
        assert_eq!(live.recv().await.unwrap_err(), LiveError::Closed);
        assert!(feed.subscribe().is_none());
        feed.publish(&ev("ignored"));
    }

    /// Prints the lines the test sends it, until the test drops the sender.
    #[derive(Debug)]
    struct Lines(std::sync::Mutex<Option<mpsc::UnboundedReceiver<String>>>);

    #[async_trait]
    impl StepPlugin for Lines {
        async fn run(&self, call: PluginCall) -> crate::Result<NodeOutcome> {
            let rx = self.0.lock().unwrap().take();
            if let Some(mut rx) = rx {
                while let Some(line) = rx.recv().await {
                    call.out.line(Stream::Stdout, line).await;
                }
            }
            Ok(NodeOutcome::exit(0))
        }
    }

    /// Time is paused: the 100 ms batch delay passes only when every task
    /// waits, so an event read live here is not in the store yet.
    #[tokio::test(start_paused = true)]
    async fn the_engine_broadcasts_masked_events_before_the_store_has_them() {
        let (lines, rx) = mpsc::unbounded_channel::<String>();
        let engine = Engine::builder()
            .step_plugin("lines", Lines(std::sync::Mutex::new(Some(rx))))
            .build();
        let mut job = Job::new(
            "live",
            Workflow::new(vec![Step::new(StepKind::Plugin {
                plugin_type: "lines".into(),
                node_step: true,
                configuration: Default::default(),
            })]),
        );
        let mut pw = JobOption::new("pw");
        pw.secure = true;
        job.options = vec![pw];
        let run = engine
            .start_job("p", &job, RunOptions::default().option("pw", "hunter2"))
            .await
            .unwrap();
        let id = run.id;
        let mut early = engine.subscribe_log(id).unwrap();
        assert_eq!(early.stored(), 0);
        lines.send("one hunter2".into()).unwrap();
        assert_eq!(next(&mut early).await, (0, "one [SECURE]".into()));
        let store = engine.store().clone();
        assert!(store.read_log(id, 0, 10).await.unwrap().events.is_empty());
        // subscribed after the first event: it comes from the feed's backlog
        let mut late = engine.subscribe_log(id).unwrap();
        assert_eq!(late.stored(), 0);
        lines.send("two".into()).unwrap();
        assert_eq!(next(&mut late).await, (0, "one [SECURE]".into()));
        assert_eq!(next(&mut late).await, (1, "two".into()));
        assert_eq!(next(&mut early).await, (1, "two".into()));
        assert!(store.read_log(id, 0, 10).await.unwrap().events.is_empty());
        // after the batch delay the store has them; a new follower starts there
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let mut after = engine.subscribe_log(id).unwrap();
        assert_eq!(after.stored(), 2);
        lines.send("three".into()).unwrap();
        assert_eq!(next(&mut after).await, (2, "three".into()));
        drop(lines);
        let e = run.wait().await.unwrap();
        assert!(e.status.is_final());
        let mut seen = vec![];
        loop {
            match early.recv().await {
                Ok(ev) => seen.push((ev.offset, ev.event.text.clone())),
                Err(err) => {
                    assert_eq!(err, LiveError::Closed);
                    break;
                }
            }
        }
        let stored: Vec<(u64, String)> = store
            .read_log(id, 0, 100)
            .await
            .unwrap()
            .events
            .into_iter()
            .enumerate()
            .map(|(i, e)| (i as u64, e.text))
            .collect();
        assert_eq!(stored[..2], [(0, "one [SECURE]".into()), (1, "two".into())]);
        assert_eq!(seen, stored[2..]);
        assert!(engine.subscribe_log(id).is_none());
    }

    /// A record made before the run (a scheduled fire) may hold a note
    /// already: live offsets continue after it.
    #[tokio::test]
    async fn offsets_continue_after_events_stored_before_the_run() {
        let (lines, rx) = mpsc::unbounded_channel::<String>();
        let engine = Engine::builder()
            .step_plugin("lines", Lines(std::sync::Mutex::new(Some(rx))))
            .build();
        let job = Job::new(
            "live",
            Workflow::new(vec![Step::new(StepKind::Plugin {
                plugin_type: "lines".into(),
                node_step: false,
                configuration: Default::default(),
            })]),
        );
        let store = engine.store().clone();
        let mut record = crate::model::Execution::new("p", "live", "u");
        record.id = store.create_execution(&record).await.unwrap();
        store.append_log(record.id, &[ev("note")]).await.unwrap();
        let run = engine
            .start_execution("p", &job, &record, RunOptions::default())
            .await
            .unwrap();
        let mut live = engine.subscribe_log(run.id).unwrap();
        assert_eq!(live.stored(), 1);
        lines.send("first".into()).unwrap();
        assert_eq!(next(&mut live).await, (1, "first".into()));
        drop(lines);
        run.wait().await.unwrap();
        let texts: Vec<String> = store
            .read_log(record.id, 0, 10)
            .await
            .unwrap()
            .events
            .into_iter()
            .map(|e| e.text)
            .collect();
        assert_eq!(texts[..2], ["note".to_owned(), "first".to_owned()]);
    }
}
