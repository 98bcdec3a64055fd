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
//! - `durable`: a durable run's state recorded as it advances, and a run
//!   continued from it;
//! - `notify`: notifications, and the average-duration watch.

mod action;
mod durable;
mod job_ref;
mod notify;
mod once;
mod progress;
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
pub(crate) use durable::Resumed;
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
    /// A durable run continued from its recorded state (the first attempt
    /// only).
    pub resume: Option<Box<Resumed>>,
    /// How the run was started (its retries keep it).
    pub execution_type: crate::model::ExecutionType,
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
    let (owner, mut existing_id, mut resume, execution_type) = match existing {
        Some(e) => (e.owner, Some(e.id), e.resume, e.execution_type),
        None => (None, None, None, crate::model::ExecutionType::User),
    };
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
    // a continued run goes on with the attempt it was
    let (mut attempt, mut retry_of) = resume.as_ref().map_or((0, None), |r| {
        (r.execution.retry_attempt, r.execution.retry_of)
    });
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
                resume: resume.take(),
                execution_type,
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
