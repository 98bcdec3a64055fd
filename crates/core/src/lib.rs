//! Foredeck's core: the domain model, the five traits (`Store`, `Executor`,
//! `Scheduler`, `Notifier`, `Authorizer`), Rundeck formats, node filters, the
//! data context, the local executor and the pipeline evaluator.
//!
//! This crate depends on no database, SSH or HTTP library; those live in the
//! sibling crates and plug in through the traits.
#![deny(missing_docs)]

pub mod acl;
pub mod archive;
pub mod authorizer;
pub mod context;
pub mod cron;
pub mod engine;
pub mod error;
pub mod executor;
pub mod filter;
pub mod format;
pub mod jobs;
pub mod local;
pub mod logfilter;
pub mod memory;
pub mod model;
pub mod names;
pub mod net;
pub mod nodes;
pub mod notifier;
pub mod runs;
pub mod schedule;
/// The [`Scheduler`] trait and its [`RunRequest`], at their former path;
/// they live in [`schedule`] beside their implementation.
pub mod scheduler {
    pub use crate::schedule::{RunRequest, Scheduler};
}
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod vault;

pub use authorizer::{AuthContext, Authorizer, Decision, Resource, Subject};
pub use context::{
    environment, expand_command, expand_script, expand_script_raw, expand_text, shell_quote,
    split_args, DataContext, SecretMasker,
};
pub use cron::CronSchedule;
pub use engine::{Engine, RunOptions};
pub use error::{Error, ErrorCode, ErrorKind, Result};
pub use executor::{Executor, NodeCommand, NodeOutcome, NodeRequest, OutputLine, OutputSink};
pub use filter::NodeFilter;
pub use jobs::JobService;
pub use local::LocalExecutor;
pub use memory::MemoryStore;
pub use model::*;
pub use notifier::{NotificationTrigger, Notifier};
pub use runs::{RunService, StartError, StartRun, Started};
pub use schedule::{DurableScheduler, RunRequest, Scheduler, SchedulerConfig};
pub use store::{
    AclPolicy, ApiToken, AuditEvent, AuditQuery, ExecutionClaim, ExecutionQuery, FireOutcome,
    JobQuery, KeyType, LogPage, Page, ServerHeartbeat, Store, StoredKey, Trigger, TriggerFire,
    User, Webhook,
};
pub use vault::{KeyInfo, KeyVault, SecretSource};
