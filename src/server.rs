//! [`Foredeck`]: the whole product as one handle, for `foredeck serve`, for
//! services that embed a server, and for tests that start one in-process.
//!
//! [`Foredeck::builder`] opens the store (embedded SQLite in a data
//! directory, or a PostgreSQL/MariaDB URL), key storage with the directory's
//! master key, the `.aclpolicy` authorizer, the engine with its executors
//! (`local` and `ssh` built in, others added by name), the durable scheduler
//! and the HTTP API. [`Foredeck::serve`] runs it on an already-bound
//! listener until a shutdown future resolves, then stops the scheduler,
//! aborts what still runs here and delivers the last notifications.
//!
//! ```no_run
//! # async fn demo() -> foredeck::Result<()> {
//! let fd = foredeck::Foredeck::builder().data_dir("./foredeck-data").build().await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:4440").await.map_err(|e| {
//!     foredeck::Error::io("listening on 127.0.0.1:4440", e)
//! })?;
//! fd.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

use crate::credentials::KeyStorageCredentials;
use foredeck_core::acl::AclAuthorizer;
use foredeck_core::engine::Engine;
use foredeck_core::runs::RunService;
use foredeck_core::store::{ApiToken, User};
use foredeck_core::{
    Authorizer, DurableScheduler, Error, Executor, Notifier, Result, SchedulerConfig, Store,
};
use foredeck_http::auth::{hash_token, new_token_secret};
use foredeck_http::{ApiState, ServeLimits};
use foredeck_ssh::{
    ConfigCredentials, KnownHosts, LayeredKnownHosts, SshConfig, SshExecutor, StoreKnownHosts,
};
use foredeck_store::{KeyStorage, MasterKey, SqlStore};
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What an SSH executor factory gets: the parts it may log in with.
#[derive(Debug)]
pub struct Parts<'a> {
    /// The store (learned host keys live there).
    pub store: &'a Arc<dyn Store>,
    /// The data directory's master key (key storage is encrypted with it).
    pub master: &'a MasterKey,
    /// The data directory.
    pub data_dir: &'a Path,
}

type SshFactory = Box<dyn FnOnce(&Parts<'_>) -> Result<SshExecutor> + Send>;
type SchedulerAdjust = Box<dyn FnOnce(&mut SchedulerConfig) + Send>;
type NotifierFactory = Box<dyn FnOnce(&Parts<'_>) -> Result<Arc<dyn Notifier>> + Send>;

/// Builds a [`Foredeck`]; see [`Foredeck::builder`].
pub struct Builder {
    data_dir: PathBuf,
    database_url: Option<String>,
    executors: Vec<(String, Arc<dyn Executor>)>,
    ssh: Option<SshFactory>,
    notifier: Option<NotifierFactory>,
    authorizer: Option<Arc<dyn Authorizer>>,
    scheduler: Option<SchedulerAdjust>,
    server_node: Option<String>,
    limits: ServeLimits,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.executors.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Builder")
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("executors", &names)
            .field("server_node", &self.server_node)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// The data directory: the embedded SQLite database (unless
    /// [`database_url`](Self::database_url) is set), the master key of key
    /// storage, this server's uuid. Default `./foredeck-data`. It is
    /// created private to this account, and tightened when it is not.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = dir.into();
        self
    }

    /// A PostgreSQL (`postgres://`) or MariaDB/MySQL (`mysql://`) URL
    /// instead of the embedded SQLite database.
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = Some(url.into());
        self
    }

    /// Registers an executor under `name` (a node's `node-executor`
    /// attribute or a project's default picks it). `local` and `ssh` are
    /// built in; registering one of those names replaces it.
    pub fn executor(mut self, name: impl Into<String>, executor: Arc<dyn Executor>) -> Self {
        self.executors.push((name.into(), executor));
        self
    }

    /// Builds the built-in `ssh` executor with `factory` instead of the
    /// default one (OpenSSH-style known hosts in `<data-dir>/known_hosts`
    /// and the store, host keys verified, credentials from key storage).
    pub fn ssh(
        mut self,
        factory: impl FnOnce(&Parts<'_>) -> Result<SshExecutor> + Send + 'static,
    ) -> Self {
        self.ssh = Some(Box::new(factory));
        self
    }

    /// Sends job notifications (none by default). Flushed at shutdown.
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(Box::new(move |_: &Parts<'_>| Ok(notifier)));
        self
    }

    /// Sends job notifications with a notifier made from the opened parts
    /// (one that reads execution logs from the store, say).
    pub fn notifier_with(
        mut self,
        factory: impl FnOnce(&Parts<'_>) -> Result<Arc<dyn Notifier>> + Send + 'static,
    ) -> Self {
        self.notifier = Some(Box::new(factory));
        self
    }

    /// Decides who may do what, instead of the default: Rundeck
    /// `.aclpolicy` rules from the store over a built-in policy giving the
    /// `admin` role everything, refreshed every 30 seconds.
    pub fn authorizer(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.authorizer = Some(authorizer);
        self
    }

    /// Adjusts the scheduler's settings (its `server` is this server's uuid).
    pub fn scheduler(mut self, adjust: impl FnOnce(&mut SchedulerConfig) + Send + 'static) -> Self {
        self.scheduler = Some(Box::new(adjust));
        self
    }

    /// The name of the node that stands for this host (default: the host
    /// name).
    pub fn server_node(mut self, name: impl Into<String>) -> Self {
        self.server_node = Some(name.into());
        self
    }

    /// Connection caps and timeouts of the HTTP server.
    pub fn limits(mut self, limits: ServeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Opens everything. Fails with the part that could not start: the
    /// data directory, the database, the master key, the ACL policies.
    pub async fn build(self) -> Result<Foredeck> {
        let data_dir = self.data_dir;
        let tightened = foredeck_store::data_dir::tighten(&data_dir)?;
        let store: Arc<dyn Store> = Arc::new(match &self.database_url {
            Some(url) => SqlStore::connect(url).await?,
            None => SqlStore::open_data_dir(&data_dir).await?,
        });
        let (authorizer, refresh): (Arc<dyn Authorizer>, _) = match self.authorizer {
            Some(a) => (a, None),
            None => {
                let acl = AclAuthorizer::load(store.clone()).await?;
                let refresh = acl.spawn_refresh(Duration::from_secs(30));
                (acl, Some(refresh))
            }
        };
        let master = MasterKey::load_or_create(&data_dir)?;
        let keys = Arc::new(KeyStorage::new(store.clone(), &master));
        // secure option defaults saved in job records by older versions
        // move to key storage
        let sealed =
            foredeck_core::vault::seal_stored_defaults(store.as_ref(), keys.as_ref()).await?;
        if sealed > 0 {
            tracing::info!(
                jobs = sealed,
                "secure option defaults moved into key storage"
            );
        }
        let mut state = ApiState::new(store.clone(), authorizer).with_keys(keys.clone());
        state.node_name = match self.server_node {
            Some(n) => n,
            None => std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_else(|_| "localhost".into()),
        };
        state.server_uuid = server_uuid(&data_dir)?;
        let parts = Parts {
            store: &store,
            master: &master,
            data_dir: &data_dir,
        };
        let ssh = match self.ssh {
            Some(factory) => factory(&parts)?,
            None => default_ssh(&parts),
        };
        state
            .metrics
            .gauge_fn(
                "foredeck_ssh_connections_open",
                "SSH connections open (pooled or being opened).",
                {
                    let ssh = ssh.clone();
                    move || ssh.pool_stats().open_connections as f64
                },
            )
            .map_err(metric)?;
        let lag = state
            .metrics
            .gauge(
                "foredeck_scheduler_lag_seconds",
                "How late the latest schedule fires were: seconds from fire time to fire.",
            )
            .map_err(metric)?;
        let mut engine = Engine::builder()
            .shared_store(store.clone())
            .server_node(state.node_name.clone())
            .executor("ssh", ssh);
        for (name, executor) in self.executors {
            engine = engine.executor(name, executor);
        }
        let notifier = match self.notifier {
            Some(factory) => Some(factory(&parts)?),
            None => None,
        };
        if let Some(n) = &notifier {
            engine = engine.notifier(n.clone());
        }
        let engine = engine.build();
        let mut config = SchedulerConfig::new(state.server_uuid.clone());
        if let Some(adjust) = self.scheduler {
            adjust(&mut config);
        }
        let runs = RunService::new(engine.clone(), |launcher| {
            DurableScheduler::builder(store.clone(), launcher)
                .config(config)
                .on_lag(move |d| lag.set(d.as_secs_f64()))
                .build()
        });
        // passive stays passive across a restart
        runs.load_execution_mode().await?;
        let scheduler = runs.scheduler.clone();
        let state = state
            .with_run_service(runs)
            .with_server_node(engine.server_node());
        Ok(Foredeck {
            store,
            keys,
            engine,
            scheduler,
            state,
            notifier,
            limits: self.limits,
            data_dir,
            tightened,
            _refresh: refresh.map(AbortOnDrop),
        })
    }
}

fn metric(e: foredeck_http::metrics::MetricNameError) -> Error {
    Error::Conflict(format!("registering a metric: {e}"))
}

/// Stops a background task when dropped.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A whole Foredeck: store, key storage, engine, scheduler and HTTP API.
#[derive(Debug)]
pub struct Foredeck {
    store: Arc<dyn Store>,
    keys: Arc<KeyStorage>,
    engine: Engine,
    scheduler: DurableScheduler,
    state: ApiState,
    notifier: Option<Arc<dyn Notifier>>,
    limits: ServeLimits,
    data_dir: PathBuf,
    tightened: Vec<String>,
    _refresh: Option<AbortOnDrop>,
}

impl Foredeck {
    /// A builder on `./foredeck-data` with the `local` and `ssh` executors.
    pub fn builder() -> Builder {
        Builder {
            data_dir: PathBuf::from("foredeck-data"),
            database_url: None,
            executors: Vec::new(),
            ssh: None,
            notifier: None,
            authorizer: None,
            scheduler: None,
            server_node: None,
            limits: ServeLimits::default(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Key storage (encrypted with the data directory's master key).
    pub fn keys(&self) -> &Arc<KeyStorage> {
        &self.keys
    }

    /// The engine that runs jobs.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The durable scheduler.
    pub fn scheduler(&self) -> &DurableScheduler {
        &self.scheduler
    }

    /// The HTTP API's state (for [`foredeck_http::router`]).
    pub fn api(&self) -> &ApiState {
        &self.state
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// What [`Builder::build`] changed to make the data directory private
    /// to this account (one line per file or directory, `path: mode A -> B`).
    pub fn data_dir_changes(&self) -> &[String] {
        &self.tightened
    }

    /// This server's uuid (Rundeck's `serverUUID`), kept in the data
    /// directory.
    pub fn server_uuid(&self) -> &str {
        &self.state.server_uuid
    }

    /// On the first start (no users yet) creates the `admin` user (role
    /// `admin`, which has every permission) with a random password, and an
    /// API token for it: `token` when given, else a random one. Returns
    /// them, to be shown once (both are stored hashed only); `None` when
    /// users exist. The user is created last, so that a start that fails
    /// halfway starts over.
    pub async fn first_start(&self, token: Option<String>) -> Result<Option<FirstStart>> {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let store = &self.store;
        if !store.list_users().await?.is_empty() {
            return Ok(None);
        }
        let random = || {
            new_token_secret()
                .map_err(|e| Error::io("reading random bytes for the first start", e.into()))
        };
        let now = chrono::Utc::now();
        let password = random()?[..24].to_owned();
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let hash = argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| Error::Conflict(format!("hashing the admin password: {e}")))?
            .to_string();
        let token = match token {
            Some(t) => t,
            None => random()?,
        };
        store
            .create_token(&ApiToken {
                id: uuid::Uuid::new_v4().to_string(),
                token_hash: hash_token(&token),
                user: "admin".into(),
                roles: vec![ADMIN_ROLE.into()],
                name: Some("first start".into()),
                creator: "foredeck serve".into(),
                created: now,
                expiration: None,
            })
            .await?;
        store
            .put_user(&User {
                login: "admin".into(),
                password_hash: Some(hash),
                roles: vec![ADMIN_ROLE.into()],
                email: None,
                first_name: None,
                last_name: None,
                created: now,
                modified: now,
            })
            .await?;
        Ok(Some(FirstStart { password, token }))
    }

    /// Serves the API on `listener` and runs the scheduler until `shutdown`
    /// resolves, then [`stop`](Self::stop)s: the scheduler is stopped, the
    /// executions still running here are aborted (a restarted server marks
    /// what is left `incomplete`) and the last notifications get up to 15
    /// seconds.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Stopped> {
        let served = self.serve_until(listener, shutdown).await;
        let stopped = self.stop().await;
        served.map(|()| stopped)
    }

    /// The first half of [`serve`](Self::serve): the API and the scheduler
    /// until `shutdown` resolves, leaving the executions running here.
    pub async fn serve_until(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let stop = CancellationToken::new();
        let ticking = tokio::spawn({
            let stop = stop.clone();
            let scheduler = self.scheduler.clone();
            async move { scheduler.run(stop.cancelled_owned()).await }
        });
        let served = foredeck_http::serve(
            listener,
            foredeck_http::router(self.state.clone()),
            self.limits,
            shutdown,
        )
        .await;
        stop.cancel();
        let _ = ticking.await;
        served.map_err(|e| Error::io("serving HTTP", e))
    }

    /// The second half of [`serve`](Self::serve): aborts the executions
    /// running here and waits (10 seconds at most) for their records to say
    /// so, then gives the notifier 15 seconds to deliver what it holds.
    pub async fn stop(&self) -> Stopped {
        let aborted = stop_executions(&self.engine).await;
        let mut notifications_left = false;
        if let Some(n) = &self.notifier {
            notifications_left = tokio::time::timeout(Duration::from_secs(15), n.flush())
                .await
                .is_err();
        }
        Stopped {
            aborted,
            notifications_left,
        }
    }
}

/// The `admin` user's first password and API token, from
/// [`Foredeck::first_start`]. `Debug` does not show them.
#[non_exhaustive]
pub struct FirstStart {
    /// The password of `admin`.
    pub password: String,
    /// The API token of `admin` (`X-Rundeck-Auth-Token`).
    pub token: String,
}

impl fmt::Debug for FirstStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FirstStart { password: <redacted>, token: <redacted> }")
    }
}

/// The role that has every permission.
const ADMIN_ROLE: &str = "admin";

/// What [`Foredeck::stop`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stopped {
    /// Executions that were still running and were aborted.
    pub aborted: usize,
    /// Notifications were still being delivered when the wait ended.
    pub notifications_left: bool,
}

/// The `ssh` executor when none is configured: host keys verified against
/// `<data-dir>/known_hosts` and the store (learned on first use), logins
/// from key storage (node attributes `ssh-key-storage-path`,
/// `ssh-password-storage-path`), else the ssh-agent-less defaults.
fn default_ssh(parts: &Parts<'_>) -> SshExecutor {
    let known_hosts: Arc<dyn KnownHosts> = Arc::new(LayeredKnownHosts::new(
        parts.data_dir.join("known_hosts"),
        Arc::new(StoreKnownHosts::new(parts.store.clone())),
    ));
    let keys = KeyStorage::new(parts.store.clone(), parts.master);
    let creds = KeyStorageCredentials::new(keys, Arc::new(ConfigCredentials::new()));
    SshExecutor::with_config(SshConfig::default(), Arc::new(creds), known_hosts)
}

/// Aborts what still runs here and waits (a bounded time) for the records
/// to say so; whatever is left is marked incomplete at the next start.
async fn stop_executions(engine: &Engine) -> usize {
    let running = engine.running();
    let count = running.len();
    if count == 0 {
        return 0;
    }
    for id in running {
        engine.abort(id);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !engine.running().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    count
}

/// This server's uuid, kept in the data directory so that a restarted
/// server recognises the executions it left unfinished.
fn server_uuid(dir: &Path) -> Result<String> {
    let path = dir.join("server.uuid");
    match std::fs::read_to_string(&path) {
        Ok(s) => {
            let s = s.trim();
            uuid::Uuid::parse_str(s).map_err(|_| Error::InvalidOption {
                option: "server.uuid".into(),
                message: format!("{}: not a uuid", path.display()),
            })?;
            Ok(s.to_owned())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            foredeck_store::data_dir::create(dir)?;
            let id = uuid::Uuid::new_v4().to_string();
            foredeck_store::data_dir::write_private_file(&path, format!("{id}\n").as_bytes())?;
            Ok(id)
        }
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}
