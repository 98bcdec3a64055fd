//! Key storage: `/api/{v}/storage/keys/{path}` (upload, list, metadata,
//! public key content, delete).
//!
//! The `Content-Type` of an upload says what it is: `application/pgp-keys`
//! a public key, `application/octet-stream` a private key,
//! `application/x-rundeck-data-password` a password. Private keys and
//! passwords are write-only: a request for their content is refused (403),
//! and listings show metadata only. Paths are checked before anything else:
//! empty, `.` and `..` parts and characters other than letters, digits, `.`,
//! `_`, `-` and `@` are refused (400). Authorization is on the `storage` type
//! with the `path` and `name` of the entry (Rundeck's).

use crate::audit::{self, Change};
use crate::auth::allowed_any;
use crate::error::{ApiError, Code};
use crate::extract::ClientAddr;
use crate::views::storage::{content_type, file_json, name_of, url, PASSWORD, PRIVATE, PUBLIC};
use crate::{ApiState, ApiVersion};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Router;
use axum::{Extension, Json};
use foredeck_core::authorizer::{AuthContext, Resource, Subject};
use foredeck_core::names;
use foredeck_core::{KeyType, KeyVault};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The key storage routes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/{v}/storage/keys", routing::get(get_root))
        .route("/api/{v}/storage/keys/", routing::get(get_root))
        .route(
            "/api/{v}/storage/keys/{*path}",
            routing::get(get).post(create).put(update).delete(delete),
        )
}

fn vault(state: &ApiState) -> Result<&Arc<dyn KeyVault>, ApiError> {
    state.keys.as_ref().ok_or_else(|| {
        ApiError::of(
            Code::StorageUnavailable,
            "Key storage is not configured on this server",
        )
    })
}

/// The storage path (`keys` or `keys/a/b`) of a URL path after
/// `storage/keys/`; 400 for a bad one.
fn storage_path(rel: &str) -> Result<String, ApiError> {
    let rel = rel.strip_suffix('/').unwrap_or(rel);
    if rel.is_empty() {
        return Ok("keys".into());
    }
    let full = rel.len() + "keys/".len();
    if full > names::KEY_PATH_MAX {
        // the path itself is not echoed: it is the long part
        let chars = rel.chars().count() + "keys/".len();
        return Err(ApiError::invalid(format!(
            "Invalid key path: key path is {chars} characters long; at most {} are allowed",
            names::KEY_PATH_MAX
        )));
    }
    let bad = |why: &str| ApiError::invalid(format!("Invalid key path {rel:?}: {why}"));
    for part in rel.split('/') {
        match part {
            "" => return Err(bad("empty part")),
            "." | ".." => return Err(bad("`.` and `..` are not allowed")),
            p if !p
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c)) =>
            {
                return Err(bad(
                    "only letters, digits, `.`, `_`, `-` and `@` are allowed in names",
                ))
            }
            _ => {}
        }
    }
    Ok(format!("keys/{rel}"))
}

fn resource(path: &str) -> Resource {
    Resource::new("storage")
        .with("path", path)
        .with("name", name_of(path))
}

fn may(state: &ApiState, s: &Subject, action: &str, path: &str) -> bool {
    allowed_any(
        state,
        s,
        &[action],
        &resource(path),
        &AuthContext::Application,
    )
}

fn authorize(state: &ApiState, s: &Subject, action: &str, path: &str) -> Result<(), ApiError> {
    if may(state, s, action, path) {
        Ok(())
    } else {
        // the path is not echoed: a caller without grants learns nothing,
        // not even which of its guesses reached a rule
        let _ = path;
        Err(ApiError::unauthorized(action, "this storage path"))
    }
}

/// Whether the client asked for the content rather than JSON metadata.
fn wants_content(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            !a.contains("application/json")
                && (a.contains("*/*")
                    || a.contains(PUBLIC)
                    || a.contains(PRIVATE)
                    || a.contains(PASSWORD))
        })
}

/// `GET /api/{v}/storage/keys`: the root directory.
pub(crate) async fn get_root(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Extension(v): Extension<ApiVersion>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    read(&state, &subject, v, &headers, "keys".into()).await
}

/// `GET /api/{v}/storage/keys/{path}`: metadata, public content, or a
/// directory listing.
pub(crate) async fn get(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Extension(v): Extension<ApiVersion>,
    Path((_, rel)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let path = storage_path(&rel)?;
    read(&state, &subject, v, &headers, path).await
}

async fn read(
    state: &ApiState,
    subject: &Subject,
    v: ApiVersion,
    headers: &HeaderMap,
    path: String,
) -> Result<Response, ApiError> {
    authorize(state, subject, "read", &path)?;
    let vault = vault(state)?;
    if path != "keys" {
        if let Some(info) = vault.info(&path).await? {
            if !wants_content(headers) {
                return Ok(Json(file_json(headers, v, &info)).into_response());
            }
            if info.key_type != KeyType::Public {
                return Err(ApiError::of(
                    Code::ResourceUnauthorized,
                    format!(
                        "{path}: the content of a {} is never returned",
                        if info.key_type == KeyType::Private {
                            "private key"
                        } else {
                            "password"
                        }
                    ),
                ));
            }
            let data = vault.public(&path).await?;
            return Ok(([(header::CONTENT_TYPE, PUBLIC)], data).into_response());
        }
    }
    let prefix = format!("{path}/");
    let entries = vault.list(&path).await?;
    if entries.is_empty() && path != "keys" {
        return Err(ApiError::not_found("Path", &path));
    }
    let mut dirs = BTreeSet::new();
    let mut files = Vec::new();
    for k in &entries {
        let Some(rest) = k.path.strip_prefix(&prefix) else {
            continue;
        };
        if !may(state, subject, "read", &k.path) {
            continue;
        }
        match rest.split_once('/') {
            Some((dir, _)) => {
                dirs.insert(format!("{prefix}{dir}"));
            }
            None => files.push(file_json(headers, v, k)),
        }
    }
    let mut resources: Vec<Value> = dirs
        .iter()
        .map(|d| json!({"url": url(headers, v, d), "type": "directory", "path": d}))
        .collect();
    resources.extend(files);
    Ok(Json(json!({
        "resources": resources,
        "url": url(headers, v, &path),
        "type": "directory",
        "path": path,
    }))
    .into_response())
}

/// `POST /api/{v}/storage/keys/{path}`: a new entry.
pub(crate) async fn create(
    state: State<ApiState>,
    subject: Extension<Subject>,
    v: Extension<ApiVersion>,
    from: ClientAddr,
    Path((_, rel)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    write(state, subject, v, from, rel, headers, body, true).await
}

/// `PUT /api/{v}/storage/keys/{path}`: replaces an entry.
pub(crate) async fn update(
    state: State<ApiState>,
    subject: Extension<Subject>,
    v: Extension<ApiVersion>,
    from: ClientAddr,
    Path((_, rel)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    write(state, subject, v, from, rel, headers, body, false).await
}

#[allow(clippy::too_many_arguments)]
async fn write(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Extension(v): Extension<ApiVersion>,
    from: ClientAddr,
    rel: String,
    headers: HeaderMap,
    body: Bytes,
    create: bool,
) -> Result<Response, ApiError> {
    let path = storage_path(&rel)?;
    if path == "keys" || rel.ends_with('/') {
        return Err(ApiError::invalid("A key needs a file name after keys/"));
    }
    let action = if create { "create" } else { "update" };
    authorize(&state, &subject, action, &path)?;
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ctype = ctype.split(';').next().unwrap_or("").trim();
    let key_type = match ctype {
        PUBLIC => KeyType::Public,
        PRIVATE => KeyType::Private,
        PASSWORD => KeyType::Password,
        other => {
            return Err(ApiError::invalid(format!(
                "Unsupported Content-Type {other:?}: use {PUBLIC} (public key), {PRIVATE} (private key) or {PASSWORD} (password)"
            )))
        }
    };
    let vault = vault(&state)?;
    let exists = vault.info(&path).await?;
    if create && exists.is_some() {
        return Err(ApiError::of(
            Code::AlreadyExists,
            format!("Path already exists: {path}"),
        ));
    }
    if !create && exists.is_none() {
        return Err(ApiError::not_found("Path", &path));
    }
    if vault.list(&path).await?.iter().any(|k| k.path != path) {
        return Err(ApiError::of(
            Code::AlreadyExists,
            format!("{path} is a directory"),
        ));
    }
    let info = vault.put(&path, key_type, &body).await?;
    audit::by(
        &state,
        &subject,
        &from,
        Change {
            action,
            resource_type: "key",
            resource: &path,
            project: None,
            detail: json!({ "keyType": content_type(key_type), "size": info.size }),
        },
    )
    .await;
    let status = if create {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(file_json(&headers, v, &info))).into_response())
}

/// `DELETE /api/{v}/storage/keys/{path}`.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    from: ClientAddr,
    Path((_, rel)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let path = storage_path(&rel)?;
    authorize(&state, &subject, "delete", &path)?;
    let vault = vault(&state)?;
    if path == "keys" || vault.info(&path).await?.is_none() {
        return Err(ApiError::not_found("Path", &path));
    }
    vault.delete(&path).await?;
    audit::by(
        &state,
        &subject,
        &from,
        Change {
            action: "delete",
            resource_type: "key",
            resource: &path,
            project: None,
            detail: json!({}),
        },
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
