//! Key storage entries in Rundeck's JSON shape, and the media types of
//! the key types.

use crate::api::ApiVersion;
use axum::http::{header, HeaderMap};
use foredeck_core::{KeyInfo, KeyType};
use serde_json::{json, Value};

/// The media type of a public key.
pub(crate) const PUBLIC: &str = "application/pgp-keys";
/// The media type of a private key.
pub(crate) const PRIVATE: &str = "application/octet-stream";
/// The media type of a password.
pub(crate) const PASSWORD: &str = "application/x-rundeck-data-password";

/// The last part of a storage path.
pub(crate) fn name_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The API URL of a storage path, on the host the client asked.
pub(crate) fn url(headers: &HeaderMap, v: ApiVersion, path: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| format!("http://{h}"))
        .unwrap_or_default();
    format!("{host}/api/{}/storage/{path}", v.0)
}

/// The media type of a key type.
pub(crate) fn content_type(t: KeyType) -> &'static str {
    match t {
        KeyType::Public => PUBLIC,
        KeyType::Private => PRIVATE,
        KeyType::Password => PASSWORD,
    }
}

/// A key's metadata (never its content).
pub(crate) fn file_json(headers: &HeaderMap, v: ApiVersion, k: &KeyInfo) -> Value {
    let (label, masked) = match k.key_type {
        KeyType::Public => ("public", false),
        KeyType::Private => ("private", true),
        KeyType::Password => ("password", true),
    };
    let mut meta = json!({
        "Rundeck-key-type": label,
        "Rundeck-content-type": content_type(k.key_type),
        "Rundeck-content-size": k.size.to_string(),
        "Rundeck-content-creation-time": k.created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "Rundeck-content-modify-time": k.modified.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    if masked {
        meta["Rundeck-content-mask"] = json!("content");
    }
    json!({
        "meta": meta,
        "url": url(headers, v, &k.path),
        "name": name_of(&k.path),
        "type": "file",
        "path": k.path,
    })
}
