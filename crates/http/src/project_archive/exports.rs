//! Asynchronous exports: `export/async` starts building an archive and
//! answers a token; `export/status/{token}` says whether it is ready;
//! `export/download/{token}` hands it over once, then forgets it.
//!
//! Archives are kept in memory by the server that built them, for
//! [`KEEP`] at most, and at most [`MAX_KEPT`] at a time (a new request
//! past that answers 503 until one is downloaded or expires). A token is
//! its caller's: anyone else, and anyone who may no longer `export` the
//! project, gets 404 or 403 as for the project.

use super::{build, export_request, project_for, zip_response};
use crate::error::{ApiError, Code};
use crate::extract::{path, Caller, Params};
use crate::ApiState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a built archive is kept for its download.
pub(crate) const KEEP: Duration = Duration::from_secs(30 * 60);
/// Archives kept (or being built) at once.
pub(crate) const MAX_KEPT: usize = 8;

#[derive(Debug)]
enum Outcome {
    Building,
    Ready(Vec<u8>),
    Failed(String),
}

#[derive(Debug)]
struct Job {
    project: String,
    user: String,
    started: Instant,
    outcome: Outcome,
}

/// The asynchronous exports of this server, by token.
#[derive(Debug, Default)]
pub(crate) struct Exports {
    jobs: Mutex<HashMap<String, Job>>,
}

impl Exports {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Job>> {
        // a panic while holding the lock leaves a map that is still whole
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn expire(jobs: &mut HashMap<String, Job>) {
        jobs.retain(|_, j| j.started.elapsed() < KEEP);
    }
}

fn status_json(token: &str, ready: bool) -> Value {
    json!({"token": token, "ready": ready, "percentage": if ready { 100 } else { 0 }})
}

fn missing(token: &str) -> ApiError {
    ApiError::not_found("Export token", token)
}

/// `GET /api/{v}/project/{p}/export/async`: the same parameters as
/// `export`; answers the status of the new export.
pub(crate) async fn start(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
) -> Result<Json<Value>, ApiError> {
    let name = path(&p, "project");
    let project = project_for(&state, &caller, &name, "export").await?;
    let what = export_request(&state, &caller, &project.name, &q)?;
    let token = uuid::Uuid::new_v4().to_string();
    {
        let mut jobs = state.exports.lock();
        Exports::expire(&mut jobs);
        if jobs.len() >= MAX_KEPT {
            return Err(ApiError::of(
                Code::Overloaded,
                format!("{MAX_KEPT} exports are kept already; download one or try again later"),
            ));
        }
        jobs.insert(
            token.clone(),
            Job {
                project: project.name.clone(),
                user: caller.subject.user.clone(),
                started: Instant::now(),
                outcome: Outcome::Building,
            },
        );
    }
    let (bg, t) = (state.clone(), token.clone());
    let exports: Arc<Exports> = state.exports.clone();
    tokio::spawn(async move {
        let outcome = match build(&bg, &project.name, &what).await {
            Ok(zip) => Outcome::Ready(zip),
            Err(e) => {
                tracing::error!(project = %project.name, error = %e.message, "asynchronous export failed");
                Outcome::Failed(e.message)
            }
        };
        if let Some(j) = exports.lock().get_mut(&t) {
            j.outcome = outcome;
        }
    });
    state
        .audit(
            &caller,
            "export",
            "project",
            &name,
            Some(&name),
            json!({"async": token}),
        )
        .await;
    Ok(Json(status_json(&token, false)))
}

/// Checks the caller and project of a token; `take` removes a ready archive.
async fn with_job<T>(
    state: &ApiState,
    caller: &Caller,
    p: &HashMap<String, String>,
    f: impl FnOnce(&str, &mut HashMap<String, Job>) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let name = path(p, "project");
    project_for(state, caller, &name, "export").await?;
    let token = path(p, "token");
    let mut jobs = state.exports.lock();
    Exports::expire(&mut jobs);
    match jobs.get(&token) {
        Some(j) if j.project == name && j.user == caller.subject.user => f(&token, &mut jobs),
        _ => Err(missing(&token)),
    }
}

/// `GET /api/{v}/project/{p}/export/status/{token}`.
pub(crate) async fn status(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    with_job(&state, &caller, &p, |token, jobs| {
        match jobs.get(token).map(|j| &j.outcome) {
            Some(Outcome::Failed(m)) => Err(ApiError::invalid(format!("the export failed: {m}"))),
            Some(Outcome::Ready(_)) => Ok(Json(status_json(token, true))),
            _ => Ok(Json(status_json(token, false))),
        }
    })
    .await
}

/// `GET /api/{v}/project/{p}/export/download/{token}`: the archive, once.
pub(crate) async fn download(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let name = path(&p, "project");
    let zip = with_job(&state, &caller, &p, |token, jobs| {
        match jobs.get(token).map(|j| &j.outcome) {
            Some(Outcome::Ready(_)) => match jobs.remove(token).map(|j| j.outcome) {
                Some(Outcome::Ready(zip)) => Ok(zip),
                _ => Err(missing(token)),
            },
            Some(Outcome::Failed(m)) => Err(ApiError::invalid(format!("the export failed: {m}"))),
            _ => Err(ApiError::invalid(format!(
                "export {token} is not ready yet: ask export/status/{token}"
            ))),
        }
    })
    .await?;
    Ok(zip_response(&name, zip))
}
