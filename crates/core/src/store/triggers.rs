//! [`TriggerStore`]: durable schedule triggers, claimed exclusively across
//! servers and fired in one transaction.

use super::{FireOutcome, Trigger, TriggerFire};
use crate::error::Result;
use crate::model::Execution;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// Persistence of schedule triggers, with the claims that make each firing
/// happen on exactly one server.
#[async_trait]
pub trait TriggerStore: Send + Sync {
    /// Creates or replaces a trigger (any claim on it is dropped).
    async fn put_trigger(&self, trigger: &Trigger) -> Result<()>;
    /// A trigger by id.
    async fn get_trigger(&self, id: &str) -> Result<Option<Trigger>>;
    /// Triggers of a project (all with `None`), by next fire time.
    async fn list_triggers(&self, project: Option<&str>) -> Result<Vec<Trigger>>;
    /// Deletes a trigger; not-found if missing.
    async fn delete_trigger(&self, id: &str) -> Result<()>;
    /// Claims for `server`, until `now + lease`, up to `limit` enabled
    /// triggers due at `now` that no one else holds a live claim on, earliest
    /// first. With several servers on one database each due trigger goes to
    /// exactly one of them.
    async fn claim_due_triggers(
        &self,
        server: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Trigger>>;
    /// Drops `server`'s claim on a trigger without firing it.
    async fn release_trigger(&self, id: &str, server: &str) -> Result<()>;
    /// Fires a claimed trigger in one transaction: creates the executions,
    /// then advances (or deletes) the trigger and drops the claim. Changes
    /// nothing and says why ([`FireOutcome::Lost`]) when `server` no longer
    /// holds the claim or the trigger's fire time is no longer
    /// `fire.fire_time`, or ([`FireOutcome::Busy`]) when `fire.exclusive` is
    /// set and the trigger's job has a running, queued or waiting execution.
    async fn fire_trigger(&self, fire: &TriggerFire) -> Result<FireOutcome>;
    /// Creates `execution` only while its job has no running, queued or waiting
    /// execution (`multipleExecutions: false`), decided as an exclusive
    /// [`fire_trigger`](Self::fire_trigger) decides it: in one transaction,
    /// serialised per job with those fires and with other calls of this, so
    /// a run started now and a schedule firing at the same instant cannot
    /// both start. [`FireOutcome::Fired`] holds the new id,
    /// [`FireOutcome::Busy`] the execution that keeps the job busy (nothing
    /// is created); an execution of no job is always created.
    async fn create_exclusive_execution(&self, execution: &Execution) -> Result<FireOutcome>;
}

macro_rules! forward {
    ($($t:tt)*) => {
        #[async_trait]
        impl<T: TriggerStore + ?Sized> TriggerStore for $($t)* {
            async fn put_trigger(&self, t: &Trigger) -> Result<()> { (**self).put_trigger(t).await }
            async fn get_trigger(&self, id: &str) -> Result<Option<Trigger>> { (**self).get_trigger(id).await }
            async fn list_triggers(&self, p: Option<&str>) -> Result<Vec<Trigger>> { (**self).list_triggers(p).await }
            async fn delete_trigger(&self, id: &str) -> Result<()> { (**self).delete_trigger(id).await }
            async fn claim_due_triggers(&self, s: &str, n: DateTime<Utc>, l: Duration, m: usize) -> Result<Vec<Trigger>> { (**self).claim_due_triggers(s, n, l, m).await }
            async fn release_trigger(&self, id: &str, s: &str) -> Result<()> { (**self).release_trigger(id, s).await }
            async fn fire_trigger(&self, f: &TriggerFire) -> Result<FireOutcome> { (**self).fire_trigger(f).await }
            async fn create_exclusive_execution(&self, e: &Execution) -> Result<FireOutcome> { (**self).create_exclusive_execution(e).await }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
