//! The audit log: recording changes, and `GET /api/{v}/system/audit` to read
//! it (admins only).
//!
//! Query parameters, all optional: `user`, `project`, `action`,
//! `resourceType`, `resource`, `begin` and `end` (RFC 3339 or epoch
//! milliseconds; `begin` inclusive, `end` exclusive), `offset`, `max`
//! (default 20, at most 1000). The answer is newest first:
//! `{"paging": {"count", "total", "offset", "max"}, "events": [...]}`.

use crate::error::ApiError;
use crate::extract::{client_addr, ClientAddr};
use crate::ApiState;
use axum::extract::{Query, State};
use axum::http::Extensions;
use axum::routing;
use axum::Router;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use foredeck_core::authorizer::{AuthContext, Resource, Subject};
use foredeck_core::{AuditEvent, AuditQuery};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The audit log route, `system/audit`.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route("/api/{v}/system/audit", routing::get(query))
}

/// The largest page of audit events served.
const MAX_PAGE: u64 = 1000;

/// One change to record.
pub(crate) struct Change<'a> {
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource: &'a str,
    pub project: Option<&'a str>,
    pub detail: Value,
}

/// Appends an audit event for a change that was made. A failure to record is
/// logged, not returned: the change itself is done.
pub(crate) async fn record(state: &ApiState, subject: &Subject, ext: &Extensions, c: Change<'_>) {
    append(state, &subject.user, client_addr(ext), c).await
}

/// [`record`] for a user name and the [`ClientAddr`] extractor.
pub(crate) async fn record_from(state: &ApiState, user: &str, from: &ClientAddr, c: Change<'_>) {
    append(state, user, from.0.clone(), c).await
}

/// [`record_from`] for a subject.
pub(crate) async fn by(state: &ApiState, who: &Subject, from: &ClientAddr, c: Change<'_>) {
    append(state, &who.user, from.0.clone(), c).await
}

/// The one place audit events are written.
pub(crate) async fn append(state: &ApiState, user: &str, source: Option<String>, c: Change<'_>) {
    let event = AuditEvent {
        id: 0,
        time: Utc::now(),
        user: user.to_owned(),
        action: c.action.to_owned(),
        resource_type: c.resource_type.to_owned(),
        resource: c.resource.to_owned(),
        project: c.project.map(str::to_owned),
        source,
        detail: c.detail,
    };
    if let Err(e) = state.store.append_audit(&event).await {
        tracing::error!(error = %e, action = c.action, resource = c.resource, "audit event not recorded");
    }
}

fn time_param(name: &str, v: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(ms) = v.parse::<i64>() {
        return DateTime::from_timestamp_millis(ms).ok_or_else(|| {
            ApiError::invalid(format!("parameter `{name}`: {v:?} is out of range"))
        });
    }
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            ApiError::invalid(format!(
                "parameter `{name}`: {v:?} is not an RFC 3339 time or epoch milliseconds ({e})"
            ))
        })
}

fn number_param(name: &str, v: &str) -> Result<u64, ApiError> {
    v.parse::<u64>().map_err(|_| {
        ApiError::invalid(format!(
            "parameter `{name}`: {v:?} is not a non-negative whole number"
        ))
    })
}

/// `GET /api/{v}/system/audit`.
pub(crate) async fn query(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let system = Resource::new("resource").with("kind", "system");
    if !state
        .authorizer
        .allowed(&subject, "admin", &system, &AuthContext::Application)
    {
        return Err(ApiError::unauthorized("admin", "the audit log"));
    }
    let mut q = AuditQuery::default();
    for (k, v) in &params {
        let text = || Some(v.clone()).filter(|s| !s.is_empty());
        match k.as_str() {
            "user" => q.user = text(),
            "project" => q.project = text(),
            "action" => q.action = text(),
            "resourceType" => q.resource_type = text(),
            "resource" => q.resource = text(),
            "begin" => q.since = Some(time_param(k, v)?),
            "end" => q.until = Some(time_param(k, v)?),
            "offset" => q.offset = number_param(k, v)?,
            "max" => q.max = number_param(k, v)?,
            "authtoken" => {}
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown parameter `{other}` (known: user, project, action, resourceType, resource, begin, end, offset, max)"
                )))
            }
        }
    }
    if q.max == 0 {
        q.max = 20;
    }
    if q.max > MAX_PAGE {
        return Err(ApiError::invalid(format!(
            "parameter `max`: at most {MAX_PAGE}"
        )));
    }
    let page = state.store.query_audit(&q).await?;
    let events: Vec<Value> = page
        .items
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "date": e.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "user": e.user,
                "action": e.action,
                "resourceType": e.resource_type,
                "resource": e.resource,
                "project": e.project,
                "source": e.source,
                "detail": e.detail,
            })
        })
        .collect();
    Ok(Json(json!({
        "paging": {
            "count": events.len(),
            "total": page.total,
            "offset": page.offset,
            "max": page.max,
        },
        "events": events,
    })))
}
