//! `execution_counts`: executions per project, job and status, kept with every change so that history totals need no `count(*)`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "execution_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project: String,
    /// Job uuid, `""` for ad-hoc executions.
    #[sea_orm(primary_key, auto_increment = false)]
    pub job_key: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub status: String,
    pub n: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
