//! `run_states`: the state of a durable run between its steps, one row per execution.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "run_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub execution_id: i64,
    /// JSON of the whole `RunState`.
    pub record: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
