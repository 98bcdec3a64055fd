//! Rundeck's project archive: `GET|POST /api/{v}/project/{p}/export`
//! (a zip, see [`foredeck_core::archive`]), its asynchronous form
//! (`export/async`, `export/status/{token}`, `export/download/{token}`),
//! and `PUT /api/{v}/project/{p}/import` ([`import`]).
//!
//! Exporting needs `export` on the project, as in Rundeck; its ACL
//! policies go in only when the caller may also `read` them (else they are
//! left out silently, as Rundeck does). Parameters: `exportAll` (default
//! true), `exportJobs`, `exportExecutions`, `exportConfigs`,
//! `exportReadmes`, `exportAcls`, and `executionIds` (a comma-separated
//! list, or repeated; in a form body with `POST` too): only those
//! executions, nothing else. Rundeck's `exportScm`, `exportWebhooks` and
//! `exportComponents.*` are read and have nothing to add: Foredeck has no
//! SCM plugins nor components, and its webhooks carry tokens that stay
//! with the server. Executions that have not ended are not exported.

mod exports;
mod import;

use crate::auth::allowed_any;
use crate::error::ApiError;
use crate::extract::{flag, path, Caller, Params};
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Router;
use foredeck_core::archive::{Export, Parts};
use foredeck_core::authorizer::{AuthContext, Resource};
use std::collections::HashMap;

pub(crate) use exports::Exports;

/// Largest archive accepted by `import`, compressed.
pub(crate) const MAX_ARCHIVE_BYTES: usize = 128 << 20;

/// The archive routes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/api/{v}/project/{project}/export",
            routing::get(export).post(export),
        )
        .route(
            "/api/{v}/project/{project}/export/async",
            routing::get(exports::start),
        )
        .route(
            "/api/{v}/project/{project}/export/status/{token}",
            routing::get(exports::status)
                .layer(axum::middleware::from_fn(crate::extract::json_only)),
        )
        .route(
            "/api/{v}/project/{project}/export/download/{token}",
            routing::get(exports::download),
        )
        .route(
            "/api/{v}/project/{project}/import",
            routing::put(import::import).layer(DefaultBodyLimit::max(MAX_ARCHIVE_BYTES)),
        )
}

/// 403 unless the caller may `action` the project (`admin` will do), then
/// 404 when it does not exist.
pub(crate) async fn project_for(
    state: &ApiState,
    caller: &Caller,
    name: &str,
    action: &str,
) -> Result<foredeck_core::Project, ApiError> {
    let r = Resource::new("project").with("name", name);
    if !allowed_any(
        state,
        &caller.subject,
        &[action, "admin"],
        &r,
        &AuthContext::Application,
    ) {
        return Err(ApiError::unauthorized(action, &format!("Project {name}")));
    }
    state
        .store
        .get_project(name)
        .await?
        .ok_or_else(|| ApiError::not_found("Project", name))
}

/// Whether the caller may do one of `actions` to the project's ACL policies.
pub(crate) fn may_acl(state: &ApiState, caller: &Caller, project: &str, actions: &[&str]) -> bool {
    let r = Resource::new("project_acl").with("name", project);
    actions.iter().all(|a| {
        allowed_any(
            state,
            &caller.subject,
            &[a, "admin"],
            &r,
            &AuthContext::Application,
        )
    })
}

/// What the export parameters ask for.
pub(crate) fn export_request(
    state: &ApiState,
    caller: &Caller,
    project: &str,
    q: &[(String, String)],
) -> Result<Export, ApiError> {
    let all = flag(q, "exportAll")?.unwrap_or(true);
    let part =
        |name: &str| -> Result<bool, ApiError> { Ok(all || flag(q, name)?.unwrap_or(false)) };
    let parts = Parts {
        jobs: part("exportJobs")?,
        executions: part("exportExecutions")?,
        config: part("exportConfigs")?,
        readmes: part("exportReadmes")?,
        acls: part("exportAcls")? && may_acl(state, caller, project, &["read"]),
    };
    // read and checked, though there is nothing to add for them
    for name in ["exportScm", "exportWebhooks", "whkIncludeAuthTokens"] {
        flag(q, name)?;
    }
    let mut ids: Vec<u64> = Vec::new();
    for (k, v) in q {
        if k != "executionIds" {
            continue;
        }
        for id in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            ids.push(id.parse().map_err(|_| {
                ApiError::invalid(format!(
                    "parameter executionIds: {id:?} is not an execution id"
                ))
            })?);
        }
    }
    let execution_ids = if q.iter().any(|(k, _)| k == "executionIds") {
        Some(ids)
    } else {
        None
    };
    Ok(Export {
        parts,
        execution_ids,
    })
}

/// Builds the archive: the parts asked for, as a zip.
pub(crate) async fn build(
    state: &ApiState,
    project: &str,
    what: &Export,
) -> Result<Vec<u8>, ApiError> {
    let archive = foredeck_core::archive::collect(state.store.as_ref(), project, what).await?;
    let zip = tokio::task::spawn_blocking(move || archive.to_zip(chrono::Utc::now()))
        .await
        .map_err(|e| {
            ApiError::from(foredeck_core::Error::io(
                "building the archive",
                std::io::Error::other(e.to_string()),
            ))
        })??;
    Ok(zip)
}

/// The zip as Rundeck sends it: `application/zip`, as an attachment named
/// after the project and the time.
pub(crate) fn zip_response(project: &str, zip: Vec<u8>) -> Response {
    let name = format!(
        "{project}-{}.rdproject.jar",
        chrono::Utc::now().format("%Y%m%d-%H%M%S")
    );
    // project names are letters, digits and `-_.`: a plain header value
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/zip"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        zip,
    )
        .into_response()
}

/// `GET|POST /api/{v}/project/{p}/export`.
pub(crate) async fn export(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(p): Path<HashMap<String, String>>,
    Query(mut q): Params,
    body: Bytes,
) -> Result<Response, ApiError> {
    let name = path(&p, "project");
    let project = project_for(&state, &caller, &name, "export").await?;
    if let Some(form) = crate::extract::Form::parse(&headers, body).await? {
        q.extend(form.fields());
    }
    let what = export_request(&state, &caller, &project.name, &q)?;
    let zip = build(&state, &project.name, &what).await?;
    state
        .audit(
            &caller,
            "export",
            "project",
            &project.name,
            Some(&project.name),
            serde_json::json!({ "bytes": zip.len() }),
        )
        .await;
    Ok(zip_response(&project.name, zip))
}
