//! Projects: list, create, get, delete.

use crate::api::ApiVersion;
use crate::audit::{self, Change};
use crate::error::ApiError;
use crate::views::projects::project_json;
use crate::ApiState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{Extensions, StatusCode};
use axum::routing;
use axum::Router;
use axum::{Extension, Json};
use foredeck_core::authorizer::{AuthContext, Resource, Subject};
use foredeck_core::Project;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// The project routes: list, create, get, delete.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/{v}/projects", routing::get(list).post(create))
        .route(
            "/api/{v}/project/{project}",
            routing::get(get).delete(delete),
        )
        .route(
            "/api/{v}/project/{project}/meta",
            routing::get(crate::project_meta::meta)
                .layer(axum::middleware::from_fn(crate::extract::json_only)),
        )
}

/// Rundeck's rule for project names.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || "-_+".contains(c))
        && chars.all(|c| c.is_ascii_alphanumeric() || "-_+.".contains(c))
}

fn may(state: &ApiState, subject: &Subject, action: &str, project: &str) -> bool {
    let r = Resource::new("project").with("name", project);
    state
        .authorizer
        .allowed(subject, action, &r, &AuthContext::Application)
}

/// `GET /api/{v}/projects`: the projects the subject may read.
pub(crate) async fn list(
    State(state): State<ApiState>,
    Extension(v): Extension<ApiVersion>,
    Extension(subject): Extension<Subject>,
) -> Result<Json<Value>, ApiError> {
    let projects = state.store.list_projects().await?;
    Ok(Json(Value::Array(
        projects
            .iter()
            .filter(|p| may(&state, &subject, "read", &p.name))
            .map(|p| project_json(v, p, false))
            .collect(),
    )))
}

/// Rundeck's keys; others are ignored, `null` is absent.
#[derive(Deserialize)]
pub(crate) struct NewProject {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    config: BTreeMap<String, String>,
}

/// `POST /api/{v}/projects` with `{"name", "description"?, "config"?}`.
pub(crate) async fn create(
    State(state): State<ApiState>,
    Extension(v): Extension<ApiVersion>,
    Extension(subject): Extension<Subject>,
    ext: Extensions,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let create = Resource::new("resource").with("kind", "project");
    if !state
        .authorizer
        .allowed(&subject, "create", &create, &AuthContext::Application)
    {
        return Err(ApiError::unauthorized("create", "Project"));
    }
    let Json(body) = body?;
    let body: NewProject = crate::extract::lenient(body)?;
    foredeck_core::names::check_length(
        "project name",
        &body.name,
        foredeck_core::names::PROJECT_NAME_MAX,
    )
    .map_err(ApiError::invalid)?;
    if !valid_name(&body.name) {
        return Err(ApiError::invalid(format!(
            "project name {:?} is invalid: use letters, digits and - _ + . (not first)",
            body.name
        )));
    }
    crate::project_config::may_change_script_sources(
        &state,
        &subject,
        &BTreeMap::new(),
        &body.config,
    )?;
    let description = body
        .description
        .or_else(|| body.config.get("project.description").cloned());
    let project = Project {
        name: body.name,
        description,
        config: body.config,
        ..Project::default()
    };
    state.store.create_project(&project).await.map_err(|e| {
        let mut e = ApiError::from(e);
        if e.status == StatusCode::CONFLICT {
            e.message = format!("project already exists: {}", project.name);
        }
        e
    })?;
    audit::record(
        &state,
        &subject,
        &ext,
        Change {
            action: "create",
            resource_type: "project",
            resource: &project.name,
            project: Some(&project.name),
            detail: json!({ "configKeys": project.config.keys().collect::<Vec<_>>() }),
        },
    )
    .await;
    // Reads the new project's node sources in the background.
    let lock = state.nodes.begin_change(&project.name).await;
    let (nodes, p) = (state.nodes.clone(), project.clone());
    tokio::spawn(async move {
        if let Err(e) = nodes.apply_change(lock, &BTreeMap::new(), &p).await {
            tracing::error!(project = %p.name, error = %e, "node sources not read");
        }
    });
    Ok((StatusCode::CREATED, Json(project_json(v, &project, true))))
}

async fn readable(
    state: &ApiState,
    subject: &Subject,
    action: &str,
    name: &str,
) -> Result<Project, ApiError> {
    if !may(state, subject, action, name) {
        return Err(ApiError::unauthorized(action, &format!("Project {name}")));
    }
    state
        .store
        .get_project(name)
        .await?
        .ok_or_else(|| ApiError::not_found("Project", name))
}

/// `GET /api/{v}/project/{project}`.
pub(crate) async fn get(
    State(state): State<ApiState>,
    Extension(v): Extension<ApiVersion>,
    Extension(subject): Extension<Subject>,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let name = params.get("project").cloned().unwrap_or_default();
    let p = readable(&state, &subject, "read", &name).await?;
    Ok(Json(project_json(v, &p, true)))
}

/// `DELETE /api/{v}/project/{project}`: the project with its jobs,
/// executions and nodes.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    ext: Extensions,
    Path(params): Path<HashMap<String, String>>,
) -> Result<StatusCode, ApiError> {
    let name = params.get("project").cloned().unwrap_or_default();
    readable(&state, &subject, "delete", &name).await?;
    state.store.delete_project(&name).await?;
    state.projects.forget(&name);
    state.nodes.forget(&name);
    audit::record(
        &state,
        &subject,
        &ext,
        Change {
            action: "delete",
            resource_type: "project",
            resource: &name,
            project: Some(&name),
            detail: Value::Null,
        },
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
