//! `executions`: the execution history.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "executions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub project: String,
    pub job_id: Option<String>,
    /// Group path of the job as it is now (`""` top-level); `NULL` for ad-hoc
    /// runs and for executions whose job no longer exists.
    pub job_group: Option<String>,
    /// Name of the job as it is now; `NULL` like `job_group`.
    pub job_name: Option<String>,
    /// `job_name` lowercased by Rust, for case-insensitive search that is the
    /// same on every backend.
    pub job_name_lower: Option<String>,
    pub user: String,
    /// How it was started: `user`, `scheduled`, `user-scheduled`.
    pub execution_type: String,
    /// Who aborted it, when a user did.
    pub aborted_by: Option<String>,
    pub status: String,
    pub date_started: i64,
    pub date_ended: Option<i64>,
    pub arg_string: String,
    pub retry_attempt: i64,
    pub retry_of: Option<i64>,
    /// Number of log events appended so far (the next chunk's first offset).
    pub log_events: i64,
    /// JSON of the whole `Execution`, state included.
    pub record: String,
    /// Server that owns it (runs it, or claimed it).
    pub server_uuid: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
