//! JSON bodies as Rundeck's clients send them to routes whose body is
//! optional: nothing (or only white space) means no body.

use crate::error::ApiError;
use axum::body::Bytes;
use serde::de::DeserializeOwned;

/// The JSON document in `body`, `None` for a blank body; a malformed one is
/// a 400 saying what is wrong.
pub(crate) fn optional_json<T: DeserializeOwned>(body: &Bytes) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| ApiError::invalid(format!("request body: {e}")))
}
