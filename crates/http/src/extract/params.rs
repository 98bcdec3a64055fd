//! Query and path parameters, as the routes read them.

use crate::error::ApiError;
use axum::extract::Query;
use std::collections::HashMap;

pub(crate) type Params = Query<Vec<(String, String)>>;

/// The last value of a query parameter.
pub(crate) fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A whole-number parameter; 400 naming it otherwise.
pub(crate) fn number(q: &[(String, String)], name: &str) -> Result<Option<u64>, ApiError> {
    match param(q, name).map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            ApiError::invalid(format!("parameter {name}: {s:?} is not a whole number"))
        }),
    }
}

/// A `true`/`false` parameter; 400 naming it otherwise.
pub(crate) fn flag(q: &[(String, String)], name: &str) -> Result<Option<bool>, ApiError> {
    match param(q, name).map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(s) => Err(ApiError::invalid(format!(
            "parameter {name}: {s:?} is not true or false"
        ))),
    }
}

pub(crate) fn path(p: &HashMap<String, String>, name: &str) -> String {
    p.get(name).cloned().unwrap_or_default()
}
