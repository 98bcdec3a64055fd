//! [`Run`]: what a running attempt shares between its steps (its
//! execution record, the data its steps captured, its log), and what a step
//! or a workflow produces.

use super::super::log::LogTx;
use super::super::{Control, Engine};
use super::progress::Progress;
use super::DATA_PREFIX;
use crate::authorizer::Subject;
use crate::context::{DataContext, SecretMasker};
use crate::executor::NodeOutcome;
use crate::model::{Execution, Job, LogEvent, LogLevel, Node};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
pub(super) struct Captured {
    pub(super) global: BTreeMap<String, String>,
    pub(super) per_node: BTreeMap<String, BTreeMap<String, String>>,
}

pub(super) struct WorkflowOutcome {
    pub(super) failed: bool,
    pub(super) failure: Option<String>,
}

/// Result of a step on one node (or of a workflow step).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StepResult {
    /// Succeeded without help.
    Ok,
    /// Failed, and its error handler succeeded.
    Recovered,
    /// Failed.
    Failed,
    /// Not run (stopped before it started).
    NotRun,
}

/// What running one command produced.
pub(super) struct Ran {
    pub(super) ok: bool,
    pub(super) exit_code: Option<i32>,
    pub(super) failure: Option<String>,
    pub(super) aborted: bool,
}

impl Ran {
    pub(super) fn fail(msg: impl Into<String>) -> Ran {
        Ran {
            ok: false,
            exit_code: None,
            failure: Some(msg.into()),
            aborted: false,
        }
    }

    pub(super) fn aborted_waiting() -> Ran {
        Ran {
            aborted: true,
            ..Ran::fail("stopped while waiting for a free step slot")
        }
    }

    pub(super) fn from_outcome(o: &NodeOutcome) -> Ran {
        Ran {
            ok: o.success(),
            exit_code: o.exit_code,
            failure: o.failure_reason(),
            aborted: o.aborted,
        }
    }
}

pub(super) struct Run {
    pub(super) engine: Engine,
    pub(super) project: String,
    pub(super) job: Job,
    pub(super) depth: u32,
    pub(super) exec: Mutex<Execution>,
    pub(super) base: DataContext,
    pub(super) data: Mutex<Captured>,
    /// Where the workflow starts, and how its steps ended.
    pub(super) progress: Mutex<Progress>,
    pub(super) masker: SecretMasker,
    pub(super) log: LogTx,
    pub(super) control: Arc<Control>,
    pub(super) nodes: Vec<Node>,
    pub(super) universe: Vec<Node>,
    pub(super) loglevel: LogLevel,
    pub(super) default_executor: String,
    pub(super) user: String,
    pub(super) subject: Option<Subject>,
}

impl Run {
    pub(super) fn snapshot(&self) -> Execution {
        match self.exec.lock() {
            Ok(e) => e.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub(super) fn with_exec(&self, f: impl FnOnce(&mut Execution)) {
        match self.exec.lock() {
            Ok(mut e) => f(&mut e),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    pub(super) async fn persist(&self) {
        let snapshot = self.snapshot();
        if let Err(e) = self.engine.inner.store.update_execution(&snapshot).await {
            tracing::warn!(execution = snapshot.id, error = %e, "could not save execution state");
        }
    }

    pub(super) fn stopped(&self) -> bool {
        self.control.cancel.is_cancelled()
    }

    pub(super) async fn message(
        &self,
        level: LogLevel,
        node: Option<&str>,
        stepctx: Option<&str>,
        text: &str,
    ) {
        if level >= self.loglevel || level >= LogLevel::Warn {
            let text = self.masker.mask(text);
            self.log
                .send(LogEvent::system(level, node, stepctx, text))
                .await;
        }
    }

    pub(super) fn context_for(&self, node: &Node) -> DataContext {
        let mut ctx = self.base.clone();
        if let Ok(d) = self.data.lock() {
            ctx.data = d.global.clone();
            if let Some(own) = d.per_node.get(&node.name) {
                ctx.data
                    .extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            ctx.node_data = d.per_node.clone();
        }
        ctx
    }

    pub(super) fn capture(&self, node: &str, line: &str) {
        let Some(rest) = line.trim_end().strip_prefix(DATA_PREFIX) else {
            return;
        };
        let Some((k, v)) = rest.split_once('=') else {
            return;
        };
        let k = k.trim();
        if k.is_empty()
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return;
        }
        self.put_data(node, k.to_owned(), v.to_owned());
    }

    /// Records a captured value for `node` and for the whole run.
    pub(super) fn put_data(&self, node: &str, k: String, v: String) {
        if let Ok(mut d) = self.data.lock() {
            d.global.insert(k.clone(), v.clone());
            d.per_node.entry(node.to_owned()).or_default().insert(k, v);
        }
    }
}
