//! Audit events for changes made through the API: who, what, when, from
//! where.

use crate::ApiState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use foredeck_core::authorizer::Subject;
use foredeck_core::AuditEvent;
use serde_json::Value;
use std::convert::Infallible;
use std::net::SocketAddr;

/// The client's address, when the server was started with connection info
/// (`into_make_service_with_connect_info`); tests calling the router
/// directly have none.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
        ))
    }
}

/// What was done, to record.
#[derive(Debug)]
pub(crate) struct Change<'a> {
    /// `create`, `update`, `delete`, `login`, `logout`, ...
    pub action: &'a str,
    /// `acl_policy`, `token`, `key`, `session`, ...
    pub resource_type: &'a str,
    /// Which one (policy name, token id, key path, user).
    pub resource: &'a str,
    /// Project, if any.
    pub project: Option<&'a str>,
    /// More detail; never secrets.
    pub detail: Value,
}

/// Appends an audit event. The change itself is done already, so a failure
/// to record it is logged, not returned.
pub(crate) async fn record(state: &ApiState, user: &str, from: &ClientAddr, c: Change<'_>) {
    let event = AuditEvent {
        id: 0,
        time: chrono::Utc::now(),
        user: user.to_owned(),
        action: c.action.to_owned(),
        resource_type: c.resource_type.to_owned(),
        resource: c.resource.to_owned(),
        project: c.project.map(str::to_owned),
        source: from.0.clone(),
        detail: c.detail,
    };
    if let Err(e) = state.store.append_audit(&event).await {
        tracing::error!(error = %e, action = c.action, resource = c.resource, "could not record an audit event");
    }
}

/// [`record`] for a subject.
pub(crate) async fn by(state: &ApiState, who: &Subject, from: &ClientAddr, c: Change<'_>) {
    record(state, &who.user, from, c).await
}
