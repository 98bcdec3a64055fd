//! Where a run is in its workflow: the first step to run, the failure so
//! far and how the steps that ran ended. A leaf: the run keeps it
//! (`runner.rs`) and durable runs record it (`durable.rs`).

use crate::store::{RunState, StepOutcome};

/// Where a run's workflow starts and what it carried there, and how its
/// steps ended.
#[derive(Debug, Default)]
pub(super) struct Progress {
    /// The first step to run.
    pub(super) start: usize,
    /// The workflow's failure before `start`.
    pub(super) failure: Option<String>,
    /// How the steps that ran ended, in order.
    pub(super) results: Vec<StepOutcome>,
}

impl Progress {
    /// The progress of a run continued from `state`.
    pub(super) fn resumed(state: &RunState) -> Progress {
        Progress {
            start: usize::try_from(state.next_step).unwrap_or(usize::MAX),
            failure: state.failure.clone(),
            results: state.results.clone(),
        }
    }
}
