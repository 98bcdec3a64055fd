//! One run of a job: node resolution, workflow strategies, node dispatch,
//! error handlers, job references, retries, timeouts and the final record.
//!
//! - this module: a job and its retries ([`run_with_retries`]);
//! - `once`: one attempt, from choosing its nodes to its final record;
//! - `runner`: the [`Run`](runner::Run) a running attempt shares between
//!   its steps (execution state, captured data, log);
//! - `strategy`: the workflow strategies, one file each (a new one, such as
//!   a DAG, is a new file there and a branch of `Run::workflow`);
//! - `step`: one step on one node, with its error handler;
//! - `action`: what a step does (command, script, plugin) and the
//!   executor it goes to;
//! - `job_ref`: job reference steps;
//! - `notify`: notifications, and the average-duration watch.

mod action;
mod job_ref;
mod notify;
mod once;
mod runner;
mod step;
mod strategy;

use super::options;
use super::parse::parse_duration;
use super::{resolve_options, Control, Engine, ResolvedOptions, RunOptions};
use crate::context::{expand_text, DataContext};
use crate::error::{Error, Result};
use crate::model::{Execution, ExecutionStatus, Job};
use crate::notifier::NotificationTrigger;
use notify::notify;
use once::run_once;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Prefix of key-value capture lines (`RUNDECK:DATA:key=value`).
pub const DATA_PREFIX: &str = "RUNDECK:DATA:";

fn invalid(job: &Job, field: &str, message: impl Into<String>) -> Error {
    Error::InvalidJob {
        job: job.full_name(),
        field: field.into(),
        message: message.into(),
    }
}

/// An execution record made before the run (by a schedule trigger): its id
/// (0: none, create one) and the server that owns it and its retries.
#[derive(Clone, Debug, Default)]
pub(crate) struct Existing {
    pub id: u64,
    pub owner: Option<String>,
}

/// Runs a job and its retries; returns the last execution.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_with_retries(
    engine: Engine,
    project: String,
    job: Job,
    opts: RunOptions,
    parent: Arc<Control>,
    depth: u32,
    mut id_tx: Option<oneshot::Sender<u64>>,
    existing: Option<Existing>,
) -> Result<Execution> {
    let owner = existing.as_ref().and_then(|e| e.owner.clone());
    let mut existing_id = existing.map(|e| e.id);
    let secrets = engine.inner.secrets.read().ok().and_then(|s| s.clone());
    let given = Box::pin(options::with_stored_defaults(
        &job,
        &opts.options,
        secrets.as_deref(),
    ))
    .await?;
    let resolved = resolve_options(&job, &given)?;
    drop(given);
    let plain = plain_context(&job, &resolved);
    let server = engine.server_node();
    let (retries, delay) = match &job.retry {
        None => (0, Duration::ZERO),
        Some(r) => {
            let count = expand_text(&r.retry, &plain, &server);
            let count: u32 = count.trim().parse().map_err(|_| {
                invalid(
                    &job,
                    "retry",
                    format!("{count:?} is not a number of retries"),
                )
            })?;
            let delay = match &r.delay {
                Some(d) => parse_duration(&expand_text(d, &plain, &server))
                    .map_err(|m| invalid(&job, "retry.delay", m))?,
                None => Duration::ZERO,
            };
            (count, delay)
        }
    };
    let mut attempt = 0;
    let mut retry_of = None;
    loop {
        let mut exec = run_once(
            &engine,
            &project,
            &job,
            &opts,
            &resolved,
            &parent,
            depth,
            attempt,
            retry_of,
            id_tx.take(),
            Existing {
                id: existing_id.take().unwrap_or(0),
                owner: owner.clone(),
            },
        )
        .await?;
        let retryable = matches!(
            exec.status,
            ExecutionStatus::Failed | ExecutionStatus::TimedOut
        );
        if retryable && attempt < retries && !parent.cancel.is_cancelled() {
            exec.status = ExecutionStatus::FailedWithRetry;
            engine.inner.store.update_execution(&exec).await?;
            notify(&engine, NotificationTrigger::RetryableFailure, &job, &exec).await;
            if !delay.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = parent.cancel.cancelled() => return Ok(exec),
                }
            }
            attempt += 1;
            retry_of = Some(exec.id);
            continue;
        }
        let trigger = if exec.status == ExecutionStatus::Succeeded {
            NotificationTrigger::Success
        } else {
            NotificationTrigger::Failure
        };
        notify(&engine, trigger, &job, &exec).await;
        return Ok(exec);
    }
}

fn plain_context(job: &Job, resolved: &ResolvedOptions) -> DataContext {
    let mut ctx = DataContext {
        options: resolved.values.clone(),
        secure_options: resolved.secure.clone(),
        ..DataContext::default()
    };
    ctx.job.insert("name".into(), job.name.clone());
    ctx.job
        .insert("group".into(), job.group.clone().unwrap_or_default());
    ctx.job
        .insert("id".into(), job.uuid.clone().unwrap_or_default());
    ctx
}
