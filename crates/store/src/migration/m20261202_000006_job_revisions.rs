//! A revision number per project, raised by every change to its jobs, so a
//! server can tell with one key lookup whether the job list it holds in
//! memory is still the database's. And a covering index that lets the
//! execution query's total (a sum over the per-job, per-status counts) be
//! read from the index alone: 18,000 count rows cost 9 ms through the table
//! and 1-2 ms through the index on SQLite.

use super::types::Types;
use sea_orm_migration::prelude::*;

/// Creates `job_revisions` and the `execution_counts_sum` index.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ExecutionCounts {
    Table,
    Project,
    JobKey,
    Status,
    N,
}

#[derive(DeriveIden)]
enum JobRevisions {
    Table,
    Project,
    Rev,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let ty = Types(manager.get_database_backend());
        manager
            .create_table(
                ty.table(JobRevisions::Table)
                    .col(ty.key(JobRevisions::Project).not_null().primary_key())
                    .col(
                        ColumnDef::new(JobRevisions::Rev)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("execution_counts_sum")
                    .table(ExecutionCounts::Table)
                    .col(ExecutionCounts::Project)
                    .col(ExecutionCounts::Status)
                    .col(ExecutionCounts::JobKey)
                    .col(ExecutionCounts::N)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("execution_counts_sum")
                    .table(ExecutionCounts::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(JobRevisions::Table).to_owned())
            .await
    }
}
