//! Schema migrations, one file per change, applied by [`crate::SqlStore::connect`].
//!
//! They are plain [`sea_orm_migration`] migrations, so `sea-orm-cli` or an
//! embedder's own migrator can run them too.

use sea_orm_migration::prelude::*;

mod m20261122_000001_initial;
mod m20261122_000002_cluster_auth;
mod m20261122_000003_sqlite_log_trigger;
mod m20261123_000004_executions_job_status;
mod m20261123_000005_webhooks;
mod m20261202_000006_job_revisions;
mod m20261202_000007_execution_totals;
mod m20261204_000008_run_states;
mod m20261204_000009_project_files;
mod m20261204_000010_server_settings;
mod m20261205_000011_execution_type;
mod m20261205_000012_execution_tallies;
mod types;

/// Every migration of the Foredeck schema, in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial::Migration),
            Box::new(m20261122_000002_cluster_auth::Migration),
            Box::new(m20261122_000003_sqlite_log_trigger::Migration),
            Box::new(m20261123_000004_executions_job_status::Migration),
            Box::new(m20261123_000005_webhooks::Migration),
            Box::new(m20261202_000006_job_revisions::Migration),
            Box::new(m20261202_000007_execution_totals::Migration),
            Box::new(m20261204_000008_run_states::Migration),
            Box::new(m20261204_000009_project_files::Migration),
            Box::new(m20261204_000010_server_settings::Migration),
            Box::new(m20261205_000011_execution_type::Migration),
            Box::new(m20261205_000012_execution_tallies::Migration),
        ]
    }
}
