//! The sequential (step-first) strategy: each step on every node, then the next step.

use super::super::durable::outcome;
use super::super::runner::{Run, WorkflowOutcome};
use std::sync::Arc;

impl Run {
    pub(super) async fn sequential(self: Arc<Self>) -> WorkflowOutcome {
        let (start, mut failure) = self.start_point();
        let mut failed = failure.is_some();
        for (i, step) in self.job.sequence.commands.iter().enumerate().skip(start) {
            if self.stopped() {
                break;
            }
            let r = self.clone().step_everywhere(i).await;
            let go_on = self.proceed(step, r, &mut failed, &mut failure, &(i + 1).to_string());
            // boxed: the step's future above is what this one holds
            Box::pin(self.advance(i + 1, outcome(r).as_slice(), go_on, &failure)).await;
            if !go_on {
                break;
            }
        }
        WorkflowOutcome { failed, failure }
    }
}
