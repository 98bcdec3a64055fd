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
//! `metrics/ping` and `metrics/healthcheck`, jobs (list, export, import, get,
//! delete, info, forecast, run, retry, enable/disable), executions (get,
//! state, output with tailing and as Server-Sent Events, abort, delete,
//! query, running), ad-hoc runs (`run/command`, `run/script`, `run/url`;
//! JSON, form or multipart bodies), webhooks, project configuration (`project/{p}/config`,
//! whole and by key), nodes (`project/{p}/resources`,
//! `project/{p}/resource/{name}`, `project/{p}/sources`), the audit log
//! (`system/audit`, admins only), `metrics/metrics` and Prometheus'
//! `GET /metrics` (see [`metrics`]), job workflow trees and UI metadata,
//! the job group browser and project metadata, bulk job toggles, deleting
//! a job's executions, output with state changes, per-source node lists,
//! project `readme.md`/`motd.md`, project archives (export and import),
//! system and project ACL policies, API
//! tokens, key storage, users, and form login with sessions
//! (`/j_security_check`, `/user/logout`; cookie-authenticated changes need
//! the session's CSRF token).
#![deny(missing_docs)]

mod access;
mod acl;
mod adhoc;
mod api;
mod audit;
pub mod auth;
mod error;
mod executions;
mod extract;
mod job_lists;
mod jobs;
pub mod metrics;
pub mod notify;
mod openapi;
pub mod outbound;
mod output;
mod plugins;
mod process;
mod project_archive;
mod project_config;
mod project_files;
mod project_meta;
mod projects;
pub mod recent;
pub mod request_log;
mod resources;
mod scheduler_jobs;
mod script_url;
mod secret;
mod serve;
pub mod session;
mod storage;
mod system;
mod system_mode;
pub mod throttle;
mod token_guard;
mod tokens;
mod ui;
mod users;
mod version;
mod views;
mod webhooks;

use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::Router;
use foredeck_core::jobs::JobService;
use foredeck_core::nodes::NodeSources;
use foredeck_core::runs::RunService;
use foredeck_core::{Authorizer, KeyVault, Node, SecretSource, Store};
use std::sync::Arc;
use std::time::Instant;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;

pub use api::{ApiVersion, CURRENT_API, MIN_API};
pub use auth::RoleAuthorizer;
pub use error::ApiError;
use error::Code;
pub use metrics::{Gauge, Metrics};
pub use serve::{serve, ServeLimits};

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
    /// Core's run service: the engine that runs jobs, the scheduler that
    /// keeps their schedules, and the rules of starting a run.
    pub runs: RunService,
    /// The projects' node sources and their cache.
    pub nodes: Arc<NodeSources>,
    /// The metrics registry (`/metrics`); other parts add gauges to it.
    pub metrics: Arc<Metrics>,
    /// Key storage; without it the storage routes answer 503.
    pub keys: Option<Arc<dyn KeyVault>>,
    /// The same key storage as runs read it (secure option defaults).
    secrets: Option<Arc<dyn SecretSource>>,
    /// Logged-in users' sessions.
    pub sessions: Arc<session::Sessions>,
    /// Failed-login counts that make `/j_security_check` refuse guessing.
    pub login_throttle: Arc<throttle::LoginThrottle>,
    /// Longest lifetime of an API token made through the API (Rundeck's
    /// default maximum: 30 days); also the lifetime when none is asked for.
    pub token_max_duration: chrono::Duration,
    /// Tokens read from the store in the last [`recent::RECENT_TTL`], by
    /// hash, with the subject they act as and their expiry. A token deleted
    /// through this server is refused at once; one deleted through another
    /// server of a cluster, after the ttl at the latest.
    pub(crate) tokens: Arc<recent::Recent<String, auth::KnownToken>>,
    /// Projects found in the store in the last [`recent::RECENT_TTL`], for
    /// the routes that only read (job lists, execution queries).
    pub(crate) projects: Arc<recent::Recent<String, ()>>,
    /// Finished executions read in the last [`recent::FINISHED_TTL`], for
    /// the output route, whose log read confirms that the execution still
    /// exists (its log is deleted with it); a finished execution's record
    /// no longer changes.
    pub(crate) finished: Arc<recent::Recent<u64, Arc<foredeck_core::Execution>>>,
    /// Job lists rendered for callers who see every job of a project.
    pub(crate) job_lists: Arc<job_lists::JobLists>,
    /// Failed token lookups by address, refused cheaply past a budget.
    pub(crate) token_guard: Arc<token_guard::TokenGuard>,
    /// Slots for requests whose credentials must be looked up in the store
    /// ([`Limits::max_unauthenticated`]); [`router`] sizes it.
    pub(crate) unauthenticated: Arc<tokio::sync::Semaphore>,
    /// Project archives built by `export/async`, until downloaded.
    pub(crate) exports: Arc<project_archive::Exports>,
    started_instant: Instant,
}

impl ApiState {
    /// State with default limits, started now.
    /// Runs go through a run service with the local executor only (see
    /// [`ApiState::with_run_service`] for SSH and the rest).
    pub fn new(store: Arc<dyn Store>, authorizer: Arc<dyn Authorizer>) -> Self {
        let runs = RunService::local(store.clone());
        // runs started for a caller are checked as that caller
        runs.engine.set_authorizer(authorizer.clone());
        let nodes = Arc::new(NodeSources::new(store.clone(), default_server_node()));
        runs.use_node_sources(nodes.clone());
        ApiState {
            store,
            authorizer,
            runs,
            server_uuid: uuid::Uuid::new_v4().to_string(),
            node_name: "foredeck".into(),
            started: chrono::Utc::now(),
            limits: Limits::default(),
            nodes,
            metrics: Arc::new(Metrics::new()),
            keys: None,
            secrets: None,
            sessions: Arc::new(session::Sessions::default()),
            login_throttle: Arc::new(throttle::LoginThrottle::default()),
            token_max_duration: chrono::Duration::days(30),
            tokens: Arc::default(),
            projects: Arc::default(),
            finished: Arc::new(recent::Recent::new(
                recent::FINISHED_TTL,
                recent::FINISHED_MAX,
            )),
            job_lists: Arc::default(),
            token_guard: Arc::default(),
            unauthenticated: Arc::new(tokio::sync::Semaphore::new(
                Limits::default().max_unauthenticated,
            )),
            exports: Arc::default(),
            started_instant: Instant::now(),
        }
    }

    /// The same state starting runs through this run service (its engine
    /// and scheduler).
    pub fn with_run_service(mut self, runs: RunService) -> Self {
        runs.use_node_sources(self.nodes.clone());
        runs.engine.set_authorizer(self.authorizer.clone());
        if let Some(s) = &self.secrets {
            runs.engine.set_secrets(s.clone());
        }
        self.runs = runs;
        self
    }

    /// Uses `node` as the server node every project lists (by default
    /// `localhost`, run by the `local` executor, as the engine's).
    pub fn with_server_node(mut self, node: Node) -> Self {
        self.nodes = Arc::new(NodeSources::new(self.store.clone(), node));
        self.runs.use_node_sources(self.nodes.clone());
        self
    }

    /// With key storage. Job imports keep the default values of secure
    /// options there (never in the job record) and runs read them back, so
    /// the storage must be readable by the engine too.
    pub fn with_keys<K: KeyVault + SecretSource + 'static>(mut self, keys: Arc<K>) -> Self {
        self.runs.engine.set_secrets(keys.clone());
        self.secrets = Some(keys.clone());
        self.keys = Some(keys);
        self
    }

    /// Whether the project exists, for a route that only reads: a project
    /// found in the last [`recent::RECENT_TTL`] is not looked up again.
    pub(crate) async fn project_exists(&self, name: &str) -> Result<bool, error::ApiError> {
        if self.projects.get(name).is_some() {
            return Ok(true);
        }
        let found = self.store.get_project(name).await?.is_some();
        if found {
            self.projects.put(name.to_owned(), ());
        }
        Ok(found)
    }

    /// Core's job service over this state's run service and key storage:
    /// saving, toggling and deleting jobs with their schedules.
    pub(crate) fn jobs(&self) -> JobService {
        let jobs = JobService::new(self.runs.clone());
        match &self.keys {
            Some(keys) => jobs.with_vault(keys.clone()),
            None => jobs,
        }
    }

    /// How long the server has been up.
    pub fn uptime(&self) -> std::time::Duration {
        self.started_instant.elapsed()
    }
}

/// The engine's default server node.
fn default_server_node() -> Node {
    Node::new("localhost")
        .with("hostname", "localhost")
        .with("node-executor", "local")
}

/// Bounds on what clients can make the server hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Authenticated requests handled at once; more are answered 503.
    pub max_in_flight: usize,
    /// Requests at once whose API token is being looked up in the store (a
    /// token not seen recently, valid or not): a separate budget on top of
    /// `max_in_flight`, so that a flood of invalid tokens cannot take the
    /// slots of authenticated requests; past it, such requests get 503.
    pub max_unauthenticated: usize,
    /// Longest download of a `run/url` script (connect, answer and body).
    pub script_url_timeout: std::time::Duration,
    /// Largest `run/url` script, in bytes.
    pub script_url_max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 16 * 1024 * 1024,
            max_in_flight: 512,
            max_unauthenticated: 64,
            script_url_timeout: std::time::Duration::from_secs(10),
            script_url_max_bytes: 1 << 20,
        }
    }
}

/// The API router: every area's routes (each module's `routes()`), behind
/// the version check, authentication and metrics; the webhook route (its
/// token is the credential), Prometheus' `/metrics` and the form login
/// beside them; the whole bounded in body size and in requests at once,
/// and logged ([`request_log`]).
pub fn router(mut state: ApiState) -> Router {
    let limits = state.limits;
    state.unauthenticated = Arc::new(tokio::sync::Semaphore::new(limits.max_unauthenticated));
    let api = Router::new()
        .merge(system::routes())
        .merge(system_mode::routes())
        .merge(plugins::routes())
        .merge(scheduler_jobs::routes())
        .merge(projects::routes())
        .merge(jobs::routes())
        .merge(executions::routes())
        .merge(adhoc::routes())
        .merge(webhooks::routes())
        .merge(project_config::routes())
        .merge(project_archive::routes())
        .merge(project_files::routes())
        .merge(resources::routes())
        .merge(metrics::routes())
        .merge(audit::routes())
        .merge(acl::routes())
        .merge(tokens::routes())
        .merge(storage::routes())
        .merge(users::routes())
        .merge(openapi::routes())
        .merge(api::routes())
        .layer(from_fn_with_state(state.clone(), auth::authenticate))
        .layer(from_fn(api::check_version))
        .layer(from_fn_with_state(state.clone(), metrics::track));
    let hooks = webhooks::fire_routes()
        .layer(from_fn(api::check_version))
        .layer(from_fn_with_state(state.clone(), metrics::track));
    let prometheus = metrics::prometheus_routes()
        .layer(from_fn_with_state(state.clone(), auth::authenticate))
        .layer(from_fn(metrics::bearer_token));
    let servlet =
        metrics::servlet_routes().layer(from_fn_with_state(state.clone(), auth::authenticate));
    Router::new()
        .merge(api)
        .merge(hooks)
        .merge(prometheus)
        .merge(servlet)
        .merge(session::routes())
        .merge(ui::routes())
        .with_state(state)
        .layer(DefaultBodyLimit::max(limits.max_body))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    ApiError::of(
                        Code::Overloaded,
                        "The server is handling too many requests; try again shortly.",
                    )
                    .into_response()
                }))
                .load_shed()
                // one budget for the whole server: `Router::layer` wraps
                // every route (and method) apart, so a plain concurrency
                // limit would give each its own; token lookups have their
                // own budget inside it
                .layer(GlobalConcurrencyLimitLayer::new(
                    limits
                        .max_in_flight
                        .saturating_add(limits.max_unauthenticated),
                )),
        )
        // outermost, so that it sees every answer (503s and 413s too)
        .layer(from_fn(request_log::log))
}

#[cfg(test)]
mod security_tests;
#[cfg(test)]
mod tests;
