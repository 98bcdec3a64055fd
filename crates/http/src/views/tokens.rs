//! API tokens in Rundeck's JSON shape.

use foredeck_core::ApiToken;
use serde_json::{json, Value};

/// A time as Rundeck writes it in token answers.
pub(crate) fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Rundeck's token JSON, without the secret.
pub(crate) fn token_json(t: &ApiToken) -> Value {
    let mut v = json!({
        "user": t.user,
        "id": t.id,
        "creator": t.creator,
        "roles": t.roles,
        "expired": t.expiration.is_some_and(|e| e <= chrono::Utc::now()),
    });
    if let Some(n) = &t.name {
        v["name"] = json!(n);
    }
    if let Some(e) = t.expiration {
        v["expiration"] = json!(time(e));
    }
    v
}
