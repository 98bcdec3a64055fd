//! The Foredeck HTTP server: Rundeck's REST API on axum.
//!
//! [`router`] builds the [`axum::Router`] for an [`ApiState`]. Every route
//! under `/api/{v}/` accepts API versions 14 to 59, authenticates with an API
//! token (`X-Rundeck-Auth-Token` header or `authtoken` query parameter; the
//! store holds only its SHA-256) and asks the [`Authorizer`] before it acts.
//! Errors have Rundeck's body: `{error, apiversion, errorCode, message}`.
//! Requests are bounded in size and in number: past the limit of requests in
//! flight the server answers 503 at once instead of queueing without bound.
//!
//! Implemented so far: `system/info`, projects (list, create, get, delete),
//! `metrics/ping` and `metrics/healthcheck`, system and project ACL policies,
//! API tokens, key storage, users, and form login with sessions
//! (`/j_security_check`, `/user/logout`; cookie-authenticated changes need
//! the session's CSRF token). The rest of the API arrives with the rest of
//! issue #6.
#![deny(missing_docs)]

mod acl;
mod api;
mod audit;
pub mod auth;
mod error;
mod projects;
pub mod session;
mod storage;
mod system;
mod tokens;
mod users;

use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use foredeck_core::{Authorizer, KeyVault, Store};
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceBuilder;

pub use api::{ApiVersion, CURRENT_API, MIN_API};
pub use auth::RoleAuthorizer;
pub use error::ApiError;

/// What every request handler shares.
#[derive(Clone, Debug)]
pub struct ApiState {
    /// Where everything is kept.
    pub store: Arc<dyn Store>,
    /// Who may do what.
    pub authorizer: Arc<dyn Authorizer>,
    /// This server's uuid (Rundeck's `serverUUID`).
    pub server_uuid: String,
    /// Host name shown in `system/info`.
    pub node_name: String,
    /// When the server started.
    pub started: chrono::DateTime<chrono::Utc>,
    /// Limits on requests.
    pub limits: Limits,
    /// Key storage; without it the storage routes answer 503.
    pub keys: Option<Arc<dyn KeyVault>>,
    /// Logged-in users' sessions.
    pub sessions: Arc<session::Sessions>,
    /// Longest lifetime of an API token made through the API (Rundeck's
    /// default maximum: 30 days); also the lifetime when none is asked for.
    pub token_max_duration: chrono::Duration,
    started_instant: Instant,
}

impl ApiState {
    /// State with default limits, started now.
    pub fn new(store: Arc<dyn Store>, authorizer: Arc<dyn Authorizer>) -> Self {
        ApiState {
            store,
            authorizer,
            server_uuid: uuid::Uuid::new_v4().to_string(),
            node_name: "foredeck".into(),
            started: chrono::Utc::now(),
            limits: Limits::default(),
            keys: None,
            sessions: Arc::new(session::Sessions::default()),
            token_max_duration: chrono::Duration::days(30),
            started_instant: Instant::now(),
        }
    }

    /// With key storage.
    pub fn with_keys(mut self, keys: Arc<dyn KeyVault>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// How long the server has been up.
    pub fn uptime(&self) -> std::time::Duration {
        self.started_instant.elapsed()
    }
}

/// Bounds on what clients can make the server hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Requests handled at once; more are answered 503.
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 16 * 1024 * 1024,
            max_in_flight: 512,
        }
    }
}

/// The API router.
pub fn router(state: ApiState) -> Router {
    let limits = state.limits;
    let api = Router::new()
        .route("/api/{v}/system/info", get(system::info))
        .route("/api/{v}/metrics/ping", get(system::ping))
        .route("/api/{v}/metrics/healthcheck", get(system::healthcheck))
        .route(
            "/api/{v}/projects",
            get(projects::list).post(projects::create),
        )
        .route(
            "/api/{v}/project/{project}",
            get(projects::get).delete(projects::delete),
        )
        // ACL policies, tokens, key storage, users.
        .route("/api/{v}/system/acl", get(acl::system_list))
        .route("/api/{v}/system/acl/", get(acl::system_list))
        .route(
            "/api/{v}/system/acl/{name}",
            get(acl::system_get)
                .post(acl::system_create)
                .put(acl::system_update)
                .delete(acl::system_delete),
        )
        .route("/api/{v}/project/{project}/acl", get(acl::project_list))
        .route("/api/{v}/project/{project}/acl/", get(acl::project_list))
        .route(
            "/api/{v}/project/{project}/acl/{name}",
            get(acl::project_get)
                .post(acl::project_create)
                .put(acl::project_update)
                .delete(acl::project_delete),
        )
        .route(
            "/api/{v}/tokens",
            get(tokens::list_all).post(tokens::create),
        )
        .route(
            "/api/{v}/tokens/{user}",
            get(tokens::list_user).post(tokens::create_for),
        )
        .route(
            "/api/{v}/token/{id}",
            get(tokens::get).delete(tokens::delete),
        )
        .route("/api/{v}/storage/keys", get(storage::get_root))
        .route("/api/{v}/storage/keys/", get(storage::get_root))
        .route(
            "/api/{v}/storage/keys/{*path}",
            get(storage::get)
                .post(storage::create)
                .put(storage::update)
                .delete(storage::delete),
        )
        .route("/api/{v}/user/info", get(users::me))
        .route("/api/{v}/user/info/{user}", get(users::other))
        .route("/api/{v}/user/list", get(users::list))
        .route("/api/{v}/user/list/", get(users::list))
        .route("/api/{v}/{*rest}", axum::routing::any(api::not_found))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(axum::middleware::from_fn(api::check_version));
    let login = Router::new()
        .route("/j_security_check", post(session::login))
        .route("/user/logout", get(session::logout).post(session::logout));
    Router::new()
        .merge(api)
        .merge(login)
        .with_state(state)
        .layer(DefaultBodyLimit::max(limits.max_body))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "api.error.overloaded",
                        "The server is handling too many requests; try again shortly.",
                    )
                    .into_response()
                }))
                .load_shed()
                .concurrency_limit(limits.max_in_flight),
        )
}

#[cfg(test)]
mod tests;
