//! Per-node and per-step state of a running execution, combined the way
//! Rundeck's execution state API reports it.

use crate::model::{ExecState, Execution, NagiosStatus, NodeStepState, NodeSummary, StepState};
use chrono::Utc;

/// Puts every step into WAITING on the nodes it will run on.
pub(crate) fn init(exec: &mut Execution, node_steps: &[bool], nodes: &[String], server: &str) {
    exec.state.execution_state = ExecState::Running;
    exec.state.target_nodes = nodes.to_vec();
    exec.state.steps = node_steps
        .iter()
        .enumerate()
        .map(|(i, &node_step)| {
            let on: Vec<&str> = if node_step {
                nodes.iter().map(String::as_str).collect()
            } else {
                vec![server]
            };
            StepState {
                stepctx: (i + 1).to_string(),
                node_step,
                execution_state: ExecState::Waiting,
                node_states: on
                    .into_iter()
                    .map(|n| (n.to_owned(), NodeStepState::default()))
                    .collect(),
                start_time: None,
                end_time: None,
            }
        })
        .collect();
    exec.state.nodes = nodes
        .iter()
        .map(|n| (n.clone(), NodeSummary::default()))
        .collect();
}

/// Marks a step running on a node.
pub(crate) fn start(exec: &mut Execution, step: usize, node: &str, state: ExecState) {
    let now = Utc::now();
    if let Some(s) = exec.state.steps.get_mut(step) {
        s.start_time.get_or_insert(now);
        s.execution_state = ExecState::Running;
        let ns = s.node_states.entry(node.to_owned()).or_default();
        ns.execution_state = state;
        ns.start_time.get_or_insert(now);
    }
}

/// Records how a step ended on a node.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finish(
    exec: &mut Execution,
    step: usize,
    node: &str,
    state: ExecState,
    exit_code: Option<i32>,
    failure: Option<String>,
    handled: bool,
    nagios: bool,
) {
    if let Some(s) = exec.state.steps.get_mut(step) {
        let ns = s.node_states.entry(node.to_owned()).or_default();
        ns.execution_state = state;
        ns.end_time = Some(Utc::now());
        ns.exit_code = exit_code;
        ns.failure = failure;
        ns.handled = handled;
        let node_step = s.node_step;
        if node_step {
            if let Some(sum) = exec.state.nodes.get_mut(node) {
                if exit_code.is_some() {
                    sum.exit_code = exit_code;
                }
                if nagios {
                    let st = NagiosStatus::from_exit(if state == ExecState::Aborted {
                        None
                    } else {
                        exit_code
                    });
                    sum.nagios = Some(match sum.nagios {
                        Some(prev) if prev.severity() >= st.severity() => prev,
                        _ => st,
                    });
                }
            }
        }
    }
}

/// Combines the states of one step over its nodes.
fn combine(states: impl Iterator<Item = ExecState>) -> ExecState {
    let (mut ok, mut failed, mut aborted, mut not_run, mut running, mut total) = (0, 0, 0, 0, 0, 0);
    for s in states {
        total += 1;
        match s {
            ExecState::Succeeded => ok += 1,
            ExecState::Failed | ExecState::NodeMixed => failed += 1,
            ExecState::Aborted => aborted += 1,
            ExecState::NotStarted | ExecState::Waiting => not_run += 1,
            ExecState::NodePartialSucceeded => {
                ok += 1;
                not_run += 1
            }
            ExecState::Running | ExecState::RunningHandler => running += 1,
        }
    }
    if running > 0 {
        ExecState::Running
    } else if aborted > 0 {
        ExecState::Aborted
    } else if total == 0 || not_run == total {
        ExecState::NotStarted
    } else if ok > 0 && failed > 0 {
        ExecState::NodeMixed
    } else if failed > 0 {
        ExecState::Failed
    } else if not_run > 0 {
        ExecState::NodePartialSucceeded
    } else {
        ExecState::Succeeded
    }
}

/// Combines the states of the steps of one node: any failure fails the node.
fn combine_node(states: impl Iterator<Item = ExecState>) -> ExecState {
    let states: Vec<ExecState> = states.collect();
    if states.contains(&ExecState::Aborted) {
        ExecState::Aborted
    } else if states
        .iter()
        .any(|s| matches!(s, ExecState::Failed | ExecState::NodeMixed))
    {
        ExecState::Failed
    } else {
        combine(states.into_iter())
    }
}

/// Recomputes step states from node states (call after a step ends).
pub(crate) fn settle_step(exec: &mut Execution, step: usize) {
    if let Some(s) = exec.state.steps.get_mut(step) {
        s.execution_state = combine(s.node_states.values().map(|n| n.execution_state));
        if s.execution_state.is_completed() && s.start_time.is_some() {
            s.end_time = Some(Utc::now());
        }
    }
}

/// Ends the state: anything never started becomes NOT_STARTED, steps and
/// nodes get their combined state, the whole gets `overall`.
pub(crate) fn finalize(exec: &mut Execution, overall: ExecState) {
    let steps_len = exec.state.steps.len();
    for s in &mut exec.state.steps {
        for ns in s.node_states.values_mut() {
            if matches!(ns.execution_state, ExecState::Waiting) {
                ns.execution_state = ExecState::NotStarted;
            } else if matches!(
                ns.execution_state,
                ExecState::Running | ExecState::RunningHandler
            ) {
                ns.execution_state = if overall == ExecState::Aborted {
                    ExecState::Aborted
                } else {
                    ExecState::Failed
                };
                ns.end_time.get_or_insert_with(Utc::now);
            }
        }
    }
    for i in 0..steps_len {
        settle_step(exec, i);
    }
    let names: Vec<String> = exec.state.nodes.keys().cloned().collect();
    for name in names {
        let steps: Vec<(String, ExecState)> = exec
            .state
            .steps
            .iter()
            .filter(|s| s.node_step)
            .filter_map(|s| {
                s.node_states
                    .get(&name)
                    .map(|ns| (s.stepctx.clone(), ns.execution_state))
            })
            .collect();
        let combined = combine_node(steps.iter().map(|(_, s)| *s));
        if let Some(sum) = exec.state.nodes.get_mut(&name) {
            sum.execution_state = combined;
            sum.steps = steps;
        }
    }
    exec.state.execution_state = overall;
    let worst = exec
        .state
        .nodes
        .values()
        .filter_map(|n: &NodeSummary| n.nagios)
        .max_by_key(|n| n.severity());
    if worst.is_some() {
        exec.nagios = worst;
    }
}
