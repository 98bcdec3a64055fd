//! `triggers`: durable schedule triggers.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "triggers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub project: String,
    pub job_id: Option<String>,
    pub next_fire: i64,
    pub enabled: bool,
    /// JSON, opaque to the store.
    pub spec: String,
    pub claimed_by: Option<String>,
    pub claim_expires: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
