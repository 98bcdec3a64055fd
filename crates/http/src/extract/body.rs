//! JSON bodies as Rundeck's clients send them to routes whose body is
//! optional: nothing (or only white space) means no body; and the ids of
//! the bulk deletes, from such a body or from query parameters.

use crate::error::ApiError;
use axum::body::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;

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

/// Ids from a JSON body (`{"ids": [...]}` or a bare array, numbers or
/// strings) or from `ids` query parameters (comma-separated or repeated).
pub(crate) fn ids_of(body: &Bytes, q: &[(String, String)]) -> Result<Vec<String>, ApiError> {
    let mut ids = Vec::new();
    for (k, v) in q {
        if k == "ids" || k == "idlist" {
            ids.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
    }
    if let Some(v) = optional_json::<Value>(body)? {
        let list = match &v {
            Value::Array(a) => a,
            Value::Object(o) => match o.get("ids") {
                Some(Value::Array(a)) => a,
                _ => return Err(ApiError::invalid("request body: expected {\"ids\": [...]}")),
            },
            _ => return Err(ApiError::invalid("request body: expected {\"ids\": [...]}")),
        };
        for item in list {
            match item {
                Value::String(s) => ids.push(s.clone()),
                Value::Number(n) => ids.push(n.to_string()),
                other => {
                    return Err(ApiError::invalid(format!(
                        "request body: ids: {other} is not an id"
                    )))
                }
            }
        }
    }
    if ids.is_empty() {
        return Err(ApiError::invalid(
            "no ids given (body {\"ids\": [...]} or ids=...)",
        ));
    }
    if ids.len() > 1_000 {
        return Err(ApiError::invalid("at most 1000 ids per request"));
    }
    Ok(ids)
}
