//! API tokens and the built-in role authorizer.
//!
//! A token's secret is shown once, when it is made; the store keeps its
//! SHA-256 only, so the database never holds a usable token.

use crate::error::{ApiError, Code};
use crate::request_log::User;
use crate::ApiState;
use axum::extract::{Query, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use foredeck_core::authorizer::{AuthContext, Decision, Resource, Subject};
use foredeck_core::Authorizer;
use std::collections::{BTreeSet, HashMap};

/// The header Rundeck clients send their token in.
pub const TOKEN_HEADER: &str = "X-Rundeck-Auth-Token";

pub use crate::secret::{hash_token, new_token_secret};

/// Finds the request's credentials (an API token, else a session cookie),
/// checks them, and puts the [`Subject`] into the request's extensions
/// (and its user name into the response's, for the access log);
/// answers 403 without valid ones. A cookie-authenticated request that
/// changes something must carry the session's CSRF token
/// ([`CSRF_HEADER`](crate::session::CSRF_HEADER)).
pub(crate) async fn authenticate(
    State(state): State<ApiState>,
    mut req: Request,
    next: Next,
) -> Response {
    let header = req
        .headers()
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let secret = header.or_else(|| {
        Query::<HashMap<String, String>>::try_from_uri(req.uri())
            .ok()
            .and_then(|q| q.0.get("authtoken").cloned())
    });
    let denied = || {
        ApiError::of(
            Code::Unauthorized,
            "Not authenticated: send a valid API token (X-Rundeck-Auth-Token)",
        )
        .into_response()
    };
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return by_session(&state, req, next).await;
    };
    let hash = hash_token(&secret);
    let addr = crate::extract::client_addr(req.extensions());
    let token = match state.tokens.get(&hash) {
        Some(t) => t,
        None => match look_up(&state, addr.as_deref(), &hash).await {
            Err(refused) => return refused,
            Ok(Ok(Some(t))) => {
                let known = KnownToken {
                    subject: Subject::new(t.user, t.roles),
                    expiration: t.expiration,
                };
                state.tokens.put(hash, known.clone());
                known
            }
            Ok(Ok(None)) => {
                if let Some(addr) = &addr {
                    state.token_guard.failed(addr);
                }
                return denied();
            }
            Ok(Err(e)) => return ApiError::from(e).into_response(),
        },
    };
    if token
        .expiration
        .is_some_and(|exp| exp <= chrono::Utc::now())
    {
        return denied();
    }
    let user = User(token.subject.user.clone());
    req.extensions_mut().insert(token.subject);
    let mut resp = next.run(req).await;
    resp.extensions_mut().insert(user);
    resp
}

/// Looks a token up in the store, unless its address sent too many unknown
/// tokens lately (429) or too many lookups are under way (503): the
/// refusals cost no store work and no slot of an authenticated request.
async fn look_up(
    state: &ApiState,
    addr: Option<&str>,
    hash: &str,
) -> Result<foredeck_core::Result<Option<foredeck_core::ApiToken>>, Response> {
    if let Some(addr) = addr {
        if let Some(wait) = state.token_guard.refused_for(addr) {
            let secs = wait.as_secs().max(1);
            let mut resp = ApiError::of(
                Code::AuthThrottled,
                format!(
                    "Too many invalid API tokens from {addr}: tokens not known to this \
                     server are refused for {secs} s more"
                ),
            )
            .into_response();
            if let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
            return Err(resp);
        }
    }
    let Ok(_permit) = state.unauthenticated.try_acquire() else {
        return Err(ApiError::of(
            Code::Overloaded,
            "The server is checking too many unknown API tokens; try again shortly.",
        )
        .into_response());
    };
    Ok(state.store.find_token(hash).await)
}

/// GET routes that change something (Rundeck's API has them): a
/// cookie-authenticated GET of one of these needs the CSRF token too.
pub(crate) const CHANGING_GETS: &[&str] = &["/api/{v}/execution/{id}/abort"];

/// What a request needs of a token found in the store.
#[derive(Clone, Debug)]
pub(crate) struct KnownToken {
    subject: Subject,
    expiration: Option<chrono::DateTime<chrono::Utc>>,
}

/// Authentication by session cookie, with the CSRF check.
async fn by_session(state: &ApiState, mut req: Request, next: Next) -> Response {
    use crate::session::{csrf_matches, from_cookie, CookieAuth, CSRF_HEADER};
    let CookieAuth::Session(subject, csrf) = from_cookie(state, req.headers()) else {
        return ApiError::of(
            Code::Unauthorized,
            "Not authenticated: send a valid API token (X-Rundeck-Auth-Token) or log in",
        )
        .into_response();
    };
    let changing_get = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .is_some_and(|p| CHANGING_GETS.contains(&p.as_str()));
    let safe = !changing_get
        && matches!(
            *req.method(),
            axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
        );
    if !safe {
        let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !csrf_matches(sent, &csrf) {
            return ApiError::of(
                Code::Csrf,
                format!(
                    "A session-authenticated {} of {} must send the session's {CSRF_HEADER} header",
                    req.method(),
                    req.uri().path()
                ),
            )
            .into_response();
        }
    }
    let user = User(subject.user.clone());
    req.extensions_mut().insert(subject);
    let mut resp = next.run(req).await;
    resp.extensions_mut().insert(user);
    if let Ok(v) = axum::http::HeaderValue::from_str(&csrf) {
        resp.headers_mut().insert(CSRF_HEADER, v);
    }
    resp
}

/// Whether any of `actions` is allowed (Rundeck checks an action or
/// `admin` alike).
pub(crate) fn allowed_any(
    state: &ApiState,
    subject: &Subject,
    actions: &[&str],
    resource: &Resource,
    context: &AuthContext,
) -> bool {
    // A deny of any of them wins, as in one Rundeck decision set.
    let decisions: Vec<Decision> = actions
        .iter()
        .map(|a| state.authorizer.decide(subject, a, resource, context))
        .collect();
    !decisions.iter().any(|d| matches!(d, Decision::Deny(_)))
        && decisions.iter().any(Decision::allowed)
}

/// Allows everything to members of its roles and nothing to anyone else:
/// what Rundeck's default `admin.aclpolicy` grants the `admin` group. The
/// server uses it until `.aclpolicy` evaluation is in place.
#[derive(Clone, Debug)]
pub struct RoleAuthorizer {
    roles: BTreeSet<String>,
}

impl RoleAuthorizer {
    /// Full access for these roles.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(roles: I) -> Self {
        RoleAuthorizer {
            roles: roles.into_iter().map(Into::into).collect(),
        }
    }
}

impl Authorizer for RoleAuthorizer {
    fn allows_every(
        &self,
        subject: &Subject,
        _action: &str,
        _kind: &str,
        _context: &AuthContext,
    ) -> bool {
        subject.groups.iter().any(|g| self.roles.contains(g))
    }

    fn decide(
        &self,
        subject: &Subject,
        _action: &str,
        _resource: &Resource,
        _context: &AuthContext,
    ) -> Decision {
        if subject.groups.iter().any(|g| self.roles.contains(g)) {
            Decision::Allow
        } else {
            Decision::Reject
        }
    }
}
