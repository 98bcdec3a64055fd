//! Durable runs (jobs with `durable: true`): what a run carries between its
//! steps (captured data, step outcomes, its position) recorded in the store
//! as it advances, and a run continued from that record after its server
//! stopped.

use super::runner::{Captured, Run, StepResult};
use crate::model::{Execution, WorkflowState};
use crate::store::{RunState, StepOutcome, Store};
use chrono::Utc;

/// A durable run to continue: its execution as the stopped server left it,
/// and the state recorded after its last step.
#[derive(Clone, Debug)]
pub(crate) struct Resumed {
    pub(crate) execution: Execution,
    pub(crate) state: RunState,
}

impl Captured {
    /// The data a run continued from `state` starts with.
    pub(super) fn resumed(state: &RunState) -> Captured {
        Captured {
            global: state.data.clone(),
            per_node: state.node_data.clone(),
        }
    }
}

/// How a step that ran ended, as recorded; `None` when it did not run.
pub(super) fn outcome(r: StepResult) -> Option<StepOutcome> {
    match r {
        StepResult::Ok => Some(StepOutcome::Succeeded),
        StepResult::Recovered => Some(StepOutcome::Recovered),
        StepResult::Failed => Some(StepOutcome::Failed),
        StepResult::NotRun => None,
    }
}

/// Gives a continued run's fresh execution state the states of the steps
/// before `next` (and the nodes' exit codes and Nagios results) as the
/// stopped server recorded them.
pub(super) fn carry_state(exec: &mut Execution, before: &WorkflowState, next: usize) {
    for (i, step) in before.steps.iter().enumerate().take(next) {
        if let Some(s) = exec.state.steps.get_mut(i) {
            if s.stepctx == step.stepctx && s.node_step == step.node_step {
                *s = step.clone();
            }
        }
    }
    for (name, summary) in &before.nodes {
        if let Some(n) = exec.state.nodes.get_mut(name) {
            n.exit_code = summary.exit_code;
            n.nagios = summary.nagios;
        }
    }
}

/// Forgets the recorded state of a durable run that has ended.
pub(super) async fn forget(store: &dyn Store, id: u64) {
    if let Err(e) = store.delete_run_state(id).await {
        tracing::warn!(execution = id, error = %e, "could not remove a durable run's state");
    }
}

impl Run {
    /// The first step the workflow runs, and its failure before it (a run
    /// continued from a record starts after the steps that ran).
    pub(super) fn start_point(&self) -> (usize, Option<String>) {
        match self.progress.lock() {
            Ok(p) => (p.start, p.failure.clone()),
            Err(p) => {
                let p = p.into_inner();
                (p.start, p.failure.clone())
            }
        }
    }

    /// After the steps before `next` ended (the last of them with
    /// `outcomes`): saves the execution's state and, for a durable run,
    /// records what the run carries, at `next` when the workflow goes on
    /// (`go_on`), else at its end. A run being stopped (aborted, timed out)
    /// records nothing more: it ends here.
    pub(super) async fn advance(
        &self,
        next: usize,
        outcomes: &[StepOutcome],
        go_on: bool,
        failure: &Option<String>,
    ) {
        self.persist().await;
        if !self.job.durable || self.stopped() {
            return;
        }
        let next = if go_on {
            next
        } else {
            self.job.sequence.commands.len()
        };
        let results = match self.progress.lock() {
            Ok(mut p) => {
                p.results.extend_from_slice(outcomes);
                p.results.clone()
            }
            Err(_) => return,
        };
        self.record(next, results, failure.clone()).await;
    }

    /// For a durable run: records its state before its first step, so that
    /// a run stopped during that step is continued too.
    pub(super) async fn record_start(&self) {
        let (start, failure) = self.start_point();
        let results = match self.progress.lock() {
            Ok(p) => p.results.clone(),
            Err(_) => return,
        };
        self.record(start, results, failure).await;
    }

    async fn record(&self, next: usize, results: Vec<StepOutcome>, failure: Option<String>) {
        let mut id = 0;
        self.with_exec(|e| id = e.id);
        let (data, node_data) = match self.data.lock() {
            Ok(d) => (d.global.clone(), d.per_node.clone()),
            Err(_) => return,
        };
        let state = RunState {
            execution: id,
            next_step: u32::try_from(next).unwrap_or(u32::MAX),
            data,
            node_data,
            results,
            failure,
            updated: Utc::now(),
        };
        if let Err(e) = self.engine.inner.store.put_run_state(&state).await {
            tracing::warn!(execution = id, error = %e, "could not record a durable run's state");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ExecState, NagiosStatus, NodeSummary, StepState};

    fn steps(n: usize) -> WorkflowState {
        WorkflowState {
            steps: (1..=n)
                .map(|i| StepState {
                    stepctx: i.to_string(),
                    node_step: true,
                    ..StepState::default()
                })
                .collect(),
            nodes: [("web1".to_owned(), NodeSummary::default())].into(),
            ..WorkflowState::default()
        }
    }

    #[test]
    fn a_continued_run_keeps_the_states_of_the_steps_that_ran() {
        let mut before = steps(3);
        for s in &mut before.steps {
            s.execution_state = ExecState::Succeeded;
        }
        before.nodes.insert(
            "web1".into(),
            NodeSummary {
                exit_code: Some(2),
                nagios: Some(NagiosStatus::Critical),
                ..NodeSummary::default()
            },
        );
        let mut exec = Execution::new("p", "j", "u");
        exec.state = steps(3);
        carry_state(&mut exec, &before, 2);
        let states: Vec<ExecState> = exec.state.steps.iter().map(|s| s.execution_state).collect();
        assert_eq!(
            states,
            [
                ExecState::Succeeded,
                ExecState::Succeeded,
                ExecState::Waiting
            ]
        );
        assert_eq!(exec.state.nodes["web1"].exit_code, Some(2));
        assert_eq!(
            exec.state.nodes["web1"].nagios,
            Some(NagiosStatus::Critical)
        );

        // a workflow that changed since: its steps start afresh
        let mut other = steps(2);
        other.steps[0].node_step = false;
        let mut exec = Execution::new("p", "j", "u");
        exec.state = steps(2);
        carry_state(&mut exec, &other, 2);
        assert_eq!(exec.state.steps[0].execution_state, ExecState::Waiting);
    }

    #[test]
    fn outcomes() {
        assert_eq!(outcome(StepResult::Ok), Some(StepOutcome::Succeeded));
        assert_eq!(outcome(StepResult::Recovered), Some(StepOutcome::Recovered));
        assert_eq!(outcome(StepResult::Failed), Some(StepOutcome::Failed));
        assert_eq!(outcome(StepResult::NotRun), None);
    }
}
