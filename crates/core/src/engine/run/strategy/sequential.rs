//! The sequential (step-first) strategy: each step on every node, then the next step.

use super::super::runner::{Run, WorkflowOutcome};
use std::sync::Arc;

impl Run {
    pub(super) async fn sequential(self: Arc<Self>) -> WorkflowOutcome {
        let (mut failed, mut failure) = (false, None);
        for (i, step) in self.job.sequence.commands.iter().enumerate() {
            if self.stopped() {
                break;
            }
            let r = self.clone().step_everywhere(i).await;
            self.persist().await;
            if !self.proceed(step, r, &mut failed, &mut failure, &(i + 1).to_string()) {
                break;
            }
        }
        WorkflowOutcome { failed, failure }
    }
}
