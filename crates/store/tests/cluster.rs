//! Triggers, claims, heartbeats, known hosts, users, tokens, ACL policies,
//! audit events and execution totals, on every SQL backend, from
//! `foredeck_core::testing::conformance`; and the claim races: several tasks
//! claiming the same due triggers and queued executions, each item claimed
//! exactly once, at scale on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;
use common::*;

store_tests!(
    known_hosts,
    triggers,
    trigger_fire_is_compare_and_set,
    exclusive_fire_waits_for_the_job,
    exclusive_fire_race,
    exclusive_start_race,
    fire_starts_a_scheduled_execution,
    servers_and_execution_claims,
    users_and_tokens,
    acl_policies,
    audit_events,
    webhooks,
    totals_follow_changes,
    claim_race_1000,
    concurrent_writers,
);

mod postgres_scale {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn claim_race_10000() {
        crate::on_postgres(|s| foredeck_core::testing::conformance::claim_race(s, 10_000)).await
    }
}
