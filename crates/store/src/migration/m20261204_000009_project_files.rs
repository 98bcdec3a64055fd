//! A project's `readme.md` and `motd.md` (Rundeck's project files, served
//! at `project/{p}/readme.md` and `motd.md` and kept in project archives):
//! two nullable text columns of `projects`.

use super::types::Types;
use sea_orm_migration::prelude::*;

/// Adds `projects.readme` and `projects.motd`.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Readme,
    Motd,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let ty = Types(manager.get_database_backend());
        // one column per statement: SQLite adds one at a time
        for col in [Projects::Readme, Projects::Motd] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Projects::Table)
                        .add_column(ty.text(col).null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [Projects::Readme, Projects::Motd] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Projects::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
