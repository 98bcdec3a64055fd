//! The `Notifier` trait: tells people and systems how executions went.

use crate::error::Result;
use crate::model::{Execution, Job};
use async_trait::async_trait;
use std::sync::Arc;

/// When a notification fires (Rundeck's `onstart`, `onsuccess`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotificationTrigger {
    /// The execution started.
    Start,
    /// It succeeded.
    Success,
    /// It failed (no retry follows).
    Failure,
    /// It failed and a retry follows.
    RetryableFailure,
    /// It has run longer than the job's average plus threshold.
    AvgDuration,
}

impl NotificationTrigger {
    /// Rundeck's key (`onstart`, `onsuccess`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationTrigger::Start => "onstart",
            NotificationTrigger::Success => "onsuccess",
            NotificationTrigger::Failure => "onfailure",
            NotificationTrigger::RetryableFailure => "onretryablefailure",
            NotificationTrigger::AvgDuration => "onavgduration",
        }
    }
}

/// Sends notifications. The engine calls it for every trigger of every job
/// execution; an implementation acts on what the job's `notification` asks.
#[async_trait]
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// Handles one trigger. Errors are logged by the caller, never fatal to the execution.
    async fn notify(
        &self,
        trigger: NotificationTrigger,
        job: &Job,
        execution: &Execution,
    ) -> Result<()>;

    /// Waits until the notifications handed over so far are delivered (or
    /// given up). A server calls it at shutdown, within a bound. The
    /// provided method returns at once, for notifiers that deliver inline.
    async fn flush(&self) {}
}

#[async_trait]
impl<T: Notifier + ?Sized> Notifier for Arc<T> {
    async fn notify(
        &self,
        trigger: NotificationTrigger,
        job: &Job,
        execution: &Execution,
    ) -> Result<()> {
        (**self).notify(trigger, job, execution).await
    }
    async fn flush(&self) {
        (**self).flush().await
    }
}
