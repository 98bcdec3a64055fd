//! Users: `/api/{v}/user/info[/{user}]` (read, and `POST` to change first
//! name, last name and email), `/api/{v}/user/list` and `/api/{v}/user/roles`.
//!
//! Anyone authenticated sees and changes their own profile and sees their
//! roles; other profiles and the list need `admin` on
//! `resource {kind: user}`, as in Rundeck.

use crate::auth::allowed_any;
use crate::error::ApiError;
use crate::extract::Caller;
use crate::ApiState;
use axum::body::Bytes;
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
        .route("/api/{v}/user/info", routing::get(me).post(change_me))
        .route("/api/{v}/user/info/", routing::get(me).post(change_me))
        .route(
            "/api/{v}/user/info/{user}",
            routing::get(other).post(change_other),
        )
        .route("/api/{v}/user/roles", routing::get(roles))
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

/// `GET /api/{v}/user/roles`: the caller's roles (those of their token or
/// session), sorted.
pub(crate) async fn roles(Extension(subject): Extension<Subject>) -> Json<Value> {
    Json(json!({ "roles": subject.groups.iter().collect::<Vec<_>>() }))
}

/// Longest first name, last name or email taken.
const MAX_FIELD: usize = 255;

/// The profile fields a `POST user/info` body sets: `Some(None)` clears
/// (an empty string); absent keys (and `null`, read as absent like every
/// body here) change nothing; other keys are ignored as Rundeck ignores
/// them.
#[derive(Debug, Default, PartialEq)]
struct ProfileChange {
    first_name: Option<Option<String>>,
    last_name: Option<Option<String>>,
    email: Option<Option<String>>,
}

fn profile_change(body: &Bytes) -> Result<ProfileChange, ApiError> {
    let v: Value = crate::extract::optional_json(body)?.ok_or_else(|| {
        ApiError::invalid("request body: expected {\"firstName\", \"lastName\", \"email\"}")
    })?;
    let Value::Object(o) = v else {
        return Err(ApiError::invalid(
            "request body: expected a JSON object with firstName, lastName or email",
        ));
    };
    let field = |name: &str| -> Result<Option<Option<String>>, ApiError> {
        match o.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.chars().count() > MAX_FIELD || s.chars().any(char::is_control) {
                    return Err(ApiError::invalid(format!(
                        "{name}: at most {MAX_FIELD} characters, without control characters"
                    )));
                }
                Ok(Some((!s.is_empty()).then(|| s.to_owned())))
            }
            Some(other) => Err(ApiError::invalid(format!(
                "{name}: {other} is not a string"
            ))),
        }
    };
    let change = ProfileChange {
        first_name: field("firstName")?,
        last_name: field("lastName")?,
        email: field("email")?,
    };
    if let Some(Some(e)) = &change.email {
        if !looks_like_email(e) {
            return Err(ApiError::invalid(format!(
                "email: {e:?} is not an email address"
            )));
        }
    }
    Ok(change)
}

/// `local@domain` with a dot in the domain and no blanks, as Rundeck's
/// email constraint asks.
fn looks_like_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain.contains('.')
        && !domain.contains('@')
        && !e.chars().any(char::is_whitespace)
}

async fn apply_change(
    state: &ApiState,
    caller: &Caller,
    login: &str,
    mut user: User,
    change: ProfileChange,
) -> Result<Json<Value>, ApiError> {
    if let Some(v) = change.first_name {
        user.first_name = v;
    }
    if let Some(v) = change.last_name {
        user.last_name = v;
    }
    if let Some(v) = change.email {
        user.email = v;
    }
    user.modified = chrono::Utc::now();
    state.store.put_user(&user).await?;
    state
        .audit(
            caller,
            "update",
            "user",
            login,
            None,
            json!({"profile": true}),
        )
        .await;
    Ok(Json(profile(login, Some(&user))))
}

/// `POST /api/{v}/user/info`: changes the caller's profile. A caller known
/// only by an API token gets a profile record (no password, no roles: it
/// grants nothing).
pub(crate) async fn change_me(
    State(state): State<ApiState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let change = profile_change(&body)?;
    let login = caller.subject.user.clone();
    let user = match state.store.get_user(&login).await? {
        Some(u) => u,
        None => {
            let now = chrono::Utc::now();
            User {
                login: login.clone(),
                password_hash: None,
                roles: Vec::new(),
                email: None,
                first_name: None,
                last_name: None,
                created: now,
                modified: now,
            }
        }
    };
    apply_change(&state, &caller, &login, user, change).await
}

/// `POST /api/{v}/user/info/{user}`: changes another user's profile
/// (`admin` on users; one's own needs nothing more).
pub(crate) async fn change_other(
    State(state): State<ApiState>,
    caller: Caller,
    Path((_, login)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    if login != caller.subject.user {
        may_admin_users(&state, &caller.subject)?;
    } else {
        return change_me(State(state), caller, body).await;
    }
    let change = profile_change(&body)?;
    let user = state
        .store
        .get_user(&login)
        .await?
        .ok_or_else(|| ApiError::not_found("User", &login))?;
    apply_change(&state, &caller, &login, user, change).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn profile_changes() {
        let c = |s: &str| profile_change(&Bytes::from(s.to_owned()));
        assert_eq!(
            c(r#"{"firstName":" Ann ","email":"","lastName":null,"other":1}"#).unwrap(),
            ProfileChange {
                first_name: Some(Some("Ann".into())),
                last_name: None,
                email: Some(None),
            }
        );
        assert_eq!(c(r#"{"lastName":""}"#).unwrap().last_name, Some(None));
        for bad in [
            "",
            "[]",
            r#"{"email":"no-at"}"#,
            r#"{"firstName":3}"#,
            "{",
            r#"{"email":"a@b"}"#,
        ] {
            assert!(c(bad).is_err(), "{bad}");
        }
        assert!(looks_like_email("ann@example.com"));
        assert!(!looks_like_email("ann@@example.com"));
        assert!(!looks_like_email("a nn@example.com"));
    }
}
