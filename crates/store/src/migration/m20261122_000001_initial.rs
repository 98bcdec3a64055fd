//! The initial schema: projects, nodes, jobs, executions, log chunks, keys.

use super::types::Types;
use sea_orm_migration::prelude::*;

/// Creates the initial tables and indexes.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Name,
    Description,
    Config,
}

#[derive(DeriveIden)]
enum Nodes {
    Table,
    Project,
    Source,
    Name,
    Attributes,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Uuid,
    Project,
    GroupPath,
    Name,
    Definition,
    Created,
    Updated,
}

#[derive(DeriveIden)]
enum Executions {
    Table,
    Id,
    Project,
    JobId,
    JobGroup,
    JobName,
    JobNameLower,
    User,
    Status,
    DateStarted,
    DateEnded,
    ArgString,
    RetryAttempt,
    RetryOf,
    LogEvents,
    Record,
}

#[derive(DeriveIden)]
enum LogChunks {
    Table,
    ExecutionId,
    FirstOffset,
    EventCount,
    Body,
}

#[derive(DeriveIden)]
enum Keys {
    Table,
    Path,
    KeyType,
    Ciphertext,
    Created,
    Modified,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let ty = Types(manager.get_database_backend());

        manager
            .create_table(
                ty.table(Projects::Table)
                    .col(ty.key(Projects::Name).not_null().primary_key())
                    .col(ty.text(Projects::Description).null())
                    .col(ty.text(Projects::Config).not_null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                ty.table(Nodes::Table)
                    .col(ty.key(Nodes::Project).not_null())
                    .col(ty.key(Nodes::Source).not_null())
                    .col(ty.key(Nodes::Name).not_null())
                    .col(ty.text(Nodes::Attributes).not_null())
                    .primary_key(
                        Index::create()
                            .col(Nodes::Project)
                            .col(Nodes::Source)
                            .col(Nodes::Name),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                ty.table(Jobs::Table)
                    .col(ty.key(Jobs::Uuid).not_null().primary_key())
                    .col(ty.key(Jobs::Project).not_null())
                    .col(ty.key(Jobs::GroupPath).not_null())
                    .col(ty.key(Jobs::Name).not_null())
                    .col(ty.text(Jobs::Definition).not_null())
                    .col(ColumnDef::new(Jobs::Created).big_integer().not_null())
                    .col(ColumnDef::new(Jobs::Updated).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("jobs_project_group_name")
                    .table(Jobs::Table)
                    .col(Jobs::Project)
                    .col(Jobs::GroupPath)
                    .col(Jobs::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                ty.table(Executions::Table)
                    .col(
                        ColumnDef::new(Executions::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ty.key(Executions::Project).not_null())
                    .col(ty.key(Executions::JobId).null())
                    .col(ty.key(Executions::JobGroup).null())
                    .col(ty.key(Executions::JobName).null())
                    .col(ty.key(Executions::JobNameLower).null())
                    .col(ty.key(Executions::User).not_null())
                    .col(ty.key(Executions::Status).not_null())
                    .col(
                        ColumnDef::new(Executions::DateStarted)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Executions::DateEnded).big_integer().null())
                    .col(ty.text(Executions::ArgString).not_null())
                    .col(
                        ColumnDef::new(Executions::RetryAttempt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Executions::RetryOf).big_integer().null())
                    .col(
                        ColumnDef::new(Executions::LogEvents)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ty.text(Executions::Record).not_null())
                    .to_owned(),
            )
            .await?;
        let indexes = [
            (
                "executions_project_started",
                vec![
                    (Executions::Project, false),
                    (Executions::DateStarted, true),
                ],
            ),
            (
                "executions_job_started",
                vec![(Executions::JobId, false), (Executions::DateStarted, false)],
            ),
            (
                "executions_status_started",
                vec![
                    (Executions::Status, false),
                    (Executions::DateStarted, false),
                ],
            ),
            ("executions_user", vec![(Executions::User, false)]),
        ];
        for (name, cols) in indexes {
            let mut idx = Index::create();
            idx.name(name).table(Executions::Table);
            for (col, desc) in cols {
                if desc {
                    idx.col((col, IndexOrder::Desc));
                } else {
                    idx.col(col);
                }
            }
            manager.create_index(idx.to_owned()).await?;
        }

        manager
            .create_table(
                ty.table(LogChunks::Table)
                    .col(
                        ColumnDef::new(LogChunks::ExecutionId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LogChunks::FirstOffset)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LogChunks::EventCount)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ty.bytes(LogChunks::Body))
                    .primary_key(
                        Index::create()
                            .col(LogChunks::ExecutionId)
                            .col(LogChunks::FirstOffset),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                ty.table(Keys::Table)
                    .col(ty.key(Keys::Path).not_null().primary_key())
                    .col(ty.key(Keys::KeyType).not_null())
                    .col(ty.bytes(Keys::Ciphertext))
                    .col(ColumnDef::new(Keys::Created).big_integer().not_null())
                    .col(ColumnDef::new(Keys::Modified).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Keys::Table.into_iden(),
            LogChunks::Table.into_iden(),
            Executions::Table.into_iden(),
            Jobs::Table.into_iden(),
            Nodes::Table.into_iden(),
            Projects::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
