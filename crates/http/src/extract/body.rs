//! JSON bodies as Rundeck reads them: only the keys it knows, a `null`
//! the same as an absent key, anything else ignored; a wrong type for a
//! known key is a 400 naming it. Nothing (or only white space) means no
//! body for routes whose body is optional. And the ids of the bulk
//! deletes, from such a body or from query parameters.

use crate::error::ApiError;
use axum::body::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The JSON document in `body`, `None` for a blank body; malformed JSON or
/// a known key of the wrong type is a 400 saying what is wrong and where.
pub(crate) fn optional_json<T: DeserializeOwned>(body: &Bytes) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("request body: not valid JSON: {e}")))?;
    lenient(v).map(Some)
}

/// `v` read as `T` the way Rundeck reads a request body: keys whose value
/// is `null` count as absent (at any depth of objects), keys `T` does not
/// name are ignored (so `T` must not deny unknown fields), and a wrong type
/// is a 400 naming the field (`options.env`, `roles[1]`).
pub(crate) fn lenient<T: DeserializeOwned>(mut v: Value) -> Result<T, ApiError> {
    drop_nulls(&mut v);
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::invalid(format!("request body: {inner}"))
        } else {
            ApiError::invalid(format!("request body: field {path}: {inner}"))
        }
    })
}

/// Removes the object entries whose value is `null`, at every depth.
fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.retain(|_, x| !x.is_null());
            o.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Ids from a JSON body (`{"ids": [...]}` and/or `{"idlist": "a,b"}`, or a
/// bare array; numbers or strings) and from `ids`/`idlist` query parameters
/// (comma-separated or repeated).
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
        let none = Vec::new();
        let list = match &v {
            Value::Array(a) => a,
            // `{"ids": null}` reads as `{}`: no ids (the query may name them)
            Value::Object(o) => {
                match o.get("idlist") {
                    None => {}
                    Some(Value::String(s)) => ids.extend(
                        s.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned),
                    ),
                    Some(_) => {
                        return Err(ApiError::invalid(
                            "request body: field idlist: expected ids separated by commas",
                        ))
                    }
                }
                match o.get("ids") {
                    None => &none,
                    Some(Value::Array(a)) => a,
                    Some(_) => {
                        return Err(ApiError::invalid(
                            "request body: field ids: expected a list of ids",
                        ))
                    }
                }
            }
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
