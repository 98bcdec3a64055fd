//! Webhooks: one row each, the token kept as its SHA-256 only.

use super::types::Types;
use sea_orm_migration::prelude::*;

/// Creates `webhooks`.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    Project,
    Name,
    TokenHash,
    Record,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let ty = Types(manager.get_database_backend());
        manager
            .create_table(
                ty.table(Webhooks::Table)
                    .col(ty.key(Webhooks::Id).not_null().primary_key())
                    .col(ty.key(Webhooks::Project).not_null())
                    .col(ty.key(Webhooks::Name).not_null())
                    .col(ty.key(Webhooks::TokenHash).not_null())
                    .col(ty.text(Webhooks::Record).not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhooks_project_name")
                    .table(Webhooks::Table)
                    .col(Webhooks::Project)
                    .col(Webhooks::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhooks_token_hash")
                    .table(Webhooks::Table)
                    .col(Webhooks::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Webhooks::Table).to_owned())
            .await
    }
}
