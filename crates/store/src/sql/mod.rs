//! [`SqlStore`]: the [`Store`](foredeck_core::Store) traits on SeaORM, one
//! file per store area (as the traits in [`foredeck_core::store`]); this file
//! holds the connection and what several areas share.

mod acl;
mod audit;
mod cluster;
mod counts;
mod executions;
mod jobs;
mod keys;
mod known_hosts;
mod logs;
mod metrics;
mod projects;
mod run_state;
mod triggers;
mod users;
mod webhooks;

pub(crate) use counts::{counted_columns, counted_row, recount, CountedRow};

use crate::error::{codec, db, StoreError};
use crate::migration::Migrator;
use foredeck_core::{Error, Result};
use jobs::{JobCache, SummaryCache};
use sea_orm::sea_query::{Expr, Func, LikeExpr, LockBehavior, LockType};
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectOptions, ConnectionTrait, Database, DatabaseBackend,
    DatabaseConnection, DatabaseTransaction, EntityTrait, QuerySelect, Select, SqlxSqliteConnector,
    TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// How long an SQLite connection waits for the write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Rows per multi-row `INSERT` (keeps under every backend's parameter limit).
const INSERT_BATCH: usize = 500;

/// A [`Store`](foredeck_core::Store) on an SQL database: SQLite, PostgreSQL or MariaDB/MySQL.
///
/// Cheap to clone: clones share one connection pool.
#[derive(Clone, Debug)]
pub struct SqlStore {
    db: DatabaseConnection,
    jobs: JobCache,
    summaries: SummaryCache,
}

/// A pooled connection to a database server idle for this long is pinged
/// before it is used, and replaced when the ping fails.
const PING_AFTER_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Pool options for PostgreSQL and MySQL (sqlx's sizes and timeouts). sqlx
/// pings every connection it hands out by default: a second round trip for
/// each statement, a third of the server's time on an output read under 50
/// clients (benches/README.md). A connection in steady use is not pinged;
/// one that sat idle (where a restarted or vanished server shows) is.
fn server_pool<DB: sea_orm::sqlx::Database>() -> sea_orm::sqlx::pool::PoolOptions<DB> {
    sea_orm::sqlx::pool::PoolOptions::new()
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    sea_orm::sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// A [`server_pool`] connected to the database server at `url` (`what`
/// names its kind in errors; the URL, which may hold a password, is not
/// quoted), without sqlx's per-statement log.
async fn server_pool_for<DB>(url: &str, what: &str) -> Result<sea_orm::sqlx::Pool<DB>>
where
    DB: sea_orm::sqlx::Database,
    <DB::Connection as sea_orm::sqlx::Connection>::Options: FromStr<Err = sea_orm::sqlx::Error>,
{
    use sea_orm::sqlx::ConnectOptions as _;
    let opts = <DB::Connection as sea_orm::sqlx::Connection>::Options::from_str(url)
        .map_err(|source| StoreError::Url {
            what: format!("{what} URL"),
            source,
        })?
        .disable_statement_logging();
    server_pool().connect_with(opts).await.map_err(|source| {
        StoreError::Connect {
            doing: format!("connecting to {what}"),
            source,
        }
        .into()
    })
}

impl SqlStore {
    /// Connects to a database and brings its schema up to date.
    ///
    /// - `sqlite://path/to/foredeck.db?mode=rwc` (or `sqlite::memory:`): the
    ///   file is created if missing and put in WAL mode with
    ///   `synchronous=NORMAL` and a busy timeout.
    /// - `postgres://user@host:5432/db`
    /// - `mysql://user@host:3306/db` (MariaDB or MySQL)
    pub async fn connect(url: &str) -> Result<SqlStore> {
        let store = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url).map_err(|source| StoreError::Url {
                what: format!("SQLite URL {url:?}"),
                source,
            })?;
            let memory = url.contains(":memory:") || url.contains("mode=memory");
            Self::sqlite(opts, memory).await?
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = server_pool_for(url, "PostgreSQL").await?;
            SqlStore::over(sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(
                pool,
            ))
        } else if url.starts_with("mysql:") {
            let pool = server_pool_for(url, "MySQL").await?;
            SqlStore::over(sea_orm::SqlxMySqlConnector::from_sqlx_mysql_pool(pool))
        } else {
            let mut opts = ConnectOptions::new(url.to_owned());
            opts.sqlx_logging(false);
            // sea-orm refuses a URL of no database it supports: a
            // configuration error whose message is the whole story
            SqlStore::over(
                Database::connect(opts)
                    .await
                    .map_err(|e| Error::Store(e.to_string()))?,
            )
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Opens (creating it and the directory if needed) the SQLite database
    /// `dir/foredeck.db`.
    pub async fn open_data_dir(dir: &Path) -> Result<SqlStore> {
        // private to this account: the directory 0700, the database 0600
        // (SQLite gives its journal files the database's mode)
        crate::data_dir::create(dir)?;
        let file = dir.join("foredeck.db");
        crate::data_dir::create_private_file(&file)?;
        let opts = SqliteConnectOptions::new().filename(file);
        let store = Self::sqlite(opts, false).await?;
        store.migrate().await?;
        Ok(store)
    }

    async fn sqlite(opts: SqliteConnectOptions, memory: bool) -> Result<SqlStore> {
        let mut opts = opts
            .create_if_missing(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        let mut pool = SqlitePoolOptions::new();
        if memory {
            // One connection that lives as long as the pool: the database
            // lives in it.
            pool = pool
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        } else {
            opts = opts
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
            pool = pool.max_connections(8);
        }
        // a connection to a file in this process does not break while
        // pooled: no ping before each use
        let pool = pool
            .test_before_acquire(false)
            .connect_with(opts)
            .await
            .map_err(|source| StoreError::Connect {
                doing: "opening SQLite database".into(),
                source,
            })?;
        Ok(SqlStore::over(SqlxSqliteConnector::from_sqlx_sqlite_pool(
            pool,
        )))
    }

    fn over(db: DatabaseConnection) -> SqlStore {
        SqlStore {
            db,
            jobs: JobCache::default(),
            summaries: SummaryCache::default(),
        }
    }

    async fn migrate(&self) -> Result<()> {
        Migrator::up(&self.db, None).await.map_err(db)
    }

    /// The underlying SeaORM connection, for embedders' own queries.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Which kind of database this is.
    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// Closes the connection pool.
    pub async fn close(self) -> Result<()> {
        self.db.close().await.map_err(db)
    }
}

fn exec_id(id: u64) -> Option<i64> {
    i64::try_from(id).ok()
}

pub(crate) fn to_json<T: serde::Serialize>(what: &str, v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| codec(what, e))
}

/// Escapes `\`, `%` and `_` for a `LIKE … ESCAPE '\'` pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn like(pattern: String) -> LikeExpr {
    LikeExpr::new(pattern).escape('\\')
}

/// `group` is `path` or below it (`""` matches everything), as MemoryStore.
fn in_group(group: &str, path: &str) -> bool {
    path.is_empty() || group == path || group.starts_with(&format!("{path}/"))
}

/// SQL condition: the string column is `path` or below it. Compares
/// characters exactly on every backend (SQLite's `LIKE` ignores ASCII case).
fn group_condition<C: ColumnTrait>(col: C, path: &str) -> Condition {
    if path.is_empty() {
        return Condition::all().add(col.is_not_null());
    }
    let prefix = format!("{path}/");
    let len = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
    Condition::any().add(col.eq(path)).add(
        Expr::expr(
            Func::cust(sea_orm::sea_query::Alias::new("substr"))
                .arg(Expr::col(col))
                .arg(1)
                .arg(len),
        )
        .eq(prefix),
    )
}

/// Begins a transaction that will write. On SQLite it takes the write lock
/// at once: a deferred transaction that reads and then writes fails with
/// `SQLITE_BUSY` when another connection wrote in between, while one that
/// starts by writing waits (busy timeout) for the lock instead.
pub(crate) async fn begin_write(c: &DatabaseConnection) -> Result<DatabaseTransaction> {
    let txn = c.begin().await.map_err(db)?;
    if txn.get_database_backend() == DatabaseBackend::Sqlite {
        txn.execute_unprepared("UPDATE server_heartbeats SET last_seen = last_seen WHERE 0 = 1")
            .await
            .map_err(db)?;
    }
    Ok(txn)
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| codec(what, e))
}

/// `FOR UPDATE SKIP LOCKED` where the backend has row locks.
fn skip_locked<E: EntityTrait>(q: Select<E>, backend: DatabaseBackend) -> Select<E> {
    if backend == DatabaseBackend::Sqlite {
        q
    } else {
        q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
    }
}

/// `FOR UPDATE` where the backend has row locks.
fn for_update<E: EntityTrait>(q: Select<E>, backend: DatabaseBackend) -> Select<E> {
    if backend == DatabaseBackend::Sqlite {
        q
    } else {
        q.lock_exclusive()
    }
}
