//! `server_heartbeats`: one row per live cluster member.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "server_heartbeats")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub server: String,
    pub started: i64,
    pub last_seen: i64,
    /// JSON.
    pub info: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
