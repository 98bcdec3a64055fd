//! `jobs`: job definitions, as Rundeck-style YAML.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub uuid: String,
    pub project: String,
    /// Group path, `""` for top-level jobs.
    pub group_path: String,
    pub name: String,
    /// The whole `Job`, serialized with serde_yaml_ng.
    pub definition: String,
    pub created: i64,
    pub updated: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
