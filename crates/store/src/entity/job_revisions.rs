//! `job_revisions`: raised with every change to a project's jobs.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_revisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project: String,
    pub rev: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
