//! Execution logs on SQL, as compressed chunks: the [`LogStore`] impl.

use super::{exec_id, SqlStore};
use crate::entity::{executions, log_chunks};
use crate::error::{codec, db, no_execution};
use crate::logcodec;
use async_trait::async_trait;
use foredeck_core::model::LogEvent;
use foredeck_core::store::{LogPage, LogStore};
use foredeck_core::{Error, Result};
use sea_orm::sea_query::{Expr, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement, TransactionTrait,
};

#[async_trait]
impl LogStore for SqlStore {
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
}

impl SqlStore {
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
