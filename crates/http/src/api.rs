//! API versions: `/api/{v}/...` accepts 14 to 59.

use crate::error::{ApiError, Code};
use crate::ApiState;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Router;

/// Any other path under `/api/{v}/`: Rundeck's 404.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route("/api/{v}/{*rest}", routing::any(not_found))
}

pub use crate::version::{ApiVersion, CURRENT_API, MIN_API};

/// Answers Rundeck's 400 body for versions outside 14..=59 (and for a
/// version that is not a number) before anything else runs.
pub(crate) async fn check_version(mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix("/api/") else {
        return next.run(req).await;
    };
    let v = rest.split('/').next().unwrap_or("");
    let reason = match v.parse::<u32>() {
        Ok(n) if (MIN_API..=CURRENT_API).contains(&n) => {
            req.extensions_mut().insert(ApiVersion(n));
            return next.run(req).await;
        }
        Ok(n) if n > CURRENT_API => format!("Current version: {CURRENT_API}"),
        _ => format!("Minimum supported version: {MIN_API}"),
    };
    ApiError::of(
        Code::ApiVersionUnsupported,
        format!("Unsupported API Version \"{v}\". API Request: {path}. Reason: {reason}"),
    )
    .into_response()
}

/// Any other path under `/api/{v}/`: Rundeck's 404 body (after
/// authentication, so that unauthenticated clients learn nothing).
pub(crate) async fn not_found(req: Request) -> ApiError {
    ApiError::of(
        Code::NoSuchRoute,
        format!("Invalid API request: {}", req.uri().path()),
    )
}
