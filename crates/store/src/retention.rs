//! Retention: deletes old executions and their logs in small batches,
//! keeping the newest executions of every job.

use crate::entity::{executions, log_chunks, run_states};
use crate::error::db;
use crate::sql::{begin_write, counted_columns, counted_row, recount, CountedRow, SqlStore};
use crate::time;
use chrono::{DateTime, Utc};
use foredeck_core::Result;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, Statement};

/// What to delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Executions that started before this instant may go.
    pub older_than: DateTime<Utc>,
    /// The newest this many executions of each job always stay, however old.
    pub keep_last_per_job: u64,
    /// Executions deleted per transaction (default 500): short transactions
    /// never hold up running work for long.
    pub batch: u64,
}

impl Retention {
    /// Executions older than `days` days, keeping the last `keep` per job.
    pub fn days(days: u32, keep: u64) -> Self {
        Retention {
            older_than: Utc::now() - chrono::Duration::days(i64::from(days)),
            keep_last_per_job: keep,
            batch: 500,
        }
    }
}

/// What a purge did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Executions deleted.
    pub executions: u64,
    /// Log chunks deleted.
    pub log_chunks: u64,
    /// Transactions used.
    pub batches: u64,
}

impl SqlStore {
    /// Deletes ended executions (and their logs) that started before
    /// `policy.older_than`, except the newest `keep_last_per_job` of each job.
    /// Running, queued and scheduled executions are never touched.
    pub async fn purge(&self, policy: &Retention) -> Result<PurgeReport> {
        let conn = self.connection();
        let backend = conn.get_database_backend();
        let p = |n: usize| match backend {
            DatabaseBackend::Postgres => format!("${n}"),
            _ => "?".to_owned(),
        };
        let batch = policy.batch.clamp(1, 10_000);
        // a candidate is old, ended, and either ad hoc or has at least
        // `keep` newer executions of the same job
        let sql = format!(
            "SELECT e.id FROM executions e WHERE e.date_started < {} \
             AND e.status NOT IN ('running', 'queued', 'scheduled') \
             AND (e.job_id IS NULL OR (SELECT COUNT(*) FROM executions n \
                  WHERE n.job_id = e.job_id AND n.id > e.id) >= {}) \
             ORDER BY e.id LIMIT {}",
            p(1),
            p(2),
            p(3)
        );
        let cutoff = time::bound(policy.older_than);
        let keep = i64::try_from(policy.keep_last_per_job).unwrap_or(i64::MAX);
        let mut report = PurgeReport::default();
        loop {
            let rows = conn
                .query_all(Statement::from_sql_and_values(
                    backend,
                    &sql,
                    [cutoff.into(), keep.into(), (batch as i64).into()],
                ))
                .await
                .map_err(db)?;
            let ids: Vec<i64> = rows
                .iter()
                .filter_map(|r| r.try_get_by_index::<i64>(0).ok())
                .collect();
            if ids.is_empty() {
                return Ok(report);
            }
            let txn = begin_write(conn).await?;
            let gone: Vec<CountedRow> = counted_columns(
                executions::Entity::find().filter(executions::Column::Id.is_in(ids.clone())),
            )
            .into_tuple()
            .all(&txn)
            .await
            .map_err(db)?;
            recount(
                &txn,
                gone.into_iter().map(|row| (counted_row(row), -1)).collect(),
            )
            .await?;
            let chunks = log_chunks::Entity::delete_many()
                .filter(log_chunks::Column::ExecutionId.is_in(ids.clone()))
                .exec(&txn)
                .await
                .map_err(db)?;
            // left only by a server that stopped between a durable run's
            // last record and its end
            run_states::Entity::delete_many()
                .filter(run_states::Column::ExecutionId.is_in(ids.clone()))
                .exec(&txn)
                .await
                .map_err(db)?;
            let execs = executions::Entity::delete_many()
                .filter(executions::Column::Id.is_in(ids.clone()))
                .exec(&txn)
                .await
                .map_err(db)?;
            txn.commit().await.map_err(db)?;
            report.executions += execs.rows_affected;
            report.log_chunks += chunks.rows_affected;
            report.batches += 1;
            if (ids.len() as u64) < batch {
                return Ok(report);
            }
            // let other writers in between batches
            tokio::task::yield_now().await;
        }
    }
}
