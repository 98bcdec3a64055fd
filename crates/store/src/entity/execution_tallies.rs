//! `execution_tallies`: executions per project, facet (how they were
//! started, who ran them, who aborted them, the hour and the day they
//! ended), status and shard, kept with every change beside
//! `execution_counts`, so that the totals of Rundeck's execution query
//! filters are read, not counted (migration 12).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "execution_tallies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project: String,
    /// What is tallied: see `crate::sql::counts::Facet`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub facet: i32,
    /// The execution type, user or aborting user; `""` for the time facets.
    #[sea_orm(primary_key, auto_increment = false)]
    pub label: String,
    /// The hour or day (since the Unix epoch, UTC) the executions ended;
    /// 0 for the other facets.
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub status: String,
    /// Execution id modulo `TALLY_SHARDS`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub shard: i64,
    pub n: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
