//! API tokens: `/api/{v}/tokens[/{user}]` (list, create),
//! `/api/{v}/token/{id}` (get, delete) and
//! `/api/{v}/tokens/{user}/removeExpired` (one's own expired tokens, or, with
//! `admin`, another user's or everyone's with `*`).
//!
//! A token's secret is in the creation response only; the store keeps its
//! SHA-256. Authorization follows Rundeck: a "user token" (for oneself, with
//! some of one's own roles) needs `generate_user_token` on
//! `resource {kind: apitoken}`; a "service token" (another user name or extra
//! roles) needs `generate_service_token` there and `create` on the
//! `apitoken` type with `username` and the extra `roles`; `admin` allows
//! any token and seeing everyone's.

use crate::audit::{self, Change};
use crate::auth::{allowed_any, hash_token, new_token_secret};
use crate::error::ApiError;
use crate::extract::ClientAddr;
use crate::views::tokens::{time, token_json};
use crate::{ApiState, ApiVersion};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing;
use axum::Router;
use axum::{Extension, Json};
use foredeck_core::authorizer::{AuthContext, Resource, Subject};
use foredeck_core::ApiToken;
use serde::Deserialize;
use serde_json::{json, Value};

/// The API token routes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/api/{v}/tokens",
            routing::get(list_all)
                .layer(axum::middleware::from_fn(crate::extract::json_only))
                .post(create),
        )
        .route(
            "/api/{v}/tokens/{user}",
            routing::get(list_user)
                .layer(axum::middleware::from_fn(crate::extract::json_only))
                .post(create_for),
        )
        .route(
            "/api/{v}/token/{id}",
            routing::get(get)
                .layer(axum::middleware::from_fn(crate::extract::json_only))
                .delete(delete),
        )
        .route(
            "/api/{v}/tokens/{user}/removeExpired",
            routing::post(remove_expired),
        )
}

const MAX_TEXT: usize = 200;

fn kind_apitoken() -> Resource {
    Resource::new("resource").with("kind", "apitoken")
}

fn is_admin(state: &ApiState, s: &Subject) -> bool {
    allowed_any(
        state,
        s,
        &["admin"],
        &kind_apitoken(),
        &AuthContext::Application,
    )
}

/// Whether `s` may see or delete `t`.
fn may_see(state: &ApiState, s: &Subject, t: &ApiToken) -> bool {
    t.user == s.user || t.creator == s.user || is_admin(state, s)
}

/// A duration as Rundeck writes it: numbers with units, `120d`, `1d12h`,
/// `90m` (`s`, `m`, `h`, `d`, `w`, `y`).
pub(crate) fn parse_duration(text: &str) -> Result<chrono::Duration, String> {
    let bad = |why: &str| format!("duration {text:?}: {why} (expected e.g. 30d, 12h, 1d12h)");
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let per: i64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            'y' => 365 * 86_400,
            _ => return Err(bad(&format!("unknown unit '{c}'"))),
        };
        let n: i64 = digits.parse().map_err(|_| bad("a unit without a number"))?;
        digits.clear();
        total = n
            .checked_mul(per)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(|| bad("too long"))?;
    }
    if !digits.is_empty() {
        // A bare number is seconds.
        let n: i64 = digits.parse().map_err(|_| bad("not a number"))?;
        total = total.checked_add(n).ok_or_else(|| bad("too long"))?;
    }
    chrono::Duration::try_seconds(total).ok_or_else(|| bad("too long"))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Roles {
    List(Vec<String>),
    Text(String),
}

/// Rundeck's keys; others are ignored, `null` is absent.
#[derive(Deserialize, Default)]
pub(crate) struct CreateToken {
    user: Option<String>,
    roles: Option<Roles>,
    duration: Option<String>,
    name: Option<String>,
}

fn check_text(field: &str, v: &str) -> Result<(), ApiError> {
    if v.is_empty() || v.len() > MAX_TEXT || v.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "{field} {v:?}: must be 1 to {MAX_TEXT} characters without control characters"
        )));
    }
    Ok(())
}

/// `GET /api/{v}/tokens`: every token for `admin`, one's own otherwise.
pub(crate) async fn list_all(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
) -> Result<Json<Value>, ApiError> {
    let all = state.store.list_tokens(None).await?;
    Ok(Json(Value::Array(
        all.iter()
            .filter(|t| may_see(&state, &subject, t))
            .map(token_json)
            .collect(),
    )))
}

/// `GET /api/{v}/tokens/{user}`.
pub(crate) async fn list_user(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Path((_, user)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    if user != subject.user && !is_admin(&state, &subject) {
        return Err(ApiError::unauthorized("read", "the tokens of another user"));
    }
    let all = state.store.list_tokens(Some(&user)).await?;
    Ok(Json(Value::Array(all.iter().map(token_json).collect())))
}

/// `POST /api/{v}/tokens`.
pub(crate) async fn create(
    state: State<ApiState>,
    subject: Extension<Subject>,
    v: Extension<ApiVersion>,
    from: ClientAddr,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    make(state, subject, v, from, None, body).await
}

/// `POST /api/{v}/tokens/{user}`.
pub(crate) async fn create_for(
    state: State<ApiState>,
    subject: Extension<Subject>,
    v: Extension<ApiVersion>,
    from: ClientAddr,
    Path((_, user)): Path<(String, String)>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    make(state, subject, v, from, Some(user), body).await
}

async fn make(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Extension(v): Extension<ApiVersion>,
    from: ClientAddr,
    url_user: Option<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let app = AuthContext::Application;
    // Before anything else: may this subject make tokens at all?
    if !allowed_any(
        &state,
        &subject,
        &["generate_user_token", "generate_service_token", "admin"],
        &kind_apitoken(),
        &app,
    ) {
        return Err(ApiError::unauthorized("generate_user_token", "API tokens"));
    }
    let req = match body {
        Ok(Json(b)) => crate::extract::lenient::<CreateToken>(b)?,
        // Before v19 a token for a user in the URL needs no body.
        Err(_) if v.0 < 19 && url_user.is_some() => CreateToken::default(),
        Err(e) => return Err(e.into()),
    };
    let user = url_user
        .or(req.user)
        .ok_or_else(|| ApiError::invalid("The user is required (in the URL or as `user`)"))?;
    check_text("user", &user)?;
    let mut roles: Vec<String> = match req.roles {
        Some(Roles::Text(t)) if t.trim() == "*" && user == subject.user => {
            subject.groups.iter().cloned().collect()
        }
        Some(Roles::Text(t)) => t.split(',').map(|r| r.trim().to_owned()).collect(),
        Some(Roles::List(l)) => l.into_iter().map(|r| r.trim().to_owned()).collect(),
        None if v.0 < 19 => vec!["api_token_group".to_owned()],
        None => return Err(ApiError::invalid("`roles` is required")),
    };
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(ApiError::invalid("`roles` must name at least one role"));
    }
    for r in &roles {
        check_text("role", r)?;
        if r.contains(',') {
            return Err(ApiError::invalid(format!("role {r:?}: no commas")));
        }
    }
    if let Some(n) = &req.name {
        check_text("name", n)?;
    }
    let max = state.token_max_duration;
    let duration = match req.duration.as_deref().map(str::trim) {
        None | Some("") => max,
        Some(d) => parse_duration(d).map_err(ApiError::invalid)?,
    };
    if duration <= chrono::Duration::zero() || duration > max {
        return Err(ApiError::invalid(format!(
            "duration: must be more than 0 and at most {} days",
            max.num_days()
        )));
    }
    let extra: Vec<&String> = roles
        .iter()
        .filter(|r| !subject.groups.contains(*r))
        .collect();
    let service = user != subject.user || !extra.is_empty();
    if service && !is_admin(&state, &subject) {
        let generic = allowed_any(
            &state,
            &subject,
            &["generate_service_token"],
            &kind_apitoken(),
            &app,
        );
        let specific = Resource::new("apitoken")
            .with("username", user.clone())
            .with(
                "roles",
                extra
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            );
        if !generic || !allowed_any(&state, &subject, &["create"], &specific, &app) {
            return Err(ApiError::unauthorized(
                "create",
                "an API token for this user name and roles",
            ));
        }
    }
    let secret = new_token_secret()
        .map_err(|e| ApiError::from(foredeck_core::Error::Store(format!("random token: {e}"))))?;
    let now = chrono::Utc::now();
    let token = ApiToken {
        id: uuid::Uuid::new_v4().to_string(),
        token_hash: hash_token(&secret),
        user,
        roles,
        name: req.name,
        creator: subject.user.clone(),
        created: now,
        expiration: Some(now + duration),
    };
    state.store.create_token(&token).await?;
    audit::by(
        &state,
        &subject,
        &from,
        Change {
            action: "create",
            resource_type: "token",
            resource: &token.id,
            project: None,
            detail: json!({ "user": token.user, "roles": token.roles, "expiration": token.expiration.map(time) }),
        },
    )
    .await;
    let mut out = token_json(&token);
    out["token"] = json!(secret);
    Ok((StatusCode::CREATED, Json(out)))
}

async fn visible(state: &ApiState, s: &Subject, id: &str) -> Result<ApiToken, ApiError> {
    // Tokens one may not see answer like missing ones.
    state
        .store
        .list_tokens(None)
        .await?
        .into_iter()
        .find(|t| t.id == id && may_see(state, s, t))
        .ok_or_else(|| ApiError::not_found("Token", id))
}

/// `GET /api/{v}/token/{id}`.
pub(crate) async fn get(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(token_json(&visible(&state, &subject, &id).await?)))
}

/// `DELETE /api/{v}/token/{id}`.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    from: ClientAddr,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let t = visible(&state, &subject, &id).await?;
    state.store.delete_token(&t.id).await?;
    state.tokens.forget(&t.token_hash);
    audit::by(
        &state,
        &subject,
        &from,
        Change {
            action: "delete",
            resource_type: "token",
            resource: &t.id,
            project: None,
            detail: json!({ "user": t.user }),
        },
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/{v}/tokens/{user}/removeExpired`: deletes the user's expired
/// tokens (`*`: every user's); one's own need nothing more, others'
/// `admin` on `resource {kind: apitoken}`. Answers Rundeck's
/// `{count, message}`.
pub(crate) async fn remove_expired(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    from: ClientAddr,
    Path((_, user)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    if user != subject.user && !is_admin(&state, &subject) {
        return Err(ApiError::unauthorized(
            "admin",
            &format!("the API tokens of {user}"),
        ));
    }
    let whose = (user != "*").then_some(user.as_str());
    let now = chrono::Utc::now();
    let expired: Vec<ApiToken> = state
        .store
        .list_tokens(whose)
        .await?
        .into_iter()
        .filter(|t| t.expiration.is_some_and(|e| e <= now))
        .collect();
    let mut count = 0usize;
    for t in &expired {
        match state.store.delete_token(&t.id).await {
            Ok(()) => count += 1,
            // deleted meanwhile by someone else: not ours to count
            Err(foredeck_core::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        state.tokens.forget(&t.token_hash);
    }
    audit::by(
        &state,
        &subject,
        &from,
        Change {
            action: "delete",
            resource_type: "token",
            resource: "expired",
            project: None,
            detail: json!({ "user": user, "count": count }),
        },
    )
    .await;
    Ok(Json(json!({
        "count": count,
        "message": format!("Removed {count} expired tokens"),
    })))
}
