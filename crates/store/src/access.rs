//! Access records: users, API tokens and webhooks (hashes only), ACL
//! policies, audit log.

use crate::entity::{acl_policies, api_tokens, audit_events, users, webhooks};
use crate::error::{db, not_found};
use crate::store::{begin_write, to_json};
use crate::time;
use foredeck_core::store::{AclPolicy, ApiToken, AuditEvent, AuditQuery, Page, User, Webhook};
use foredeck_core::{Error, Result};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

fn from_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Store(format!("{what}: {e}")))
}

/// `""` stands for "system" in the `scope` column.
fn scope(project: Option<&str>) -> String {
    project.unwrap_or("").to_owned()
}

pub(crate) async fn put_user(c: &DatabaseConnection, user: &User) -> Result<()> {
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

pub(crate) async fn get_user(c: &DatabaseConnection, login: &str) -> Result<Option<User>> {
    users::Entity::find_by_id(login.to_owned())
        .one(c)
        .await
        .map_err(db)?
        .map(|m| from_json(&format!("user {}", m.login), &m.record))
        .transpose()
}

pub(crate) async fn list_users(c: &DatabaseConnection) -> Result<Vec<User>> {
    users::Entity::find()
        .order_by_asc(users::Column::Login)
        .all(c)
        .await
        .map_err(db)?
        .into_iter()
        .map(|m| from_json(&format!("user {}", m.login), &m.record))
        .collect()
}

pub(crate) async fn delete_user(c: &DatabaseConnection, login: &str) -> Result<()> {
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

pub(crate) async fn create_token(c: &DatabaseConnection, token: &ApiToken) -> Result<()> {
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

pub(crate) async fn find_token(c: &DatabaseConnection, hash: &str) -> Result<Option<ApiToken>> {
    api_tokens::Entity::find()
        .filter(api_tokens::Column::TokenHash.eq(hash))
        .one(c)
        .await
        .map_err(db)?
        .map(|m| from_json(&format!("token {}", m.id), &m.record))
        .transpose()
}

pub(crate) async fn list_tokens(
    c: &DatabaseConnection,
    user: Option<&str>,
) -> Result<Vec<ApiToken>> {
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

pub(crate) async fn delete_token(c: &DatabaseConnection, id: &str) -> Result<()> {
    let res = api_tokens::Entity::delete_by_id(id.to_owned())
        .exec(c)
        .await
        .map_err(db)?;
    if res.rows_affected == 0 {
        return Err(not_found("token", id));
    }
    Ok(())
}

fn policy_from(m: acl_policies::Model) -> AclPolicy {
    AclPolicy {
        project: (!m.scope.is_empty()).then_some(m.scope),
        name: m.name,
        content: m.content,
        modified: time::from_db(m.modified),
    }
}

pub(crate) async fn put_acl_policy(c: &DatabaseConnection, p: &AclPolicy) -> Result<()> {
    use acl_policies::Column as A;
    if p.project.as_deref() == Some("") {
        return Err(Error::format("ACL policy", "project name is empty"));
    }
    acl_policies::Entity::insert(acl_policies::ActiveModel {
        scope: Set(scope(p.project.as_deref())),
        name: Set(p.name.clone()),
        content: Set(p.content.clone()),
        modified: Set(time::to_db(p.modified)?),
    })
    .on_conflict(
        OnConflict::columns([A::Scope, A::Name])
            .update_columns([A::Content, A::Modified])
            .to_owned(),
    )
    .exec_without_returning(c)
    .await
    .map_err(db)?;
    Ok(())
}

pub(crate) async fn get_acl_policy(
    c: &DatabaseConnection,
    project: Option<&str>,
    name: &str,
) -> Result<Option<AclPolicy>> {
    Ok(
        acl_policies::Entity::find_by_id((scope(project), name.to_owned()))
            .one(c)
            .await
            .map_err(db)?
            .map(policy_from),
    )
}

pub(crate) async fn list_acl_policies(
    c: &DatabaseConnection,
    project: Option<&str>,
) -> Result<Vec<AclPolicy>> {
    Ok(acl_policies::Entity::find()
        .filter(acl_policies::Column::Scope.eq(scope(project)))
        .order_by_asc(acl_policies::Column::Name)
        .all(c)
        .await
        .map_err(db)?
        .into_iter()
        .map(policy_from)
        .collect())
}

pub(crate) async fn delete_acl_policy(
    c: &DatabaseConnection,
    project: Option<&str>,
    name: &str,
) -> Result<()> {
    let res = acl_policies::Entity::delete_by_id((scope(project), name.to_owned()))
        .exec(c)
        .await
        .map_err(db)?;
    if res.rows_affected == 0 {
        return Err(not_found("ACL policy", name));
    }
    Ok(())
}

pub(crate) async fn append_audit(c: &DatabaseConnection, e: &AuditEvent) -> Result<u64> {
    let mut record = e.clone();
    record.id = 0;
    let res = audit_events::Entity::insert(audit_events::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        time: Set(time::to_db(e.time)?),
        user: Set(e.user.clone()),
        action: Set(e.action.clone()),
        resource_type: Set(e.resource_type.clone()),
        resource: Set(e.resource.clone()),
        project: Set(e.project.clone()),
        record: Set(to_json("audit event", &record)?),
    })
    .exec(c)
    .await
    .map_err(db)?;
    u64::try_from(res.last_insert_id)
        .map_err(|_| Error::Store(format!("bad audit id {}", res.last_insert_id)))
}

pub(crate) async fn query_audit(
    c: &DatabaseConnection,
    q: &AuditQuery,
) -> Result<Page<AuditEvent>> {
    use audit_events::Column as A;
    let max = if q.max == 0 { 20 } else { q.max };
    let mut cond = Condition::all();
    if let Some(v) = &q.user {
        cond = cond.add(A::User.eq(v));
    }
    if let Some(v) = &q.project {
        cond = cond.add(A::Project.eq(v));
    }
    if let Some(v) = &q.action {
        cond = cond.add(A::Action.eq(v));
    }
    if let Some(v) = &q.resource_type {
        cond = cond.add(A::ResourceType.eq(v));
    }
    if let Some(v) = &q.resource {
        cond = cond.add(A::Resource.eq(v));
    }
    if let Some(t) = q.since {
        cond = cond.add(A::Time.gte(time::bound(t)));
    }
    if let Some(t) = q.until {
        cond = cond.add(A::Time.lt(time::bound(t)));
    }
    let total = audit_events::Entity::find()
        .filter(cond.clone())
        .count(c)
        .await
        .map_err(db)?;
    let items = audit_events::Entity::find()
        .filter(cond)
        .order_by_desc(A::Id)
        .offset(q.offset)
        .limit(max)
        .all(c)
        .await
        .map_err(db)?
        .into_iter()
        .map(|m| {
            let mut e: AuditEvent = from_json(&format!("audit event {}", m.id), &m.record)?;
            e.id = m.id as u64;
            Ok(e)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Page {
        items,
        total,
        offset: q.offset,
        max,
    })
}

pub(crate) async fn put_webhook(c: &DatabaseConnection, hook: &Webhook) -> Result<()> {
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

pub(crate) async fn get_webhook(c: &DatabaseConnection, id: &str) -> Result<Option<Webhook>> {
    webhooks::Entity::find_by_id(id.to_owned())
        .one(c)
        .await
        .map_err(db)?
        .map(webhook_from)
        .transpose()
}

pub(crate) async fn find_webhook(c: &DatabaseConnection, hash: &str) -> Result<Option<Webhook>> {
    webhooks::Entity::find()
        .filter(webhooks::Column::TokenHash.eq(hash))
        .one(c)
        .await
        .map_err(db)?
        .map(webhook_from)
        .transpose()
}

pub(crate) async fn list_webhooks(c: &DatabaseConnection, project: &str) -> Result<Vec<Webhook>> {
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

pub(crate) async fn delete_webhook(c: &DatabaseConnection, id: &str) -> Result<()> {
    let res = webhooks::Entity::delete_by_id(id.to_owned())
        .exec(c)
        .await
        .map_err(db)?;
    if res.rows_affected == 0 {
        return Err(not_found("webhook", id));
    }
    Ok(())
}
