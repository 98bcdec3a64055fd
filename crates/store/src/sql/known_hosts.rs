//! Learned SSH host keys on SQL: the [`KnownHostStore`] impl.

use super::SqlStore;
use crate::entity::known_hosts;
use crate::error::db;
use crate::time;
use async_trait::async_trait;
use chrono::Utc;
use foredeck_core::store::KnownHostStore;
use foredeck_core::Result;
use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseConnection, EntityTrait, Set};

async fn get_known_host(c: &DatabaseConnection, host: &str) -> Result<Option<String>> {
    Ok(known_hosts::Entity::find_by_id(host.to_owned())
        .one(c)
        .await
        .map_err(db)?
        .map(|m| m.key))
}

async fn put_known_host(c: &DatabaseConnection, host: &str, key: &str) -> Result<()> {
    use known_hosts::Column as K;
    known_hosts::Entity::insert(known_hosts::ActiveModel {
        host: Set(host.to_owned()),
        key: Set(key.to_owned()),
        modified: Set(time::to_db(Utc::now())?),
    })
    .on_conflict(
        OnConflict::column(K::Host)
            .update_columns([K::Key, K::Modified])
            .to_owned(),
    )
    .exec_without_returning(c)
    .await
    .map_err(db)?;
    Ok(())
}

async fn delete_known_host(c: &DatabaseConnection, host: &str) -> Result<bool> {
    let gone = known_hosts::Entity::delete_by_id(host.to_owned())
        .exec(c)
        .await
        .map_err(db)?;
    Ok(gone.rows_affected > 0)
}

#[async_trait]
impl KnownHostStore for SqlStore {
    async fn get_known_host(&self, host: &str) -> Result<Option<String>> {
        get_known_host(&self.db, host).await
    }
    async fn put_known_host(&self, host: &str, key: &str) -> Result<()> {
        put_known_host(&self.db, host, key).await
    }
    async fn delete_known_host(&self, host: &str) -> Result<bool> {
        delete_known_host(&self.db, host).await
    }
}
