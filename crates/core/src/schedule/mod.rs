//! Scheduling: the [`Scheduler`] trait, and [`DurableScheduler`], its
//! implementation whose cron schedules and one-off runs are kept as
//! triggers in the [`Store`](crate::Store), fired exactly once across
//! restarts and servers.
//!
//! Each job schedule is one trigger (`job:<uuid>`), each one-off run another
//! (`once:<uuid>:<execution id>`), which starts the execution recorded
//! `scheduled` when the run was asked for (`once.rs`). A
//! [`tick`](DurableScheduler::tick)
//! (`durable.rs`):
//!
//! 1. the first time, marks executions this server left unfinished (it
//!    crashed or was killed) `incomplete` (`recover.rs`);
//! 2. heartbeats, and takes over the running executions of servers that
//!    stopped heartbeating (marks them `incomplete`, or re-runs them when the
//!    job has retries left) (`recover.rs`); in both, a durable run (a job
//!    with `durable: true` that recorded its state) is not marked
//!    `incomplete` but `waiting`, and continued from its next step by the
//!    server that claims it, with the data it captured (`resume.rs`);
//! 3. claims due triggers ([`Store::claim_due_triggers`](crate::Store::claim_due_triggers),
//!    exclusive across servers, with a lease), works out what each fire does
//!    (misfire policy, concurrency policy, project switches) and fires it with
//!    [`Store::fire_trigger`](crate::Store::fire_trigger): the execution
//!    records are created and the trigger advanced in one transaction,
//!    guarded by the claim and the fire time, so a crash can neither lose nor
//!    double a fire (`fire.rs`);
//! 4. starts the created executions through a [`Launcher`] (`start.rs`), and
//!    starts queued executions whose job is no longer running (`queue.rs`).
//!
//! The [`Scheduler`] methods that save and remove a job's schedule are in
//! `triggers.rs`; what a trigger records, in `spec.rs`.
//!
//! A server that dies while holding claims loses them when the lease lapses;
//! another server then fires those triggers (late by at most the lease, below
//! the default misfire threshold).
//!
//! Time comes from a [`Clock`], so tests drive the scheduler step by step
//! with a [`ManualClock`]; [`DurableScheduler::run`] ticks on the system clock.

mod clock;
mod durable;
mod fire;
pub(crate) mod launcher;
mod once;
mod queue;
mod recover;
mod resume;
mod scheduler;
mod spec;
mod start;
mod triggers;

#[cfg(test)]
mod tests;

pub use clock::{Clock, ManualClock, SystemClock};
pub use durable::{DurableScheduler, DurableSchedulerBuilder, TickReport};
pub use launcher::{EngineLauncher, Launcher};
pub use scheduler::{RunRequest, Scheduler};
pub use spec::{
    Concurrency, MisfirePolicy, TriggerSpec, CONCURRENCY_KEY, DEFAULT_FIRE_ALL_LIMIT,
    MISFIRE_LIMIT_KEY, MISFIRE_POLICY_KEY,
};

use std::time::Duration;

pub use crate::runs::rules::{PROJECT_DISABLE_EXECUTIONS, PROJECT_DISABLE_SCHEDULE};

/// Settings of a [`DurableScheduler`].
#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    /// This server's uuid: owner of the executions it starts, holder of its claims.
    pub server: String,
    /// A fire time older than this when handled is a misfire (default 60 s).
    pub misfire_threshold: Duration,
    /// How long a claim on due triggers lasts (default 30 s).
    pub lease: Duration,
    /// Triggers claimed at once (default 1,000).
    pub batch: usize,
    /// Triggers fired at once, each in its own transaction (default 8).
    pub fire_concurrency: usize,
    /// How often this server heartbeats and looks for dead servers (default 30 s).
    pub heartbeat_interval: Duration,
    /// A server silent this long is dead (default 90 s).
    pub dead_after: Duration,
    /// Zone of schedules whose job names none (`None`: the server's zone).
    pub zone: Option<String>,
    /// User scheduled executions run as (default `foredeck`).
    pub user: String,
    /// Executions this scheduler runs at once (default 16); more wait for a
    /// slot in fire order. Thousands of runs started at once on a small
    /// machine start their processes later than a few at a time would.
    pub max_running: usize,
}

impl SchedulerConfig {
    /// The defaults, for server `server`.
    pub fn new(server: impl Into<String>) -> Self {
        SchedulerConfig {
            server: server.into(),
            misfire_threshold: Duration::from_secs(60),
            lease: Duration::from_secs(30),
            batch: 1_000,
            fire_concurrency: 8,
            heartbeat_interval: Duration::from_secs(30),
            dead_after: Duration::from_secs(90),
            zone: None,
            user: "foredeck".into(),
            max_running: 16,
        }
    }
}
