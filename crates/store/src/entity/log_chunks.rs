//! `log_chunks`: an execution's log, one row per append.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "log_chunks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub execution_id: i64,
    /// Index of the chunk's first event in the whole log.
    #[sea_orm(primary_key, auto_increment = false)]
    pub first_offset: i64,
    pub event_count: i64,
    /// The events as JSON lines.
    pub body: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
