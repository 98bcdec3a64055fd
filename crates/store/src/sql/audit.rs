//! The audit log on SQL: the [`AuditStore`] impl.

use super::{from_json, to_json, SqlStore};
use crate::entity::audit_events;
use crate::error::db;
use crate::time;
use async_trait::async_trait;
use foredeck_core::store::{AuditEvent, AuditQuery, AuditStore, Page};
use foredeck_core::{Error, Result};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

async fn append_audit(c: &DatabaseConnection, e: &AuditEvent) -> Result<u64> {
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

async fn query_audit(c: &DatabaseConnection, q: &AuditQuery) -> Result<Page<AuditEvent>> {
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

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(&self, event: &AuditEvent) -> Result<u64> {
        append_audit(&self.db, event).await
    }
    async fn query_audit(&self, query: &AuditQuery) -> Result<Page<AuditEvent>> {
        query_audit(&self.db, query).await
    }
}
