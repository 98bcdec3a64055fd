//! Users: `/api/{v}/user/info[/{user}]` and `/api/{v}/user/list`.
//!
//! Anyone authenticated sees their own profile; other profiles and the list
//! need `admin` on `resource {kind: user}`, as in Rundeck.

use crate::auth::allowed_any;
use crate::error::ApiError;
use crate::ApiState;
use axum::extract::{Path, State};
use axum::routing;
use axum::Router;
use axum::{Extension, Json};
use foredeck_core::authorizer::{AuthContext, Resource, Subject};
use foredeck_core::User;
use serde_json::{json, Value};

/// The user routes: who am I, another user, the list.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/{v}/user/info", routing::get(me))
        .route("/api/{v}/user/info/{user}", routing::get(other))
        .route("/api/{v}/user/list", routing::get(list))
        .route("/api/{v}/user/list/", routing::get(list))
}

fn may_admin_users(state: &ApiState, s: &Subject) -> Result<(), ApiError> {
    let users = Resource::new("resource").with("kind", "user");
    if allowed_any(state, s, &["admin"], &users, &AuthContext::Application) {
        Ok(())
    } else {
        Err(ApiError::unauthorized("admin", "users"))
    }
}

fn profile(login: &str, u: Option<&User>) -> Value {
    json!({
        "login": login,
        "firstName": u.and_then(|u| u.first_name.clone()),
        "lastName": u.and_then(|u| u.last_name.clone()),
        "email": u.and_then(|u| u.email.clone()),
    })
}

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `GET /api/{v}/user/info`: the caller's profile.
pub(crate) async fn me(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
) -> Result<Json<Value>, ApiError> {
    let u = state.store.get_user(&subject.user).await?;
    Ok(Json(profile(&subject.user, u.as_ref())))
}

/// `GET /api/{v}/user/info/{user}`: another user's profile (admin).
pub(crate) async fn other(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Path((_, login)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    if login != subject.user {
        may_admin_users(&state, &subject)?;
    }
    let u = state
        .store
        .get_user(&login)
        .await?
        .ok_or_else(|| ApiError::not_found("User", &login))?;
    Ok(Json(profile(&login, Some(&u))))
}

/// `GET /api/{v}/user/list`: every user (admin), with Rundeck's v27 fields.
pub(crate) async fn list(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
) -> Result<Json<Value>, ApiError> {
    may_admin_users(&state, &subject)?;
    let tokens = state.store.list_tokens(None).await?;
    let users = state.store.list_users().await?;
    Ok(Json(Value::Array(
        users
            .iter()
            .map(|u| {
                let mut v = profile(&u.login, Some(u));
                v["created"] = json!(time(u.created));
                v["updated"] = json!(time(u.modified));
                v["tokens"] = json!(tokens.iter().filter(|t| t.user == u.login).count());
                v
            })
            .collect(),
    )))
}
