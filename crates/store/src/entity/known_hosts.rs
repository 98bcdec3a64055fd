//! `known_hosts`: known host keys for SSH host-key verification.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "known_hosts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub host: String,
    /// OpenSSH public-key text.
    pub key: String,
    pub modified: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
