//! Mapping of database errors to [`foredeck_core::Error`].

use foredeck_core::Error;
use sea_orm::{DbErr, SqlErr};

/// A database error as a core error: unique violations become
/// [`Error::Conflict`], everything else [`Error::Store`].
pub(crate) fn db(e: DbErr) -> Error {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(msg)) => Error::Conflict(msg),
        _ => Error::Store(e.to_string()),
    }
}

/// A value that could not be (de)serialized.
pub(crate) fn codec(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Store(format!("{what}: {e}"))
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
