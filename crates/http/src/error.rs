//! Rundeck's error body.

use crate::version::CURRENT_API;
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

/// Rundeck's error codes, each with the HTTP status it is answered with:
/// the one table of them. A code can come with more than one status
/// (`api.error.invalid.request` is a 400, a 404 for a path that is no route
/// and a 415 for a body type not taken), each its own row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Code {
    /// The API version of the path is not served.
    ApiVersionUnsupported,
    /// Too many unknown API tokens from one address.
    AuthThrottled,
    /// A session-authenticated change without the session's CSRF token.
    Csrf,
    /// An execution that cannot be deleted (it is still running).
    ExecDeleteFailed,
    /// The job runs already and does not allow multiple executions.
    ExecutionConflict,
    /// The job's or the project's executions are disabled.
    ExecutionDisabled,
    /// The execution is still running.
    ExecutionRunning,
    /// The request is malformed.
    InvalidRequest,
    /// The body's content type is not taken.
    UnsupportedMediaType,
    /// No route has this path.
    NoSuchRoute,
    /// The thing to create exists.
    AlreadyExists,
    /// The named thing does not exist.
    DoesNotExist,
    /// The subject may not do this.
    Unauthorized,
    /// A job document format that is not taken.
    ImportFormatUnsupported,
    /// An answer format the route does not serve (job list export).
    FormatNotAcceptable,
    /// An answer format the route does not serve (one job's definition).
    FormatUnsupported,
    /// A node document format no resource generator writes.
    ResourceFormatUnsupported,
    /// The server handles too many requests or connections.
    Overloaded,
    /// A required parameter is missing.
    ParameterRequired,
    /// The request body is too large.
    TooLarge,
    /// A key's content is never returned.
    ResourceUnauthorized,
    /// Key storage is not configured.
    StorageUnavailable,
    /// Something failed inside the server.
    Unknown,
    /// The webhook is disabled.
    WebhookDisabled,
    /// The webhook's payload is too large.
    WebhookPayloadTooLarge,
}

impl Code {
    /// The HTTP status and Rundeck's code.
    pub(crate) const fn parts(self) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            Code::ApiVersionUnsupported => (S::BAD_REQUEST, "api.error.api-version.unsupported"),
            Code::AuthThrottled => (S::TOO_MANY_REQUESTS, "api.error.auth.throttled"),
            Code::Csrf => (S::FORBIDDEN, "api.error.csrf"),
            Code::ExecDeleteFailed => (S::CONFLICT, "api.error.exec.delete.failed"),
            Code::ExecutionConflict => (S::CONFLICT, "api.error.execution.conflict"),
            Code::ExecutionDisabled => (S::BAD_REQUEST, "api.error.execution.disabled"),
            Code::ExecutionRunning => (S::CONFLICT, "api.error.execution.running"),
            Code::InvalidRequest => (S::BAD_REQUEST, "api.error.invalid.request"),
            Code::UnsupportedMediaType => (S::UNSUPPORTED_MEDIA_TYPE, "api.error.invalid.request"),
            Code::NoSuchRoute => (S::NOT_FOUND, "api.error.invalid.request"),
            Code::AlreadyExists => (S::CONFLICT, "api.error.item.alreadyexists"),
            Code::DoesNotExist => (S::NOT_FOUND, "api.error.item.doesnotexist"),
            Code::Unauthorized => (S::FORBIDDEN, "api.error.item.unauthorized"),
            Code::ImportFormatUnsupported => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "api.error.jobs.import.format.unsupported",
            ),
            Code::FormatNotAcceptable => (S::NOT_ACCEPTABLE, "api.error.item.unsupported-format"),
            Code::FormatUnsupported => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "api.error.item.unsupported-format",
            ),
            Code::ResourceFormatUnsupported => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "api.error.resource.format.unsupported",
            ),
            Code::Overloaded => (S::SERVICE_UNAVAILABLE, "api.error.overloaded"),
            Code::ParameterRequired => (S::BAD_REQUEST, "api.error.parameter.required"),
            Code::TooLarge => (S::PAYLOAD_TOO_LARGE, "api.error.request.toolarge"),
            Code::ResourceUnauthorized => (S::FORBIDDEN, "api.error.resource.unauthorized"),
            Code::StorageUnavailable => (S::SERVICE_UNAVAILABLE, "api.error.storage.unavailable"),
            Code::Unknown => (S::INTERNAL_SERVER_ERROR, "api.error.unknown"),
            Code::WebhookDisabled => (S::BAD_REQUEST, "api.error.webhook.disabled"),
            Code::WebhookPayloadTooLarge => (S::PAYLOAD_TOO_LARGE, "api.error.webhook.payload"),
        }
    }

    /// Rundeck's code.
    pub(crate) const fn as_str(self) -> &'static str {
        self.parts().1
    }
}

impl ApiError {
    /// An error with any status and code; the server's own errors use
    /// [`Code`]'s table.
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// An error of the [`Code`] table.
    pub(crate) fn of(code: Code, message: impl Into<String>) -> Self {
        let (status, code) = code.parts();
        ApiError::new(status, code, message)
    }

    /// 403: the subject may not do this (or the thing is hidden from it).
    pub fn unauthorized(action: &str, what: &str) -> Self {
        ApiError::of(
            Code::Unauthorized,
            format!("Not authorized for action \"{action}\" for {what}"),
        )
    }

    /// 404: the named thing does not exist.
    pub fn not_found(kind: &str, id: &str) -> Self {
        ApiError::of(Code::DoesNotExist, format!("{kind} does not exist: {id}"))
    }

    /// 400: the request is malformed.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::of(Code::InvalidRequest, message)
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::of(Code::TooLarge, "The request body is too large");
        }
        ApiError::invalid(format!("request body: {}", e.body_text()))
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let code = match e.kind() {
            ErrorKind::InvalidInput => Code::InvalidRequest,
            ErrorKind::NotFound => Code::DoesNotExist,
            ErrorKind::Conflict => Code::AlreadyExists,
            ErrorKind::Forbidden => Code::Unauthorized,
            ErrorKind::Remote | ErrorKind::Internal => {
                // Store messages can quote SQL and values: log them, do not
                // send them.
                tracing::error!(error = %e, code = e.code(), "request failed");
                return ApiError::of(
                    Code::Unknown,
                    "Internal error; the server log has the details.",
                );
            }
        };
        ApiError::of(code, e.to_string())
    }
}

impl From<StartError> for ApiError {
    fn from(e: StartError) -> Self {
        let message = e.to_string();
        match e {
            StartError::Unauthorized { action, job } => {
                ApiError::unauthorized(action, &format!("Job ID {job}"))
            }
            StartError::JobDisabled(_) | StartError::ProjectDisabled(_) | StartError::Passive => {
                ApiError::of(Code::ExecutionDisabled, message)
            }
            StartError::AlreadyRunning { .. } => ApiError::of(Code::ExecutionConflict, message),
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
        let mut resp = (self.status, Json(body)).into_response();
        // for the access log, which logs the reason (crate::request_log)
        resp.extensions_mut().insert(crate::request_log::Refusal {
            code: self.code,
            message: self.message,
        });
        resp
    }
}
