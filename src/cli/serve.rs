//! `foredeck serve`: the API server on the embedded store.

use anyhow::Context;
use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::Argon2;
use clap::Args;
use foredeck::acl::AclAuthorizer;
use foredeck::engine::Engine;
use foredeck::store::{ApiToken, User};
use foredeck::{DurableScheduler, SchedulerConfig, Store};
use foredeck_http::auth::{hash_token, new_token_secret};
use foredeck_http::{ApiState, Runtime};
use foredeck_store::{KeyStorage, MasterKey, SqlStore};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML file of settings, keyed by these flags' long names (default:
    /// `<data-dir>/foredeck.toml` when it exists). Flags and environment
    /// variables take precedence over it.
    #[arg(long, value_name = "FILE", env = "FOREDECK_CONFIG")]
    pub(super) config: Option<std::path::PathBuf>,
    /// A PostgreSQL or MariaDB URL instead of the embedded SQLite database.
    #[arg(long, env = "FOREDECK_DATABASE_URL", hide_env_values = true)]
    pub(super) database_url: Option<String>,
    /// Address to listen on (`0.0.0.0` for every interface).
    #[arg(long, env = "FOREDECK_BIND", default_value = "127.0.0.1")]
    pub(super) bind: std::net::IpAddr,
    /// Port (0 picks a free one).
    #[arg(long, env = "FOREDECK_PORT", default_value_t = 4440)]
    pub(super) port: u16,
    /// Connections open at once; more are answered 503 and closed (default:
    /// three quarters of the open-files limit; it must stay below it).
    #[arg(long, env = "FOREDECK_MAX_CONNECTIONS", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(super) max_connections: Option<u32>,
    /// Connections open at once from one client address; more are answered
    /// 503 and closed.
    #[arg(long, env = "FOREDECK_MAX_CONNECTIONS_PER_ADDRESS", value_name = "N",
          default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub(super) max_connections_per_address: u32,
    /// SSH settings for remote nodes, and the data directory (`--data-dir`:
    /// the SQLite database, the master key, this server's uuid).
    #[command(flatten)]
    pub(super) ssh: super::ssh::SshArgs,
    /// Notification settings (links, SMTP).
    #[command(flatten)]
    pub(super) notify: super::notify_args::NotifyArgs,
}

/// The role that has every permission.
const ADMIN_ROLE: &str = "admin";

/// Runs the server; `m` are the matches of the `serve` subcommand (they
/// tell which settings the configuration file may fill).
pub async fn run(mut a: ServeArgs, m: &clap::ArgMatches) -> anyhow::Result<u8> {
    if let Some(file) = super::config::apply(&mut a, m)? {
        println!("Settings from {}", file.display());
    }
    let limits = serve_limits(&a)?;
    let data_dir = a.ssh.data_dir().to_owned();
    // the database, master key and uuid are for this account only
    let tightened = foredeck_store::data_dir::tighten(&data_dir)
        .with_context(|| format!("securing the data directory {}", data_dir.display()))?;
    for change in tightened {
        println!("Data directory made private: {change}");
    }
    let store = match &a.database_url {
        Some(url) => SqlStore::connect(url)
            .await
            .context("connecting to the database")?,
        None => SqlStore::open_data_dir(&data_dir)
            .await
            .with_context(|| format!("opening the store in {}", data_dir.display()))?,
    };
    let store: Arc<dyn Store> = Arc::new(store);
    first_start(&store).await?;
    // Rundeck .aclpolicy rules from the store (system and project policies)
    // over a built-in policy giving the admin role everything; policies
    // changed through another server arrive within the refresh interval
    let authorizer = AclAuthorizer::load(store.clone())
        .await
        .context("loading ACL policies")?;
    let _refresh = authorizer.spawn_refresh(std::time::Duration::from_secs(30));
    let master = MasterKey::load_or_create(&data_dir)
        .with_context(|| format!("the master key in {}", data_dir.display()))?;
    let keys = Arc::new(KeyStorage::new(store.clone(), &master));
    // secure option defaults saved in job records by older versions move
    // to key storage
    let sealed = foredeck_core::vault::seal_stored_defaults(store.as_ref(), keys.as_ref())
        .await
        .context("moving secure option defaults into key storage")?;
    if sealed > 0 {
        println!("Secure option defaults of {sealed} job(s) moved into key storage");
    }
    let mut state = ApiState::new(store.clone(), authorizer).with_keys(keys);
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        state.node_name = host.trim().to_owned();
    }
    state.server_uuid = server_uuid(&data_dir)?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(a.bind, a.port))
        .await
        .with_context(|| format!("listening on {}:{}", a.bind, a.port))?;
    let addr = listener.local_addr()?;
    // links in notifications point here unless --server-url says otherwise
    let notifier = a.notify.notifier(format!("http://{addr}"), store.clone())?;
    let ssh = a.ssh.executor_on(store.clone(), &master)?;
    state.metrics.gauge_fn(
        "foredeck_ssh_connections_open",
        "SSH connections open (pooled or being opened).",
        {
            let ssh = ssh.clone();
            move || ssh.pool_stats().open_connections as f64
        },
    )?;
    let lag = state.metrics.gauge(
        "foredeck_scheduler_lag_seconds",
        "How late the latest schedule fires were: seconds from fire time to fire.",
    )?;
    let engine = Engine::builder()
        .shared_store(store.clone())
        .server_node(state.node_name.clone())
        .executor("ssh", ssh)
        .notifier(notifier.clone())
        .build();
    let config = SchedulerConfig::new(state.server_uuid.clone());
    let runtime = Runtime::new(engine.clone(), |launcher| {
        DurableScheduler::builder(store.clone(), launcher)
            .config(config)
            .on_lag(move |d| lag.set(d.as_secs_f64()))
            .build()
    });
    let scheduler = runtime.scheduler.clone();
    let state = state
        .with_runtime(runtime)
        .with_server_node(engine.server_node());
    // the scheduler ticks (fires schedules, heartbeats, takes over the
    // executions of dead servers) until shutdown
    let stop = CancellationToken::new();
    let ticking = tokio::spawn({
        let stop = stop.clone();
        async move { scheduler.run(stop.cancelled_owned()).await }
    });
    // memory freed by work that then stops (the first start's password
    // hash, a login's) is not kept resident while the server is idle
    crate::release_free_memory(true);
    let _release = tokio::spawn(async {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            every.tick().await;
            crate::release_free_memory(false);
        }
    });
    let shutdown = shutdown()?;
    println!(
        "Foredeck {} listening on http://{addr}",
        env!("CARGO_PKG_VERSION")
    );
    let served = foredeck_http::serve(listener, foredeck_http::router(state), limits, shutdown)
        .await
        .context("serving");
    stop.cancel();
    let _ = ticking.await;
    stop_executions(&engine).await;
    // notifications of the last runs go out, within a bound
    if tokio::time::timeout(std::time::Duration::from_secs(15), notifier.flush())
        .await
        .is_err()
    {
        eprintln!("Some notifications were still being delivered at shutdown");
    }
    served?;
    println!("Foredeck stopped");
    Ok(0)
}

/// The connection bounds: the caps asked for, checked against the
/// process's open-files limit (the total must stay below it, so that the
/// server can still open its database, logs and SSH connections).
fn serve_limits(a: &ServeArgs) -> anyhow::Result<foredeck_http::ServeLimits> {
    use nix::sys::resource::{getrlimit, Resource};
    let descriptors = getrlimit(Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .context("reading the open-files limit (RLIMIT_NOFILE)")?;
    let max_connections = match a.max_connections {
        Some(n) if u64::from(n) >= descriptors => anyhow::bail!(
            "--max-connections {n}: must be below the open-files limit ({descriptors}); \
             raise the limit (ulimit -n) or lower the cap"
        ),
        Some(n) => n as usize,
        None => foredeck_http::ServeLimits::max_connections_for(descriptors),
    };
    Ok(foredeck_http::ServeLimits {
        max_connections,
        max_connections_per_address: a.max_connections_per_address as usize,
        ..foredeck_http::ServeLimits::default()
    })
}

/// Aborts what still runs here and waits (a bounded time) for the records
/// to say so; whatever is left is marked incomplete at the next start.
async fn stop_executions(engine: &Engine) {
    let running = engine.running();
    if running.is_empty() {
        return;
    }
    println!("Aborting {} running execution(s)", running.len());
    for id in running {
        engine.abort(id);
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !engine.running().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// This server's uuid, kept in the data directory so that a restarted
/// server recognises the executions it left unfinished.
fn server_uuid(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("server.uuid");
    match std::fs::read_to_string(&path) {
        Ok(s) => {
            let s = s.trim();
            uuid::Uuid::parse_str(s).with_context(|| format!("{}: not a uuid", path.display()))?;
            Ok(s.to_owned())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            foredeck_store::data_dir::create(dir)?;
            let id = uuid::Uuid::new_v4().to_string();
            foredeck_store::data_dir::write_private_file(&path, format!("{id}\n").as_bytes())?;
            Ok(id)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// A future that resolves on SIGINT or SIGTERM. The handlers are installed
/// now, so that a signal arriving right after the banner is not fatal.
fn shutdown() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("handling SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("handling SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// On the first start (no users yet) creates the `admin` user with a random
/// password and an API token (`FOREDECK_BOOTSTRAP_TOKEN` if set), and prints
/// them once. Later starts print no secret.
async fn first_start(store: &Arc<dyn Store>) -> anyhow::Result<()> {
    if !store.list_users().await?.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now();
    let password = new_token_secret().context("random password")?[..24].to_owned();
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing the admin password: {e}"))?
        .to_string();
    let bootstrap = std::env::var("FOREDECK_BOOTSTRAP_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    if let Some(t) = &bootstrap {
        // stored as an unsalted SHA-256 like every API token (cheap to look
        // up on each request): only a token nobody can guess is safe so
        let bits = super::token_strength::estimated_bits(t);
        if bits < super::token_strength::REQUIRED_BITS {
            anyhow::bail!(
                "FOREDECK_BOOTSTRAP_TOKEN has about {bits:.0} bits of randomness; at least \
                 {:.0} are required, since a chosen token could be guessed offline from its \
                 stored hash: use 32 random bytes, e.g. `openssl rand -hex 32`",
                super::token_strength::REQUIRED_BITS
            );
        }
    }
    let token = match &bootstrap {
        Some(t) => t.clone(),
        None => new_token_secret().context("random token")?,
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
    // The user last: a start that fails before this point starts over.
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
    println!("First start: created user \"admin\" with password {password}");
    if bootstrap.is_some() {
        println!("The API token of \"admin\" is FOREDECK_BOOTSTRAP_TOKEN.");
    } else {
        println!("API token of \"admin\" (X-Rundeck-Auth-Token): {token}");
    }
    println!("They are shown this once and stored hashed only.");
    Ok(())
}
