//! One updating progress line on a terminal for `foredeck exec`: nodes done
//! out of the total, how many succeeded, failed, and run now. Output lines
//! clear it before they are printed; the next tick draws it again.

use async_trait::async_trait;
use foredeck::executor::{Executor, NodeOutcome, NodeRequest, OutputSink};
use foredeck::{Node, Result};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Node steps started and ended, counted by [`Counting`].
#[derive(Debug, Default)]
pub struct Counts {
    running: AtomicUsize,
    ok: AtomicUsize,
    failed: AtomicUsize,
}

/// An executor that counts the node steps of the one it wraps.
#[derive(Debug)]
pub struct Counting<E> {
    inner: E,
    counts: Arc<Counts>,
}

impl<E> Counting<E> {
    pub fn new(inner: E, counts: Arc<Counts>) -> Self {
        Counting { inner, counts }
    }
}

/// Decrements `running` also when the step's future is dropped.
struct Running<'a>(&'a Counts);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl<E: Executor> Executor for Counting<E> {
    async fn run(
        &self,
        req: NodeRequest,
        out: OutputSink,
        abort: CancellationToken,
    ) -> Result<NodeOutcome> {
        self.counts.running.fetch_add(1, Ordering::Relaxed);
        let running = Running(&self.counts);
        let result = self.inner.run(req, out, abort).await;
        drop(running);
        let ended = match &result {
            Ok(outcome) if outcome.success() => &self.counts.ok,
            _ => &self.counts.failed,
        };
        ended.fetch_add(1, Ordering::Relaxed);
        result
    }

    async fn copy_file(&self, node: &Node, data: &[u8], dest: &str) -> Result<()> {
        self.inner.copy_file(node, data, dest).await
    }
}

/// The progress line on standard error, and the printer of output lines
/// that must not mix with it.
#[derive(Debug)]
pub struct Line {
    counts: Arc<Counts>,
    total: usize,
    /// Whether the line is on screen now; held while writing to the screen.
    shown: Mutex<bool>,
}

const CLEAR: &str = "\r\x1b[2K";

impl Line {
    pub fn new(counts: Arc<Counts>, total: usize) -> Arc<Self> {
        Arc::new(Line {
            counts,
            total,
            shown: Mutex::new(false),
        })
    }

    fn text(&self) -> String {
        let ok = self.counts.ok.load(Ordering::Relaxed);
        let failed = self.counts.failed.load(Ordering::Relaxed);
        let running = self.counts.running.load(Ordering::Relaxed);
        format!(
            "{}/{} nodes done: {ok} ok, {failed} failed, {running} running",
            ok + failed,
            self.total
        )
    }

    /// Draws the line again with the current counts.
    pub fn draw(&self) {
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{CLEAR}{}", self.text());
        let _ = err.flush();
        *shown = true;
    }

    /// Removes the line from the screen.
    pub fn clear(&self) {
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        if *shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{CLEAR}");
            let _ = err.flush();
            *shown = false;
        }
    }

    /// Prints an output line (stdout or stderr) below a cleared progress line.
    pub fn print(&self, line: &[u8], to_stdout: bool) {
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        if *shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{CLEAR}");
            let _ = err.flush();
            *shown = false;
        }
        print_line(line, to_stdout);
    }

    /// Redraws the line every `every` until [`Ticker::stop`].
    pub fn tick(self: &Arc<Self>, every: Duration) -> Ticker {
        let stop = CancellationToken::new();
        let (line, token) = (self.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            loop {
                tokio::select! {
                    biased;
                    _ = token.cancelled() => break,
                    _ = interval.tick() => line.draw(),
                }
            }
            line.clear();
        });
        Ticker { stop, task }
    }
}

/// The task redrawing the progress line.
#[derive(Debug)]
pub struct Ticker {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Ticker {
    /// Stops redrawing and leaves the line cleared.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Writes one output line to stdout or stderr.
pub fn print_line(line: &[u8], to_stdout: bool) {
    fn emit(mut w: impl Write, line: &[u8]) {
        let _ = w.write_all(line);
        let _ = w.write_all(b"\n");
    }
    if to_stdout {
        emit(std::io::stdout().lock(), line);
    } else {
        emit(std::io::stderr().lock(), line);
    }
}

/// An output line as printed: the node's bytes as they came, prefixed with
/// the node name when asked.
pub fn output_line(ev: &foredeck::model::LogEvent, prefix: bool) -> Vec<u8> {
    let node = ev.node.as_deref().unwrap_or("");
    let bytes = ev.bytes();
    let mut line = Vec::with_capacity(node.len() + 2 + bytes.len());
    if prefix && !node.is_empty() {
        line.extend_from_slice(node.as_bytes());
        line.extend_from_slice(b": ");
    }
    line.extend_from_slice(bytes);
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use foredeck::executor::NodeCommand;
    use foredeck_core::testing::{FakeExecutor, FakeReply};

    #[tokio::test]
    async fn counts_successes_and_failures() {
        let counts = Arc::new(Counts::default());
        let fake = FakeExecutor::new().when(None, Some("exit 1"), FakeReply::exit(1));
        let ex = Counting::new(fake, counts.clone());
        for (name, line) in [("a", "true"), ("b", "exit 1")] {
            let req = NodeRequest {
                node: Node::new(name),
                command: NodeCommand::Shell(line.into()),
                env: Vec::new(),
                timeout: None,
            };
            let (sink, _rx) = OutputSink::channel(4);
            let _ = ex.run(req, sink, CancellationToken::new()).await;
        }
        let line = Line::new(counts, 3);
        assert_eq!(line.text(), "2/3 nodes done: 1 ok, 1 failed, 0 running");
    }
}
