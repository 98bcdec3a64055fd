//! `foredeck serve`: the API server on the embedded store.

use anyhow::Context;
use clap::Args;
use foredeck::server::{Foredeck, Parts};
use std::net::SocketAddr;
use std::sync::Arc;

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
    /// Log lines on standard error as text or as JSON objects, one a line;
    /// `FOREDECK_LOG` filters them (default `warn`; the access log is
    /// `foredeck::access` at `info`).
    #[arg(long, env = "FOREDECK_LOG_FORMAT", value_enum, default_value_t = super::logging::LogFormat::Text)]
    pub(super) log_format: super::logging::LogFormat,
}

/// Runs the server with `a`, whose unset settings came from the
/// configuration file `settings_from`, if any.
pub async fn run(a: ServeArgs, settings_from: Option<&std::path::Path>) -> anyhow::Result<u8> {
    if let Some(file) = settings_from {
        println!("Settings from {}", file.display());
    }
    super::logging::init(a.log_format);
    crate::raise_open_files_limit();
    let limits = serve_limits(&a)?;
    let data_dir = a.ssh.data_dir().to_owned();
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(a.bind, a.port))
        .await
        .with_context(|| format!("listening on {}:{}", a.bind, a.port))?;
    let addr = listener.local_addr()?;
    let mut builder = Foredeck::builder().data_dir(&data_dir).limits(limits);
    if let Some(url) = &a.database_url {
        builder = builder.database_url(url);
    }
    // links in notifications point here unless --server-url says otherwise
    let notify = a.notify;
    let ssh = a.ssh;
    let fd = builder
        .notifier_with(move |p: &Parts<'_>| {
            let n = notify
                .notifier(format!("http://{addr}"), p.store.clone())
                .map_err(setting)?;
            Ok(Arc::new(n) as Arc<dyn foredeck::Notifier>)
        })
        .ssh(move |p: &Parts<'_>| ssh.executor_on(p.store.clone(), p.master).map_err(setting))
        .build()
        .await
        .with_context(|| format!("starting on the data directory {}", data_dir.display()))?;
    // the database, master key and uuid are for this account only
    for change in fd.data_dir_changes() {
        println!("Data directory made private: {change}");
    }
    first_start(&fd).await?;
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
    let served = fd.serve_until(listener, shutdown).await.context("serving");
    let running = fd.engine().running().len();
    if running > 0 {
        println!("Aborting {running} running execution(s)");
    }
    if fd.stop().await.notifications_left {
        eprintln!("Some notifications were still being delivered at shutdown");
    }
    served?;
    println!("Foredeck stopped");
    Ok(0)
}

/// A setting of the command line that the server cannot start with.
fn setting(e: anyhow::Error) -> foredeck::Error {
    foredeck::Error::InvalidOption {
        option: "settings".into(),
        message: format!("{e:#}"),
    }
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

/// On the first start (no users yet) has the `admin` user created with a
/// random password and an API token (`FOREDECK_BOOTSTRAP_TOKEN` if set,
/// when it is strong enough), and prints them once. Later starts print no
/// secret.
async fn first_start(fd: &Foredeck) -> anyhow::Result<()> {
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
    let Some(made) = fd.first_start(bootstrap.clone()).await? else {
        return Ok(());
    };
    println!(
        "First start: created user \"admin\" with password {}",
        made.password
    );
    if bootstrap.is_some() {
        println!("The API token of \"admin\" is FOREDECK_BOOTSTRAP_TOKEN.");
    } else {
        println!(
            "API token of \"admin\" (X-Rundeck-Auth-Token): {}",
            made.token
        );
    }
    println!("They are shown this once and stored hashed only.");
    Ok(())
}
