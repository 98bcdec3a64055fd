//! [`StoreError`]: why the SQL store failed, kept as the cause of the
//! [`foredeck_core::Error`] callers see.

use foredeck_core::Error;
use sea_orm::{DbErr, SqlErr};

/// Why the SQL store failed. Callers get it as the `source` of
/// [`Error::StoreSource`] (downcast it to tell causes apart); its message is
/// that error's message after `store: `. A unique-key violation is no
/// `StoreError` but [`Error::Conflict`], as every store reports it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A database URL could not be parsed.
    #[error("bad {what}: {source}")]
    Url {
        /// Which URL (`PostgreSQL URL`, `SQLite URL "…"`).
        what: String,
        /// The driver's complaint.
        #[source]
        source: sea_orm::sqlx::Error,
    },
    /// The database could not be opened or its server reached.
    #[error("{doing}: {source}")]
    Connect {
        /// What was being done (`connecting to PostgreSQL`).
        doing: String,
        /// The driver's error.
        #[source]
        source: sea_orm::sqlx::Error,
    },
    /// A pooled connection failed or none could be had in time.
    #[error("{0}")]
    Connection(#[source] DbErr),
    /// A constraint other than a unique key refused a write (a foreign key).
    #[error("{0}")]
    Constraint(#[source] DbErr),
    /// Bringing the schema up to date failed.
    #[error("{0}")]
    Migration(#[source] DbErr),
    /// Any other failed statement or transaction.
    #[error("{0}")]
    Query(#[source] DbErr),
    /// A stored value could not be encoded or decoded (a job definition, an
    /// execution record, a log chunk).
    #[error("{what}: {source}")]
    Decode {
        /// The value (`job <uuid> definition`).
        what: String,
        /// What is wrong with it.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The key storage's master key is missing its form (not 32 bytes of
    /// base64) or could not be read.
    #[error("master key: {0}")]
    MasterKey(String),
    /// A key storage entry could not be sealed or opened: a wrong master
    /// key, an altered or moved entry, or an unknown format.
    #[error("{path}: {reason}")]
    Sealed {
        /// The entry's key path.
        path: String,
        /// Why (`cannot decrypt: wrong master key, ...`).
        reason: String,
    },
    /// The data directory is not usable as one (it is a file).
    #[error("data directory {0} is not a directory")]
    NotADirectory(String),
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        if e.sql_err().is_some() {
            return StoreError::Constraint(e);
        }
        match e {
            DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => StoreError::Connection(e),
            DbErr::Migration(_) => StoreError::Migration(e),
            _ => StoreError::Query(e),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::StoreSource {
            source: Box::new(e),
        }
    }
}

/// A database error as a core error: unique violations become
/// [`Error::Conflict`], everything else a [`StoreError`] as the source of
/// [`Error::StoreSource`].
pub(crate) fn db(e: DbErr) -> Error {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(msg)) => Error::Conflict(msg),
        _ => StoreError::from(e).into(),
    }
}

/// A value that could not be (de)serialized.
pub(crate) fn codec(
    what: &str,
    e: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
) -> Error {
    StoreError::Decode {
        what: what.to_owned(),
        source: e.into(),
    }
    .into()
}

/// A missing execution.
pub(crate) fn no_execution(id: u64) -> Error {
    Error::NotFound {
        kind: "execution",
        id: id.to_string(),
    }
}

/// A missing record of some kind.
pub(crate) fn not_found(kind: &'static str, id: &str) -> Error {
    Error::NotFound {
        kind,
        id: id.into(),
    }
}
