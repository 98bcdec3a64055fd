//! Schedule triggers on SQL: the [`TriggerStore`] impl.
//!
//! Claims read candidates and mark them in one transaction. On PostgreSQL
//! and MariaDB the read is `FOR UPDATE SKIP LOCKED`, so concurrent claimers
//! take disjoint rows without waiting on each other; on SQLite the
//! transaction takes the database's write lock before it reads, so claimers
//! run one after another.

use super::executions::{insert_execution, start_scheduled};
use super::{begin_write, for_update, skip_locked, to_json, SqlStore};
use crate::entity::{executions, jobs, triggers};
use crate::error::{codec, db, not_found};
use crate::time;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use foredeck_core::model::{Execution, ExecutionStatus};
use foredeck_core::store::{FireOutcome, Trigger, TriggerFire, TriggerStore};
use foredeck_core::{Error, Result};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use std::time::Duration;

fn spec_from(m: &triggers::Model) -> Result<serde_json::Value> {
    serde_json::from_str(&m.spec).map_err(|e| codec(&format!("trigger {} spec", m.id), e))
}

fn trigger_from(m: triggers::Model) -> Result<Trigger> {
    Ok(Trigger {
        spec: spec_from(&m)?,
        id: m.id,
        project: m.project,
        job_id: m.job_id,
        next_fire: time::from_db(m.next_fire),
        enabled: m.enabled,
        claimed_by: m.claimed_by,
        claim_expires: m.claim_expires.map(time::from_db),
    })
}

async fn put_trigger(c: &DatabaseConnection, t: &Trigger) -> Result<()> {
    use triggers::Column as T;
    triggers::Entity::insert(triggers::ActiveModel {
        id: Set(t.id.clone()),
        project: Set(t.project.clone()),
        job_id: Set(t.job_id.clone()),
        next_fire: Set(time::to_db(t.next_fire)?),
        enabled: Set(t.enabled),
        spec: Set(to_json("trigger spec", &t.spec)?),
        claimed_by: Set(None),
        claim_expires: Set(None),
    })
    .on_conflict(
        OnConflict::column(T::Id)
            .update_columns([
                T::Project,
                T::JobId,
                T::NextFire,
                T::Enabled,
                T::Spec,
                T::ClaimedBy,
                T::ClaimExpires,
            ])
            .to_owned(),
    )
    .exec_without_returning(c)
    .await
    .map_err(db)?;
    Ok(())
}

async fn get_trigger(c: &DatabaseConnection, id: &str) -> Result<Option<Trigger>> {
    triggers::Entity::find_by_id(id.to_owned())
        .one(c)
        .await
        .map_err(db)?
        .map(trigger_from)
        .transpose()
}

async fn list_triggers(c: &DatabaseConnection, project: Option<&str>) -> Result<Vec<Trigger>> {
    let mut q = triggers::Entity::find();
    if let Some(p) = project {
        q = q.filter(triggers::Column::Project.eq(p));
    }
    q.order_by_asc(triggers::Column::NextFire)
        .order_by_asc(triggers::Column::Id)
        .all(c)
        .await
        .map_err(db)?
        .into_iter()
        .map(trigger_from)
        .collect()
}

async fn delete_trigger(c: &DatabaseConnection, id: &str) -> Result<()> {
    let res = triggers::Entity::delete_by_id(id.to_owned())
        .exec(c)
        .await
        .map_err(db)?;
    if res.rows_affected == 0 {
        return Err(not_found("trigger", id));
    }
    Ok(())
}

async fn claim_due_triggers(
    c: &DatabaseConnection,
    server: &str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: usize,
) -> Result<Vec<Trigger>> {
    use triggers::Column as T;
    if limit == 0 {
        return Ok(Vec::new());
    }
    let now_db = time::bound(now);
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    let until_db = time::bound(until);
    let txn = begin_write(c).await?;
    let q = triggers::Entity::find()
        .filter(T::Enabled.eq(true))
        .filter(T::NextFire.lte(now_db))
        .filter(
            Condition::any()
                .add(T::ClaimedBy.is_null())
                .add(T::ClaimExpires.is_null())
                .add(T::ClaimExpires.lt(now_db)),
        )
        .order_by_asc(T::NextFire)
        .order_by_asc(T::Id)
        .limit(limit as u64);
    let rows = skip_locked(q, txn.get_database_backend())
        .all(&txn)
        .await
        .map_err(db)?;
    if rows.is_empty() {
        txn.commit().await.map_err(db)?;
        return Ok(Vec::new());
    }
    let ids: Vec<String> = rows.iter().map(|m| m.id.clone()).collect();
    triggers::Entity::update_many()
        .col_expr(T::ClaimedBy, Expr::value(server.to_owned()))
        .col_expr(T::ClaimExpires, Expr::value(until_db))
        .filter(T::Id.is_in(ids))
        .exec(&txn)
        .await
        .map_err(db)?;
    txn.commit().await.map_err(db)?;
    rows.into_iter()
        .map(|m| {
            let mut t = trigger_from(m)?;
            t.claimed_by = Some(server.to_owned());
            t.claim_expires = Some(time::from_db(until_db));
            Ok(t)
        })
        .collect()
}

async fn release_trigger(c: &DatabaseConnection, id: &str, server: &str) -> Result<()> {
    use triggers::Column as T;
    triggers::Entity::update_many()
        .col_expr(T::ClaimedBy, Expr::value(None::<String>))
        .col_expr(T::ClaimExpires, Expr::value(None::<i64>))
        .filter(T::Id.eq(id))
        .filter(T::ClaimedBy.eq(server))
        .exec(c)
        .await
        .map_err(db)?;
    Ok(())
}

/// The lowest-numbered running, queued or waiting execution of a job, read after
/// taking the job row's lock: firings of the job's triggers that ask for
/// exclusivity take that lock in turn, so each sees the runs the one before
/// it committed. (Without a job row there is no lock, and nothing to run.)
async fn busy_execution(txn: &DatabaseTransaction, job_id: &str) -> Result<Option<u64>> {
    use executions::Column as E;
    let backend = txn.get_database_backend();
    for_update(jobs::Entity::find_by_id(job_id.to_owned()), backend)
        .one(txn)
        .await
        .map_err(db)?;
    let q = executions::Entity::find()
        .select_only()
        .column(E::Id)
        .filter(E::JobId.eq(job_id))
        .filter(E::Status.is_in([
            ExecutionStatus::Running.as_str(),
            ExecutionStatus::Queued.as_str(),
            ExecutionStatus::Waiting.as_str(),
        ]))
        .order_by_asc(E::Id)
        .limit(1);
    // a plain read: PostgreSQL reads committed rows at each statement, and
    // InnoDB takes its repeatable-read snapshot at the transaction's first
    // plain read, which is this one, after the job lock (the reads before
    // it lock rows and take no snapshot). A locking read here would take
    // gap locks that deadlock with other writers of the job's executions.
    let id: Option<i64> = q.into_tuple().one(txn).await.map_err(db)?;
    id.map(|id| u64::try_from(id).map_err(|_| Error::Store(format!("bad execution id {id}"))))
        .transpose()
}

async fn fire_trigger(c: &DatabaseConnection, fire: &TriggerFire) -> Result<FireOutcome> {
    use triggers::Column as T;
    let fire_time = time::to_db(fire.fire_time)?;
    let next = fire.next_fire.map(time::to_db).transpose()?;
    let txn = begin_write(c).await?;
    let q = triggers::Entity::find_by_id(fire.trigger_id.clone());
    let Some(row) = for_update(q, txn.get_database_backend())
        .one(&txn)
        .await
        .map_err(db)?
    else {
        txn.rollback().await.map_err(db)?;
        return Ok(FireOutcome::Lost);
    };
    if row.claimed_by.as_deref() != Some(fire.server.as_str()) || row.next_fire != fire_time {
        // Rolled back here, not on drop: a dropped transaction's rollback
        // waits until its connection is next used, and until then its row
        // lock makes other servers' SKIP LOCKED claims pass the trigger by.
        txn.rollback().await.map_err(db)?;
        return Ok(FireOutcome::Lost);
    }
    if fire.exclusive {
        if let Some(job_id) = row.job_id.as_deref() {
            if let Some(other) = busy_execution(&txn, job_id).await? {
                txn.rollback().await.map_err(db)?;
                return Ok(FireOutcome::Busy(other));
            }
        }
    }
    let mut ids = Vec::with_capacity(fire.executions.len());
    let mut plans = fire.executions.iter();
    if let Some(id) = fire.scheduled {
        let started = match plans.next() {
            Some(first) => start_scheduled(&txn, id, first).await?,
            None => false,
        };
        if started {
            ids.push(id);
        } else {
            // taken (aborted) before its time: nothing to run
            plans = [].iter();
        }
    }
    for e in plans {
        ids.push(insert_execution(&txn, e).await?);
    }
    match next {
        Some(next) => {
            triggers::Entity::update_many()
                .col_expr(T::NextFire, Expr::value(next))
                .col_expr(T::ClaimedBy, Expr::value(None::<String>))
                .col_expr(T::ClaimExpires, Expr::value(None::<i64>))
                .filter(T::Id.eq(&fire.trigger_id))
                .exec(&txn)
                .await
                .map_err(db)?;
        }
        None => {
            triggers::Entity::delete_by_id(fire.trigger_id.clone())
                .exec(&txn)
                .await
                .map_err(db)?;
        }
    }
    txn.commit().await.map_err(db)?;
    Ok(FireOutcome::Fired(ids))
}

async fn create_exclusive_execution(
    c: &DatabaseConnection,
    execution: &Execution,
) -> Result<FireOutcome> {
    let txn = begin_write(c).await?;
    if let Some(job_id) = execution.job_id.as_deref() {
        if let Some(other) = busy_execution(&txn, job_id).await? {
            txn.rollback().await.map_err(db)?;
            return Ok(FireOutcome::Busy(other));
        }
    }
    let id = insert_execution(&txn, execution).await?;
    txn.commit().await.map_err(db)?;
    Ok(FireOutcome::Fired(vec![id]))
}

#[async_trait]
impl TriggerStore for SqlStore {
    async fn put_trigger(&self, trigger: &Trigger) -> Result<()> {
        put_trigger(&self.db, trigger).await
    }
    async fn get_trigger(&self, id: &str) -> Result<Option<Trigger>> {
        get_trigger(&self.db, id).await
    }
    async fn list_triggers(&self, project: Option<&str>) -> Result<Vec<Trigger>> {
        list_triggers(&self.db, project).await
    }
    async fn delete_trigger(&self, id: &str) -> Result<()> {
        delete_trigger(&self.db, id).await
    }
    async fn claim_due_triggers(
        &self,
        server: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Trigger>> {
        claim_due_triggers(&self.db, server, now, lease, limit).await
    }
    async fn release_trigger(&self, id: &str, server: &str) -> Result<()> {
        release_trigger(&self.db, id, server).await
    }
    async fn fire_trigger(&self, fire: &TriggerFire) -> Result<FireOutcome> {
        fire_trigger(&self.db, fire).await
    }
    async fn create_exclusive_execution(&self, execution: &Execution) -> Result<FireOutcome> {
        create_exclusive_execution(&self.db, execution).await
    }
}
