//! Durable runs' states between their steps (`run_states`): one row per
//! execution, the state as JSON, written after each step of a job with
//! `durable: true` and read to continue the run when its server stopped.

use super::types::Types;
use sea_orm_migration::prelude::*;

/// Creates `run_states`.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RunStates {
    Table,
    ExecutionId,
    Record,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let ty = Types(manager.get_database_backend());
        manager
            .create_table(
                ty.table(RunStates::Table)
                    .col(
                        ColumnDef::new(RunStates::ExecutionId)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ty.text(RunStates::Record).not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RunStates::Table).to_owned())
            .await
    }
}
