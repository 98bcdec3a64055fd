//! ACL policies on SQL: the [`AclStore`] impl.

use super::SqlStore;
use crate::entity::acl_policies;
use crate::error::{db, not_found};
use crate::time;
use async_trait::async_trait;
use foredeck_core::store::{AclPolicy, AclStore};
use foredeck_core::{Error, Result};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set};

/// `""` stands for "system" in the `scope` column.
fn scope(project: Option<&str>) -> String {
    project.unwrap_or("").to_owned()
}

fn policy_from(m: acl_policies::Model) -> AclPolicy {
    AclPolicy {
        project: (!m.scope.is_empty()).then_some(m.scope),
        name: m.name,
        content: m.content,
        modified: time::from_db(m.modified),
    }
}

async fn put_acl_policy(c: &DatabaseConnection, p: &AclPolicy) -> Result<()> {
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

async fn get_acl_policy(
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

async fn list_acl_policies(
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

async fn delete_acl_policy(
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

#[async_trait]
impl AclStore for SqlStore {
    async fn put_acl_policy(&self, policy: &AclPolicy) -> Result<()> {
        put_acl_policy(&self.db, policy).await
    }
    async fn get_acl_policy(&self, project: Option<&str>, name: &str) -> Result<Option<AclPolicy>> {
        get_acl_policy(&self.db, project, name).await
    }
    async fn list_acl_policies(&self, project: Option<&str>) -> Result<Vec<AclPolicy>> {
        list_acl_policies(&self.db, project).await
    }
    async fn delete_acl_policy(&self, project: Option<&str>, name: &str) -> Result<()> {
        delete_acl_policy(&self.db, project, name).await
    }
}
