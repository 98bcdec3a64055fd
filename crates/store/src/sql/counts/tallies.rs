//! The totals of the execution query's filters by how an execution was
//! started, who ran it, who aborted it and when it ended, kept in
//! `execution_tallies` (migration 12) beside `execution_counts`: changed by
//! [`super::recount`] in the transaction that changes the executions, read
//! by [`tallied_total`] instead of a `COUNT(*)` over every matching row.
//!
//! End times are tallied per hour and per day (UTC). A range of end times
//! sums the whole days inside it, the whole hours at its edges, and counts
//! the partial hours at its ends through the `(project, date_ended)` index,
//! so that its total is exact whatever its bounds.

use super::{add_to_counts, CountKey};
use crate::entity::execution_tallies;
use crate::time;
use foredeck_core::store::ExecutionQuery;
use foredeck_core::Result;
use sea_orm::{ConnectionTrait, DatabaseBackend, Set, Statement, Value};
use std::collections::BTreeMap;

/// Rows each tally is spread over, by execution id (as `execution_totals`
/// is over 16): concurrent transactions that start or end executions of
/// one project seldom wait for one row. Migration 12 spread the stored
/// executions with this same 4.
const TALLY_SHARDS: i64 = 4;
const HOUR_NS: i64 = 3_600_000_000_000;
const DAY_NS: i64 = 86_400_000_000_000;

/// What a tally row counts (the `facet` column; the numbers are stored).
#[derive(Clone, Copy, Debug)]
enum Facet {
    /// By `execution_type` (label).
    Type = 1,
    /// By user (label).
    User = 2,
    /// By aborting user (label), for executions a user aborted.
    AbortedBy = 3,
    /// By the hour they ended (bucket: hours since the epoch).
    EndedHour = 4,
    /// By the day they ended (bucket: days since the epoch).
    EndedDay = 5,
    /// Executions that ended before they started (a run aborted before its
    /// `runAtTime`): while a project has none, an upper bound on the end
    /// is one on the start too.
    EndedEarly = 6,
}

/// A tally row's key: project, facet, label, bucket, status, shard.
pub(crate) type TallyKey = (String, i32, String, i64, String, i64);

/// The tally rows an execution counted under `k` is counted in.
pub(crate) fn tally_keys(k: &CountKey) -> Vec<TallyKey> {
    let shard = k.shard.rem_euclid(TALLY_SHARDS);
    let row = |facet: Facet, label: &str, bucket: i64| {
        (
            k.project.clone(),
            facet as i32,
            label.to_owned(),
            bucket,
            k.status.clone(),
            shard,
        )
    };
    let mut keys = vec![
        row(Facet::Type, &k.execution_type, 0),
        row(Facet::User, &k.user, 0),
    ];
    if let Some(a) = &k.aborted_by {
        keys.push(row(Facet::AbortedBy, a, 0));
    }
    if let Some(e) = k.ended {
        keys.push(row(Facet::EndedHour, "", e.div_euclid(HOUR_NS)));
        keys.push(row(Facet::EndedDay, "", e.div_euclid(DAY_NS)));
        if e < k.started {
            keys.push(row(Facet::EndedEarly, "", 0));
        }
    }
    keys
}

/// Adds the tally changes, in key order (the rows' locks are taken in the
/// same order by every transaction).
pub(super) async fn add<C: ConnectionTrait>(c: &C, changes: BTreeMap<TallyKey, i64>) -> Result<()> {
    let rows: Vec<execution_tallies::ActiveModel> = changes
        .into_iter()
        .filter(|(_, delta)| *delta != 0)
        .map(|((project, facet, label, bucket, status, shard), delta)| {
            execution_tallies::ActiveModel {
                project: Set(project),
                facet: Set(facet),
                label: Set(label),
                bucket: Set(bucket),
                status: Set(status),
                shard: Set(shard),
                n: Set(delta),
            }
        })
        .collect();
    use execution_tallies::Column as T;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(crate::sql::INSERT_BATCH).collect();
        add_to_counts::<_, execution_tallies::Entity, 6>(
            c,
            chunk,
            [
                T::Project,
                T::Facet,
                T::Label,
                T::Bucket,
                T::Status,
                T::Shard,
            ],
            T::N,
        )
        .await?;
    }
    Ok(())
}

/// One statement summing tally ranges and counting end-time ranges.
struct Sum {
    backend: DatabaseBackend,
    parts: Vec<String>,
    values: Vec<Value>,
    project: String,
    statuses: Vec<String>,
}

impl Sum {
    fn new(backend: DatabaseBackend, project: &str, statuses: Vec<String>) -> Self {
        Sum {
            backend,
            parts: Vec::new(),
            values: Vec::new(),
            project: project.to_owned(),
            statuses,
        }
    }

    /// A placeholder for `v`.
    fn bind(&mut self, v: impl Into<Value>) -> String {
        self.values.push(v.into());
        match self.backend {
            DatabaseBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }

    /// `AND <col> IN (...)` for the statuses, if any.
    fn status_clause(&mut self, col: &str) -> String {
        if self.statuses.is_empty() {
            return String::new();
        }
        let statuses = self.statuses.clone();
        let marks: Vec<String> = statuses.into_iter().map(|s| self.bind(s)).collect();
        format!(" AND {col} IN ({})", marks.join(", "))
    }

    /// The tally rows of `facet` and `label` with buckets in `[from, to)`.
    fn tally(&mut self, facet: Facet, label: &str, from: Option<i64>, to: Option<i64>) {
        let p = self.bind(self.project.clone());
        let f = self.bind(facet as i32);
        let l = self.bind(label.to_owned());
        let mut sql = format!(
            "SELECT SUM(n) AS n FROM execution_tallies \
             WHERE project = {p} AND facet = {f} AND label = {l}"
        );
        if let Some(from) = from {
            sql += &format!(" AND bucket >= {}", self.bind(from));
        }
        if let Some(to) = to {
            sql += &format!(" AND bucket < {}", self.bind(to));
        }
        sql += &self.status_clause("status");
        self.parts.push(sql);
    }

    /// The executions that ended in `[from, to)` (nanoseconds), counted by
    /// the `(project, date_ended)` index.
    fn exact(&mut self, from: Option<i64>, to: Option<i64>) {
        let p = self.bind(self.project.clone());
        let mut sql = format!("SELECT COUNT(*) AS n FROM executions WHERE project = {p}");
        match from {
            Some(from) => sql += &format!(" AND date_ended >= {}", self.bind(from)),
            None => sql += " AND date_ended IS NOT NULL",
        }
        if let Some(to) = to {
            sql += &format!(" AND date_ended < {}", self.bind(to));
        }
        // SQLite, without statistics, would rather walk a status index
        let status = if self.backend == DatabaseBackend::Sqlite {
            "+status"
        } else {
            "status"
        };
        sql += &self.status_clause(status);
        self.parts.push(sql);
    }

    async fn run<C: ConnectionTrait>(self, c: &C) -> Result<u64> {
        if self.parts.is_empty() {
            return Ok(0);
        }
        let cast = match self.backend {
            DatabaseBackend::MySql => "SIGNED",
            _ => "BIGINT",
        };
        let sql = format!(
            "SELECT CAST(COALESCE(SUM(n), 0) AS {cast}) FROM ({}) AS parts",
            self.parts.join(" UNION ALL ")
        );
        let row = c
            .query_one(Statement::from_sql_and_values(
                self.backend,
                sql,
                self.values,
            ))
            .await
            .map_err(crate::error::db)?;
        let n: i64 = match row {
            Some(r) => r.try_get_by_index(0).map_err(crate::error::db)?,
            None => 0,
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// The number of executions matching a query, from the tallies, when it
/// filters a project's executions by status and by one of execution type,
/// user, aborting user or end time; `None` when it filters by anything
/// else too (then they are counted).
pub(super) async fn tallied_total<C: ConnectionTrait>(
    c: &C,
    q: &ExecutionQuery,
) -> Result<Option<u64>> {
    let Some(project) = q.project.as_deref() else {
        return Ok(None);
    };
    if q.has_job_filter()
        || !q.job_ids.is_empty()
        || !q.exclude_job_ids.is_empty()
        || q.adhoc.is_some()
        || q.begin.is_some()
        || q.end.is_some()
    {
        return Ok(None);
    }
    let ended = q.ended_after.is_some() || q.ended_before.is_some();
    let dimensions = [
        q.execution_type.is_some(),
        q.user.is_some(),
        q.aborted_by.is_some(),
        ended,
    ];
    if dimensions.iter().filter(|d| **d).count() != 1 {
        return Ok(None);
    }
    let statuses = q.statuses().iter().map(|s| s.as_str().to_owned()).collect();
    let mut sum = Sum::new(c.get_database_backend(), project, statuses);
    if let Some(t) = q.execution_type {
        sum.tally(Facet::Type, t.as_str(), None, None);
    } else if let Some(u) = &q.user {
        sum.tally(Facet::User, u, None, None);
    } else if let Some(a) = &q.aborted_by {
        sum.tally(Facet::AbortedBy, a, None, None);
    } else {
        let from = q.ended_after.map(time::bound);
        let to = q.ended_before.map(time::bound);
        if !ended_range(&mut sum, from, to) {
            return Ok(Some(0));
        }
    }
    sum.run(c).await.map(Some)
}

/// Whether a project has executions (in the statuses) that ended before
/// they started; while it has none, a bound on the end bounds the start.
pub(in crate::sql) async fn ended_early<C: ConnectionTrait>(
    c: &C,
    project: &str,
    statuses: Vec<String>,
) -> Result<bool> {
    let mut sum = Sum::new(c.get_database_backend(), project, statuses);
    sum.tally(Facet::EndedEarly, "", None, None);
    Ok(sum.run(c).await? > 0)
}

/// Adds to `sum` the executions that ended in `[from, to]` (nanoseconds,
/// both inclusive, `None` open); `false` when the range is empty.
fn ended_range(sum: &mut Sum, from: Option<i64>, to: Option<i64>) -> bool {
    // half-open [lo, hi) in i128, so that no bound overflows
    let lo = from.filter(|f| *f > i64::MIN).map(i128::from);
    let hi = to.filter(|t| *t < i64::MAX).map(|t| i128::from(t) + 1);
    if let (Some(l), Some(h)) = (lo, hi) {
        if l >= h {
            return false;
        }
    }
    let (hour, day) = (i128::from(HOUR_NS), i128::from(DAY_NS));
    let floor = |x: i128, u: i128| x.div_euclid(u) * u;
    let ceil = |x: i128, u: i128| floor(x + u - 1, u);
    let ns = |x: Option<i128>| x.and_then(|x| i64::try_from(x).ok());
    let bucket = |x: Option<i128>, u: i128| x.and_then(|x| i64::try_from(x / u).ok());
    // the whole hours inside the range
    let a = lo.map(|l| ceil(l, hour));
    let b = hi.map(|h| floor(h, hour));
    if let (Some(a), Some(b)) = (a, b) {
        if a >= b {
            // within an hour, or across one boundary: counted
            sum.exact(ns(lo), ns(hi));
            return true;
        }
    }
    if let (Some(l), Some(a)) = (lo, a) {
        if l < a {
            sum.exact(ns(Some(l)), ns(Some(a)));
        }
    }
    if let (Some(b), Some(h)) = (b, hi) {
        if b < h {
            sum.exact(ns(Some(b)), ns(Some(h)));
        }
    }
    // the whole days inside the whole hours; the hours left at either end
    let ad = a.map(|a| ceil(a, day));
    let bd = b.map(|b| floor(b, day));
    if let (Some(ad), Some(bd), Some(a), Some(b)) = (ad, bd, a, b) {
        if ad >= bd {
            sum.tally(
                Facet::EndedHour,
                "",
                bucket(Some(a), hour),
                bucket(Some(b), hour),
            );
            return true;
        }
    }
    if let (Some(a), Some(ad)) = (a, ad) {
        if a < ad {
            sum.tally(
                Facet::EndedHour,
                "",
                bucket(Some(a), hour),
                bucket(Some(ad), hour),
            );
        }
    }
    sum.tally(Facet::EndedDay, "", bucket(ad, day), bucket(bd, day));
    if let (Some(bd), Some(b)) = (bd, b) {
        if bd < b {
            sum.tally(
                Facet::EndedHour,
                "",
                bucket(Some(bd), hour),
                bucket(Some(b), hour),
            );
        }
    }
    true
}
