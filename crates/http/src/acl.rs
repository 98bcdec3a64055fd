//! ACL policies: `/api/{v}/system/acl/...` and
//! `/api/{v}/project/{p}/acl/...` (list, get, create, update, delete).
//!
//! Policies are validated before they are stored; an invalid one is answered
//! 400 with Rundeck's `{valid: false, policies: [{policy, errors}]}`. After
//! every change the authorizer reloads, so the next request is decided by the
//! new rules.

use crate::audit::{self, Change};
use crate::auth::allowed_any;
use crate::error::{ApiError, Code};
use crate::extract::ClientAddr;
use crate::{ApiState, ApiVersion};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Router;
use axum::{Extension, Json};
use foredeck_core::acl::{Policy, PolicyScope};
use foredeck_core::authorizer::{AuthContext, Resource, Subject};
use foredeck_core::AclPolicy;
use serde::Deserialize;
use serde_json::{json, Value};

/// The ACL policy routes, system and project.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/{v}/system/acl", routing::get(system_list))
        .route("/api/{v}/system/acl/", routing::get(system_list))
        .route(
            "/api/{v}/system/acl/{name}",
            routing::get(system_get)
                .post(system_create)
                .put(system_update)
                .delete(system_delete),
        )
        .route("/api/{v}/project/{project}/acl", routing::get(project_list))
        .route(
            "/api/{v}/project/{project}/acl/",
            routing::get(project_list),
        )
        .route(
            "/api/{v}/project/{project}/acl/{name}",
            routing::get(project_get)
                .post(project_create)
                .put(project_update)
                .delete(project_delete),
        )
}

/// Which policies a request is about.
struct Target {
    project: Option<String>,
}

impl Target {
    fn scope(&self) -> PolicyScope {
        match &self.project {
            None => PolicyScope::System,
            Some(p) => PolicyScope::Project(p.clone()),
        }
    }

    /// Rundeck's resources: `resource {kind: system_acl}` for system
    /// policies, `project_acl {name: P}` for a project's.
    fn resource(&self) -> Resource {
        match &self.project {
            None => Resource::new("resource").with("kind", "system_acl"),
            Some(p) => Resource::new("project_acl").with("name", p.clone()),
        }
    }

    fn base(&self, v: ApiVersion) -> String {
        match &self.project {
            None => format!("/api/{}/system/acl/", v.0),
            Some(p) => format!("/api/{}/project/{p}/acl/", v.0),
        }
    }

    /// 403 unless `action` (or `admin`) is allowed; for a project, 404 when
    /// it does not exist (after the check, so that names do not leak).
    async fn authorize(
        &self,
        state: &ApiState,
        subject: &Subject,
        action: &str,
    ) -> Result<(), ApiError> {
        let what = match &self.project {
            None => "system ACL policies".to_owned(),
            Some(p) => format!("the ACL policies of project {p}"),
        };
        if !allowed_any(
            state,
            subject,
            &[action, "admin"],
            &self.resource(),
            &AuthContext::Application,
        ) {
            return Err(ApiError::unauthorized(action, &what));
        }
        if let Some(p) = &self.project {
            if state.store.get_project(p).await?.is_none() {
                return Err(ApiError::not_found("Project", p));
            }
        }
        Ok(())
    }
}

/// A policy file name: `NAME.aclpolicy` with letters, digits, `.`, `_`, `-`,
/// not starting with a dot.
pub(crate) fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = name.len() <= 200
        && name.strip_suffix(".aclpolicy").is_some_and(|stem| {
            !stem.is_empty()
                && !stem.starts_with('.')
                && stem
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "Invalid ACL policy name {name:?}: expected NAME.aclpolicy with letters, digits, '.', '_' or '-'"
        )))
    }
}

fn wants_yaml(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("yaml") || a.contains("text/plain"))
}

/// The policy in the format asked for: YAML text, or `{contents}`.
fn policy_response(status: StatusCode, headers: &HeaderMap, content: String) -> Response {
    if wants_yaml(headers) {
        (
            status,
            [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
            content,
        )
            .into_response()
    } else {
        (status, Json(json!({ "contents": content }))).into_response()
    }
}

/// `{"contents": "..."}`; other keys are ignored, as Rundeck does.
#[derive(Deserialize)]
struct Contents {
    contents: String,
}

/// The policy text of a request: the body itself for YAML or text, the
/// `contents` field for JSON.
fn request_text(headers: &HeaderMap, body: &Bytes) -> Result<String, ApiError> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::invalid("The policy is not UTF-8 text"))?;
    if ctype.starts_with("application/json") {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| ApiError::invalid(format!("request body: not valid JSON: {e}")))?;
        let c: Contents = crate::extract::lenient(v)?;
        Ok(c.contents)
    } else if ctype.contains("yaml") || ctype.starts_with("text/plain") {
        Ok(text.to_owned())
    } else {
        Err(ApiError::of(Code::UnsupportedMediaType, format!(
                "Unsupported Content-Type {ctype:?}: send application/yaml, text/plain or application/json"
            ),
        ))
    }
}

/// Validates; a failure is Rundeck's 400 body.
// The error is the finished 400 answer, built once per request.
#[allow(clippy::result_large_err)]
fn validate(name: &str, text: &str, scope: &PolicyScope) -> Result<(), Response> {
    let parsed = Policy::parse(name, text, scope).and_then(|p| {
        // a file of no documents is valid in a policy directory (Rundeck's
        // project archives hold such files), but uploading one is a mistake
        if p.documents() == 0 {
            Err(foredeck_core::acl::Validation {
                policies: vec![foredeck_core::acl::PolicyErrors {
                    policy: name.to_owned(),
                    errors: vec!["the policy holds no document".into()],
                }],
            })
        } else {
            Ok(p)
        }
    });
    parsed.map(|_| ()).map_err(|v| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "valid": false, "policies": v.policies })),
        )
            .into_response()
    })
}

pub(crate) async fn refresh(state: &ApiState) {
    if let Err(e) = state.authorizer.refresh().await {
        tracing::error!(error = %e, "reloading ACL policies after a change failed");
    }
}

async fn list(
    state: &ApiState,
    subject: &Subject,
    v: ApiVersion,
    t: Target,
) -> Result<Response, ApiError> {
    t.authorize(state, subject, "read").await?;
    let base = t.base(v);
    let resources: Vec<_> = state
        .store
        .list_acl_policies(t.project.as_deref())
        .await?
        .into_iter()
        .map(|p| {
            json!({
                "path": p.name,
                "type": "file",
                "name": p.name,
                "href": format!("{base}{}", p.name),
            })
        })
        .collect();
    Ok(Json(json!({
        "path": "",
        "type": "directory",
        "href": base,
        "resources": resources,
    }))
    .into_response())
}

async fn get(
    state: &ApiState,
    subject: &Subject,
    headers: &HeaderMap,
    t: Target,
    name: &str,
) -> Result<Response, ApiError> {
    t.authorize(state, subject, "read").await?;
    check_name(name)?;
    let p = state
        .store
        .get_acl_policy(t.project.as_deref(), name)
        .await?
        .ok_or_else(|| ApiError::not_found("Policy", name))?;
    Ok(policy_response(StatusCode::OK, headers, p.content))
}

#[allow(clippy::too_many_arguments)]
async fn put(
    state: &ApiState,
    subject: &Subject,
    from: &ClientAddr,
    headers: &HeaderMap,
    body: &Bytes,
    t: Target,
    name: &str,
    create: bool,
) -> Result<Response, ApiError> {
    let action = if create { "create" } else { "update" };
    t.authorize(state, subject, action).await?;
    check_name(name)?;
    let text = request_text(headers, body)?;
    let exists = state
        .store
        .get_acl_policy(t.project.as_deref(), name)
        .await?
        .is_some();
    if create && exists {
        return Err(ApiError::of(
            Code::AlreadyExists,
            format!("Policy already exists: {name}"),
        ));
    }
    if !create && !exists {
        return Err(ApiError::not_found("Policy", name));
    }
    if let Err(resp) = validate(name, &text, &t.scope()) {
        return Ok(resp);
    }
    state
        .store
        .put_acl_policy(&AclPolicy {
            project: t.project.clone(),
            name: name.to_owned(),
            content: text.clone(),
            modified: chrono::Utc::now(),
        })
        .await?;
    refresh(state).await;
    audit::by(
        state,
        subject,
        from,
        Change {
            action,
            resource_type: "acl_policy",
            resource: name,
            project: t.project.as_deref(),
            detail: json!({ "bytes": text.len() }),
        },
    )
    .await;
    let status = if create {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(policy_response(status, headers, text))
}

async fn delete(
    state: &ApiState,
    subject: &Subject,
    from: &ClientAddr,
    t: Target,
    name: &str,
) -> Result<Response, ApiError> {
    t.authorize(state, subject, "delete").await?;
    check_name(name)?;
    if state
        .store
        .get_acl_policy(t.project.as_deref(), name)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("Policy", name));
    }
    state
        .store
        .delete_acl_policy(t.project.as_deref(), name)
        .await?;
    refresh(state).await;
    audit::by(
        state,
        subject,
        from,
        Change {
            action: "delete",
            resource_type: "acl_policy",
            resource: name,
            project: t.project.as_deref(),
            detail: json!({}),
        },
    )
    .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/{v}/system/acl/`.
pub(crate) async fn system_list(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Extension(v): Extension<ApiVersion>,
) -> Result<Response, ApiError> {
    list(&state, &subject, v, Target { project: None }).await
}

/// `GET /api/{v}/system/acl/{name}`.
pub(crate) async fn system_get(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Path((_, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    get(&state, &subject, &headers, Target { project: None }, &name).await
}

/// `POST /api/{v}/system/acl/{name}`.
pub(crate) async fn system_create(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    from: ClientAddr,
    Path((_, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let t = Target { project: None };
    put(&state, &subject, &from, &headers, &body, t, &name, true).await
}

/// `PUT /api/{v}/system/acl/{name}`.
pub(crate) async fn system_update(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    from: ClientAddr,
    Path((_, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let t = Target { project: None };
    put(&state, &subject, &from, &headers, &body, t, &name, false).await
}

/// `DELETE /api/{v}/system/acl/{name}`.
pub(crate) async fn system_delete(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    from: ClientAddr,
    Path((_, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    delete(&state, &subject, &from, Target { project: None }, &name).await
}

/// `GET /api/{v}/project/{p}/acl/`.
pub(crate) async fn project_list(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Extension(v): Extension<ApiVersion>,
    Path((_, project)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let t = Target {
        project: Some(project),
    };
    list(&state, &subject, v, t).await
}

/// `GET /api/{v}/project/{p}/acl/{name}`.
pub(crate) async fn project_get(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Path((_, project, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let t = Target {
        project: Some(project),
    };
    get(&state, &subject, &headers, t, &name).await
}

/// `POST /api/{v}/project/{p}/acl/{name}`.
pub(crate) async fn project_create(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    from: ClientAddr,
    Path((_, project, name)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let t = Target {
        project: Some(project),
    };
    put(&state, &subject, &from, &headers, &body, t, &name, true).await
}

/// `PUT /api/{v}/project/{p}/acl/{name}`.
pub(crate) async fn project_update(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    from: ClientAddr,
    Path((_, project, name)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let t = Target {
        project: Some(project),
    };
    put(&state, &subject, &from, &headers, &body, t, &name, false).await
}

/// `DELETE /api/{v}/project/{p}/acl/{name}`.
pub(crate) async fn project_delete(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    from: ClientAddr,
    Path((_, project, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let t = Target {
        project: Some(project),
    };
    delete(&state, &subject, &from, t, &name).await
}
