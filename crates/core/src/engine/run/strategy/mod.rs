//! The workflow strategies: how a run walks its steps over its nodes. Each
//! strategy is a file; [`Run::workflow`] dispatches on the job's
//! [`Strategy`]. The parts they share: a step on every node
//! ([`Run::step_everywhere`]), node dispatch with the job's thread count and
//! keepgoing, and whether a workflow goes on after a step.

mod node_first;
mod parallel;
mod sequential;

use super::super::state;
use super::runner::{Run, StepResult, WorkflowOutcome};
use crate::model::{Node, Step, Strategy};
use futures::stream::{self, StreamExt};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

impl Run {
    pub(in crate::engine::run) async fn workflow(self: Arc<Self>) -> WorkflowOutcome {
        let strategy = self.job.sequence.strategy;
        // a parallel workflow has no position between its steps: a durable
        // one records nothing, and is marked incomplete as any other when
        // its server stops
        if self.job.durable && strategy != Strategy::Parallel {
            Box::pin(self.record_start()).await;
        }
        match strategy {
            Strategy::Sequential => self.sequential().await,
            Strategy::Parallel => self.parallel().await,
            Strategy::NodeFirst => self.node_first().await,
        }
    }

    /// Whether the workflow goes on after a step with this result; sets `failed`.
    fn proceed(
        &self,
        step: &Step,
        r: StepResult,
        failed: &mut bool,
        failure: &mut Option<String>,
        ctx: &str,
    ) -> bool {
        let keepgoing = self.job.sequence.keepgoing;
        match r {
            StepResult::Ok => true,
            StepResult::NotRun => false,
            StepResult::Failed => {
                *failed = true;
                failure.get_or_insert_with(|| format!("step {ctx} failed"));
                keepgoing
            }
            StepResult::Recovered => {
                let on_success = step
                    .errorhandler
                    .as_ref()
                    .is_some_and(|h| h.keepgoing_on_success);
                if keepgoing || on_success {
                    true
                } else {
                    *failed = true;
                    failure.get_or_insert_with(|| {
                        format!(
                            "step {ctx} failed (its error handler succeeded; the workflow stops)"
                        )
                    });
                    false
                }
            }
        }
    }

    /// Runs step `i` on all target nodes (node step) or once (workflow step).
    async fn step_everywhere(self: Arc<Self>, i: usize) -> StepResult {
        let step = &self.job.sequence.commands[i];
        if !step.is_node_step() {
            let server = self.engine.inner.server_node.clone();
            return self.workflow_step(i, step, &server).await;
        }
        let this = self.clone();
        let results = self
            .dispatch(move |node| {
                let this = this.clone();
                async move {
                    let step = &this.job.sequence.commands[i];
                    let r = this.node_step(i, step, &node).await;
                    matches!(r, StepResult::Ok | StepResult::Recovered).then_some(r)
                }
            })
            .await;
        self.with_exec(|e| state::settle_step(e, i));
        if results.iter().any(|r| r.is_none()) {
            StepResult::Failed
        } else if results.contains(&Some(Some(StepResult::Recovered))) {
            StepResult::Recovered
        } else if results
            .iter()
            .all(|r| matches!(r, Some(Some(StepResult::Ok))))
        {
            StepResult::Ok
        } else {
            StepResult::Failed
        }
    }

    /// Runs `f` for each target node with the job's thread count. A result of
    /// `None` means the node was not started. Without dispatch keepgoing, the
    /// first failure (a `None`-ish or false result) stops starting new nodes.
    async fn dispatch<F, Fut, T>(&self, f: F) -> Vec<Option<T>>
    where
        F: Fn(Node) -> Fut,
        Fut: std::future::Future<Output = T>,
        T: Succeeded,
    {
        let dispatch = self
            .job
            .nodefilters
            .as_ref()
            .map(|n| n.dispatch.clone())
            .unwrap_or_default();
        let threads = dispatch.threadcount.max(1) as usize;
        let keepgoing = dispatch.keepgoing;
        let halt = AtomicBool::new(false);
        let halt = &halt;
        let f = &f;
        let mut out: Vec<(usize, Option<T>)> = stream::iter(self.nodes.iter().cloned().enumerate())
            .map(|(idx, node)| async move {
                if halt.load(Ordering::SeqCst) || self.stopped() {
                    return (idx, None);
                }
                let r = f(node).await;
                if !r.succeeded() && !keepgoing {
                    halt.store(true, Ordering::SeqCst);
                }
                (idx, Some(r))
            })
            .buffer_unordered(threads)
            .collect()
            .await;
        out.sort_by_key(|(i, _)| *i);
        out.into_iter().map(|(_, r)| r).collect()
    }
}

/// Whether a dispatched unit succeeded (for dispatch keepgoing).
trait Succeeded {
    fn succeeded(&self) -> bool;
}

impl Succeeded for bool {
    fn succeeded(&self) -> bool {
        *self
    }
}

impl Succeeded for Option<StepResult> {
    fn succeeded(&self) -> bool {
        self.is_some()
    }
}
