//! The `Store` trait: everything Foredeck remembers, as the sum of one
//! trait per area, each in its own file:
//!
//! | area | trait |
//! |------|-------|
//! | projects and their nodes | [`ProjectStore`] |
//! | job definitions | [`JobStore`] |
//! | executions | [`ExecutionStore`] |
//! | execution logs | [`LogStore`] |
//! | durable runs' states between steps | [`RunStateStore`] |
//! | key storage (ciphertext) | [`KeyStore`] |
//! | learned SSH host keys | [`KnownHostStore`] |
//! | schedule triggers and their claims | [`TriggerStore`] |
//! | servers and execution claims | [`ClusterStore`] |
//! | users and API tokens | [`UserStore`] |
//! | ACL policies | [`AclStore`] |
//! | audit log | [`AuditStore`] |
//! | webhooks | [`WebhookStore`] |
//!
//! A type that implements every area is a [`Store`] (a blanket impl), so
//! callers keep taking `Arc<dyn Store>`; code that calls store methods on a
//! concrete store type brings the area traits in with
//! `use foredeck_core::store::prelude::*`. A new backend implements the
//! areas and runs the conformance suite in `foredeck_core::testing`.

mod acl;
mod audit;
mod cluster;
mod executions;
mod jobs;
mod keys;
mod known_hosts;
mod logs;
mod projects;
mod records;
mod run_state;
mod triggers;
mod users;
mod webhooks;

pub use acl::AclStore;
pub use audit::AuditStore;
pub use cluster::ClusterStore;
pub use executions::{
    parse_recent, split_full_name, ExecutionMetrics, ExecutionQuery, ExecutionStore,
};
pub use jobs::{JobMatcher, JobQuery, JobStore};
pub use keys::{KeyStore, KeyType, StoredKey};
pub use known_hosts::KnownHostStore;
pub use logs::{log_length_by_reads, LogPage, LogStore};
pub use projects::ProjectStore;
pub use records::{
    AclPolicy, ApiToken, AuditEvent, AuditQuery, ExecutionClaim, FireOutcome, ServerHeartbeat,
    Trigger, TriggerFire, User, Webhook,
};
pub use run_state::{RunState, RunStateStore, StepOutcome};
pub use triggers::TriggerStore;
pub use users::UserStore;
pub use webhooks::WebhookStore;

/// The store traits, for calling store methods on a concrete store type
/// (`use foredeck_core::store::prelude::*`).
pub mod prelude {
    pub use super::{
        AclStore, AuditStore, ClusterStore, ExecutionStore, JobStore, KeyStore, KnownHostStore,
        LogStore, ProjectStore, RunStateStore, Store, TriggerStore, UserStore, WebhookStore,
    };
}

/// A page of results.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Matching items in all pages.
    pub total: u64,
    /// Offset of the first item.
    pub offset: u64,
    /// Page size asked for.
    pub max: u64,
}

/// Persistence of everything Foredeck remembers: every area trait at once.
/// Implemented in memory (`MemoryStore`) and on SQL databases
/// (foredeck-store); any type implementing all the areas is a `Store`.
pub trait Store:
    ProjectStore
    + JobStore
    + ExecutionStore
    + LogStore
    + RunStateStore
    + KeyStore
    + KnownHostStore
    + TriggerStore
    + ClusterStore
    + UserStore
    + AclStore
    + AuditStore
    + WebhookStore
    + std::fmt::Debug
{
}

impl<T> Store for T where
    T: ProjectStore
        + JobStore
        + ExecutionStore
        + LogStore
        + RunStateStore
        + KeyStore
        + KnownHostStore
        + TriggerStore
        + ClusterStore
        + UserStore
        + AclStore
        + AuditStore
        + WebhookStore
        + std::fmt::Debug
        + ?Sized
{
}
