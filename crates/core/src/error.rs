//! The core error type, with a stable code per variant so front-ends (HTTP,
//! Python) can map errors without matching on messages.

use std::time::Duration;

/// Broad class of an error, for front-ends choosing a status or exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's input is wrong.
    InvalidInput,
    /// Something named does not exist.
    NotFound,
    /// The request conflicts with current state.
    Conflict,
    /// Not allowed.
    Forbidden,
    /// A node or external system failed.
    Remote,
    /// Foredeck itself failed (I/O, storage).
    Internal,
}

/// Stable, documented codes for errors.
pub trait ErrorCode {
    /// A short code like `job.invalid`.
    fn code(&self) -> &'static str;
    /// The broad class.
    fn kind(&self) -> ErrorKind;
}

/// Errors of the core crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A document (job file, resource file) could not be read.
    #[error("{source_name}: {message}")]
    Format {
        /// File name or other label of the document.
        source_name: String,
        /// What is wrong and where (line, job, field).
        message: String,
    },
    /// A job definition is invalid.
    #[error("job {job:?}, field `{field}`: {message}")]
    InvalidJob {
        /// Job name (or `#N` when it has none).
        job: String,
        /// Field path.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A cron schedule is invalid: bad pattern, unknown time zone, or it
    /// never fires.
    #[error("schedule `{expr}`: {message}")]
    InvalidSchedule {
        /// The expression as given.
        expr: String,
        /// What is wrong (names the field or the zone).
        message: String,
    },
    /// An option value given at run time is not accepted.
    #[error("option `{option}`: {message}")]
    InvalidOption {
        /// Option name.
        option: String,
        /// What is wrong.
        message: String,
    },
    /// An option given at run time is not defined by the job.
    #[error("job {job:?} has no option `{option}`{hint}")]
    UnknownOption {
        /// Job name.
        job: String,
        /// The unknown option.
        option: String,
        /// Suggestion of defined options.
        hint: String,
    },
    /// A `@group.key@` token in a script sits where no quoting keeps its
    /// value from running as code, so the step is refused.
    #[error("script line {line}: token @{token}@ cannot be substituted safely: {reason}; read the value from ${env} in the script instead (or give the job `scriptTokens: raw`)")]
    UnsafeToken {
        /// `group.key` of the token (`option.version`).
        token: String,
        /// Line of the script, 1-based.
        line: usize,
        /// The context that no quoting makes safe.
        reason: String,
        /// The environment variable that holds the same value (`RD_OPTION_VERSION`).
        env: String,
    },
    /// Something named does not exist.
    #[error("{kind} not found: {id}")]
    NotFound {
        /// What was looked for (`job`, `execution`, `project`, `key`).
        kind: &'static str,
        /// Its id or name.
        id: String,
    },
    /// The request conflicts with current state.
    #[error("{0}")]
    Conflict(String),
    /// No executor is registered under the name a node asks for.
    #[error("node {node:?}: no executor named `{executor}` (registered: {registered})")]
    NoExecutor {
        /// Node name.
        node: String,
        /// Requested executor.
        executor: String,
        /// Names that are registered.
        registered: String,
    },
    /// An executor could not run a step on a node.
    #[error("node {node:?}: {message}")]
    Executor {
        /// Node name.
        node: String,
        /// What failed.
        message: String,
    },
    /// An executor could not run a step on a node, and says why with an
    /// error of its own as `source` (the SSH executor's `SshError`): match
    /// on it, after a downcast, to tell causes apart. Same message shape,
    /// code and kind as [`Error::Executor`].
    #[error("node {node:?}: {source}")]
    ExecutorSource {
        /// Node name.
        node: String,
        /// The executor's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// An operation took longer than allowed.
    #[error("{what} timed out after {after:?}")]
    Timeout {
        /// What timed out.
        what: String,
        /// The limit.
        after: Duration,
    },
    /// A storage backend failed.
    #[error("store: {0}")]
    Store(String),
    /// A storage backend failed, and says why with an error of its own as
    /// `source` (foredeck-store's `StoreError`: connection, constraint,
    /// migration, decode...): match on it, after a downcast, to tell causes
    /// apart. Same message shape, code and kind as [`Error::Store`].
    #[error("store: {source}")]
    StoreSource {
        /// The store's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The caller may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Local I/O failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// A document format error.
    pub fn format(source_name: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Format {
            source_name: source_name.into(),
            message: message.into(),
        }
    }
}

impl ErrorCode for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::Format { .. } => "format.invalid",
            Error::InvalidJob { .. } => "job.invalid",
            Error::InvalidSchedule { .. } => "schedule.invalid",
            Error::InvalidOption { .. } => "option.invalid",
            Error::UnknownOption { .. } => "option.unknown",
            Error::UnsafeToken { .. } => "script.unsafe-token",
            Error::NotFound { .. } => "not-found",
            Error::Conflict(_) => "conflict",
            Error::NoExecutor { .. } => "executor.missing",
            Error::Executor { .. } | Error::ExecutorSource { .. } => "executor.failed",
            Error::Timeout { .. } => "timeout",
            Error::Store(_) | Error::StoreSource { .. } => "store.failed",
            Error::Forbidden(_) => "forbidden",
            Error::Io { .. } => "io",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            Error::Format { .. }
            | Error::InvalidJob { .. }
            | Error::InvalidSchedule { .. }
            | Error::InvalidOption { .. }
            | Error::UnknownOption { .. }
            | Error::UnsafeToken { .. } => ErrorKind::InvalidInput,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Forbidden(_) => ErrorKind::Forbidden,
            Error::NoExecutor { .. }
            | Error::Executor { .. }
            | Error::ExecutorSource { .. }
            | Error::Timeout { .. } => ErrorKind::Remote,
            Error::Store(_) | Error::StoreSource { .. } | Error::Io { .. } => ErrorKind::Internal,
        }
    }
}

/// Result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
