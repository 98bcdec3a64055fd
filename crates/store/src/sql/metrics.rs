//! Execution metrics on SQL: counts by status and duration figures over
//! the executions a query matches, as one aggregate statement (grouped by
//! status), never by reading the executions.

use super::SqlStore;
use crate::entity::executions;
use crate::error::db;
use foredeck_core::store::{ExecutionMetrics, ExecutionQuery};
use foredeck_core::Result;
use sea_orm::sea_query::Expr;
use sea_orm::{DatabaseBackend, EntityTrait, QueryFilter, QuerySelect};

/// One status's row: status, executions, timed ones, their summed, least
/// and greatest milliseconds.
type StatusRow = (String, i64, i64, i64, Option<i64>, Option<i64>);

/// [`ExecutionStore::execution_metrics`](foredeck_core::store::ExecutionStore::execution_metrics)
/// for `store`: the query's conditions (those of its page query), grouped
/// by status; the duration, in whole milliseconds, of executions that
/// ended at least a millisecond after they started.
pub(super) async fn execution_metrics(
    store: &SqlStore,
    query: &ExecutionQuery,
) -> Result<ExecutionMetrics> {
    use executions::Column as C;
    let mysql = store.backend() == DatabaseBackend::MySql;
    let (q, div, int) = if mysql {
        ('`', "DIV", "SIGNED")
    } else {
        ('"', "/", "BIGINT")
    };
    let span = format!("{q}date_ended{q} - {q}date_started{q}");
    let d = format!(
        "CASE WHEN {q}date_ended{q} IS NOT NULL AND {span} >= 1000000 \
         THEN ({span}) {div} 1000000 END"
    );
    let rows: Vec<StatusRow> = executions::Entity::find()
        .filter(store.column_condition(query))
        .select_only()
        .column(C::Status)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(Expr::cust(format!("COUNT({d})")), "timed")
        .column_as(
            Expr::cust(format!("CAST(COALESCE(SUM({d}), 0) AS {int})")),
            "sum_ms",
        )
        .column_as(Expr::cust(format!("MIN({d})")), "min_ms")
        .column_as(Expr::cust(format!("MAX({d})")), "max_ms")
        .group_by(C::Status)
        .into_tuple()
        .all(&store.db)
        .await
        .map_err(db)?;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    let mut m = ExecutionMetrics::default();
    for (status, count, timed, sum, min, max) in rows {
        m.total += n(count);
        *m.by_status.entry(status).or_default() += n(count);
        m.timed += n(timed);
        m.duration_sum_ms = m.duration_sum_ms.saturating_add(n(sum));
        if let Some(min) = min.map(n) {
            m.duration_min_ms = Some(m.duration_min_ms.map_or(min, |x| x.min(min)));
        }
        if let Some(max) = max.map(n) {
            m.duration_max_ms = Some(m.duration_max_ms.map_or(max, |x| x.max(max)));
        }
    }
    Ok(m)
}
