//! Execution counts kept beside the executions (`execution_counts` per job,
//! `execution_totals` per project in shards), so that a history page's total
//! is read, not counted.

pub(super) mod tallies;

use crate::entity::{execution_counts, execution_totals, executions};
use crate::error::db;
use foredeck_core::model::Execution;
use foredeck_core::store::ExecutionQuery;
use foredeck_core::Result;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QuerySelect, Set,
};

/// Rows a project's total in one status is spread over in
/// `execution_totals`, by execution id: with one row, every transaction
/// that starts or ends an execution of the project waited for every other
/// (PostgreSQL, MariaDB: three servers firing into one project took twice
/// as long); with 16, runs with neighbouring ids never share a row.
/// Migration 7 spread the stored executions with this same 16: another
/// number needs a migration that spreads them again.
pub(crate) const TOTAL_SHARDS: i64 = 16;

/// What an execution is counted under: its `execution_counts` row, its
/// `execution_totals` shard and its `execution_tallies` rows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct CountKey {
    pub(crate) project: String,
    /// Job uuid, `""` for ad hoc.
    pub(crate) job_key: String,
    pub(crate) status: String,
    /// `id % TOTAL_SHARDS`.
    pub(crate) shard: i64,
    /// How it was started (`execution_type`).
    pub(crate) execution_type: String,
    pub(crate) user: String,
    pub(crate) aborted_by: Option<String>,
    /// Start and end as stored (nanoseconds).
    pub(crate) started: i64,
    pub(crate) ended: Option<i64>,
}

impl CountKey {
    pub(super) fn of(e: &Execution, id: i64) -> Self {
        CountKey {
            project: e.project.clone(),
            job_key: e.job_id.clone().unwrap_or_default(),
            status: e.status.as_str().to_owned(),
            shard: id.rem_euclid(TOTAL_SHARDS),
            execution_type: e.execution_type.as_str().to_owned(),
            user: e.user.clone(),
            aborted_by: e.aborted_by.clone(),
            started: crate::time::bound(e.date_started),
            ended: e.date_ended.map(crate::time::bound),
        }
    }
}

/// The stored columns a [`CountKey`] is made of, as [`counted_row`] reads
/// them: id, project, job, status, execution type, user, aborting user,
/// start, end.
pub(crate) type CountedRow = (
    i64,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
);

/// Selects the columns of a [`CountedRow`].
pub(crate) fn counted_columns(
    q: sea_orm::Select<executions::Entity>,
) -> sea_orm::Select<executions::Entity> {
    use executions::Column as C;
    q.select_only()
        .column(C::Id)
        .column(C::Project)
        .column(C::JobId)
        .column(C::Status)
        .column(C::ExecutionType)
        .column(C::User)
        .column(C::AbortedBy)
        .column(C::DateStarted)
        .column(C::DateEnded)
}

/// The key a stored row is counted under.
pub(crate) fn counted_row(row: CountedRow) -> CountKey {
    let (id, project, job, status, execution_type, user, aborted_by, started, ended) = row;
    CountKey {
        project,
        job_key: job.unwrap_or_default(),
        status,
        shard: id.rem_euclid(TOTAL_SHARDS),
        execution_type,
        user,
        aborted_by,
        started,
        ended,
    }
}

/// The count key of a stored execution; with `lock`, locks its row until
/// the transaction ends (PostgreSQL, MariaDB; SQLite writers are serial).
pub(super) async fn counted_key<C: ConnectionTrait>(
    c: &C,
    id: i64,
    lock: bool,
) -> Result<Option<CountKey>> {
    let mut q = counted_columns(executions::Entity::find_by_id(id));
    if lock && c.get_database_backend() != DatabaseBackend::Sqlite {
        q = q.lock_exclusive();
    }
    let row: Option<CountedRow> = q.into_tuple().one(c).await.map_err(db)?;
    Ok(row.map(counted_row))
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
    let mut tallies: BTreeMap<tallies::TallyKey, i64> = BTreeMap::new();
    for (key, delta) in changes {
        for t in tallies::tally_keys(&key) {
            *tallies.entry(t).or_insert(0) += delta;
        }
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
    tallies::add(c, tallies).await
}

/// Inserts the rows, or adds each one's `n` to the stored row with its key:
/// one statement for all of them, whatever their number.
pub(super) async fn add_to_counts<C, E, const N: usize>(
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
pub(super) async fn counted_total<C: ConnectionTrait>(
    c: &C,
    q: &ExecutionQuery,
) -> Result<Option<u64>> {
    if let Some(n) = tallies::tallied_total(c, q).await? {
        return Ok(Some(n));
    }
    if q.has_job_filter()
        || q.user.is_some()
        || q.begin.is_some()
        || q.end.is_some()
        || q.ended_after.is_some()
        || q.ended_before.is_some()
        || q.execution_type.is_some()
        || q.aborted_by.is_some()
    {
        return Ok(None);
    }
    if !q.exclude_job_ids.is_empty() {
        // the runs of jobs, less those of the excluded jobs
        if !q.job_ids.is_empty() {
            let kept = ExecutionQuery {
                job_ids: q
                    .job_ids
                    .iter()
                    .filter(|j| !q.exclude_job_ids.contains(j))
                    .cloned()
                    .collect(),
                exclude_job_ids: Vec::new(),
                ..q.clone()
            };
            if kept.job_ids.is_empty() || q.adhoc == Some(true) {
                return Ok(Some(0));
            }
            return per_job_total(c, &kept).await.map(Some);
        }
        if q.adhoc == Some(true) {
            return Ok(Some(0));
        }
        let jobs = ExecutionQuery {
            adhoc: Some(false),
            exclude_job_ids: Vec::new(),
            ..q.clone()
        };
        let excluded = ExecutionQuery {
            job_ids: q.exclude_job_ids.clone(),
            exclude_job_ids: Vec::new(),
            ..q.clone()
        };
        let all = Box::pin(counted_total(c, &jobs)).await?.unwrap_or(0);
        return Ok(Some(all.saturating_sub(per_job_total(c, &excluded).await?)));
    }
    if q.job_ids.is_empty() && q.adhoc != Some(true) {
        // one row per project and status rather than one per job and
        // status (the scheduler counts the queued runs of every project
        // each second)
        let all = project_total(c, q.project.as_deref(), &q.statuses()).await?;
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
pub(super) fn sum_expr(c: &impl ConnectionTrait) -> &'static str {
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
    statuses: &[foredeck_core::ExecutionStatus],
) -> Result<u64> {
    use execution_totals::Column as T;
    let mut find = execution_totals::Entity::find();
    if let Some(p) = project {
        find = find.filter(T::Project.eq(p));
    }
    if !statuses.is_empty() {
        find = find.filter(T::Status.is_in(statuses.iter().map(|s| s.as_str())));
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
    let statuses = q.statuses();
    if !statuses.is_empty() {
        cond = cond.add(K::Status.is_in(statuses.iter().map(|s| s.as_str())));
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
