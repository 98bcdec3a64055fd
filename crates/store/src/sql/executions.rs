//! Executions on SQL: the [`ExecutionStore`] impl and the history query.

use super::counts::{counted_key, counted_total, recount, CountKey};
use super::{begin_write, exec_id, group_condition, like, like_escape, to_json, SqlStore};
use crate::entity::{executions, jobs, log_chunks, run_states};
use crate::error::{codec, db, no_execution};
use crate::time;
use async_trait::async_trait;
use foredeck_core::model::{Execution, ExecutionStatus};
use foredeck_core::store::{
    split_full_name, ExecutionMetrics, ExecutionQuery, ExecutionStore, JobQuery, JobStore, Page,
};
use foredeck_core::{Error, Result};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};

#[async_trait]
impl ExecutionStore for SqlStore {
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
        rewrite_execution(&txn, id, old, execution).await?;
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
        let empty = || Page {
            items: Vec::new(),
            total: 0,
            offset: query.offset,
            max,
        };
        let Some(project) = query.project.as_deref().filter(|_| query.has_job_filter()) else {
            return self.query_executions_by_columns(query, max, None).await;
        };
        // Job name and group filters mean the project's jobs of those names
        // and groups (executions of deleted jobs match none): found among
        // the job summaries. A few jobs are then read by job id through
        // the job index instead of a scan of every execution; many (an
        // exclusion) by the denormalized name and group columns, newest
        // first through the project's index, with the total still counted
        // by job id in `execution_counts`.
        if query.adhoc == Some(true) {
            return Ok(empty());
        }
        // what SQL can narrow the jobs by is asked of it: a name or group
        // filter then reads its few jobs, not the project's thousands
        let single = match query.job_full_names.as_slice() {
            [one] => Some(split_full_name(one)),
            _ => None,
        };
        let narrowing = JobQuery {
            group_path: query.group_path.clone(),
            group_exact: query
                .group_path_exact
                .clone()
                .or_else(|| single.map(|(g, _)| g.to_owned())),
            name_contains: query.job_name_contains.clone(),
            name_exact: query
                .job_name_exact
                .clone()
                .or_else(|| single.map(|(_, n)| n.to_owned())),
            ids: Vec::new(),
        };
        let narrowed = narrowing != JobQuery::default();
        let summaries = self.list_job_summaries(project, &narrowing).await?;
        // the project's job count, when all were read
        let all = if narrowed {
            usize::MAX
        } else {
            summaries.len()
        };
        let ids: Vec<String> = summaries
            .into_iter()
            .filter(|j| query.job_matches(j.group.as_deref(), &j.name))
            .map(|j| j.uuid)
            .filter(|id| query.job_ids.is_empty() || query.job_ids.contains(id))
            .filter(|id| !query.exclude_job_ids.contains(id))
            .collect();
        if ids.is_empty() {
            return Ok(empty());
        }
        if ids.len() > MAX_ID_FILTER {
            // more than a statement takes: the columns alone
            return self.query_executions_by_columns(query, max, None).await;
        }
        let by_ids = ExecutionQuery {
            job_ids: ids,
            exclude_job_ids: Vec::new(),
            ..query.without_job_filters()
        };
        if by_ids.job_ids.len() <= FEW_JOBS || by_ids.job_ids.len().saturating_mul(2) <= all {
            return self.query_executions_by_columns(&by_ids, max, None).await;
        }
        let total = counted_total(&self.db, &by_ids).await?;
        self.query_executions_by_columns(query, max, total).await
    }

    async fn execution_metrics(&self, query: &ExecutionQuery) -> Result<ExecutionMetrics> {
        super::metrics::execution_metrics(self, query).await
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
        run_states::Entity::delete_by_id(eid)
            .exec(&txn)
            .await
            .map_err(db)?;
        txn.commit().await.map_err(db)
    }
}

impl SqlStore {
    /// The execution query on the executions table's own columns.
    /// `total`: the number of executions matching, when the caller
    /// counted it.
    async fn query_executions_by_columns(
        &self,
        query: &ExecutionQuery,
        max: u64,
        total: Option<u64>,
    ) -> Result<Page<Execution>> {
        use executions::Column as C;
        let cond = self.column_condition(query);
        let counted = match total {
            Some(n) => Some(n),
            None => counted_total(&self.db, query).await?,
        };
        let total = match counted {
            Some(n) => n,
            None => executions::Entity::find()
                .filter(cond.clone())
                .count(&self.db)
                .await
                .map_err(db)?,
        };
        if total <= query.offset {
            // nothing on this page: no need to look
            return Ok(Page {
                items: Vec::new(),
                total,
                offset: query.offset,
                max,
            });
        }
        let cond = match counted {
            Some(n) => self.page_condition(query, n, cond).await?,
            None => cond,
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

    /// The condition a page of `query` is read with, when `total` of its
    /// executions match: `cond` (its [`Self::column_condition`]), but with
    /// end-time bounds that lead the database to the cheaper walk. The page
    /// is in start order: with many matches it walks the project's start
    /// index newest first from the latest start a match can have (the end
    /// bound, while no execution of the project ended before it started),
    /// and SQLite is kept off the end-time index, which would have it sort
    /// every match; with few, it reads them by the end-time index and sorts
    /// them.
    async fn page_condition(
        &self,
        query: &ExecutionQuery,
        total: u64,
        cond: Condition,
    ) -> Result<Condition> {
        use executions::Column as C;
        let (Some(project), true) = (
            query.project.as_deref(),
            query.ended_after.is_some() || query.ended_before.is_some(),
        ) else {
            return Ok(cond);
        };
        if total <= FEW_ENDED {
            return Ok(cond);
        }
        let sqlite = self.backend() == DatabaseBackend::Sqlite;
        let mut cond = self.column_condition(&ExecutionQuery {
            ended_after: None,
            ended_before: None,
            ..query.clone()
        });
        let bound = |op: &str, t: i64| -> sea_orm::sea_query::SimpleExpr {
            match (sqlite, op) {
                (true, _) => {
                    Expr::cust_with_values(format!(r#"+"executions"."date_ended" {op} ?"#), [t])
                }
                (false, ">=") => C::DateEnded.gte(t),
                (false, _) => C::DateEnded.lte(t),
            }
        };
        if let Some(b) = query.ended_after {
            cond = cond.add(bound(">=", time::bound(b)));
        }
        if let Some(e) = query.ended_before {
            cond = cond.add(bound("<=", time::bound(e)));
            let statuses = query
                .statuses()
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect();
            if !super::counts::tallies::ended_early(&self.db, project, statuses).await? {
                cond = cond.add(C::DateStarted.lte(time::bound(e)));
            }
        }
        Ok(cond)
    }

    /// The condition on the executions table's own columns that a query
    /// asks for (its group and name filters too, by the denormalized
    /// columns); shared by the query and the metrics.
    pub(super) fn column_condition(&self, query: &ExecutionQuery) -> Condition {
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
        if !query.exclude_job_ids.is_empty() {
            // NOT IN is never true of a NULL job id: ad hoc runs are out too
            cond = cond.add(C::JobId.is_not_in(query.exclude_job_ids.iter().cloned()));
        }
        match query.adhoc {
            Some(true) => cond = cond.add(C::JobId.is_null()),
            Some(false) => cond = cond.add(C::JobId.is_not_null()),
            None => {}
        }
        if let Some(u) = &query.user {
            cond = cond.add(C::User.eq(u));
        }
        let statuses = query.statuses();
        if !statuses.is_empty() {
            cond = cond.add(C::Status.is_in(statuses.iter().map(|s| s.as_str())));
        }
        if let Some(b) = query.begin {
            cond = cond.add(C::DateStarted.gte(time::bound(b)));
        }
        if let Some(e) = query.end {
            cond = cond.add(C::DateStarted.lt(time::bound(e)));
        }
        if let Some(b) = query.ended_after {
            cond = cond.add(C::DateEnded.gte(time::bound(b)));
        }
        if let Some(e) = query.ended_before {
            cond = cond.add(C::DateEnded.lte(time::bound(e)));
        }
        if let Some(t) = query.execution_type {
            cond = cond.add(C::ExecutionType.eq(t.as_str()));
        }
        if let Some(a) = &query.aborted_by {
            cond = cond.add(C::AbortedBy.eq(a));
        }
        if query.has_job_filter() {
            cond = cond.add(job_condition(query));
        }
        cond
    }
}

/// The job name and group filters of a query on the denormalized columns
/// (`NULL` for ad hoc runs and runs of deleted jobs, which match none).
fn job_condition(query: &ExecutionQuery) -> Condition {
    use executions::Column as C;
    let name_like = |n: &str| like(format!("%{}%", like_escape(&n.to_lowercase())));
    let full = |f: &String| {
        let (g, n) = split_full_name(f);
        Condition::all()
            .add(C::JobGroup.eq(g))
            .add(C::JobName.eq(n))
    };
    let mut cond = Condition::all().add(C::JobName.is_not_null());
    if let Some(p) = &query.group_path {
        cond = cond.add(group_condition(C::JobGroup, p));
    }
    if let Some(g) = &query.group_path_exact {
        cond = cond.add(C::JobGroup.eq(g));
    }
    match query.exclude_group_path.as_deref() {
        Some("") => cond = cond.add(C::JobGroup.ne("")),
        Some(p) => cond = cond.add(group_condition(C::JobGroup, p).not()),
        None => {}
    }
    if let Some(g) = &query.exclude_group_path_exact {
        cond = cond.add(C::JobGroup.ne(g));
    }
    if let Some(n) = &query.job_name_contains {
        cond = cond.add(Expr::col(C::JobNameLower).like(name_like(n)));
    }
    if let Some(n) = &query.exclude_job_name_contains {
        cond = cond.add(Expr::col(C::JobNameLower).not_like(name_like(n)));
    }
    if let Some(n) = &query.job_name_exact {
        cond = cond.add(C::JobName.eq(n));
    }
    if let Some(n) = &query.exclude_job_name_exact {
        cond = cond.add(C::JobName.ne(n));
    }
    if !query.job_full_names.is_empty() {
        cond = cond.add(
            query
                .job_full_names
                .iter()
                .fold(Condition::any(), |any, f| any.add(full(f))),
        );
    }
    for f in &query.exclude_job_full_names {
        cond = cond.add(full(f).not());
    }
    cond
}

pub(crate) fn execution_from(m: executions::Model) -> Result<Execution> {
    let mut e: Execution = serde_json::from_str(&m.record)
        .map_err(|e| codec(&format!("execution {} record", m.id), e))?;
    e.id = m.id as u64;
    // Claims change the column only.
    e.server_uuid = m.server_uuid;
    Ok(e)
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
        execution_type: Set(e.execution_type.as_str().to_owned()),
        aborted_by: Set(e.aborted_by.clone()),
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

/// Up to this many executions matching an end-time bound, a page reads
/// them all by the end-time index and sorts them.
const FEW_ENDED: u64 = 1_000;

/// Up to this many job ids, an execution query reads by the job index.
const FEW_JOBS: usize = 50;

/// Job ids a translated group or name filter sends at most in one statement.
const MAX_ID_FILTER: usize = 10_000;

/// Writes `execution` over stored row `id`, counted under `old` until now,
/// inside the caller's transaction (which holds the row's lock).
async fn rewrite_execution<C: ConnectionTrait>(
    c: &C,
    id: i64,
    old: CountKey,
    execution: &Execution,
) -> Result<()> {
    let names = job_names(c, &execution.project, execution.job_id.as_deref()).await?;
    let mut row = execution_model(execution, names)?;
    row.id = sea_orm::ActiveValue::Unchanged(id);
    executions::Entity::update_many()
        .set(row)
        .filter(executions::Column::Id.eq(id))
        .exec(c)
        .await
        .map_err(db)?;
    let new = CountKey::of(execution, id);
    if new != old {
        recount(c, vec![(old, -1), (new, 1)]).await?;
    }
    Ok(())
}

/// Writes `execution` over stored execution `id` inside the caller's
/// transaction, only while that one is `scheduled` and claimed by no
/// server (a one-off run's, started at its time); `false`, changing
/// nothing, when it is not (an abort claimed it first). The row is locked
/// (PostgreSQL, MariaDB) before it is read, so an abort's claim and this
/// take it one after the other.
pub(crate) async fn start_scheduled<C: ConnectionTrait>(
    c: &C,
    id: u64,
    execution: &Execution,
) -> Result<bool> {
    use executions::Column as E;
    let Some(id) = exec_id(id) else {
        return Ok(false);
    };
    // a run a server has taken (its uuid set) is not rescheduled here
    let mut q = super::counts::counted_columns(executions::Entity::find_by_id(id))
        .filter(E::ServerUuid.is_null());
    if c.get_database_backend() != DatabaseBackend::Sqlite {
        q = q.lock_exclusive();
    }
    let row: Option<super::counts::CountedRow> = q.into_tuple().one(c).await.map_err(db)?;
    let Some(row) = row else {
        return Ok(false);
    };
    if row.3 != ExecutionStatus::Scheduled.as_str() {
        return Ok(false);
    }
    let old = super::counts::counted_row(row);
    rewrite_execution(c, id, old, execution).await?;
    Ok(true)
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
