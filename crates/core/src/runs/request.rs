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
    /// Run at this ISO-8601 time instead of now (see [`parse_run_at_time`]
    /// for the forms); blank: now.
    pub run_at_time: Option<String>,
}

/// Reads a `runAtTime` as Rundeck does: an ISO-8601 date and time with
/// seconds, optional fractional seconds and a zone offset written `Z`,
/// `+08`, `+0800` or `+08:00` (Java's `X`, `XX` and `XXX`), as in
/// Rundeck's documented `2016-11-23T12:20:55-0800` and
/// `2016-11-23T12:20:55.123-0800`. `None`: not such a time.
pub fn parse_run_at_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%#z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What [`RunService::start_run`](super::RunService::start_run) did.
#[derive(Clone, Debug)]
pub enum Started {
    /// The run started: its execution as recorded when it started.
    Now(Box<Execution>),
    /// The run waits for its `runAtTime`: its execution as recorded, with
    /// status `scheduled` and that time as its start. The scheduler starts
    /// it then (same id), unless it was aborted before.
    Scheduled(Box<Execution>),
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
    /// This server is in passive execution mode: it starts no execution.
    #[error("Executions are disabled: this server is in passive execution mode")]
    Passive,
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
            StartError::JobDisabled(_) | StartError::ProjectDisabled(_) | StartError::Passive => {
                "execution.disabled"
            }
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
            | StartError::Passive
            | StartError::Invalid(_) => ErrorKind::InvalidInput,
            StartError::AlreadyRunning { .. } => ErrorKind::Conflict,
            StartError::Other(e) => e.kind(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_run_at_time;

    #[test]
    fn run_at_time_takes_every_offset_form_rundeck_reads() {
        let utc = |s: &str| parse_run_at_time(s).map(|t| t.to_rfc3339());
        let want = Some("2026-12-04T09:52:33+00:00".to_owned());
        for text in [
            "2026-12-04T09:52:33Z",
            "2026-12-04T09:52:33+00:00",
            "2026-12-04T09:52:33+0000",
            "2026-12-04T01:52:33-0800",
            "2026-12-04T01:52:33-08:00",
            "2026-12-04T01:52:33-08",
            " 2026-12-04T11:52:33+02 ",
        ] {
            assert_eq!(utc(text), want, "{text}");
        }
        assert_eq!(
            utc("2026-12-04T01:52:33.123-0800"),
            Some("2026-12-04T09:52:33.123+00:00".to_owned())
        );
        assert_eq!(
            utc("2026-12-04T09:52:33.123Z"),
            Some("2026-12-04T09:52:33.123+00:00".to_owned())
        );
        for bad in [
            "",
            "tomorrow",
            "2026-12-04T09:52:33",
            "2026-12-04 09:52",
            "2026-12-04T09:52Z",
            "2026-13-04T09:52:33Z",
            "2026-12-04T09:52:33+2500",
        ] {
            assert_eq!(utc(bad), None, "{bad:?}");
        }
    }
}
