//! Executions per project and status (`execution_totals`), kept beside the
//! per-job counts: the total of a project's unfiltered history page was a
//! sum over one count row per job and status (18,000 rows, 2.4 ms of CPU on
//! SQLite for every page); it is now a sum over 16 rows per status. Each
//! status's total is spread over 16 rows by execution id so that concurrent
//! transactions (other servers, other runs) seldom wait for one row.
//!
//! The covering index `execution_counts_sum` that made that sum cheaper goes:
//! without statistics SQLite preferred it for the counts of a few jobs too,
//! reading every count row of the project (2.5 ms) where the primary key
//! finds them (0.1 ms).
//!
//! `executions_job_started` (job, start) becomes (job, start, project): the
//! page of a few jobs' runs of one project is then read from the index
//! alone, where SQLite looked up each of those jobs' 1,000 rows to check
//! their project (0.67 ms to 0.3 ms for 10 jobs).

use super::types::Types;
use sea_orm_migration::prelude::*;

/// Creates and fills `execution_totals`.
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
enum Executions {
    Table,
    JobId,
    DateStarted,
    Project,
}

#[derive(DeriveIden)]
enum ExecutionTotals {
    Table,
    Project,
    Status,
    Shard,
    N,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let ty = Types(manager.get_database_backend());
        manager
            .create_table(
                ty.table(ExecutionTotals::Table)
                    .col(ty.key(ExecutionTotals::Project).not_null())
                    .col(ty.key(ExecutionTotals::Status).not_null())
                    .col(
                        ColumnDef::new(ExecutionTotals::Shard)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ExecutionTotals::N).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(ExecutionTotals::Project)
                            .col(ExecutionTotals::Status)
                            .col(ExecutionTotals::Shard),
                    )
                    .to_owned(),
            )
            .await?;
        // From the executions as they are (the shards need their ids):
        // servers of an older version would change counts but not totals,
        // so a cluster is upgraded together (as for every migration).
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO execution_totals (project, status, shard, n) \
                 SELECT project, status, id % 16, COUNT(*) FROM executions \
                 GROUP BY project, status, id % 16",
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("execution_counts_sum")
                    .table(ExecutionCounts::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("executions_job_started_project")
                    .table(Executions::Table)
                    .col(Executions::JobId)
                    .col(Executions::DateStarted)
                    .col(Executions::Project)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("executions_job_started")
                    .table(Executions::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("executions_job_started")
                    .table(Executions::Table)
                    .col(Executions::JobId)
                    .col(Executions::DateStarted)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("executions_job_started_project")
                    .table(Executions::Table)
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
            .await?;
        manager
            .drop_table(Table::drop().table(ExecutionTotals::Table).to_owned())
            .await
    }
}
