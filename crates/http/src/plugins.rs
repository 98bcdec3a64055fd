//! `plugin/list` (what this server has built in, in Rundeck's plugin list
//! shape) and `feature[/{name}]` (Rundeck's feature flags).
//!
//! Foredeck loads no plugin files: the list names the node executors and
//! step plugins registered in the engine (the `local` one, `ssh` in
//! `foredeck serve`, and any an embedding program adds), the node source
//! types, the notifications (when a notifier is set) and the log filters
//! that are always on. Reading it needs `read` (or `admin`) on
//! `resource {kind: plugin}`, as Rundeck's plugin listing.
//!
//! Foredeck has no feature flags that can be switched: `feature` lists
//! none, and `feature/{name}` answers `enabled: false` for every name, as
//! Rundeck answers a feature it does not know. Any authenticated caller
//! may ask.

use crate::auth::allowed_any;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::ApiState;
use axum::extract::{Path, State};
use axum::routing;
use axum::{Json, Router};
use foredeck_core::authorizer::{AuthContext, Resource};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The plugin and feature routes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/api/{v}/plugin/list",
            routing::get(list).layer(axum::middleware::from_fn(crate::extract::json_only)),
        )
        .route(
            "/api/{v}/feature",
            routing::get(features).layer(axum::middleware::from_fn(crate::extract::json_only)),
        )
        .route(
            "/api/{v}/feature/",
            routing::get(features).layer(axum::middleware::from_fn(crate::extract::json_only)),
        )
        .route(
            "/api/{v}/feature/{name}",
            routing::get(feature).layer(axum::middleware::from_fn(crate::extract::json_only)),
        )
}

/// API version from which entries carry `providerMetadata`.
const METADATA_SINCE: u32 = 40;

/// One built-in provider: service, name, title, description.
type Provider = (&'static str, String, String, String);

fn entry(v: u32, (service, name, title, description): Provider) -> Value {
    // a stable id, as Rundeck gives each provider one (12 hex digits)
    let digest = Sha256::digest(format!("{service}/{name}").as_bytes());
    let mut e = json!({
        "service": service,
        "artifactName": "foredeck",
        "name": name,
        "id": hex::encode(&digest[..6]),
        "builtin": true,
        "pluginVersion": env!("CARGO_PKG_VERSION"),
        "title": title,
        "description": description,
        "author": "Foredeck",
    });
    if v >= METADATA_SINCE {
        e["providerMetadata"] = json!({});
    }
    e
}

fn executor_text(name: &str) -> (String, String) {
    match name {
        "local" => (
            "Local".into(),
            "Runs commands and scripts on the Foredeck server itself".into(),
        ),
        "ssh" => (
            "SSH".into(),
            "Runs commands and scripts over SSH, with keys or passwords from key storage".into(),
        ),
        other => (
            other.to_owned(),
            format!("Node executor {other:?}, registered by the program that embeds Foredeck"),
        ),
    }
}

/// Every built-in provider of this server.
fn providers(state: &ApiState) -> Vec<Provider> {
    let engine = &state.runs.engine;
    let mut out: Vec<Provider> = Vec::new();
    for name in engine.executor_names() {
        let (title, description) = executor_text(&name);
        out.push(("NodeExecutor", name, title, description));
    }
    for name in engine.step_plugin_names() {
        out.push((
            "WorkflowNodeStep",
            name.clone(),
            name.clone(),
            format!("Step plugin {name:?}, registered by the program that embeds Foredeck"),
        ));
    }
    out.push((
        "ResourceModelSource",
        "file".into(),
        "File".into(),
        "Reads nodes from a resource document (YAML, JSON or XML) on the server's disk".into(),
    ));
    out.push((
        "ResourceModelSource",
        "script".into(),
        "Script".into(),
        "Reads nodes from the standard output of a program".into(),
    ));
    if engine.has_notifier() {
        out.push((
            "Notification",
            "webhook".into(),
            "Webhook".into(),
            "POSTs the execution as JSON or XML to the job's notification URLs".into(),
        ));
        out.push((
            "Notification",
            "email".into(),
            "Email".into(),
            "Sends email over SMTP, when the server has SMTP settings".into(),
        ));
    }
    out.push((
        "LogFilter",
        "key-value-data".into(),
        "Key Value Data".into(),
        "Captures RUNDECK:DATA:key=value output lines as data for later steps; always on".into(),
    ));
    out.push((
        "LogFilter",
        "mask-passwords".into(),
        "Mask Passwords".into(),
        "Masks the values of secure options in the log; always on".into(),
    ));
    out
}

/// `GET /api/{v}/plugin/list`.
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let plugin = Resource::new("resource").with("kind", "plugin");
    if !allowed_any(
        &state,
        &caller.subject,
        &["read", "admin", "app_admin"],
        &plugin,
        &AuthContext::Application,
    ) {
        return Err(ApiError::unauthorized("read", "plugins"));
    }
    Ok(Json(Value::Array(
        providers(&state)
            .into_iter()
            .map(|p| entry(caller.version.0, p))
            .collect(),
    )))
}

/// `GET /api/{v}/feature`: Foredeck's switchable features: none.
pub(crate) async fn features(_caller: Caller) -> Json<Value> {
    Json(json!([]))
}

/// `GET /api/{v}/feature/{name}`: not a feature of this server, so not
/// enabled (Rundeck's answer for a feature it does not know).
pub(crate) async fn feature(
    _caller: Caller,
    Path((_, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "feature name: at most 200 characters, without control characters",
        ));
    }
    Ok(Json(json!({"name": name, "enabled": false})))
}
