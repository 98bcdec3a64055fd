//! [`SqlStore`]: the [`Store`] trait on SeaORM.

use crate::entity::{
    acl_policies, execution_counts, execution_totals, executions, job_revisions, jobs, keys,
    log_chunks, nodes, projects, triggers, webhooks,
};
use crate::error::{codec, db, no_execution};
use crate::migration::Migrator;
use crate::time;
use crate::{access, cluster, logcodec};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foredeck_core::model::{Execution, Job, JobSummary, LogEvent, Node, Project};
use foredeck_core::store::{
    AclPolicy, ApiToken, AuditEvent, AuditQuery, ExecutionClaim, ExecutionQuery, FireOutcome,
    JobQuery, KeyType, LogPage, Page, ServerHeartbeat, Store, StoredKey, Trigger, TriggerFire,
    User, Webhook,
};
use foredeck_core::{Error, Result};
use sea_orm::sea_query::{Expr, Func, LikeExpr, OnConflict, Query, SimpleExpr};
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectOptions, ConnectionTrait, Database,
    DatabaseBackend, DatabaseConnection, DatabaseTransaction, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, SqlxSqliteConnector, Statement, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long an SQLite connection waits for the write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Rows per multi-row `INSERT` (keeps under every backend's parameter limit).
const INSERT_BATCH: usize = 500;

/// A [`Store`] on an SQL database: SQLite, PostgreSQL or MariaDB/MySQL.
///
/// Cheap to clone: clones share one connection pool.
#[derive(Clone, Debug)]
pub struct SqlStore {
    db: DatabaseConnection,
    jobs: JobCache,
    summaries: SummaryCache,
}

/// Each project's job summaries, sorted as listed, with the project's job
/// revision they were read at: a list reads one row to check it.
/// One load at a time: requests that all find the list out of date (at
/// start, after a job change) wait for the one that reads it instead of each
/// reading and parsing every job.
#[derive(Clone, Debug, Default)]
struct SummaryCache {
    lists: Arc<Mutex<HashMap<String, RevisedSummaries>>>,
    loading: Arc<tokio::sync::Mutex<()>>,
}

/// A project's job revision and its summaries at that revision.
type RevisedSummaries = (i64, Arc<Summaries>);

/// A project's job summaries in list order, with their positions by uuid.
#[derive(Debug)]
struct Summaries {
    list: Vec<JobSummary>,
    by_uuid: HashMap<String, usize>,
}

impl Summaries {
    fn new(list: Vec<JobSummary>) -> Self {
        let by_uuid = list
            .iter()
            .enumerate()
            .map(|(i, j)| (j.uuid.clone(), i))
            .collect();
        Summaries { list, by_uuid }
    }

    /// Those matching `query`, in list order; a query by uuids looks them
    /// up rather than comparing every job's.
    fn matching(&self, query: &JobQuery) -> Vec<JobSummary> {
        let m = query.matcher();
        if query.ids.is_empty() {
            return self
                .list
                .iter()
                .filter(|j| m.matches(&j.uuid, j.group.as_deref(), &j.name))
                .cloned()
                .collect();
        }
        let mut at: Vec<usize> = query
            .ids
            .iter()
            .filter_map(|id| self.by_uuid.get(id).copied())
            .collect();
        at.sort_unstable();
        at.dedup();
        at.into_iter()
            .map(|i| &self.list[i])
            .filter(|j| m.matches(&j.uuid, j.group.as_deref(), &j.name))
            .cloned()
            .collect()
    }
}

impl SummaryCache {
    fn get(&self, project: &str, rev: i64) -> Option<Arc<Summaries>> {
        let map = self.lists.lock().unwrap_or_else(|p| p.into_inner());
        map.get(project)
            .filter(|(r, _)| *r == rev)
            .map(|(_, v)| Arc::clone(v))
    }

    fn put(&self, project: &str, rev: i64, list: Arc<Summaries>) {
        let mut map = self.lists.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(project.to_owned(), (rev, list));
    }
}

/// Parsed job definitions by uuid, with the `updated` stamp they were parsed
/// at: listing thousands of jobs then reads three short columns and parses
/// only what changed since (in any process) instead of every YAML text.
#[derive(Clone, Debug, Default)]
struct JobCache(Arc<Mutex<CachedJobs>>);

/// uuid -> (`updated` stamp, parsed job).
type CachedJobs = HashMap<String, (i64, Arc<Job>)>;

/// Entries kept at most; past that the cache starts over.
const JOB_CACHE_MAX: usize = 100_000;

impl JobCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, CachedJobs> {
        // A panic while holding the lock leaves a consistent map.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
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
        .map_err(|e| Error::Store(format!("bad {what} URL: {e}")))?
        .disable_statement_logging();
    server_pool()
        .connect_with(opts)
        .await
        .map_err(|e| Error::Store(format!("connecting to {what}: {e}")))
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
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| Error::Store(format!("bad SQLite URL {url:?}: {e}")))?;
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
            SqlStore::over(Database::connect(opts).await.map_err(db)?)
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
            .map_err(|e| Error::Store(format!("opening SQLite database: {e}")))?;
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

fn project_from(m: projects::Model) -> Result<Project> {
    Ok(Project {
        config: serde_json::from_str(&m.config).map_err(|e| codec("project config", e))?,
        name: m.name,
        description: m.description,
    })
}

fn job_from(m: &jobs::Model) -> Result<Job> {
    serde_yaml_ng::from_str(&m.definition)
        .map_err(|e| codec(&format!("job {} definition", m.uuid), e))
}

pub(crate) fn execution_from(m: executions::Model) -> Result<Execution> {
    let mut e: Execution = serde_json::from_str(&m.record)
        .map_err(|e| codec(&format!("execution {} record", m.id), e))?;
    e.id = m.id as u64;
    // Claims change the column only.
    e.server_uuid = m.server_uuid;
    Ok(e)
}

fn key_type_str(t: KeyType) -> &'static str {
    match t {
        KeyType::Private => "private",
        KeyType::Public => "public",
        KeyType::Password => "password",
    }
}

fn key_from(m: keys::Model) -> Result<StoredKey> {
    let key_type = match m.key_type.as_str() {
        "private" => KeyType::Private,
        "public" => KeyType::Public,
        "password" => KeyType::Password,
        other => {
            return Err(Error::Store(format!(
                "key {}: unknown type {other:?}",
                m.path
            )))
        }
    };
    Ok(StoredKey {
        path: m.path,
        key_type,
        ciphertext: m.ciphertext,
        created: time::from_db(m.created),
        modified: time::from_db(m.modified),
    })
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

/// Current group, name and lowercased name of a job, for the denormalized
/// columns of its executions.
type JobNames = (Option<String>, Option<String>, Option<String>);

async fn job_names<C: ConnectionTrait>(
    c: &C,
    project: &str,
    job_id: Option<&str>,
) -> Result<JobNames> {
    let Some(job_id) = job_id else {
        return Ok((None, None, None));
    };
    let row: Option<(String, String)> = jobs::Entity::find()
        .filter(jobs::Column::Uuid.eq(job_id))
        .filter(jobs::Column::Project.eq(project))
        .select_only()
        .column(jobs::Column::GroupPath)
        .column(jobs::Column::Name)
        .into_tuple()
        .one(c)
        .await
        .map_err(db)?;
    Ok(match row {
        Some((g, n)) => {
            let lower = n.to_lowercase();
            (Some(g), Some(n), Some(lower))
        }
        None => (None, None, None),
    })
}

fn execution_model(e: &Execution, names: JobNames) -> Result<executions::ActiveModel> {
    let (job_group, job_name, job_name_lower) = names;
    Ok(executions::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        project: Set(e.project.clone()),
        job_id: Set(e.job_id.clone()),
        job_group: Set(job_group),
        job_name: Set(job_name),
        job_name_lower: Set(job_name_lower),
        user: Set(e.user.clone()),
        status: Set(e.status.as_str().to_owned()),
        date_started: Set(time::to_db(e.date_started)?),
        date_ended: Set(e.date_ended.map(time::to_db).transpose()?),
        arg_string: Set(e.arg_string.clone()),
        retry_attempt: Set(i64::from(e.retry_attempt)),
        retry_of: Set(e.retry_of.and_then(exec_id)),
        log_events: sea_orm::ActiveValue::NotSet,
        record: Set(to_json("execution", e)?),
        server_uuid: Set(e.server_uuid.clone()),
    })
}

fn encode_events(events: &[LogEvent]) -> Result<Vec<u8>> {
    logcodec::encode(events).map_err(Error::Store)
}

fn decode_events(chunk: &log_chunks::Model) -> Result<Vec<LogEvent>> {
    logcodec::decode(&chunk.body).map_err(|e| {
        codec(
            &format!(
                "log of execution {} at {}",
                chunk.execution_id, chunk.first_offset
            ),
            e,
        )
    })
}

#[async_trait]
impl Store for SqlStore {
    async fn create_project(&self, project: &Project) -> Result<()> {
        let row = projects::ActiveModel {
            name: Set(project.name.clone()),
            description: Set(project.description.clone()),
            config: Set(to_json("project config", &project.config)?),
        };
        let exists = projects::Entity::find_by_id(project.name.clone())
            .one(&self.db)
            .await
            .map_err(db)?
            .is_some();
        let conflict = || Error::Conflict(format!("project {:?} exists", project.name));
        if exists {
            return Err(conflict());
        }
        match projects::Entity::insert(row)
            .exec(&self.db)
            .await
            .map_err(db)
        {
            Ok(_) => Ok(()),
            Err(Error::Conflict(_)) => Err(conflict()),
            Err(e) => Err(e),
        }
    }

    async fn update_project(&self, project: &Project) -> Result<()> {
        let res = projects::Entity::update_many()
            .col_expr(
                projects::Column::Description,
                Expr::value(project.description.clone()),
            )
            .col_expr(
                projects::Column::Config,
                Expr::value(to_json("project config", &project.config)?),
            )
            .filter(projects::Column::Name.eq(&project.name))
            .exec(&self.db)
            .await
            .map_err(db)?;
        // MySQL counts changed rows only: check that a missing row is missing.
        if res.rows_affected == 0 && self.get_project(&project.name).await?.is_none() {
            return Err(Error::NotFound {
                kind: "project",
                id: project.name.clone(),
            });
        }
        Ok(())
    }

    async fn get_project(&self, name: &str) -> Result<Option<Project>> {
        projects::Entity::find_by_id(name.to_owned())
            .one(&self.db)
            .await
            .map_err(db)?
            .map(project_from)
            .transpose()
    }

    async fn list_projects(&self) -> Result<Vec<Project>> {
        let mut list = projects::Entity::find()
            .all(&self.db)
            .await
            .map_err(db)?
            .into_iter()
            .map(project_from)
            .collect::<Result<Vec<_>>>()?;
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    async fn delete_project(&self, name: &str) -> Result<()> {
        let txn = begin_write(&self.db).await?;
        let deleted = projects::Entity::delete_many()
            .filter(projects::Column::Name.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        if deleted.rows_affected == 0 {
            return Err(Error::NotFound {
                kind: "project",
                id: name.into(),
            });
        }
        log_chunks::Entity::delete_many()
            .filter(
                log_chunks::Column::ExecutionId.in_subquery(
                    Query::select()
                        .column(executions::Column::Id)
                        .from(executions::Entity)
                        .and_where(executions::Column::Project.eq(name))
                        .to_owned(),
                ),
            )
            .exec(&txn)
            .await
            .map_err(db)?;
        executions::Entity::delete_many()
            .filter(executions::Column::Project.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        jobs::Entity::delete_many()
            .filter(jobs::Column::Project.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        // kept, raised: a project made again under this name must not match
        // a list cached before
        bump_job_revision(&txn, name).await?;
        nodes::Entity::delete_many()
            .filter(nodes::Column::Project.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        execution_counts::Entity::delete_many()
            .filter(execution_counts::Column::Project.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        execution_totals::Entity::delete_many()
            .filter(execution_totals::Column::Project.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        triggers::Entity::delete_many()
            .filter(triggers::Column::Project.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        acl_policies::Entity::delete_many()
            .filter(acl_policies::Column::Scope.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        webhooks::Entity::delete_many()
            .filter(webhooks::Column::Project.eq(name))
            .exec(&txn)
            .await
            .map_err(db)?;
        txn.commit().await.map_err(db)
    }

    async fn replace_nodes(&self, project: &str, source: &str, nodes: &[Node]) -> Result<()> {
        // A later node of the same name replaces an earlier one, as in memory.
        let mut by_name: BTreeMap<&str, &Node> = BTreeMap::new();
        for n in nodes {
            by_name.insert(&n.name, n);
        }
        let rows = by_name
            .into_values()
            .map(|n| {
                Ok(nodes::ActiveModel {
                    project: Set(project.to_owned()),
                    source: Set(source.to_owned()),
                    name: Set(n.name.clone()),
                    attributes: Set(to_json("node", n)?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let txn = begin_write(&self.db).await?;
        nodes::Entity::delete_many()
            .filter(nodes::Column::Project.eq(project))
            .filter(nodes::Column::Source.eq(source))
            .exec(&txn)
            .await
            .map_err(db)?;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let batch: Vec<_> = rows.by_ref().take(INSERT_BATCH).collect();
            nodes::Entity::insert_many(batch)
                .exec(&txn)
                .await
                .map_err(db)?;
        }
        txn.commit().await.map_err(db)
    }

    async fn list_nodes(&self, project: &str) -> Result<Vec<Node>> {
        let mut rows = nodes::Entity::find()
            .filter(nodes::Column::Project.eq(project))
            .all(&self.db)
            .await
            .map_err(db)?;
        // Byte order of source names, like MemoryStore's BTreeMap (SQL
        // collations differ between backends).
        rows.sort_by(|a, b| a.source.cmp(&b.source));
        let mut merged: BTreeMap<String, Node> = BTreeMap::new();
        for row in rows {
            let node: Node = serde_json::from_str(&row.attributes).map_err(|e| codec("node", e))?;
            merged.insert(node.name.clone(), node);
        }
        Ok(merged.into_values().collect())
    }

    async fn put_job(&self, project: &str, job: &Job) -> Result<Job> {
        let mut job = job.clone();
        let id = job
            .uuid
            .get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
            .clone();
        job.project = Some(project.into());
        let group = job.group.clone().unwrap_or_default();
        let definition = serde_yaml_ng::to_string(&job).map_err(|e| codec("job definition", e))?;
        let now = time::to_db(chrono::Utc::now())?;

        let txn = begin_write(&self.db).await?;
        let other = jobs::Entity::find()
            .filter(jobs::Column::Project.eq(project))
            .filter(jobs::Column::GroupPath.eq(&group))
            .filter(jobs::Column::Name.eq(&job.name))
            .filter(jobs::Column::Uuid.ne(&id))
            .one(&txn)
            .await
            .map_err(db)?;
        let conflict = |uuid: &str| {
            Error::Conflict(format!(
                "job {:?} already exists with uuid {uuid}",
                job.full_name()
            ))
        };
        if let Some(other) = other {
            return Err(conflict(&other.uuid));
        }
        let existing = jobs::Entity::find_by_id(id.clone())
            .one(&txn)
            .await
            .map_err(db)?;
        let result = match existing {
            // the other project is not named: the caller may not read it
            Some(m) if m.project != project => {
                return Err(Error::Conflict(format!(
                    "job uuid {id} is taken by a job of another project"
                )))
            }
            Some(m) => {
                let mut row: jobs::ActiveModel = m.into();
                row.group_path = Set(group.clone());
                row.name = Set(job.name.clone());
                row.definition = Set(definition);
                row.updated = Set(now);
                row.update(&txn).await.map(|_| ())
            }
            None => jobs::Entity::insert(jobs::ActiveModel {
                uuid: Set(id.clone()),
                project: Set(project.to_owned()),
                group_path: Set(group.clone()),
                name: Set(job.name.clone()),
                definition: Set(definition),
                created: Set(now),
                updated: Set(now),
            })
            .exec_without_returning(&txn)
            .await
            .map(|_| ()),
        };
        match result.map_err(db) {
            Ok(()) => {}
            Err(Error::Conflict(_)) => return Err(conflict("(another, created concurrently)")),
            Err(e) => return Err(e),
        }
        executions::Entity::update_many()
            .col_expr(executions::Column::JobGroup, Expr::value(group))
            .col_expr(executions::Column::JobName, Expr::value(job.name.clone()))
            .col_expr(
                executions::Column::JobNameLower,
                Expr::value(job.name.to_lowercase()),
            )
            .filter(executions::Column::JobId.eq(&id))
            .filter(executions::Column::Project.eq(project))
            .exec(&txn)
            .await
            .map_err(db)?;
        bump_job_revision(&txn, project).await?;
        txn.commit().await.map_err(db)?;
        Ok(job)
    }

    async fn get_job(&self, project: &str, id: &str) -> Result<Option<Job>> {
        jobs::Entity::find_by_id(id.to_owned())
            .filter(jobs::Column::Project.eq(project))
            .one(&self.db)
            .await
            .map_err(db)?
            .map(|m| job_from(&m))
            .transpose()
    }

    async fn uuid_taken(&self, uuid: &str) -> Result<bool> {
        Ok(jobs::Entity::find_by_id(uuid.to_owned())
            .one(&self.db)
            .await
            .map_err(db)?
            .is_some())
    }

    async fn find_job(
        &self,
        project: &str,
        group: Option<&str>,
        name: &str,
    ) -> Result<Option<Job>> {
        jobs::Entity::find()
            .filter(jobs::Column::Project.eq(project))
            .filter(jobs::Column::GroupPath.eq(group.unwrap_or("")))
            .filter(jobs::Column::Name.eq(name))
            .one(&self.db)
            .await
            .map_err(db)?
            .map(|m| job_from(&m))
            .transpose()
    }

    async fn list_jobs(&self, project: &str, query: &JobQuery) -> Result<Vec<Job>> {
        let jobs = self.cached_jobs(project, query).await?;
        Ok(jobs.iter().map(|j| Job::clone(j)).collect())
    }

    async fn list_job_summaries(&self, project: &str, query: &JobQuery) -> Result<Vec<JobSummary>> {
        // the revision first: a change after it makes the next list reload
        let mut rev = job_revision(&self.db, project).await?;
        let all = match self.summaries.get(project, rev) {
            Some(all) => all,
            None => {
                let _loading = self.summaries.loading.lock().await;
                // another request may have loaded it while this one waited
                rev = job_revision(&self.db, project).await?;
                match self.summaries.get(project, rev) {
                    Some(all) => all,
                    None => {
                        let jobs = self.cached_jobs(project, &JobQuery::default()).await?;
                        let all =
                            Arc::new(Summaries::new(jobs.iter().map(|j| j.summary()).collect()));
                        self.summaries.put(project, rev, Arc::clone(&all));
                        all
                    }
                }
            }
        };
        Ok(all.matching(query))
    }

    async fn job_revision(&self, project: &str) -> Result<Option<u64>> {
        let rev = job_revision(&self.db, project).await?;
        Ok(Some(u64::try_from(rev).unwrap_or(0)))
    }

    async fn delete_job(&self, project: &str, id: &str) -> Result<()> {
        let txn = begin_write(&self.db).await?;
        let res = jobs::Entity::delete_many()
            .filter(jobs::Column::Project.eq(project))
            .filter(jobs::Column::Uuid.eq(id))
            .exec(&txn)
            .await
            .map_err(db)?;
        if res.rows_affected == 0 {
            return Err(Error::NotFound {
                kind: "job",
                id: id.into(),
            });
        }
        // Its executions stay, but no longer match group or name filters.
        executions::Entity::update_many()
            .col_expr(executions::Column::JobGroup, Expr::value(None::<String>))
            .col_expr(executions::Column::JobName, Expr::value(None::<String>))
            .col_expr(
                executions::Column::JobNameLower,
                Expr::value(None::<String>),
            )
            .filter(executions::Column::JobId.eq(id))
            .filter(executions::Column::Project.eq(project))
            .exec(&txn)
            .await
            .map_err(db)?;
        bump_job_revision(&txn, project).await?;
        txn.commit().await.map_err(db)
    }

    async fn create_execution(&self, execution: &Execution) -> Result<u64> {
        let txn = begin_write(&self.db).await?;
        let id = insert_execution(&txn, execution).await?;
        txn.commit().await.map_err(db)?;
        Ok(id)
    }

    async fn update_execution(&self, execution: &Execution) -> Result<()> {
        let id = exec_id(execution.id).ok_or_else(|| no_execution(execution.id))?;
        let txn = begin_write(&self.db).await?;
        // Locks the row (PostgreSQL, MariaDB) so that concurrent updates of
        // one execution move its count one at a time.
        let old = counted_key(&txn, id, true)
            .await?
            .ok_or_else(|| no_execution(execution.id))?;
        let names = job_names(&txn, &execution.project, execution.job_id.as_deref()).await?;
        let mut row = execution_model(execution, names)?;
        row.id = sea_orm::ActiveValue::Unchanged(id);
        executions::Entity::update_many()
            .set(row)
            .filter(executions::Column::Id.eq(id))
            .exec(&txn)
            .await
            .map_err(db)?;
        let new = CountKey::of(execution, id);
        if new != old {
            recount(&txn, vec![(old, -1), (new, 1)]).await?;
        }
        txn.commit().await.map_err(db)
    }

    async fn get_execution(&self, id: u64) -> Result<Option<Execution>> {
        let Some(id) = exec_id(id) else {
            return Ok(None);
        };
        executions::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(db)?
            .map(execution_from)
            .transpose()
    }

    async fn query_executions(&self, query: &ExecutionQuery) -> Result<Page<Execution>> {
        let max = if query.max == 0 { 20 } else { query.max };
        // Group and name filters mean the project's jobs of that group or
        // name (executions of deleted jobs match neither): found among the
        // job summaries, then by job id through the index, instead of a
        // scan of every execution for a substring.
        let by_ids;
        let query = match (&query.project, &query.group_path, &query.job_name_contains) {
            (Some(project), g, n) if g.is_some() || n.is_some() => {
                let jobs = JobQuery {
                    group_path: g.clone(),
                    name_contains: n.clone(),
                    ..JobQuery::default()
                };
                let ids: Vec<String> = self
                    .list_job_summaries(project, &jobs)
                    .await?
                    .into_iter()
                    .map(|j| j.uuid)
                    .filter(|id| query.job_ids.is_empty() || query.job_ids.contains(id))
                    .collect();
                if ids.is_empty() || query.adhoc == Some(true) {
                    return Ok(Page {
                        items: Vec::new(),
                        total: 0,
                        offset: query.offset,
                        max,
                    });
                }
                if ids.len() > MAX_ID_FILTER {
                    // more than a statement takes: the column filters then
                    return self.query_executions_by_columns(query, max).await;
                }
                by_ids = ExecutionQuery {
                    job_ids: ids,
                    group_path: None,
                    job_name_contains: None,
                    ..query.clone()
                };
                &by_ids
            }
            _ => query,
        };
        self.query_executions_by_columns(query, max).await
    }

    async fn delete_execution(&self, id: u64) -> Result<()> {
        let eid = exec_id(id).ok_or_else(|| no_execution(id))?;
        let txn = begin_write(&self.db).await?;
        let old = counted_key(&txn, eid, true)
            .await?
            .ok_or_else(|| no_execution(id))?;
        executions::Entity::delete_many()
            .filter(executions::Column::Id.eq(eid))
            .exec(&txn)
            .await
            .map_err(db)?;
        recount(&txn, vec![(old, -1)]).await?;
        log_chunks::Entity::delete_many()
            .filter(log_chunks::Column::ExecutionId.eq(eid))
            .exec(&txn)
            .await
            .map_err(db)?;
        txn.commit().await.map_err(db)
    }

    async fn append_log(&self, id: u64, events: &[LogEvent]) -> Result<()> {
        let eid = exec_id(id).ok_or_else(|| no_execution(id))?;
        if events.is_empty() {
            return match self.stored_log_length(eid).await? {
                Some(_) => Ok(()),
                None => Err(no_execution(id)),
            };
        }
        let body = encode_events(events)?;
        let n = i64::try_from(events.len()).map_err(|_| Error::Store("too many events".into()))?;
        if self.backend() == DatabaseBackend::Sqlite {
            // One statement: the chunk starts at the current count, and the
            // `log_chunks_advance` trigger (migration 3) advances the count,
            // atomically under SQLite's write lock.
            let res = self
                .db
                .execute(Statement::from_sql_and_values(
                    DatabaseBackend::Sqlite,
                    "INSERT INTO log_chunks (execution_id, first_offset, event_count, body) \
                     SELECT id, log_events, ?, ? FROM executions WHERE id = ?",
                    [n.into(), body.into(), eid.into()],
                ))
                .await
                .map_err(db)?;
            return if res.rows_affected() == 0 {
                Err(no_execution(id))
            } else {
                Ok(())
            };
        }
        // Writing first takes the row lock before anything is read, so
        // concurrent appends to one execution are serialized and each gets
        // its own range of offsets.
        let txn = self.db.begin().await.map_err(db)?;
        let total = match self.backend() {
            // One round trip with UPDATE ... RETURNING.
            DatabaseBackend::Postgres => {
                let row = txn
                    .query_one(Statement::from_sql_and_values(
                        self.backend(),
                        "UPDATE executions SET log_events = log_events + $1 \
                         WHERE id = $2 RETURNING log_events",
                        [n.into(), eid.into()],
                    ))
                    .await
                    .map_err(db)?
                    .ok_or_else(|| no_execution(id))?;
                row.try_get_by_index::<i64>(0).map_err(db)?
            }
            _ => {
                let res = executions::Entity::update_many()
                    .col_expr(
                        executions::Column::LogEvents,
                        Expr::col(executions::Column::LogEvents).add(n),
                    )
                    .filter(executions::Column::Id.eq(eid))
                    .exec(&txn)
                    .await
                    .map_err(db)?;
                if res.rows_affected == 0 {
                    return Err(no_execution(id));
                }
                log_length_in(&txn, eid)
                    .await?
                    .ok_or_else(|| no_execution(id))?
            }
        };
        log_chunks::Entity::insert(log_chunks::ActiveModel {
            execution_id: Set(eid),
            first_offset: Set(total - n),
            event_count: Set(n),
            body: Set(body),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(db)?;
        txn.commit().await.map_err(db)
    }

    async fn read_log(&self, id: u64, offset: u64, limit: usize) -> Result<LogPage> {
        let eid = exec_id(id).ok_or_else(|| no_execution(id))?;
        let end = offset.saturating_add(limit as u64);
        // The events first: chunks are stored in the transaction that
        // advances the log's length, so those found are all there is up to
        // where they end, and a page with events needs no other read.
        if let (true, Ok(start_i)) = (limit > 0, i64::try_from(offset)) {
            let end_i = i64::try_from(end).unwrap_or(i64::MAX);
            let chunks = self.chunks_from(eid, start_i, Some(end_i)).await?;
            let mut events = Vec::with_capacity(limit.min(4_096));
            for chunk in &chunks {
                for (i, ev) in decode_events(chunk)?.into_iter().enumerate() {
                    let at = chunk.first_offset + i as i64;
                    if at >= start_i && at < end_i {
                        events.push(ev);
                    }
                }
            }
            if !events.is_empty() {
                return Ok(LogPage {
                    next_offset: offset + events.len() as u64,
                    events,
                });
            }
        }
        // Nothing there: whether the execution exists, and where its log ends.
        Ok(LogPage {
            events: Vec::new(),
            next_offset: offset.min(self.log_length(id).await?),
        })
    }

    async fn read_log_tail(&self, id: u64, n: usize) -> Result<LogPage> {
        let eid = exec_id(id).ok_or_else(|| no_execution(id))?;
        if n > 0 {
            // From the event `n` before the log's end (the length from the
            // execution's row), in the same statement as the chunks, so
            // that both are of one moment.
            let back = i64::try_from(n).unwrap_or(i64::MAX);
            let start = Query::select()
                .expr(Expr::col(executions::Column::LogEvents).sub(back))
                .from(executions::Entity)
                .and_where(Expr::col(executions::Column::Id).eq(eid))
                .to_owned();
            let start = SimpleExpr::SubQuery(None, Box::new(start.into_sub_query_statement()));
            let chunks = self.chunks_from(eid, start, None).await?;
            if let Some(last) = chunks.last() {
                let mut events = Vec::new();
                let mut end = last.first_offset;
                for chunk in &chunks {
                    let decoded = decode_events(chunk)?;
                    end = chunk.first_offset + decoded.len() as i64;
                    events.extend(decoded);
                }
                let skip = events.len().saturating_sub(n);
                events.drain(..skip);
                return Ok(LogPage {
                    events,
                    next_offset: u64::try_from(end).unwrap_or(0),
                });
            }
        }
        // No events: whether the execution exists, and where its log ends.
        Ok(LogPage {
            events: Vec::new(),
            next_offset: self.log_length(id).await?,
        })
    }

    async fn log_length(&self, id: u64) -> Result<u64> {
        let eid = exec_id(id).ok_or_else(|| no_execution(id))?;
        let n = self
            .stored_log_length(eid)
            .await?
            .ok_or_else(|| no_execution(id))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn put_key(&self, key: &StoredKey) -> Result<()> {
        let row = keys::ActiveModel {
            path: Set(key.path.clone()),
            key_type: Set(key_type_str(key.key_type).to_owned()),
            ciphertext: Set(key.ciphertext.clone()),
            created: Set(time::to_db(key.created)?),
            modified: Set(time::to_db(key.modified)?),
        };
        keys::Entity::insert(row)
            .on_conflict(
                OnConflict::column(keys::Column::Path)
                    .update_columns([
                        keys::Column::KeyType,
                        keys::Column::Ciphertext,
                        keys::Column::Created,
                        keys::Column::Modified,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn get_key(&self, path: &str) -> Result<Option<StoredKey>> {
        keys::Entity::find_by_id(path.to_owned())
            .one(&self.db)
            .await
            .map_err(db)?
            .map(key_from)
            .transpose()
    }

    async fn list_keys(&self, prefix: &str) -> Result<Vec<StoredKey>> {
        let rows = keys::Entity::find()
            .filter(Expr::col(keys::Column::Path).like(like(format!("{}%", like_escape(prefix)))))
            .all(&self.db)
            .await
            .map_err(db)?;
        let mut list = rows
            .into_iter()
            // SQLite's LIKE ignores ASCII case: re-check exactly.
            .filter(|m| m.path.starts_with(prefix))
            .map(key_from)
            .collect::<Result<Vec<_>>>()?;
        list.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(list)
    }

    async fn delete_key(&self, path: &str) -> Result<()> {
        let res = keys::Entity::delete_many()
            .filter(keys::Column::Path.eq(path))
            .exec(&self.db)
            .await
            .map_err(db)?;
        if res.rows_affected == 0 {
            return Err(Error::NotFound {
                kind: "key",
                id: path.into(),
            });
        }
        Ok(())
    }

    async fn get_known_host(&self, host: &str) -> Result<Option<String>> {
        cluster::get_known_host(&self.db, host).await
    }
    async fn put_known_host(&self, host: &str, key: &str) -> Result<()> {
        cluster::put_known_host(&self.db, host, key).await
    }
    async fn delete_known_host(&self, host: &str) -> Result<bool> {
        cluster::delete_known_host(&self.db, host).await
    }
    async fn put_trigger(&self, trigger: &Trigger) -> Result<()> {
        cluster::put_trigger(&self.db, trigger).await
    }
    async fn get_trigger(&self, id: &str) -> Result<Option<Trigger>> {
        cluster::get_trigger(&self.db, id).await
    }
    async fn list_triggers(&self, project: Option<&str>) -> Result<Vec<Trigger>> {
        cluster::list_triggers(&self.db, project).await
    }
    async fn delete_trigger(&self, id: &str) -> Result<()> {
        cluster::delete_trigger(&self.db, id).await
    }
    async fn claim_due_triggers(
        &self,
        server: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Trigger>> {
        cluster::claim_due_triggers(&self.db, server, now, lease, limit).await
    }
    async fn release_trigger(&self, id: &str, server: &str) -> Result<()> {
        cluster::release_trigger(&self.db, id, server).await
    }
    async fn fire_trigger(&self, fire: &TriggerFire) -> Result<FireOutcome> {
        cluster::fire_trigger(&self.db, fire).await
    }
    async fn heartbeat(&self, beat: &ServerHeartbeat) -> Result<()> {
        cluster::heartbeat(&self.db, beat).await
    }
    async fn list_servers(&self) -> Result<Vec<ServerHeartbeat>> {
        cluster::list_servers(&self.db).await
    }
    async fn delete_server(&self, server: &str) -> Result<()> {
        cluster::delete_server(&self.db, server).await
    }
    async fn claim_executions(
        &self,
        server: &str,
        claim: &ExecutionClaim,
        limit: usize,
    ) -> Result<Vec<Execution>> {
        cluster::claim_executions(&self.db, server, claim, limit).await
    }
    async fn put_user(&self, user: &User) -> Result<()> {
        access::put_user(&self.db, user).await
    }
    async fn get_user(&self, login: &str) -> Result<Option<User>> {
        access::get_user(&self.db, login).await
    }
    async fn list_users(&self) -> Result<Vec<User>> {
        access::list_users(&self.db).await
    }
    async fn delete_user(&self, login: &str) -> Result<()> {
        access::delete_user(&self.db, login).await
    }
    async fn create_token(&self, token: &ApiToken) -> Result<()> {
        access::create_token(&self.db, token).await
    }
    async fn find_token(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        access::find_token(&self.db, token_hash).await
    }
    async fn list_tokens(&self, user: Option<&str>) -> Result<Vec<ApiToken>> {
        access::list_tokens(&self.db, user).await
    }
    async fn delete_token(&self, id: &str) -> Result<()> {
        access::delete_token(&self.db, id).await
    }
    async fn put_acl_policy(&self, policy: &AclPolicy) -> Result<()> {
        access::put_acl_policy(&self.db, policy).await
    }
    async fn get_acl_policy(&self, project: Option<&str>, name: &str) -> Result<Option<AclPolicy>> {
        access::get_acl_policy(&self.db, project, name).await
    }
    async fn list_acl_policies(&self, project: Option<&str>) -> Result<Vec<AclPolicy>> {
        access::list_acl_policies(&self.db, project).await
    }
    async fn delete_acl_policy(&self, project: Option<&str>, name: &str) -> Result<()> {
        access::delete_acl_policy(&self.db, project, name).await
    }
    async fn append_audit(&self, event: &AuditEvent) -> Result<u64> {
        access::append_audit(&self.db, event).await
    }
    async fn query_audit(&self, query: &AuditQuery) -> Result<Page<AuditEvent>> {
        access::query_audit(&self.db, query).await
    }
    async fn put_webhook(&self, hook: &Webhook) -> Result<()> {
        access::put_webhook(&self.db, hook).await
    }
    async fn get_webhook(&self, id: &str) -> Result<Option<Webhook>> {
        access::get_webhook(&self.db, id).await
    }
    async fn find_webhook(&self, token_hash: &str) -> Result<Option<Webhook>> {
        access::find_webhook(&self.db, token_hash).await
    }
    async fn list_webhooks(&self, project: &str) -> Result<Vec<Webhook>> {
        access::list_webhooks(&self.db, project).await
    }
    async fn delete_webhook(&self, id: &str) -> Result<()> {
        access::delete_webhook(&self.db, id).await
    }
}

/// Up to this many job ids, an execution query reads by the job index.
const FEW_JOBS: usize = 50;

/// Job ids a translated group or name filter sends at most in one statement.
const MAX_ID_FILTER: usize = 10_000;

impl SqlStore {
    /// The execution query on the executions table's own columns.
    async fn query_executions_by_columns(
        &self,
        query: &ExecutionQuery,
        max: u64,
    ) -> Result<Page<Execution>> {
        use executions::Column as C;
        let mut cond = Condition::all();
        if let Some(p) = &query.project {
            let few_jobs = !query.job_ids.is_empty() && query.job_ids.len() <= FEW_JOBS;
            if few_jobs && self.backend() == DatabaseBackend::Sqlite {
                // Without fresh statistics SQLite walks the project's index
                // newest first until it has a page of these jobs' runs,
                // which for a few of 10,000 jobs reads most of the table;
                // a unary `+` keeps it on the job index.
                cond = cond.add(Expr::cust_with_values(
                    r#"+"executions"."project" = ?"#,
                    [p.clone()],
                ));
            } else {
                cond = cond.add(C::Project.eq(p));
            }
        }
        if !query.job_ids.is_empty() {
            cond = cond.add(C::JobId.is_in(query.job_ids.iter().cloned()));
        }
        match query.adhoc {
            Some(true) => cond = cond.add(C::JobId.is_null()),
            Some(false) => cond = cond.add(C::JobId.is_not_null()),
            None => {}
        }
        if let Some(u) = &query.user {
            cond = cond.add(C::User.eq(u));
        }
        if let Some(s) = &query.status {
            cond = cond.add(C::Status.eq(s.as_str()));
        }
        if let Some(b) = query.begin {
            cond = cond.add(C::DateStarted.gte(time::bound(b)));
        }
        if let Some(e) = query.end {
            cond = cond.add(C::DateStarted.lt(time::bound(e)));
        }
        if let Some(p) = &query.group_path {
            cond = cond.add(group_condition(C::JobGroup, p));
        }
        if let Some(n) = &query.job_name_contains {
            let pattern = format!("%{}%", like_escape(&n.to_lowercase()));
            cond = cond.add(Expr::col(C::JobNameLower).like(like(pattern)));
        }
        let total = match counted_total(&self.db, query).await? {
            Some(n) => n,
            None => executions::Entity::find()
                .filter(cond.clone())
                .count(&self.db)
                .await
                .map_err(db)?,
        };
        let sorted = executions::Entity::find()
            .filter(cond)
            .order_by_desc(C::DateStarted)
            .order_by_desc(C::Id);
        let backend = self.backend();
        let rows = if backend == DatabaseBackend::MySql {
            // MySQL and MariaDB take no LIMIT in an IN subquery
            sorted.offset(query.offset).limit(max).all(&self.db).await
        } else {
            // The page's ids first, from the index alone, then only those
            // rows: sorting the runs of a few jobs, or skipping to a deep
            // offset, then moves ids instead of whole records (SQLite: 1.5
            // ms to 0.1 ms for 10 jobs' runs, 126 ms to 37 ms at offset
            // 100,000 of 1,000,000).
            //
            // LIMIT and OFFSET are written into the statement, not bound:
            // PostgreSQL plans a prepared statement whose limit is a
            // parameter anew for every execution (a generic plan cannot
            // cost it), 0.16 ms of planning for 0.09 ms of work on the
            // first page; with the numbers in the text it keeps one plan.
            let ids = sea_orm::QueryTrait::into_query(sorted.select_only().column(C::Id));
            let ids = backend.build(&ids);
            let sql = format!(
                "SELECT * FROM \"executions\" WHERE \"id\" IN ({} LIMIT {max} OFFSET {}) \
                 ORDER BY \"date_started\" DESC, \"id\" DESC",
                ids.sql, query.offset
            );
            let values = ids.values.map(|v| v.0).unwrap_or_default();
            executions::Entity::find()
                .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
                .all(&self.db)
                .await
        };
        let items = rows
            .map_err(db)?
            .into_iter()
            .map(execution_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            total,
            offset: query.offset,
            max,
        })
    }

    async fn stored_log_length(&self, eid: i64) -> Result<Option<i64>> {
        log_length_in(&self.db, eid).await
    }

    /// The chunk of an execution's log holding the event at index `at` (a
    /// value or a subquery), then every later chunk that begins before
    /// `end`: one statement, the first chunk's offset as a subquery.
    async fn chunks_from(
        &self,
        eid: i64,
        at: impl Into<SimpleExpr>,
        end: Option<i64>,
    ) -> Result<Vec<log_chunks::Model>> {
        use log_chunks::Column as L;
        let first = sea_orm::QueryTrait::into_query(
            log_chunks::Entity::find()
                .filter(L::ExecutionId.eq(eid))
                .filter(Expr::col(L::FirstOffset).lte(at))
                .select_only()
                .column_as(Expr::cust("COALESCE(MAX(first_offset), 0)"), "first"),
        );
        let mut chunks = log_chunks::Entity::find()
            .filter(L::ExecutionId.eq(eid))
            .filter(Expr::col(L::FirstOffset).gte(SimpleExpr::SubQuery(
                None,
                Box::new(first.into_sub_query_statement()),
            )));
        if let Some(end) = end {
            chunks = chunks.filter(L::FirstOffset.lt(end));
        }
        chunks
            .order_by_asc(L::FirstOffset)
            .all(&self.db)
            .await
            .map_err(db)
    }

    /// The jobs matching a query, by group then name, shared with the cache.
    async fn cached_jobs(&self, project: &str, query: &JobQuery) -> Result<Vec<Arc<Job>>> {
        let mut select = jobs::Entity::find().filter(jobs::Column::Project.eq(project));
        if let Some(g) = &query.group_exact {
            select = select.filter(jobs::Column::GroupPath.eq(g));
        }
        if let Some(p) = &query.group_path {
            select = select.filter(group_condition(jobs::Column::GroupPath, p));
        }
        if let Some(n) = &query.name_exact {
            select = select.filter(jobs::Column::Name.eq(n));
        }
        if !query.ids.is_empty() {
            select = select.filter(jobs::Column::Uuid.is_in(query.ids.iter().cloned()));
        }
        let needle = query.name_contains.as_ref().map(|n| n.to_lowercase());
        let rows: Vec<(String, String, String, i64)> = select
            .select_only()
            .column(jobs::Column::Uuid)
            .column(jobs::Column::GroupPath)
            .column(jobs::Column::Name)
            .column(jobs::Column::Updated)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(db)?;
        let rows: Vec<(String, i64)> = rows
            .into_iter()
            // Exact re-checks in Rust: case folding must match MemoryStore.
            .filter(|(_, group, name, _)| {
                !(query
                    .group_path
                    .as_ref()
                    .is_some_and(|p| !in_group(group, p))
                    || needle
                        .as_ref()
                        .is_some_and(|n| !name.to_lowercase().contains(n.as_str())))
            })
            .map(|(uuid, _, _, updated)| (uuid, updated))
            .collect();
        let stale: Vec<String> = {
            let cache = self.jobs.lock();
            rows.iter()
                .filter(|(uuid, updated)| cache.get(uuid).is_none_or(|(u, _)| u != updated))
                .map(|(uuid, _)| uuid.clone())
                .collect()
        };
        let mut parsed = Vec::with_capacity(stale.len());
        for ids in stale.chunks(INSERT_BATCH) {
            for m in jobs::Entity::find()
                .filter(jobs::Column::Uuid.is_in(ids.iter().cloned()))
                .all(&self.db)
                .await
                .map_err(db)?
            {
                parsed.push((m.uuid.clone(), m.updated, Arc::new(job_from(&m)?)));
            }
        }
        let mut cache = self.jobs.lock();
        if cache.len() + parsed.len() > JOB_CACHE_MAX {
            cache.clear();
        }
        let mut list = Vec::with_capacity(rows.len());
        let wanted: HashMap<&str, i64> = rows.iter().map(|(u, up)| (u.as_str(), *up)).collect();
        for (uuid, updated, job) in parsed {
            // A job changed between the two reads: return what was read.
            if wanted.get(uuid.as_str()) == Some(&updated) {
                cache.insert(uuid, (updated, job));
            } else {
                list.push(job);
            }
        }
        for (uuid, updated) in &rows {
            if let Some((u, job)) = cache.get(uuid) {
                if u == updated {
                    list.push(Arc::clone(job));
                }
            }
        }
        drop(cache);
        list.sort_by(|a, b| (&a.group, &a.name).cmp(&(&b.group, &b.name)));
        Ok(list)
    }
}

/// A project's job revision (0 before its first job change).
async fn job_revision<C: ConnectionTrait>(c: &C, project: &str) -> Result<i64> {
    Ok(job_revisions::Entity::find_by_id(project.to_owned())
        .select_only()
        .column(job_revisions::Column::Rev)
        .into_tuple::<i64>()
        .one(c)
        .await
        .map_err(db)?
        .unwrap_or(0))
}

/// Raises a project's job revision, inside the transaction that changes its
/// jobs.
async fn bump_job_revision<C: ConnectionTrait>(c: &C, project: &str) -> Result<()> {
    use job_revisions::Column as R;
    let mut insert = Query::insert();
    insert
        .into_table(job_revisions::Entity)
        .columns([R::Project, R::Rev])
        .values([project.into(), 1i64.into()])
        .map_err(|e| Error::Store(format!("job revision: {e}")))?
        .on_conflict(
            OnConflict::column(R::Project)
                .value(R::Rev, Expr::col((job_revisions::Entity, R::Rev)).add(1))
                .to_owned(),
        );
    c.execute(c.get_database_backend().build(&insert))
        .await
        .map_err(db)?;
    Ok(())
}

/// Events appended so far to an execution's log; `None` if it does not exist.
async fn log_length_in<C: ConnectionTrait>(c: &C, eid: i64) -> Result<Option<i64>> {
    executions::Entity::find_by_id(eid)
        .select_only()
        .column(executions::Column::LogEvents)
        .into_tuple()
        .one(c)
        .await
        .map_err(db)
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

/// Stores a new execution (its `id` ignored) and counts it, inside the
/// caller's transaction; returns its id.
pub(crate) async fn insert_execution<C: ConnectionTrait>(
    c: &C,
    execution: &Execution,
) -> Result<u64> {
    let names = job_names(c, &execution.project, execution.job_id.as_deref()).await?;
    let mut record = execution.clone();
    record.id = 0;
    let row = execution_model(&record, names)?;
    let res = executions::Entity::insert(row).exec(c).await.map_err(db)?;
    recount(c, vec![(CountKey::of(execution, res.last_insert_id), 1)]).await?;
    u64::try_from(res.last_insert_id)
        .map_err(|_| Error::Store(format!("bad execution id {}", res.last_insert_id)))
}

/// Rows a project's total in one status is spread over in
/// `execution_totals`, by execution id: with one row, every transaction
/// that starts or ends an execution of the project waited for every other
/// (PostgreSQL, MariaDB: three servers firing into one project took twice
/// as long); with 16, runs with neighbouring ids never share a row.
/// Migration 7 spread the stored executions with this same 16: another
/// number needs a migration that spreads them again.
pub(crate) const TOTAL_SHARDS: i64 = 16;

/// The `execution_counts` row an execution is counted in, and the
/// `execution_totals` shard.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct CountKey {
    pub(crate) project: String,
    /// Job uuid, `""` for ad hoc.
    pub(crate) job_key: String,
    pub(crate) status: String,
    /// `id % TOTAL_SHARDS`.
    pub(crate) shard: i64,
}

impl CountKey {
    fn of(e: &Execution, id: i64) -> Self {
        CountKey {
            project: e.project.clone(),
            job_key: e.job_id.clone().unwrap_or_default(),
            status: e.status.as_str().to_owned(),
            shard: id.rem_euclid(TOTAL_SHARDS),
        }
    }
}

/// The count key of a stored execution; with `lock`, locks its row until
/// the transaction ends (PostgreSQL, MariaDB; SQLite writers are serial).
async fn counted_key<C: ConnectionTrait>(c: &C, id: i64, lock: bool) -> Result<Option<CountKey>> {
    let mut q = executions::Entity::find_by_id(id)
        .select_only()
        .column(executions::Column::Project)
        .column(executions::Column::JobId)
        .column(executions::Column::Status);
    if lock && c.get_database_backend() != DatabaseBackend::Sqlite {
        q = q.lock_exclusive();
    }
    let row: Option<(String, Option<String>, String)> = q.into_tuple().one(c).await.map_err(db)?;
    Ok(row.map(|(project, job, status)| CountKey {
        project,
        job_key: job.unwrap_or_default(),
        status,
        shard: id.rem_euclid(TOTAL_SHARDS),
    }))
}

/// Applies count changes, in key order so that concurrent transactions take
/// the rows' locks in the same order: the per-job counts first, then the
/// project totals.
pub(crate) async fn recount<C: ConnectionTrait>(
    c: &C,
    changes: Vec<(CountKey, i64)>,
) -> Result<()> {
    use std::collections::BTreeMap;
    let mut counts: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    let mut totals: BTreeMap<(String, String, i64), i64> = BTreeMap::new();
    for (key, delta) in changes {
        *totals
            .entry((key.project.clone(), key.status.clone(), key.shard))
            .or_insert(0) += delta;
        *counts
            .entry((key.project, key.job_key, key.status))
            .or_insert(0) += delta;
    }
    let count_rows = counts.into_iter().filter(|(_, delta)| *delta != 0).map(
        |((project, job_key, status), delta)| execution_counts::ActiveModel {
            project: Set(project),
            job_key: Set(job_key),
            status: Set(status),
            n: Set(delta),
        },
    );
    use execution_counts::Column as K;
    add_to_counts::<_, execution_counts::Entity, 3>(
        c,
        count_rows.collect(),
        [K::Project, K::JobKey, K::Status],
        K::N,
    )
    .await?;
    let total_rows = totals.into_iter().filter(|(_, delta)| *delta != 0).map(
        |((project, status, shard), delta)| execution_totals::ActiveModel {
            project: Set(project),
            status: Set(status),
            shard: Set(shard),
            n: Set(delta),
        },
    );
    use execution_totals::Column as T;
    add_to_counts::<_, execution_totals::Entity, 3>(
        c,
        total_rows.collect(),
        [T::Project, T::Status, T::Shard],
        T::N,
    )
    .await?;
    Ok(())
}

/// Inserts the rows, or adds each one's `n` to the stored row with its key:
/// one statement for all of them, whatever their number.
async fn add_to_counts<C, E, const N: usize>(
    c: &C,
    rows: Vec<E::ActiveModel>,
    keys: [E::Column; N],
    n: E::Column,
) -> Result<()>
where
    C: ConnectionTrait,
    E: EntityTrait + Default,
    E::Model: sea_orm::IntoActiveModel<E::ActiveModel>,
{
    if rows.is_empty() {
        return Ok(());
    }
    let added = match c.get_database_backend() {
        DatabaseBackend::MySql => "VALUES(n)",
        _ => "excluded.n",
    };
    E::insert_many(rows)
        .on_conflict(
            OnConflict::columns(keys)
                .value(n, Expr::col((E::default(), n)).add(Expr::cust(added)))
                .to_owned(),
        )
        .exec_without_returning(c)
        .await
        .map_err(db)?;
    Ok(())
}

/// The number of executions matching a query, from `execution_counts`, when
/// the query filters only by project, job, ad hoc and status; `None` when it
/// needs a count of the executions themselves.
async fn counted_total<C: ConnectionTrait>(c: &C, q: &ExecutionQuery) -> Result<Option<u64>> {
    if q.group_path.is_some()
        || q.job_name_contains.is_some()
        || q.user.is_some()
        || q.begin.is_some()
        || q.end.is_some()
    {
        return Ok(None);
    }
    if q.job_ids.is_empty() && q.adhoc != Some(true) {
        // one row per project and status rather than one per job and
        // status (the scheduler counts the queued runs of every project
        // each second)
        let all = project_total(c, q.project.as_deref(), q.status.as_ref()).await?;
        let total = if q.adhoc == Some(false) {
            let adhoc = ExecutionQuery {
                adhoc: Some(true),
                ..q.clone()
            };
            all.saturating_sub(per_job_total(c, &adhoc).await?)
        } else {
            all
        };
        return Ok(Some(total));
    }
    per_job_total(c, q).await.map(Some)
}

/// SUM is NUMERIC/DECIMAL on PostgreSQL and MySQL: cast back to an integer.
fn sum_expr(c: &impl ConnectionTrait) -> &'static str {
    match c.get_database_backend() {
        DatabaseBackend::MySql => "CAST(COALESCE(SUM(n), 0) AS SIGNED)",
        _ => "CAST(COALESCE(SUM(n), 0) AS BIGINT)",
    }
}

/// The executions of a project, or of all (in one status), from
/// `execution_totals`.
async fn project_total<C: ConnectionTrait>(
    c: &C,
    project: Option<&str>,
    status: Option<&foredeck_core::ExecutionStatus>,
) -> Result<u64> {
    use execution_totals::Column as T;
    let mut find = execution_totals::Entity::find();
    if let Some(p) = project {
        find = find.filter(T::Project.eq(p));
    }
    if let Some(s) = status {
        find = find.filter(T::Status.eq(s.as_str()));
    }
    let n: Option<i64> = find
        .select_only()
        .column_as(Expr::cust(sum_expr(c)), "total")
        .into_tuple()
        .one(c)
        .await
        .map_err(db)?;
    Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
}

/// The executions matching a query's project, job, ad hoc and status
/// filters, from `execution_counts`.
async fn per_job_total<C: ConnectionTrait>(c: &C, q: &ExecutionQuery) -> Result<u64> {
    use execution_counts::Column as K;
    let mut cond = Condition::all();
    if let Some(p) = &q.project {
        cond = cond.add(K::Project.eq(p));
    }
    if !q.job_ids.is_empty() {
        cond = cond.add(K::JobKey.is_in(q.job_ids.iter().cloned()));
    }
    match q.adhoc {
        Some(true) => cond = cond.add(K::JobKey.eq("")),
        Some(false) => cond = cond.add(K::JobKey.ne("")),
        None => {}
    }
    if let Some(s) = &q.status {
        cond = cond.add(K::Status.eq(s.as_str()));
    }
    let n: Option<i64> = execution_counts::Entity::find()
        .filter(cond)
        .select_only()
        .column_as(Expr::cust(sum_expr(c)), "total")
        .into_tuple()
        .one(c)
        .await
        .map_err(db)?;
    Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
}
