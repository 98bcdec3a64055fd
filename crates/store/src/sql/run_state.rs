//! Durable runs' states on SQL: the [`RunStateStore`] impl.

use super::{begin_write, exec_id, from_json, to_json, SqlStore};
use crate::entity::{executions, run_states};
use crate::error::{db, no_execution};
use async_trait::async_trait;
use foredeck_core::store::{RunState, RunStateStore};
use foredeck_core::Result;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

#[async_trait]
impl RunStateStore for SqlStore {
    async fn put_run_state(&self, state: &RunState) -> Result<()> {
        let id = state.execution;
        let eid = exec_id(id).ok_or_else(|| no_execution(id))?;
        let record = to_json("run state", state)?;
        let txn = begin_write(&self.db).await?;
        let execution = executions::Entity::find()
            .filter(executions::Column::Id.eq(eid))
            .count(&txn)
            .await
            .map_err(db)?;
        if execution == 0 {
            txn.rollback().await.map_err(db)?;
            return Err(no_execution(id));
        }
        let recorded = run_states::Entity::find_by_id(eid)
            .count(&txn)
            .await
            .map_err(db)?;
        // not an upsert by row count: MySQL counts an update that changes
        // nothing as no row
        if recorded == 0 {
            run_states::Entity::insert(run_states::ActiveModel {
                execution_id: Set(eid),
                record: Set(record),
            })
            .exec_without_returning(&txn)
            .await
            .map_err(db)?;
        } else {
            run_states::Entity::update_many()
                .col_expr(run_states::Column::Record, Expr::value(record))
                .filter(run_states::Column::ExecutionId.eq(eid))
                .exec(&txn)
                .await
                .map_err(db)?;
        }
        txn.commit().await.map_err(db)
    }

    async fn get_run_state(&self, execution: u64) -> Result<Option<RunState>> {
        let Some(eid) = exec_id(execution) else {
            return Ok(None);
        };
        run_states::Entity::find_by_id(eid)
            .one(&self.db)
            .await
            .map_err(db)?
            .map(|m| from_json(&format!("run state of execution {execution}"), &m.record))
            .transpose()
    }

    async fn delete_run_state(&self, execution: u64) -> Result<()> {
        let Some(eid) = exec_id(execution) else {
            return Ok(());
        };
        run_states::Entity::delete_by_id(eid)
            .exec(&self.db)
            .await
            .map_err(db)?;
        Ok(())
    }
}
