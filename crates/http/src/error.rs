//! Rundeck's error body.

use crate::api::CURRENT_API;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use foredeck_core::{Error, ErrorCode, ErrorKind, StartError};

/// An API error: a status and Rundeck's `{error, apiversion, errorCode,
/// message}` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Rundeck's error code (`api.error.item.doesnotexist`, ...).
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// An error.
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// 403: the subject may not do this (or the thing is hidden from it).
    pub fn unauthorized(action: &str, what: &str) -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "api.error.item.unauthorized",
            format!("Not authorized for action \"{action}\" for {what}"),
        )
    }

    /// 404: the named thing does not exist.
    pub fn not_found(kind: &str, id: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "api.error.item.doesnotexist",
            format!("{kind} does not exist: {id}"),
        )
    }

    /// 400: the request is malformed.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "api.error.invalid.request",
            message,
        )
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "api.error.request.toolarge",
                "The request body is too large",
            );
        }
        ApiError::invalid(format!("request body: {}", e.body_text()))
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let (status, code) = match e.kind() {
            ErrorKind::InvalidInput => (StatusCode::BAD_REQUEST, "api.error.invalid.request"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "api.error.item.doesnotexist"),
            ErrorKind::Conflict => (StatusCode::CONFLICT, "api.error.item.alreadyexists"),
            ErrorKind::Forbidden => (StatusCode::FORBIDDEN, "api.error.item.unauthorized"),
            ErrorKind::Remote | ErrorKind::Internal => {
                // Store messages can quote SQL and values: log them, do not
                // send them.
                tracing::error!(error = %e, code = e.code(), "request failed");
                return ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "api.error.unknown",
                    "Internal error; the server log has the details.",
                );
            }
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<StartError> for ApiError {
    fn from(e: StartError) -> Self {
        let message = e.to_string();
        match e {
            StartError::Unauthorized { action, job } => {
                ApiError::unauthorized(action, &format!("Job ID {job}"))
            }
            StartError::JobDisabled(_) | StartError::ProjectDisabled(_) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "api.error.execution.disabled",
                message,
            ),
            StartError::AlreadyRunning { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "api.error.execution.conflict",
                message,
            ),
            StartError::Invalid(m) => ApiError::invalid(m),
            StartError::Other(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": true,
            "apiversion": CURRENT_API,
            "errorCode": self.code,
            "message": self.message,
        });
        (self.status, Json(body)).into_response()
    }
}
