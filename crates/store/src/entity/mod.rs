//! SeaORM entities, one file per table. Internal: the public surface of this
//! crate is [`crate::SqlStore`] and the [`Store`](foredeck_core::Store) trait.
//!
//! Times are `BIGINT` nanoseconds since the Unix epoch (UTC), so that values
//! round-trip exactly and compare the same way on every backend.

pub(crate) mod acl_policies;
pub(crate) mod api_tokens;
pub(crate) mod audit_events;
pub(crate) mod execution_counts;
pub(crate) mod execution_tallies;
pub(crate) mod execution_totals;
pub(crate) mod executions;
pub(crate) mod job_revisions;
pub(crate) mod jobs;
pub(crate) mod keys;
pub(crate) mod known_hosts;
pub(crate) mod log_chunks;
pub(crate) mod nodes;
pub(crate) mod projects;
pub(crate) mod run_states;
pub(crate) mod server_heartbeats;
pub(crate) mod server_settings;
pub(crate) mod triggers;
pub(crate) mod users;
pub(crate) mod webhooks;
