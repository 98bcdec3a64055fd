//! What a caller asks of the [`RunService`](super::RunService), what it
//! answers, and why it refuses.

use crate::authorizer::Subject;
use crate::error::{Error, ErrorCode, ErrorKind};
use crate::model::Execution;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// A request to run a job, as a front-end received it: values are the
/// caller's text, checked by the service (see the [module](super) for the
/// rules and their order).
#[derive(Clone, Debug, Default)]
pub struct StartRun {
    /// Who asks: the run is authorized as them, and runs as them unless
    /// [`as_user`](Self::as_user) says otherwise.
    pub subject: Subject,
    /// Option values kept from an earlier run (a retry's); the
    /// [`arg_string`](Self::arg_string) adds to them, [`options`](Self::options)
    /// replace them.
    pub kept_options: BTreeMap<String, String>,
    /// Rundeck's `argString`: `-name value` pairs.
    pub arg_string: Option<String>,
    /// Option values by name; these win over the `argString`'s.
    pub options: BTreeMap<String, String>,
    /// A log level that replaces the job's (`DEBUG`, `VERBOSE`, `INFO`,
    /// `WARN`, `ERROR`).
    pub loglevel: Option<String>,
    /// Run as this user instead (needs `runAs` on the job); blank: the
    /// subject's own user.
    pub as_user: Option<String>,
    /// A node filter that replaces the job's; blank: the job's.
    pub filter: Option<String>,
    /// Run at this ISO-8601 time instead of now; blank: now.
    pub run_at_time: Option<String>,
}

/// What [`RunService::start_run`](super::RunService::start_run) did.
#[derive(Clone, Debug)]
pub enum Started {
    /// The run started: its execution as recorded when it started.
    Now(Box<Execution>),
    /// The scheduler keeps the run for `at`, when its execution is recorded.
    Scheduled {
        /// When it runs.
        at: DateTime<Utc>,
        /// Who it runs as.
        user: String,
    },
}

/// Why a run was not started. The messages are the ones Rundeck's API
/// answers with.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The subject may not do `action` (`run`, `runAs`) on the job.
    #[error("Not authorized for action \"{action}\" for Job ID {job}")]
    Unauthorized {
        /// The action refused.
        action: &'static str,
        /// The job's uuid.
        job: String,
    },
    /// The job's executions are disabled.
    #[error("Executions of job {0} are disabled")]
    JobDisabled(String),
    /// The project's executions are disabled (`project.disable.executions`).
    #[error("Executions of project {0} are disabled")]
    ProjectDisabled(String),
    /// The job does not allow multiple executions and one runs or waits.
    #[error("Job ID {job} is already running and does not allow multiple executions")]
    AlreadyRunning {
        /// The job's uuid.
        job: String,
        /// The execution that keeps it busy.
        running: u64,
    },
    /// A value of the request is not understood (the message names it).
    #[error("{0}")]
    Invalid(String),
    /// Anything else: bad options, a scheduler or store failure.
    #[error(transparent)]
    Other(#[from] Error),
}

impl ErrorCode for StartError {
    fn code(&self) -> &'static str {
        match self {
            StartError::Unauthorized { .. } => "forbidden",
            StartError::JobDisabled(_) | StartError::ProjectDisabled(_) => "execution.disabled",
            StartError::AlreadyRunning { .. } => "execution.conflict",
            StartError::Invalid(_) => "run.invalid",
            StartError::Other(e) => e.code(),
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            StartError::Unauthorized { .. } => ErrorKind::Forbidden,
            StartError::JobDisabled(_)
            | StartError::ProjectDisabled(_)
            | StartError::Invalid(_) => ErrorKind::InvalidInput,
            StartError::AlreadyRunning { .. } => ErrorKind::Conflict,
            StartError::Other(e) => e.kind(),
        }
    }
}
