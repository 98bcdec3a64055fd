//! The parallel strategy: all steps at once, each on every node.

use super::super::runner::{Run, WorkflowOutcome};
use std::sync::Arc;

impl Run {
    pub(super) async fn parallel(self: Arc<Self>) -> WorkflowOutcome {
        let n = self.job.sequence.commands.len();
        let results =
            futures::future::join_all((0..n).map(|i| self.clone().step_everywhere(i))).await;
        let (mut failed, mut failure) = (false, None);
        for (i, r) in results.into_iter().enumerate() {
            let step = &self.job.sequence.commands[i];
            self.proceed(step, r, &mut failed, &mut failure, &(i + 1).to_string());
        }
        WorkflowOutcome { failed, failure }
    }
}
