//! An index on `executions (job_id, status)`: firing a trigger of a job with
//! `multipleExecutions: false` asks, in its transaction, whether the job has
//! a running or queued execution, and that must not scan the job's whole
//! history (a job firing every minute has half a million runs a year).

use sea_orm_migration::prelude::*;

/// Adds `executions_job_status`.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Executions {
    Table,
    JobId,
    Status,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("executions_job_status")
                    .table(Executions::Table)
                    .col(Executions::JobId)
                    .col(Executions::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("executions_job_status")
                    .table(Executions::Table)
                    .to_owned(),
            )
            .await
    }
}
