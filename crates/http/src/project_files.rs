//! A project's `readme.md` and `motd.md` (Rundeck's project files):
//! `GET`, `PUT` and `DELETE /api/{v}/project/{p}/readme.md` and `motd.md`,
//! as plain text or as `{"contents": "..."}` (JSON), by `Content-Type` for
//! a `PUT` body and by `Accept` for the answer (text unless JSON is asked
//! for; a `PUT` answers in its body's format by default). Like Rundeck,
//! every method needs `configure` on the project. The files are kept with
//! the project in the store.

use crate::error::ApiError;
use crate::extract::{path, Caller};
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::{Json, Router};
use foredeck_core::Project;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Largest file accepted.
const MAX_FILE: usize = 1 << 20;

/// The project file routes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/api/{v}/project/{project}/readme.md",
            routing::get(get_readme)
                .put(put_readme)
                .delete(delete_readme),
        )
        .route(
            "/api/{v}/project/{project}/motd.md",
            routing::get(get_motd).put(put_motd).delete(delete_motd),
        )
}

#[derive(Clone, Copy)]
enum File {
    Readme,
    Motd,
}

impl File {
    fn name(self) -> &'static str {
        match self {
            File::Readme => "readme.md",
            File::Motd => "motd.md",
        }
    }

    fn of(self, p: &mut Project) -> &mut Option<String> {
        match self {
            File::Readme => &mut p.readme,
            File::Motd => &mut p.motd,
        }
    }
}

/// Whether `header` names JSON.
fn is_json(headers: &HeaderMap, header: axum::http::HeaderName) -> bool {
    headers
        .get(header)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"))
}

fn answer(text: String, json: bool) -> Response {
    if json {
        Json(json!({ "contents": text })).into_response()
    } else {
        ([(CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
    }
}

async fn get(
    state: ApiState,
    caller: Caller,
    p: HashMap<String, String>,
    headers: HeaderMap,
    file: File,
) -> Result<Response, ApiError> {
    let name = path(&p, "project");
    let mut project = crate::project_config::configurable(&state, &caller.subject, &name).await?;
    match file.of(&mut project).take() {
        Some(text) => Ok(answer(text, is_json(&headers, ACCEPT))),
        None => Err(ApiError::not_found("resource", file.name())),
    }
}

async fn put(
    state: ApiState,
    caller: Caller,
    p: HashMap<String, String>,
    headers: HeaderMap,
    body: Bytes,
    file: File,
) -> Result<Response, ApiError> {
    let name = path(&p, "project");
    let mut project = crate::project_config::configurable(&state, &caller.subject, &name).await?;
    if body.len() > MAX_FILE {
        return Err(ApiError::invalid(format!(
            "{}: larger than {MAX_FILE} bytes",
            file.name()
        )));
    }
    let sent_json = is_json(&headers, CONTENT_TYPE);
    let text = if sent_json {
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("request body: {e}")))?;
        match v.get("contents") {
            Some(Value::String(s)) => s.clone(),
            _ => {
                return Err(ApiError::invalid(
                    "request body: expected {\"contents\": \"...\"}",
                ))
            }
        }
    } else {
        String::from_utf8(body.to_vec())
            .map_err(|_| ApiError::invalid(format!("{}: not UTF-8 text", file.name())))?
    };
    if text.is_empty() {
        return Err(ApiError::invalid(format!("{}: no content", file.name())));
    }
    *file.of(&mut project) = Some(text.clone());
    state.store.update_project(&project).await?;
    state
        .audit(
            &caller,
            "update",
            "project_file",
            file.name(),
            Some(&name),
            json!({}),
        )
        .await;
    let json = match headers.get(ACCEPT) {
        Some(_) if is_json(&headers, ACCEPT) => true,
        Some(a) if a.to_str().is_ok_and(|a| a.contains("text/")) => false,
        _ => sent_json,
    };
    Ok(answer(text, json))
}

async fn delete(
    state: ApiState,
    caller: Caller,
    p: HashMap<String, String>,
    file: File,
) -> Result<StatusCode, ApiError> {
    let name = path(&p, "project");
    let mut project = crate::project_config::configurable(&state, &caller.subject, &name).await?;
    if file.of(&mut project).take().is_some() {
        state.store.update_project(&project).await?;
        state
            .audit(
                &caller,
                "delete",
                "project_file",
                file.name(),
                Some(&name),
                json!({}),
            )
            .await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/{v}/project/{p}/readme.md`.
pub(crate) async fn get_readme(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    get(state, caller, p, headers, File::Readme).await
}

/// `PUT /api/{v}/project/{p}/readme.md`.
pub(crate) async fn put_readme(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    put(state, caller, p, headers, body, File::Readme).await
}

/// `DELETE /api/{v}/project/{p}/readme.md`.
pub(crate) async fn delete_readme(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<StatusCode, ApiError> {
    delete(state, caller, p, File::Readme).await
}

/// `GET /api/{v}/project/{p}/motd.md`.
pub(crate) async fn get_motd(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    get(state, caller, p, headers, File::Motd).await
}

/// `PUT /api/{v}/project/{p}/motd.md`.
pub(crate) async fn put_motd(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    put(state, caller, p, headers, body, File::Motd).await
}

/// `DELETE /api/{v}/project/{p}/motd.md`.
pub(crate) async fn delete_motd(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<StatusCode, ApiError> {
    delete(state, caller, p, File::Motd).await
}
