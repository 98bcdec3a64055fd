//! The domain model, serialized with Rundeck's field names.

mod dispatch;
mod execution;
pub(crate) mod flex;
mod job;
mod log;
mod node;
mod option;
mod project;
mod step;

pub use dispatch::{Dispatch, NodeFilters, RankOrder};
pub use execution::{
    ExecState, Execution, ExecutionStatus, ExecutionType, NagiosStatus, NodeStepState, NodeSummary,
    StepState, WorkflowState,
};
pub use flex::{Form, Written};
pub use job::{
    EmailNotification, Job, JobSummary, LogLevel, LogLimitAction, Notification, NotificationSet,
    Notifications, Retry, Schedule, ScheduleDay, ScheduleTime, ScriptTokens, StructuredSchedule,
};
pub use log::{decode_line, LogEvent, Stream};
pub use node::{canonical_attribute, parse_tags, Node};
pub use option::JobOption;
pub use project::Project;
pub use step::{JobRef, ScriptSpec, Step, StepKind, Strategy, Workflow};

/// Fields of a document that this version does not model, kept in order so
/// that an export writes them back.
pub type Extra = indexmap::IndexMap<String, serde_json::Value>;
