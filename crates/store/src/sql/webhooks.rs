//! Webhooks (token hashes only) on SQL: the [`WebhookStore`] impl.

use super::{begin_write, from_json, to_json, SqlStore};
use crate::entity::webhooks;
use crate::error::{db, not_found};
use async_trait::async_trait;
use foredeck_core::store::{Webhook, WebhookStore};
use foredeck_core::{Error, Result};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set};

async fn put_webhook(c: &DatabaseConnection, hook: &Webhook) -> Result<()> {
    use webhooks::Column as W;
    let record = to_json("webhook", hook)?;
    // Not an upsert: MySQL's ON DUPLICATE KEY UPDATE fires on any unique
    // key, so a clash on (project, name) or the hash would overwrite
    // another webhook instead of failing.
    let txn = begin_write(c).await?;
    let exists = webhooks::Entity::find_by_id(hook.id.clone())
        .one(&txn)
        .await
        .map_err(db)?
        .is_some();
    let res = if exists {
        webhooks::Entity::update_many()
            .col_expr(W::Project, Expr::value(hook.project.clone()))
            .col_expr(W::Name, Expr::value(hook.name.clone()))
            .col_expr(W::TokenHash, Expr::value(hook.token_hash.clone()))
            .col_expr(W::Record, Expr::value(record))
            .filter(W::Id.eq(hook.id.clone()))
            .exec(&txn)
            .await
            .map(|_| ())
    } else {
        webhooks::Entity::insert(webhooks::ActiveModel {
            id: Set(hook.id.clone()),
            project: Set(hook.project.clone()),
            name: Set(hook.name.clone()),
            token_hash: Set(hook.token_hash.clone()),
            record: Set(record),
        })
        .exec_without_returning(&txn)
        .await
        .map(|_| ())
    };
    match res.map_err(db) {
        Ok(()) => txn.commit().await.map_err(db),
        Err(e) => {
            txn.rollback().await.map_err(db)?;
            match e {
                // Never echo the database's message: it may quote the hash.
                Error::Conflict(_) => Err(Error::Conflict(format!(
                    "webhook {}: project {} has a webhook named {:?}, or its token is taken",
                    hook.id, hook.project, hook.name
                ))),
                e => Err(e),
            }
        }
    }
}

fn webhook_from(m: webhooks::Model) -> Result<Webhook> {
    from_json(&format!("webhook {}", m.id), &m.record)
}

async fn get_webhook(c: &DatabaseConnection, id: &str) -> Result<Option<Webhook>> {
    webhooks::Entity::find_by_id(id.to_owned())
        .one(c)
        .await
        .map_err(db)?
        .map(webhook_from)
        .transpose()
}

async fn find_webhook(c: &DatabaseConnection, hash: &str) -> Result<Option<Webhook>> {
    webhooks::Entity::find()
        .filter(webhooks::Column::TokenHash.eq(hash))
        .one(c)
        .await
        .map_err(db)?
        .map(webhook_from)
        .transpose()
}

async fn list_webhooks(c: &DatabaseConnection, project: &str) -> Result<Vec<Webhook>> {
    webhooks::Entity::find()
        .filter(webhooks::Column::Project.eq(project))
        .order_by_asc(webhooks::Column::Name)
        .order_by_asc(webhooks::Column::Id)
        .all(c)
        .await
        .map_err(db)?
        .into_iter()
        .map(webhook_from)
        .collect()
}

async fn delete_webhook(c: &DatabaseConnection, id: &str) -> Result<()> {
    let res = webhooks::Entity::delete_by_id(id.to_owned())
        .exec(c)
        .await
        .map_err(db)?;
    if res.rows_affected == 0 {
        return Err(not_found("webhook", id));
    }
    Ok(())
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn put_webhook(&self, hook: &Webhook) -> Result<()> {
        put_webhook(&self.db, hook).await
    }
    async fn get_webhook(&self, id: &str) -> Result<Option<Webhook>> {
        get_webhook(&self.db, id).await
    }
    async fn find_webhook(&self, token_hash: &str) -> Result<Option<Webhook>> {
        find_webhook(&self.db, token_hash).await
    }
    async fn list_webhooks(&self, project: &str) -> Result<Vec<Webhook>> {
        list_webhooks(&self.db, project).await
    }
    async fn delete_webhook(&self, id: &str) -> Result<()> {
        delete_webhook(&self.db, id).await
    }
}
