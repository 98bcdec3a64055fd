//! The conformance suite every [`Store`] must pass: the same behavioural
//! tests run against [`MemoryStore`](crate::MemoryStore) (the reference),
//! SQLite, PostgreSQL and MariaDB. Someone writing their own store runs it
//! too, inside a tokio runtime (the tests spawn tasks; a multi-thread
//! runtime exercises the races):
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() {
//! use foredeck_core::testing::conformance::{self, SharedStore};
//! use foredeck_core::MemoryStore;
//! use std::sync::Arc;
//!
//! let new_store = || async { Arc::new(MemoryStore::new()) as SharedStore };
//! conformance::run_all(new_store).await;
//! # }
//! ```
//!
//! Each test is also a public function taking a fresh, empty store, so a
//! test harness can run them one by one (as `foredeck-store`'s tests do,
//! one test per backend and name). A test fails by panicking, as tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod cluster;
mod executions;
mod filters;
mod jobs;
mod keys;
mod known_hosts;
mod logs;
mod projects;
mod run_states;
mod support;
mod tallies;
mod triggers;

pub use access::{acl_policies, audit_events, users_and_tokens, webhooks};
pub use cluster::{
    claim_race, claim_race_1000, concurrent_writers, servers_and_execution_claims,
    totals_follow_changes,
};
pub use executions::{
    execution_metrics, execution_queries, execution_queries_follow_jobs, executions,
};
pub use filters::execution_query_filters;
pub use jobs::{job_queries, jobs};
pub use keys::keys;
pub use known_hosts::known_hosts;
pub use logs::{concurrent_appends, logs};
pub use projects::{delete_project_cascades, nodes, projects};
pub use run_states::run_states;
pub use tallies::filter_totals_follow_changes;
pub use triggers::{
    exclusive_fire_race, exclusive_fire_waits_for_the_job, exclusive_start_race,
    fire_starts_a_scheduled_execution, trigger_fire_is_compare_and_set, triggers,
};

use crate::store::Store;
use futures::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

/// A store under test, shared with the tasks a test spawns.
pub type SharedStore = Arc<dyn Store>;

/// One conformance test: takes a fresh, empty store.
pub type Test = fn(SharedStore) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Every conformance test with its name, in a stable order ([`claim_race`]
/// runs here as [`claim_race_1000`]).
pub const ALL: &[(&str, Test)] = &[
    ("projects", |s| Box::pin(projects(s))),
    ("delete_project_cascades", |s| {
        Box::pin(delete_project_cascades(s))
    }),
    ("nodes", |s| Box::pin(nodes(s))),
    ("jobs", |s| Box::pin(jobs(s))),
    ("job_queries", |s| Box::pin(job_queries(s))),
    ("executions", |s| Box::pin(executions(s))),
    ("execution_queries", |s| Box::pin(execution_queries(s))),
    ("execution_queries_follow_jobs", |s| {
        Box::pin(execution_queries_follow_jobs(s))
    }),
    ("execution_metrics", |s| Box::pin(execution_metrics(s))),
    ("execution_query_filters", |s| {
        Box::pin(execution_query_filters(s))
    }),
    ("filter_totals_follow_changes", |s| {
        Box::pin(filter_totals_follow_changes(s))
    }),
    ("logs", |s| Box::pin(logs(s))),
    ("run_states", |s| Box::pin(run_states(s))),
    ("concurrent_appends", |s| Box::pin(concurrent_appends(s))),
    ("keys", |s| Box::pin(keys(s))),
    ("known_hosts", |s| Box::pin(known_hosts(s))),
    ("triggers", |s| Box::pin(triggers(s))),
    ("trigger_fire_is_compare_and_set", |s| {
        Box::pin(trigger_fire_is_compare_and_set(s))
    }),
    ("exclusive_fire_waits_for_the_job", |s| {
        Box::pin(exclusive_fire_waits_for_the_job(s))
    }),
    ("exclusive_fire_race", |s| Box::pin(exclusive_fire_race(s))),
    ("exclusive_start_race", |s| {
        Box::pin(exclusive_start_race(s))
    }),
    ("fire_starts_a_scheduled_execution", |s| {
        Box::pin(fire_starts_a_scheduled_execution(s))
    }),
    ("servers_and_execution_claims", |s| {
        Box::pin(servers_and_execution_claims(s))
    }),
    ("totals_follow_changes", |s| {
        Box::pin(totals_follow_changes(s))
    }),
    ("claim_race_1000", |s| Box::pin(claim_race_1000(s))),
    ("concurrent_writers", |s| Box::pin(concurrent_writers(s))),
    ("users_and_tokens", |s| Box::pin(users_and_tokens(s))),
    ("acl_policies", |s| Box::pin(acl_policies(s))),
    ("audit_events", |s| Box::pin(audit_events(s))),
    ("webhooks", |s| Box::pin(webhooks(s))),
];

/// Runs every test of [`ALL`], each on a fresh store from `new_store`;
/// panics on the first test the store fails, naming it.
pub async fn run_all<F, Fut>(mut new_store: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = SharedStore>,
{
    for (name, test) in ALL {
        let store = new_store().await;
        if let Err(panic) = AssertUnwindSafe(test(store)).catch_unwind().await {
            eprintln!("store conformance test {name} failed");
            std::panic::resume_unwind(panic);
        }
    }
}
