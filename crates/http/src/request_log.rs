//! The access log: one `info` event per request on the target
//! [`TARGET`] (`foredeck::access`) with the method, the route template
//! (never the raw path, which can hold a webhook token or ids), the status,
//! the time to the response head, the authenticated user and a request id;
//! the reason of a 4xx at `debug` and of a 5xx at `error` on the same
//! target. The request id is the client's sane `X-Request-Id` or a new one,
//! and is answered in the `X-Request-Id` header.
//!
//! Handlers and layers tell this middleware what it cannot see through
//! response extensions: the authentication puts the [`User`] there, and
//! [`ApiError`](crate::ApiError) its [`Refusal`]. Request bodies, headers,
//! query strings and option values are never logged.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;
use tracing::Instrument;

/// The target of the access log and of the request failure events.
pub const TARGET: &str = "foredeck::access";

/// The header a request id is taken from and answered in.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest client request id that is reused.
const MAX_CLIENT_ID: usize = 128;

/// The authenticated user of a request, put into the response's extensions
/// by the authentication (token or session) or by a successful login.
#[derive(Clone, Debug)]
pub(crate) struct User(pub String);

/// Why a request was refused or failed: the error code and message an
/// [`ApiError`](crate::ApiError) answered with, in the response's
/// extensions.
#[derive(Clone, Debug)]
pub(crate) struct Refusal {
    pub code: String,
    pub message: String,
}

/// Logs each request (see the module's documentation) and answers its id.
pub(crate) async fn log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = client_id(&req).unwrap_or_else(new_id);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().clone();
    // what a reason quoting the request's path would leak, replaced by the
    // route template before it is logged
    let path = req.uri().path().to_owned();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    // an error span, so that the failures logged while the request is
    // handled carry its id whenever errors are logged at all
    let span = tracing::error_span!("request", id = id.as_str());
    let mut resp = next.run(req).instrument(span).await;
    let millis = (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
    let status = resp.status().as_u16();
    let user = resp.extensions().get::<User>().map(|u| u.0.as_str());
    tracing::info!(
        target: TARGET,
        method = method.as_str(),
        route = route.as_str(),
        status,
        duration_ms = millis,
        user,
        request_id = id.as_str(),
        "request"
    );
    if resp.status().is_client_error() || resp.status().is_server_error() {
        let refusal = resp.extensions().get::<Refusal>();
        let code = refusal.map(|r| r.code.as_str());
        let reason = refusal.map_or_else(
            || resp.status().canonical_reason().unwrap_or("").to_owned(),
            |r| {
                r.message
                    .replace(&path_and_query, &route)
                    .replace(&path, &route)
            },
        );
        if resp.status().is_server_error() {
            tracing::error!(
                target: TARGET,
                method = method.as_str(),
                route = route.as_str(),
                status,
                user,
                code,
                reason = reason.as_str(),
                request_id = id.as_str(),
                "request failed"
            );
        } else {
            tracing::debug!(
                target: TARGET,
                method = method.as_str(),
                route = route.as_str(),
                status,
                user,
                code,
                reason = reason.as_str(),
                request_id = id.as_str(),
                "request refused"
            );
        }
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    resp
}

/// The client's `X-Request-Id` when it is sane: 1 to 128 printable ASCII
/// characters without spaces (what proxies send: uuids, trace ids).
fn client_id(req: &Request) -> Option<String> {
    let v = req.headers().get(REQUEST_ID_HEADER)?.as_bytes();
    let sane = !v.is_empty() && v.len() <= MAX_CLIENT_ID && v.iter().all(|b| b.is_ascii_graphic());
    // printable ASCII is UTF-8
    sane.then(|| String::from_utf8_lossy(v).into_owned())
}

/// A new request id: this process's random prefix and a counter, unique
/// within the process and, by the prefix, across the servers of a cluster.
fn new_id() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(|| {
        let random = uuid::Uuid::new_v4().simple().to_string();
        random.get(..12).unwrap_or(&random).to_owned()
    });
    format!("{prefix}-{:08x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests;
