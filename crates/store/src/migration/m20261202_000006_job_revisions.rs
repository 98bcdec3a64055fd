//! A revision number per project, raised by every change to its jobs, so a
//! server can tell with one key lookup whether the job list it holds in
//! memory is still the database's.

use super::types::Types;
use sea_orm_migration::prelude::*;

/// Creates `job_revisions`.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

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
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(JobRevisions::Table).to_owned())
            .await
    }
}
