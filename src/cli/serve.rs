//! `foredeck serve`: the API server on the embedded store.

use anyhow::Context;
use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::Argon2;
use clap::Args;
use foredeck::store::{ApiToken, User};
use foredeck::Store;
use foredeck_http::auth::{hash_token, new_token_secret};
use foredeck_http::{ApiState, RoleAuthorizer};
use foredeck_store::SqlStore;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Data directory: the SQLite database and the master key.
    #[arg(long, env = "FOREDECK_DATA_DIR", default_value = "foredeck-data")]
    data_dir: PathBuf,
    /// A PostgreSQL or MariaDB URL instead of the embedded SQLite database.
    #[arg(long, env = "FOREDECK_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Address to listen on (`0.0.0.0` for every interface).
    #[arg(long, env = "FOREDECK_BIND", default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Port (0 picks a free one).
    #[arg(long, env = "FOREDECK_PORT", default_value_t = 4440)]
    port: u16,
}

/// The role that has every permission.
const ADMIN_ROLE: &str = "admin";

pub async fn run(a: ServeArgs) -> anyhow::Result<u8> {
    let store = match &a.database_url {
        Some(url) => SqlStore::connect(url)
            .await
            .context("connecting to the database")?,
        None => SqlStore::open_data_dir(&a.data_dir)
            .await
            .with_context(|| format!("opening the store in {}", a.data_dir.display()))?,
    };
    let store: Arc<dyn Store> = Arc::new(store);
    first_start(&store).await?;
    let mut state = ApiState::new(store, Arc::new(RoleAuthorizer::new([ADMIN_ROLE])));
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        state.node_name = host.trim().to_owned();
    }
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(a.bind, a.port))
        .await
        .with_context(|| format!("listening on {}:{}", a.bind, a.port))?;
    let addr = listener.local_addr()?;
    println!(
        "Foredeck {} listening on http://{addr}",
        env!("CARGO_PKG_VERSION")
    );
    axum::serve(listener, foredeck_http::router(state))
        .with_graceful_shutdown(shutdown())
        .await
        .context("serving")?;
    println!("Foredeck stopped");
    Ok(0)
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
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
    if bootstrap.as_ref().is_some_and(|t| t.len() < 16) {
        anyhow::bail!("FOREDECK_BOOTSTRAP_TOKEN must be at least 16 characters");
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
