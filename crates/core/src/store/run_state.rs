//! [`RunStateStore`]: what a durable run carries between its steps,
//! recorded as it advances so that a server can continue it after its own
//! server stopped.

use crate::error::Result;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How a workflow step (or, node-first, the run of node steps it belongs
/// to) ended, as a durable run records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepOutcome {
    /// It succeeded.
    Succeeded,
    /// It failed, and its error handler succeeded.
    Recovered,
    /// It failed.
    Failed,
}

/// The state of a durable run (a job with `durable: true`) between two
/// steps: recorded after each step, read to continue the run from
/// [`next_step`](Self::next_step) when its server stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunState {
    /// The execution it belongs to.
    pub execution: u64,
    /// Index (from 0) of the workflow step the run goes on with; the number
    /// of steps when the workflow has ended (or stopped after a failure).
    pub next_step: u32,
    /// Captured `${data.*}` values: the latest of each key over all nodes.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
    /// Captured `${data.*}` values by node.
    #[serde(default)]
    pub node_data: BTreeMap<String, BTreeMap<String, String>>,
    /// How the steps before [`next_step`](Self::next_step) ended, in order.
    #[serde(default)]
    pub results: Vec<StepOutcome>,
    /// Whether the workflow has failed so far (a step failed and keepgoing
    /// went on), and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// When it was recorded.
    pub updated: DateTime<Utc>,
}

impl RunState {
    /// The state of a run of `execution` before its first step.
    pub fn new(execution: u64) -> Self {
        RunState {
            execution,
            next_step: 0,
            data: BTreeMap::new(),
            node_data: BTreeMap::new(),
            results: Vec::new(),
            failure: None,
            updated: Utc::now(),
        }
    }
}

/// Persistence of durable runs' states, one per execution. Deleting an
/// execution deletes its run state.
#[async_trait]
pub trait RunStateStore: Send + Sync {
    /// Records the state of a run, replacing the one recorded before. The
    /// execution must exist.
    async fn put_run_state(&self, state: &RunState) -> Result<()>;
    /// The recorded state of a run of `execution`, if any.
    async fn get_run_state(&self, execution: u64) -> Result<Option<RunState>>;
    /// Forgets the state of a run of `execution` (nothing when none is
    /// recorded).
    async fn delete_run_state(&self, execution: u64) -> Result<()>;
}

macro_rules! forward {
    ($($t:tt)*) => {
        #[async_trait]
        impl<T: RunStateStore + ?Sized> RunStateStore for $($t)* {
            async fn put_run_state(&self, s: &RunState) -> Result<()> { (**self).put_run_state(s).await }
            async fn get_run_state(&self, e: u64) -> Result<Option<RunState>> { (**self).get_run_state(e).await }
            async fn delete_run_state(&self, e: u64) -> Result<()> { (**self).delete_run_state(e).await }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
