//! Settings of one server that outlive its heartbeat row
//! (`server_settings`): its execution mode (`active` or `passive`), kept
//! across restarts.

use super::types::Types;
use sea_orm_migration::prelude::*;

/// Creates `server_settings`.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ServerSettings {
    Table,
    Server,
    Key,
    Value,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let ty = Types(manager.get_database_backend());
        manager
            .create_table(
                ty.table(ServerSettings::Table)
                    .col(ty.key(ServerSettings::Server).not_null())
                    .col(ty.key(ServerSettings::Key).not_null())
                    .col(ty.text(ServerSettings::Value).not_null())
                    .primary_key(
                        Index::create()
                            .col(ServerSettings::Server)
                            .col(ServerSettings::Key),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ServerSettings::Table).to_owned())
            .await
    }
}
