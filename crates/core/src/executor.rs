//! The `Executor` trait: runs one step on one node and streams its output.

use crate::error::{Error, Result};
use crate::model::{Node, Stream};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What to run on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeCommand {
    /// A command line for the node's shell (`/bin/sh -c LINE`).
    Shell(String),
    /// A script: written to a temporary file on the node, made executable,
    /// run with its arguments, and removed afterwards.
    Script {
        /// Script body (option tokens already expanded).
        content: Vec<u8>,
        /// Arguments, already expanded and split.
        args: Vec<String>,
        /// Interpreter line (`bash -c`); the script path and args follow it.
        interpreter: Option<String>,
        /// Pass script path and args as one quoted argument to the interpreter.
        args_quoted: bool,
        /// File extension of the temporary file (`.py`).
        file_extension: Option<String>,
    },
}

/// A request to run one step on one node.
#[derive(Clone, Debug)]
pub struct NodeRequest {
    /// The node.
    pub node: Node,
    /// What to run.
    pub command: NodeCommand,
    /// Environment (`RD_OPTION_*`, `RD_NODE_*`, `RD_JOB_*`).
    pub env: Vec<(String, String)>,
    /// Kill the command after this long.
    pub timeout: Option<Duration>,
}

/// How a command on a node ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeOutcome {
    /// Exit code, if the process exited.
    pub exit_code: Option<i32>,
    /// Signal that ended the process, if any (`TERM`, `KILL`, `9`).
    pub signal: Option<String>,
    /// Killed because the timeout passed.
    pub timed_out: bool,
    /// Killed because the abort signal fired.
    pub aborted: bool,
}

impl NodeOutcome {
    /// An outcome with that exit code.
    pub fn exit(code: i32) -> Self {
        NodeOutcome {
            exit_code: Some(code),
            ..NodeOutcome::default()
        }
    }

    /// Exit code 0, not killed.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out && !self.aborted
    }

    /// Why it failed, for logs and state.
    pub fn failure_reason(&self) -> Option<String> {
        if self.aborted {
            Some("aborted".into())
        } else if self.timed_out {
            Some("timed out".into())
        } else if let Some(sig) = &self.signal {
            Some(format!("killed by signal {sig}"))
        } else {
            match self.exit_code {
                Some(0) => None,
                Some(c) => Some(format!("exit code {c}")),
                None => Some("no exit status".into()),
            }
        }
    }
}

/// One line of a node's output, without its line ending; lines longer than
/// [`MAX_LINE`] are split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputLine {
    /// stdout or stderr.
    pub stream: Stream,
    /// The text; invalid UTF-8 shown as U+FFFD.
    pub text: String,
    /// The bytes as printed when they are not valid UTF-8.
    pub raw: Option<Vec<u8>>,
}

/// Longest line kept in one event; longer lines are cut into pieces of this size.
pub const MAX_LINE: usize = 64 * 1024;

/// Where an executor sends output lines. Bounded: a slow consumer slows the
/// producer rather than growing memory.
#[derive(Clone, Debug)]
pub struct OutputSink {
    tx: mpsc::Sender<OutputLine>,
}

impl OutputSink {
    /// A sink and the receiver that reads it, holding at most `capacity` lines.
    pub fn channel(capacity: usize) -> (OutputSink, mpsc::Receiver<OutputLine>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (OutputSink { tx }, rx)
    }

    /// Sends one line of text; returns false when nobody listens any more.
    pub async fn line(&self, stream: Stream, text: String) -> bool {
        let line = OutputLine {
            stream,
            text,
            raw: None,
        };
        self.tx.send(line).await.is_ok()
    }

    /// Sends one line as read from the node, keeping bytes that are not
    /// UTF-8; returns false when nobody listens any more.
    pub async fn bytes(&self, stream: Stream, bytes: Vec<u8>) -> bool {
        let (text, raw) = crate::model::decode_line(bytes);
        let line = OutputLine { stream, text, raw };
        self.tx.send(line).await.is_ok()
    }
}

/// Splits a byte stream into lines: keeps partial lines across reads, accepts
/// `\n` and `\r\n`, and cuts overlong lines. Lines are bytes as printed;
/// [`OutputSink::bytes`] decodes them.
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
}

impl LineSplitter {
    /// Feeds bytes and returns the lines they complete.
    pub fn push(&mut self, data: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for &b in data {
            if b == b'\n' {
                out.push(self.take_line());
            } else {
                self.buf.push(b);
                if self.buf.len() >= MAX_LINE {
                    out.push(self.take_line());
                }
            }
        }
        out
    }

    /// The last line when it had no line ending.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        (!self.buf.is_empty()).then(|| self.take_line())
    }

    fn take_line(&mut self) -> Vec<u8> {
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        // a copy of exactly the line's size; the buffer keeps its capacity
        let line = self.buf.clone();
        self.buf.clear();
        line
    }
}

/// Runs steps on nodes. Implemented by `LocalExecutor`, the SSH executor, and
/// by users for their own transports.
#[async_trait]
pub trait Executor: Send + Sync + std::fmt::Debug {
    /// Runs the command on the node, sending output to `out` until it ends,
    /// the timeout passes, or `abort` is cancelled.
    async fn run(
        &self,
        req: NodeRequest,
        out: OutputSink,
        abort: CancellationToken,
    ) -> Result<NodeOutcome>;

    /// Copies bytes to a path on the node. Not every executor can.
    async fn copy_file(&self, node: &Node, _data: &[u8], dest: &str) -> Result<()> {
        Err(Error::Executor {
            node: node.name.clone(),
            message: format!("this executor cannot copy files (to {dest})"),
        })
    }
}

#[async_trait]
impl<T: Executor + ?Sized> Executor for Arc<T> {
    async fn run(
        &self,
        req: NodeRequest,
        out: OutputSink,
        abort: CancellationToken,
    ) -> Result<NodeOutcome> {
        (**self).run(req, out, abort).await
    }

    async fn copy_file(&self, node: &Node, data: &[u8], dest: &str) -> Result<()> {
        (**self).copy_file(node, data, dest).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn splitter_keeps_partial_lines_and_bad_bytes() {
        let mut s = LineSplitter::default();
        assert!(s.push(b"he").is_empty());
        assert_eq!(s.push(b"llo\r\nwor"), vec![b"hello".to_vec()]);
        assert_eq!(
            s.push(b"ld\n\xff\xfe\n"),
            vec![b"world".to_vec(), b"\xff\xfe".to_vec()]
        );
        assert!(s.push(b"tail").is_empty());
        assert_eq!(s.finish().as_deref(), Some(&b"tail"[..]));
        assert_eq!(s.finish(), None);
    }

    #[tokio::test]
    async fn sink_keeps_bytes_that_are_not_utf8() {
        let (sink, mut rx) = OutputSink::channel(4);
        assert!(sink.bytes(Stream::Stdout, b"ok \xc3\xa9".to_vec()).await);
        assert!(sink.bytes(Stream::Stderr, b"bad \xe9\xff".to_vec()).await);
        let good = rx.recv().await.unwrap();
        assert_eq!((good.text.as_str(), good.raw), ("ok \u{e9}", None));
        let bad = rx.recv().await.unwrap();
        assert_eq!(bad.text, "bad \u{fffd}\u{fffd}");
        assert_eq!(bad.raw.as_deref(), Some(&b"bad \xe9\xff"[..]));
    }

    #[test]
    fn splitter_cuts_overlong_lines() {
        let mut s = LineSplitter::default();
        let lines = s.push(&vec![b'x'; MAX_LINE * 2 + 10]);
        assert_eq!(lines.len(), 2);
        assert_eq!(s.finish().map(|l| l.len()), Some(10));
    }
}
