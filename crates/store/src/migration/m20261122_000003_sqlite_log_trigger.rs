//! SQLite: a log append becomes one statement. A trigger on `log_chunks`
//! advances `executions.log_events`, so that `INSERT … SELECT` takes the
//! chunk's first offset and advances the count atomically, without a
//! BEGIN/UPDATE/INSERT/COMMIT round trip per batch through the driver's
//! worker thread. Other backends keep the explicit transaction.

use sea_orm::DatabaseBackend;
use sea_orm_migration::prelude::*;

/// Adds the log-count trigger on SQLite.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Sqlite {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE TRIGGER log_chunks_advance AFTER INSERT ON log_chunks \
                 BEGIN \
                 UPDATE executions SET log_events = log_events + NEW.event_count \
                 WHERE id = NEW.execution_id; \
                 END",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Sqlite {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared("DROP TRIGGER IF EXISTS log_chunks_advance")
            .await?;
        Ok(())
    }
}
