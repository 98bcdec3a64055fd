//! API tokens and the built-in role authorizer.
//!
//! A token's secret is shown once, when it is made; the store keeps its
//! SHA-256 only, so the database never holds a usable token.

use crate::error::ApiError;
use crate::ApiState;
use axum::extract::{Query, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use foredeck_core::authorizer::{AuthContext, Decision, Resource, Subject};
use foredeck_core::Authorizer;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};

/// The header Rundeck clients send their token in.
pub const TOKEN_HEADER: &str = "X-Rundeck-Auth-Token";

/// The hash a token is stored and looked up by (hex SHA-256). Tokens are
/// long random strings, so a fast hash is enough.
pub fn hash_token(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new random token secret: 32 bytes from the operating system, as 64 hex
/// characters.
pub fn new_token_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// Finds the request's token, checks it, and puts its [`Subject`] into the
/// request's extensions; answers 403 without one.
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
        ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "api.error.item.unauthorized",
            "Not authenticated: send a valid API token (X-Rundeck-Auth-Token)",
        )
        .into_response()
    };
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return denied();
    };
    let token = match state.store.find_token(&hash_token(&secret)).await {
        Ok(Some(t)) => t,
        Ok(None) => return denied(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    if token
        .expiration
        .is_some_and(|exp| exp <= chrono::Utc::now())
    {
        return denied();
    }
    req.extensions_mut()
        .insert(Subject::new(token.user, token.roles));
    next.run(req).await
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
