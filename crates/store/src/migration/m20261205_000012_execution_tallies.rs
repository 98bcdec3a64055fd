//! Totals of the execution query's filters kept beside `execution_counts`
//! (`execution_tallies`): executions per project and execution type
//! (`executionTypeFilter`), user (`userFilter`), aborting user
//! (`abortedbyFilter`), hour and day they ended (`begin`, `end`,
//! `recentFilter`, `olderFilter`), and those that ended before they started
//! (a scheduled run aborted before its time), each by status and over 4
//! rows by execution id. Rundeck answers `paging.total` for every query;
//! these filters counted it with a `COUNT(*)` over every matching row
//! (225,000 for `executionTypeFilter=scheduled` in the benchmark, 1.9 s
//! p99), which now reads a few rows of tallies and, for the time bounds,
//! counts the partial hours at the edges by the `(project, date_ended)`
//! index.

use super::types::Types;
use sea_orm::DatabaseBackend;
use sea_orm_migration::prelude::*;

/// Creates and fills `execution_tallies`.
#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ExecutionTallies {
    Table,
    Project,
    Facet,
    Label,
    Bucket,
    Status,
    Shard,
    N,
}

/// Nanoseconds in an hour and in a day: the time facets' buckets.
const HOUR_NS: i64 = 3_600_000_000_000;
const DAY_NS: i64 = 86_400_000_000_000;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let ty = Types(backend);
        manager
            .create_table(
                ty.table(ExecutionTallies::Table)
                    .col(ty.key(ExecutionTallies::Project).not_null())
                    .col(ColumnDef::new(ExecutionTallies::Facet).integer().not_null())
                    .col(ty.key(ExecutionTallies::Label).not_null())
                    .col(
                        ColumnDef::new(ExecutionTallies::Bucket)
                            .big_integer()
                            .not_null(),
                    )
                    // short: MySQL's 3,072-byte key holds two 255-character
                    // keys, not three
                    .col(
                        ColumnDef::new(ExecutionTallies::Status)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ExecutionTallies::Shard)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ExecutionTallies::N).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(ExecutionTallies::Project)
                            .col(ExecutionTallies::Facet)
                            .col(ExecutionTallies::Label)
                            .col(ExecutionTallies::Bucket)
                            .col(ExecutionTallies::Status)
                            .col(ExecutionTallies::Shard),
                    )
                    .to_owned(),
            )
            .await?;
        // From the executions as they are; the same facet numbers, shards
        // and floor division as `crate::sql::counts`.
        let (div, user) = match backend {
            DatabaseBackend::MySql => ("DIV", "`user`"),
            _ => ("/", "\"user\""),
        };
        let floor = |unit: i64| {
            format!(
                "CASE WHEN date_ended >= 0 THEN date_ended {div} {unit} \
                 ELSE (date_ended + 1) {div} {unit} - 1 END"
            )
        };
        let hour = floor(HOUR_NS);
        let day = floor(DAY_NS);
        let facets: [(i32, &str, &str, &str); 6] = [
            (1, "execution_type", "0", "1 = 1"),
            (2, user, "0", "1 = 1"),
            (3, "aborted_by", "0", "aborted_by IS NOT NULL"),
            (4, "''", &hour, "date_ended IS NOT NULL"),
            (5, "''", &day, "date_ended IS NOT NULL"),
            (6, "''", "0", "date_ended < date_started"),
        ];
        let conn = manager.get_connection();
        for (facet, label, bucket, filter) in facets {
            // constants stay out of GROUP BY (PostgreSQL reads a number
            // there as a column position)
            let grouped: String = [label, bucket]
                .into_iter()
                .filter(|e| *e != "''" && *e != "0")
                .map(|e| format!("{e}, "))
                .collect();
            conn.execute_unprepared(&format!(
                "INSERT INTO execution_tallies (project, facet, label, bucket, status, shard, n) \
                 SELECT project, {facet}, {label}, {bucket}, status, id % 4, COUNT(*) \
                 FROM executions WHERE {filter} \
                 GROUP BY project, {grouped}status, id % 4"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ExecutionTallies::Table).to_owned())
            .await
    }
}
