//! Users and API tokens (hashes only) on SQL: the [`UserStore`] impl.

use super::{begin_write, from_json, to_json, SqlStore};
use crate::entity::{api_tokens, users};
use crate::error::{db, not_found};
use crate::time;
use async_trait::async_trait;
use foredeck_core::store::{ApiToken, User, UserStore};
use foredeck_core::{Error, Result};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set};

async fn put_user(c: &DatabaseConnection, user: &User) -> Result<()> {
    users::Entity::insert(users::ActiveModel {
        login: Set(user.login.clone()),
        record: Set(to_json("user", user)?),
    })
    .on_conflict(
        OnConflict::column(users::Column::Login)
            .update_column(users::Column::Record)
            .to_owned(),
    )
    .exec_without_returning(c)
    .await
    .map_err(db)?;
    Ok(())
}

async fn get_user(c: &DatabaseConnection, login: &str) -> Result<Option<User>> {
    users::Entity::find_by_id(login.to_owned())
        .one(c)
        .await
        .map_err(db)?
        .map(|m| from_json(&format!("user {}", m.login), &m.record))
        .transpose()
}

async fn list_users(c: &DatabaseConnection) -> Result<Vec<User>> {
    users::Entity::find()
        .order_by_asc(users::Column::Login)
        .all(c)
        .await
        .map_err(db)?
        .into_iter()
        .map(|m| from_json(&format!("user {}", m.login), &m.record))
        .collect()
}

async fn delete_user(c: &DatabaseConnection, login: &str) -> Result<()> {
    let txn = begin_write(c).await?;
    let res = users::Entity::delete_by_id(login.to_owned())
        .exec(&txn)
        .await
        .map_err(db)?;
    if res.rows_affected == 0 {
        return Err(not_found("user", login));
    }
    api_tokens::Entity::delete_many()
        .filter(api_tokens::Column::User.eq(login))
        .exec(&txn)
        .await
        .map_err(db)?;
    txn.commit().await.map_err(db)
}

async fn create_token(c: &DatabaseConnection, token: &ApiToken) -> Result<()> {
    let res = api_tokens::Entity::insert(api_tokens::ActiveModel {
        id: Set(token.id.clone()),
        token_hash: Set(token.token_hash.clone()),
        user: Set(token.user.clone()),
        created: Set(time::to_db(token.created)?),
        record: Set(to_json("token", token)?),
    })
    .exec_without_returning(c)
    .await
    .map_err(db);
    match res {
        Ok(_) => Ok(()),
        // Never echo the database's message: it may quote the hash.
        Err(Error::Conflict(_)) => Err(Error::Conflict(format!("token {:?} exists", token.id))),
        Err(e) => Err(e),
    }
}

async fn find_token(c: &DatabaseConnection, hash: &str) -> Result<Option<ApiToken>> {
    api_tokens::Entity::find()
        .filter(api_tokens::Column::TokenHash.eq(hash))
        .one(c)
        .await
        .map_err(db)?
        .map(|m| from_json(&format!("token {}", m.id), &m.record))
        .transpose()
}

async fn list_tokens(c: &DatabaseConnection, user: Option<&str>) -> Result<Vec<ApiToken>> {
    let mut q = api_tokens::Entity::find();
    if let Some(u) = user {
        q = q.filter(api_tokens::Column::User.eq(u));
    }
    q.order_by_asc(api_tokens::Column::Created)
        .order_by_asc(api_tokens::Column::Id)
        .all(c)
        .await
        .map_err(db)?
        .into_iter()
        .map(|m| from_json(&format!("token {}", m.id), &m.record))
        .collect()
}

async fn delete_token(c: &DatabaseConnection, id: &str) -> Result<()> {
    let res = api_tokens::Entity::delete_by_id(id.to_owned())
        .exec(c)
        .await
        .map_err(db)?;
    if res.rows_affected == 0 {
        return Err(not_found("token", id));
    }
    Ok(())
}

#[async_trait]
impl UserStore for SqlStore {
    async fn put_user(&self, user: &User) -> Result<()> {
        put_user(&self.db, user).await
    }
    async fn get_user(&self, login: &str) -> Result<Option<User>> {
        get_user(&self.db, login).await
    }
    async fn list_users(&self) -> Result<Vec<User>> {
        list_users(&self.db).await
    }
    async fn delete_user(&self, login: &str) -> Result<()> {
        delete_user(&self.db, login).await
    }
    async fn create_token(&self, token: &ApiToken) -> Result<()> {
        create_token(&self.db, token).await
    }
    async fn find_token(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        find_token(&self.db, token_hash).await
    }
    async fn list_tokens(&self, user: Option<&str>) -> Result<Vec<ApiToken>> {
        list_tokens(&self.db, user).await
    }
    async fn delete_token(&self, id: &str) -> Result<()> {
        delete_token(&self.db, id).await
    }
}
