//! Server heartbeats and execution claims on SQL: the [`ClusterStore`] impl
//! (claims lock as triggers' do, see [`triggers`](super::triggers)).

use super::executions::execution_from;
use super::{begin_write, exec_id, skip_locked, to_json, SqlStore};
use crate::entity::{executions, server_heartbeats, server_settings};
use crate::error::{codec, db, not_found};
use crate::time;
use async_trait::async_trait;
use foredeck_core::model::Execution;
use foredeck_core::store::{ClusterStore, ExecutionClaim, ServerHeartbeat};
use foredeck_core::Result;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

async fn heartbeat(c: &DatabaseConnection, beat: &ServerHeartbeat) -> Result<()> {
    use server_heartbeats::Column as H;
    server_heartbeats::Entity::insert(server_heartbeats::ActiveModel {
        server: Set(beat.server.clone()),
        started: Set(time::to_db(beat.started)?),
        last_seen: Set(time::to_db(beat.last_seen)?),
        info: Set(to_json("server info", &beat.info)?),
    })
    .on_conflict(
        OnConflict::column(H::Server)
            .update_columns([H::Started, H::LastSeen, H::Info])
            .to_owned(),
    )
    .exec_without_returning(c)
    .await
    .map_err(db)?;
    Ok(())
}

async fn list_servers(c: &DatabaseConnection) -> Result<Vec<ServerHeartbeat>> {
    server_heartbeats::Entity::find()
        .order_by_asc(server_heartbeats::Column::Server)
        .all(c)
        .await
        .map_err(db)?
        .into_iter()
        .map(|m| {
            Ok(ServerHeartbeat {
                info: serde_json::from_str(&m.info)
                    .map_err(|e| codec(&format!("server {} info", m.server), e))?,
                server: m.server,
                started: time::from_db(m.started),
                last_seen: time::from_db(m.last_seen),
            })
        })
        .collect()
}

async fn delete_server(c: &DatabaseConnection, server: &str) -> Result<()> {
    let res = server_heartbeats::Entity::delete_by_id(server.to_owned())
        .exec(c)
        .await
        .map_err(db)?;
    if res.rows_affected == 0 {
        return Err(not_found("server", server));
    }
    Ok(())
}

async fn claim_executions(
    c: &DatabaseConnection,
    server: &str,
    claim: &ExecutionClaim,
    limit: usize,
) -> Result<Vec<Execution>> {
    use executions::Column as E;
    let only = claim.id.map(exec_id);
    if limit == 0 || only == Some(None) {
        return Ok(Vec::new());
    }
    let only = only.flatten();
    let txn = begin_write(c).await?;
    let mut q = executions::Entity::find().filter(E::Status.eq(claim.status.as_str()));
    q = match &claim.owner {
        Some(o) => q.filter(E::ServerUuid.eq(o)),
        None => q.filter(E::ServerUuid.is_null()),
    };
    if let Some(d) = claim.due_by {
        q = q.filter(E::DateStarted.lte(time::bound(d)));
    }
    if let Some(j) = &claim.job_id {
        q = q.filter(E::JobId.eq(j));
    }
    if let Some(id) = only {
        q = q.filter(E::Id.eq(id));
    }
    let q = q.order_by_asc(E::Id).limit(limit as u64);
    let rows = skip_locked(q, txn.get_database_backend())
        .all(&txn)
        .await
        .map_err(db)?;
    if rows.is_empty() {
        txn.commit().await.map_err(db)?;
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|m| m.id).collect();
    executions::Entity::update_many()
        .col_expr(E::ServerUuid, Expr::value(server.to_owned()))
        .filter(E::Id.is_in(ids))
        .exec(&txn)
        .await
        .map_err(db)?;
    txn.commit().await.map_err(db)?;
    rows.into_iter()
        .map(|mut m| {
            m.server_uuid = Some(server.to_owned());
            execution_from(m)
        })
        .collect()
}

#[async_trait]
impl ClusterStore for SqlStore {
    async fn heartbeat(&self, beat: &ServerHeartbeat) -> Result<()> {
        heartbeat(&self.db, beat).await
    }
    async fn list_servers(&self) -> Result<Vec<ServerHeartbeat>> {
        list_servers(&self.db).await
    }
    async fn delete_server(&self, server: &str) -> Result<()> {
        delete_server(&self.db, server).await
    }
    async fn claim_executions(
        &self,
        server: &str,
        claim: &ExecutionClaim,
        limit: usize,
    ) -> Result<Vec<Execution>> {
        claim_executions(&self.db, server, claim, limit).await
    }
    async fn put_server_setting(&self, server: &str, key: &str, value: &str) -> Result<()> {
        use server_settings::Column as S;
        server_settings::Entity::insert(server_settings::ActiveModel {
            server: Set(server.to_owned()),
            key: Set(key.to_owned()),
            value: Set(value.to_owned()),
        })
        .on_conflict(
            OnConflict::columns([S::Server, S::Key])
                .update_column(S::Value)
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .map_err(db)?;
        Ok(())
    }
    async fn get_server_setting(&self, server: &str, key: &str) -> Result<Option<String>> {
        Ok(
            server_settings::Entity::find_by_id((server.to_owned(), key.to_owned()))
                .one(&self.db)
                .await
                .map_err(db)?
                .map(|m| m.value),
        )
    }
}
