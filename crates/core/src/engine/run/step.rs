//! One step on one node (or once, for a workflow step), with its error
//! handler, and its state recorded.

use super::super::state;
use super::runner::{Ran, Run, StepResult};
use crate::model::{ExecState, LogLevel, Node, Step};

impl Run {
    /// Runs a node step on one node with its error handler; records state.
    pub(super) async fn node_step(&self, i: usize, step: &Step, node: &Node) -> StepResult {
        if self.stopped() {
            return StepResult::NotRun;
        }
        let ctx = (i + 1).to_string();
        self.with_exec(|e| state::start(e, i, &node.name, ExecState::Running));
        self.message(
            LogLevel::Debug,
            Some(&node.name),
            Some(&ctx),
            &format!("Step {ctx} on {}", node.name),
        )
        .await;
        let ran = self.run_kind(step, Some(node), &ctx).await;
        self.conclude(i, step, &node.name, Some(node), &ctx, ran)
            .await
    }

    /// Runs a workflow step once; records state under the server node.
    pub(super) async fn workflow_step(&self, i: usize, step: &Step, server: &str) -> StepResult {
        if self.stopped() {
            return StepResult::NotRun;
        }
        let ctx = (i + 1).to_string();
        self.with_exec(|e| state::start(e, i, server, ExecState::Running));
        let ran = self.run_kind(step, None, &ctx).await;
        let r = self.conclude(i, step, server, None, &ctx, ran).await;
        self.with_exec(|e| state::settle_step(e, i));
        r
    }

    /// Applies the error handler and records the step's end on `name`.
    async fn conclude(
        &self,
        i: usize,
        step: &Step,
        name: &str,
        node: Option<&Node>,
        ctx: &str,
        ran: Ran,
    ) -> StepResult {
        let nagios = self.job.nagios;
        if ran.ok {
            self.with_exec(|e| {
                state::finish(
                    e,
                    i,
                    name,
                    ExecState::Succeeded,
                    ran.exit_code,
                    None,
                    false,
                    nagios,
                )
            });
            return StepResult::Ok;
        }
        let why = ran.failure.clone().unwrap_or_else(|| "failed".into());
        if ran.aborted || self.stopped() {
            self.with_exec(|e| {
                state::finish(
                    e,
                    i,
                    name,
                    ExecState::Aborted,
                    ran.exit_code,
                    Some(why),
                    false,
                    nagios,
                )
            });
            return StepResult::Failed;
        }
        self.message(
            LogLevel::Error,
            Some(name),
            Some(ctx),
            &format!("Failed: {why}"),
        )
        .await;
        let Some(handler) = &step.errorhandler else {
            self.with_exec(|e| {
                state::finish(
                    e,
                    i,
                    name,
                    ExecState::Failed,
                    ran.exit_code,
                    Some(why),
                    false,
                    nagios,
                )
            });
            return StepResult::Failed;
        };
        self.with_exec(|e| state::start(e, i, name, ExecState::RunningHandler));
        self.message(
            LogLevel::Info,
            Some(name),
            Some(ctx),
            "Executing error handler",
        )
        .await;
        let handled = Box::pin(self.run_kind(handler, node, ctx)).await;
        if handled.ok {
            // the handler's result becomes the step's result
            self.with_exec(|e| {
                state::finish(
                    e,
                    i,
                    name,
                    ExecState::Succeeded,
                    ran.exit_code,
                    Some(why),
                    true,
                    nagios,
                )
            });
            StepResult::Recovered
        } else {
            let state = if handled.aborted || self.stopped() {
                ExecState::Aborted
            } else {
                ExecState::Failed
            };
            let hwhy = handled.failure.unwrap_or_else(|| "failed".into());
            self.message(
                LogLevel::Error,
                Some(name),
                Some(ctx),
                &format!("Error handler failed: {hwhy}"),
            )
            .await;
            self.with_exec(|e| {
                state::finish(
                    e,
                    i,
                    name,
                    state,
                    ran.exit_code,
                    Some(format!("{why}; error handler: {hwhy}")),
                    true,
                    nagios,
                )
            });
            StepResult::Failed
        }
    }
}
