//! `audit_events`: the audit log.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub time: i64,
    pub user: String,
    pub action: String,
    pub resource_type: String,
    pub resource: String,
    pub project: Option<String>,
    /// JSON of the whole `AuditEvent`.
    pub record: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
