//! Executions: one run of a job (or an ad-hoc command), with per-node and
//! per-step state the way Rundeck's execution state API reports it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Overall status of an execution, with Rundeck's names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecutionStatus {
    /// Waiting for a start time.
    Scheduled,
    /// Queued behind another execution of the same job.
    Queued,
    /// Running.
    Running,
    /// A durable run between two steps with no server running it: its
    /// server stopped, and a server continues it from its recorded state
    /// (Foredeck's; Rundeck's API shows it as `running`).
    Waiting,
    /// Every node and step succeeded.
    Succeeded,
    /// Something failed.
    Failed,
    /// Stopped by a user or the system.
    Aborted,
    /// The job timeout passed.
    #[serde(rename = "timedout")]
    TimedOut,
    /// Failed, and a retry execution follows.
    FailedWithRetry,
    /// Its server stopped before it ended.
    Incomplete,
    /// A scheduled fire that did not run.
    Missed,
    /// A custom status (from `loglimitStatus`).
    #[serde(untagged)]
    Other(String),
}

impl ExecutionStatus {
    /// Rundeck's name for the status.
    pub fn as_str(&self) -> &str {
        match self {
            ExecutionStatus::Scheduled => "scheduled",
            ExecutionStatus::Queued => "queued",
            ExecutionStatus::Running => "running",
            ExecutionStatus::Waiting => "waiting",
            ExecutionStatus::Succeeded => "succeeded",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::Aborted => "aborted",
            ExecutionStatus::TimedOut => "timedout",
            ExecutionStatus::FailedWithRetry => "failed-with-retry",
            ExecutionStatus::Incomplete => "incomplete",
            ExecutionStatus::Missed => "missed",
            ExecutionStatus::Other(s) => s,
        }
    }

    /// Parses Rundeck's name; unknown names become [`ExecutionStatus::Other`].
    pub fn parse(s: &str) -> Self {
        match s {
            "scheduled" => ExecutionStatus::Scheduled,
            "queued" => ExecutionStatus::Queued,
            "running" => ExecutionStatus::Running,
            "waiting" => ExecutionStatus::Waiting,
            "succeeded" => ExecutionStatus::Succeeded,
            "failed" => ExecutionStatus::Failed,
            "aborted" => ExecutionStatus::Aborted,
            "timedout" => ExecutionStatus::TimedOut,
            "failed-with-retry" => ExecutionStatus::FailedWithRetry,
            "incomplete" => ExecutionStatus::Incomplete,
            "missed" => ExecutionStatus::Missed,
            other => ExecutionStatus::Other(other.to_owned()),
        }
    }

    /// Whether the execution has ended.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            ExecutionStatus::Scheduled
                | ExecutionStatus::Queued
                | ExecutionStatus::Running
                | ExecutionStatus::Waiting
        )
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an execution was started, with Rundeck's names (its `executionType`,
/// which the execution query's `executionTypeFilter` matches).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExecutionType {
    /// Started by a user (API, UI, CLI, webhook, ad hoc): Rundeck's `user`.
    #[default]
    #[serde(rename = "user")]
    User,
    /// Fired by the job's schedule: `scheduled`.
    #[serde(rename = "scheduled")]
    Scheduled,
    /// Asked by a user for a later time (`runAtTime`): `user-scheduled`.
    #[serde(rename = "user-scheduled")]
    UserScheduled,
}

impl ExecutionType {
    /// Rundeck's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionType::User => "user",
            ExecutionType::Scheduled => "scheduled",
            ExecutionType::UserScheduled => "user-scheduled",
        }
    }

    /// The type of Rundeck's name; `None` for another name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            ExecutionType::User,
            ExecutionType::Scheduled,
            ExecutionType::UserScheduled,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

impl fmt::Display for ExecutionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// State of a step, a node, or a step on a node (Rundeck's `ExecutionState`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecState {
    /// Not yet started.
    #[default]
    Waiting,
    /// Running.
    Running,
    /// The error handler is running.
    RunningHandler,
    /// Succeeded.
    Succeeded,
    /// Failed.
    Failed,
    /// Aborted.
    Aborted,
    /// Some nodes succeeded, the rest did not run.
    NodePartialSucceeded,
    /// Some nodes succeeded, some failed.
    NodeMixed,
    /// Never started (an earlier failure stopped the workflow).
    NotStarted,
}

impl ExecState {
    /// Whether this is an end state.
    pub fn is_completed(self) -> bool {
        !matches!(
            self,
            ExecState::Waiting | ExecState::Running | ExecState::RunningHandler
        )
    }
}

/// Nagios result of a check (opt-in per job).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum NagiosStatus {
    /// Exit 0.
    Ok,
    /// Exit 1.
    Warning,
    /// Exit 2.
    Critical,
    /// Exit 3, or any other code, or no exit code.
    Unknown,
}

impl NagiosStatus {
    /// Maps a process exit code.
    pub fn from_exit(code: Option<i32>) -> Self {
        match code {
            Some(0) => NagiosStatus::Ok,
            Some(1) => NagiosStatus::Warning,
            Some(2) => NagiosStatus::Critical,
            _ => NagiosStatus::Unknown,
        }
    }

    /// Severity order for combining results: CRITICAL > UNKNOWN > WARNING > OK.
    pub fn severity(self) -> u8 {
        match self {
            NagiosStatus::Ok => 0,
            NagiosStatus::Warning => 1,
            NagiosStatus::Unknown => 2,
            NagiosStatus::Critical => 3,
        }
    }
}

/// One step on one node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStepState {
    /// State.
    pub execution_state: ExecState,
    /// Started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    /// Ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
    /// Exit code of the step's command, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Whether the error handler ran and decided the result.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub handled: bool,
}

/// One step across nodes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepState {
    /// Step context (`1`, `2`, `3/1` for a step of a referenced job).
    pub stepctx: String,
    /// Runs once per node.
    pub node_step: bool,
    /// Combined state.
    pub execution_state: ExecState,
    /// State per node (node steps), or under the Foredeck host for workflow steps.
    pub node_states: BTreeMap<String, NodeStepState>,
    /// Started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    /// Ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
}

/// One node across steps.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSummary {
    /// Combined state of the node.
    pub execution_state: ExecState,
    /// Step contexts and their states, in order.
    pub steps: Vec<(String, ExecState)>,
    /// Exit code of the last step that ran on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Nagios result, for Nagios jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nagios: Option<NagiosStatus>,
}

/// Per-node and per-step state of an execution.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowState {
    /// Overall state.
    pub execution_state: ExecState,
    /// Nodes the execution targets, in dispatch order.
    pub target_nodes: Vec<String>,
    /// Steps in order.
    pub steps: Vec<StepState>,
    /// Nodes by name.
    pub nodes: BTreeMap<String, NodeSummary>,
}

impl WorkflowState {
    /// Names of nodes that ended in that state.
    pub fn nodes_in(&self, state: ExecState) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.execution_state == state)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// An execution record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    /// Numeric id, assigned by the store.
    pub id: u64,
    /// Project.
    pub project: String,
    /// Job uuid; `None` for ad-hoc runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// `group/name` of the job, or the ad-hoc command.
    pub description: String,
    /// Who ran it.
    pub user: String,
    /// How it was started (records from before it was kept read as
    /// `user`).
    #[serde(default)]
    pub execution_type: ExecutionType,
    /// Who aborted it, when a user did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted_by: Option<String>,
    /// Status.
    pub status: ExecutionStatus,
    /// Options as given (secure values replaced by `[SECURE]`).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Rundeck's argString, secure values masked.
    #[serde(default)]
    pub arg_string: String,
    /// Node filter used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Log level.
    pub loglevel: crate::model::LogLevel,
    /// Started.
    pub date_started: DateTime<Utc>,
    /// Ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_ended: Option<DateTime<Utc>>,
    /// Retry attempt (0 for the first run).
    #[serde(default)]
    pub retry_attempt: u32,
    /// Execution this one retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<u64>,
    /// Nagios result (worst over nodes), for Nagios jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nagios: Option<NagiosStatus>,
    /// Why it ended this way, when it did not succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Per-node and per-step state.
    #[serde(default)]
    pub state: WorkflowState,
    /// Server that runs (or ran) it, in a cluster.
    #[serde(
        default,
        rename = "serverUUID",
        skip_serializing_if = "Option::is_none"
    )]
    pub server_uuid: Option<String>,
}

impl Execution {
    /// A running execution record before the store gives it an id.
    pub fn new(
        project: impl Into<String>,
        description: impl Into<String>,
        user: impl Into<String>,
    ) -> Self {
        Execution {
            id: 0,
            project: project.into(),
            job_id: None,
            description: description.into(),
            user: user.into(),
            execution_type: ExecutionType::User,
            aborted_by: None,
            status: ExecutionStatus::Running,
            options: BTreeMap::new(),
            arg_string: String::new(),
            filter: None,
            loglevel: crate::model::LogLevel::Info,
            date_started: Utc::now(),
            date_ended: None,
            retry_attempt: 0,
            retry_of: None,
            nagios: None,
            failure: None,
            state: WorkflowState::default(),
            server_uuid: None,
        }
    }

    /// Nodes that succeeded.
    pub fn succeeded_nodes(&self) -> Vec<String> {
        self.state.nodes_in(ExecState::Succeeded)
    }

    /// Nodes that failed or were aborted.
    pub fn failed_nodes(&self) -> Vec<String> {
        let mut v = self.state.nodes_in(ExecState::Failed);
        v.extend(self.state.nodes_in(ExecState::Aborted));
        v
    }
}
