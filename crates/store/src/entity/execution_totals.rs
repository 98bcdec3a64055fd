//! `execution_totals`: executions per project and status (over 16 rows by execution id), kept with every change beside `execution_counts`, so that a project's history total reads a few rows instead of summing one per job.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "execution_totals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub status: String,
    /// Execution id modulo the number of shards, so that concurrent
    /// transactions seldom update one row.
    #[sea_orm(primary_key, auto_increment = false)]
    pub shard: i64,
    pub n: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
