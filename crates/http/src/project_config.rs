//! Project configuration, as Rundeck serves it:
//!
//! - `GET /api/{v}/project/{p}/config`: the whole configuration, an object of
//!   key to string value;
//! - `PUT /api/{v}/project/{p}/config`: replaces it with the object sent;
//! - `GET|PUT|DELETE /api/{v}/project/{p}/config/{key}`: one key; `PUT`
//!   takes `{"value": "..."}` (JSON) or the value as plain text.
//!
//! Each needs `configure` on the project (application context). Every
//! change is audited (keys changed, never their values) and applied to the
//! project's node sources in the background.

use crate::audit::{self, Change};
use crate::error::{ApiError, Code};
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::routing;
use axum::Router;
use axum::{Extension, Json};
use foredeck_core::authorizer::{AuthContext, Resource, Subject};
use foredeck_core::Project;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// The project configuration routes, whole and by key.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/api/{v}/project/{project}/config",
            routing::get(get_all).put(put_all),
        )
        .route(
            "/api/{v}/project/{project}/config/{key}",
            routing::get(get_key).put(put_key).delete(delete_key),
        )
}

/// Longest configuration key accepted.
const MAX_KEY: usize = 512;

fn param(params: &HashMap<String, String>, name: &str) -> String {
    params.get(name).cloned().unwrap_or_default()
}

/// Checks `configure` on the project, then loads it: 403 before 404, so a
/// subject without the right learns nothing about which projects exist.
pub(crate) async fn configurable(
    state: &ApiState,
    subject: &Subject,
    name: &str,
) -> Result<Project, ApiError> {
    let r = Resource::new("project").with("name", name);
    if !state
        .authorizer
        .allowed(subject, "configure", &r, &AuthContext::Application)
    {
        return Err(ApiError::unauthorized(
            "configure",
            &format!("Project {name}"),
        ));
    }
    state
        .store
        .get_project(name)
        .await?
        .ok_or_else(|| ApiError::not_found("Project", name))
}

/// A body that could not be read: too large, or cut off.
fn body_error(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::of(Code::TooLarge, "The request body is too large");
    }
    ApiError::invalid(format!("request body: {}", e.body_text()))
}

pub(crate) fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(ApiError::invalid(format!(
            "configuration key must be 1 to {MAX_KEY} characters"
        )));
    }
    if key
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '=')
    {
        return Err(ApiError::invalid(format!(
            "configuration key {key:?} may not contain whitespace, control characters or `=`"
        )));
    }
    Ok(())
}

pub(crate) fn check_value(key: &str, value: &str) -> Result<(), ApiError> {
    if value.contains('\0') {
        return Err(ApiError::invalid(format!(
            "configuration value of {key:?} contains a NUL character"
        )));
    }
    Ok(())
}

/// Refuses a change to a script node source (`resources.source.N.type =
/// script`, before or after the change) unless the subject is an admin
/// (`admin` on the system, as for the audit log): such a source runs a
/// command on the server, so configuring one is running code there.
pub(crate) fn may_change_script_sources(
    state: &ApiState,
    subject: &Subject,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let Some(index) = foredeck_core::nodes::script_sources_changed(old, new)
        .into_iter()
        .next()
    else {
        return Ok(());
    };
    let system = Resource::new("resource").with("kind", "system");
    if state
        .authorizer
        .allowed(subject, "admin", &system, &AuthContext::Application)
    {
        return Ok(());
    }
    Err(ApiError::of(Code::Unauthorized, format!(
            "{}{index}: a script node source runs a command on the server; only an admin may add, change or remove one",
            foredeck_core::nodes::SOURCE_PREFIX
        ),
    ))
}

/// Stores the new configuration, audits which keys changed, and hands the
/// change to the node sources.
pub(crate) async fn apply(
    state: &ApiState,
    subject: &Subject,
    ext: &Extensions,
    old: Project,
    config: BTreeMap<String, String>,
) -> Result<Project, ApiError> {
    may_change_script_sources(state, subject, &old.config, &config)?;
    let mut new = old.clone();
    if let Some(d) = config.get("project.description") {
        new.description = Some(d.clone()).filter(|d| !d.is_empty());
    }
    new.config = config;
    // Marks the project's nodes stale before the change is visible, so no
    // request sees nodes of removed sources once this returns.
    let lock = state.nodes.begin_change(&new.name).await;
    state.store.update_project(&new).await?;
    let changed: Vec<&String> = old
        .config
        .keys()
        .chain(new.config.keys())
        .filter(|k| old.config.get(*k) != new.config.get(*k))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    audit::record(
        state,
        subject,
        ext,
        Change {
            action: "update",
            resource_type: "project.config",
            resource: &new.name,
            project: Some(&new.name),
            detail: json!({ "keys": changed }),
        },
    )
    .await;
    let nodes = state.nodes.clone();
    let (old_config, project) = (old.config, new.clone());
    tokio::spawn(async move {
        if let Err(e) = nodes.apply_change(lock, &old_config, &project).await {
            tracing::error!(project = %project.name, error = %e, "node sources not refreshed");
        }
    });
    Ok(new)
}

/// `GET /api/{v}/project/{p}/config`.
pub(crate) async fn get_all(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Json<BTreeMap<String, String>>, ApiError> {
    let p = configurable(&state, &subject, &param(&params, "project")).await?;
    Ok(Json(p.config))
}

/// `PUT /api/{v}/project/{p}/config` with an object of key to string.
pub(crate) async fn put_all(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    ext: Extensions,
    Path(params): Path<HashMap<String, String>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BTreeMap<String, String>>, ApiError> {
    let p = configurable(&state, &subject, &param(&params, "project")).await?;
    let body = body.map_err(body_error)?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid(format!(
            "request body: expected a JSON object of configuration key to string value: {e}"
        ))
    })?;
    // a key set to `null` is a key not set
    let config: BTreeMap<String, String> = crate::extract::lenient(v)?;
    for (k, v) in &config {
        check_key(k)?;
        check_value(k, v)?;
    }
    let new = apply(&state, &subject, &ext, p, config).await?;
    Ok(Json(new.config))
}

/// `GET /api/{v}/project/{p}/config/{key}`: `{"key", "value"}`.
pub(crate) async fn get_key(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = configurable(&state, &subject, &param(&params, "project")).await?;
    let key = param(&params, "key");
    let value = p
        .config
        .get(&key)
        .ok_or_else(|| ApiError::not_found("Configuration key", &key))?;
    Ok(Json(json!({"key": key, "value": value})))
}

/// `PUT /api/{v}/project/{p}/config/{key}` with `{"value": "..."}` or a
/// plain-text body.
pub(crate) async fn put_key(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    ext: Extensions,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = configurable(&state, &subject, &param(&params, "project")).await?;
    let body = body.map_err(body_error)?;
    let key = param(&params, "key");
    check_key(&key)?;
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let value = if is_json {
        /// `{"value": "..."}`; other keys are ignored, as Rundeck does.
        #[derive(serde::Deserialize)]
        struct Body {
            value: String,
        }
        let v: Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::invalid(format!(
                "request body: expected {{\"value\": \"...\"}}: {e}"
            ))
        })?;
        crate::extract::lenient::<Body>(v)?.value
    } else {
        String::from_utf8(body.to_vec())
            .map_err(|_| ApiError::invalid("request body: the value is not UTF-8 text"))?
    };
    check_value(&key, &value)?;
    let mut config = p.config.clone();
    config.insert(key.clone(), value.clone());
    apply(&state, &subject, &ext, p, config).await?;
    Ok(Json(json!({"key": key, "value": value})))
}

/// `DELETE /api/{v}/project/{p}/config/{key}`: 204, or 404 for a key that
/// is not set.
pub(crate) async fn delete_key(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    ext: Extensions,
    Path(params): Path<HashMap<String, String>>,
) -> Result<StatusCode, ApiError> {
    let p = configurable(&state, &subject, &param(&params, "project")).await?;
    let key = param(&params, "key");
    let mut config = p.config.clone();
    if config.remove(&key).is_none() {
        return Err(ApiError::not_found("Configuration key", &key));
    }
    apply(&state, &subject, &ext, p, config).await?;
    Ok(StatusCode::NO_CONTENT)
}
