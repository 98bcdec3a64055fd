//! The node-first strategy: on each node, its run of node steps in order;
//! a workflow step between such runs waits for all nodes.

use super::super::durable::outcome;
use super::super::runner::{Run, WorkflowOutcome};
use crate::model::Node;
use crate::store::StepOutcome;
use std::sync::Arc;

impl Run {
    pub(super) async fn node_first(self: Arc<Self>) -> WorkflowOutcome {
        let steps = &self.job.sequence.commands;
        let (start, mut failure) = self.start_point();
        let mut failed = failure.is_some();
        let mut i = start;
        while i < steps.len() {
            if self.stopped() {
                break;
            }
            if !steps[i].is_node_step() {
                let r = self.clone().step_everywhere(i).await;
                let go_on = self.proceed(
                    &steps[i],
                    r,
                    &mut failed,
                    &mut failure,
                    &(i + 1).to_string(),
                );
                // boxed: the step's future above is what this one holds
                Box::pin(self.advance(i + 1, outcome(r).as_slice(), go_on, &failure)).await;
                if !go_on {
                    break;
                }
                i += 1;
                continue;
            }
            let end = (i..steps.len())
                .find(|&j| !steps[j].is_node_step())
                .unwrap_or(steps.len());
            let this = self.clone();
            let range = i..end;
            let per_node = self
                .dispatch(move |node| {
                    let this = this.clone();
                    let range = range.clone();
                    async move { this.steps_on_node(range, node).await }
                })
                .await;
            let segment_failed = per_node.iter().any(|r| matches!(r, Some(false)));
            let some_not_run = per_node.iter().any(Option::is_none);
            let mut go_on = true;
            if segment_failed || (some_not_run && !self.stopped()) {
                failed = true;
                failure.get_or_insert_with(|| "one or more nodes failed".to_owned());
                go_on = self.job.sequence.keepgoing;
            }
            // the segment's steps are recorded together: a node runs them in
            // one go, so a run continues after the whole segment or before it
            let ended = if segment_failed || some_not_run {
                StepOutcome::Failed
            } else {
                StepOutcome::Succeeded
            };
            Box::pin(self.advance(end, &vec![ended; end - i], go_on, &failure)).await;
            if !go_on {
                break;
            }
            i = end;
        }
        WorkflowOutcome { failed, failure }
    }

    /// Runs node steps `range` in order on one node (node-first); true when the node succeeded.
    async fn steps_on_node(&self, range: std::ops::Range<usize>, node: Node) -> bool {
        let (mut failed, mut failure) = (false, None);
        for i in range {
            if self.stopped() {
                return false;
            }
            let step = &self.job.sequence.commands[i];
            let r = self.node_step(i, step, &node).await;
            if !self.proceed(step, r, &mut failed, &mut failure, &(i + 1).to_string()) {
                break;
            }
        }
        !failed
    }
}
