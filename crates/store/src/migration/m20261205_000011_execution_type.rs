//! What Rundeck's execution query filters by and the executions table did
//! not hold: how each execution was started (`execution_type`: `user`,
//! `scheduled`, `user-scheduled`; `executionTypeFilter`) and who aborted
//! it (`aborted_by`; `abortedbyFilter`), with the indexes that keep the
//! first page and the total of those filters and of the end-time filters
//! (`begin`, `end`, `recentFilter`, `olderFilter`) off a scan of a
//! project's whole history. Executions stored before read as `user`.

use super::types::Types;
use sea_orm_migration::prelude::*;

/// Adds `execution_type`, `aborted_by` and their indexes.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Executions {
    Table,
    Project,
    User,
    DateStarted,
    DateEnded,
    ExecutionType,
    AbortedBy,
}

/// The indexes, by name and columns.
fn indexes() -> [(&'static str, Vec<Executions>); 4] {
    use Executions::*;
    [
        (
            "executions_project_type_started",
            vec![Project, ExecutionType, DateStarted],
        ),
        ("executions_project_ended", vec![Project, DateEnded]),
        (
            "executions_project_user_started",
            vec![Project, User, DateStarted],
        ),
        ("executions_aborted_by", vec![AbortedBy, DateStarted]),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let ty = Types(manager.get_database_backend());
        // one column per statement: SQLite adds one at a time
        manager
            .alter_table(
                Table::alter()
                    .table(Executions::Table)
                    .add_column(ty.key(Executions::ExecutionType).not_null().default("user"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Executions::Table)
                    .add_column(ty.key(Executions::AbortedBy).null())
                    .to_owned(),
            )
            .await?;
        for (name, cols) in indexes() {
            let mut idx = Index::create();
            idx.name(name).table(Executions::Table);
            for c in cols {
                idx.col(c);
            }
            manager.create_index(idx.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in indexes() {
            manager
                .drop_index(Index::drop().name(name).table(Executions::Table).to_owned())
                .await?;
        }
        for col in [Executions::AbortedBy, Executions::ExecutionType] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Executions::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
