//! Notifications of a run: start, success, failure, retryable failure, and
//! the average-duration watch.

use super::super::parse::avg_duration_limit;
use super::super::Engine;
use crate::context::{expand_text, DataContext};
use crate::model::{Execution, ExecutionStatus, Job};
use crate::notifier::NotificationTrigger;
use std::time::Duration;

/// Successful runs the average duration is taken over (the most recent).
const AVG_DURATION_RUNS: u64 = 30;

/// For a job with an `onavgduration` notification: a task that fires it
/// when the execution is still running at the job's average duration of its
/// recent successful runs plus `notifyAvgDurationThreshold`. None when the
/// job has no such notification or no successful run to average.
pub(super) async fn watch_avg_duration(
    engine: &Engine,
    job: &Job,
    exec: &Execution,
    ctx: &DataContext,
) -> Option<tokio::task::JoinHandle<()>> {
    let notifier = engine.inner.notifier.clone()?;
    job.notification.as_ref()?.onavgduration.as_ref()?;
    let query = crate::store::ExecutionQuery {
        job_ids: vec![job.uuid.clone()?],
        status: Some(ExecutionStatus::Succeeded),
        max: AVG_DURATION_RUNS,
        ..Default::default()
    };
    let past = match engine.inner.store.query_executions(&query).await {
        Ok(p) => p.items,
        Err(e) => {
            tracing::warn!(execution = exec.id, error = %e, "cannot read past durations");
            return None;
        }
    };
    let durations: Vec<Duration> = past
        .iter()
        .filter_map(|e| (e.date_ended? - e.date_started).to_std().ok())
        .collect();
    let runs = u32::try_from(durations.len()).ok().filter(|n| *n > 0)?;
    let average = durations.iter().sum::<Duration>() / runs;
    let threshold = job
        .notify_avg_duration_threshold
        .as_deref()
        .map(|t| expand_text(t, ctx, &engine.server_node()));
    let limit = match avg_duration_limit(average, threshold.as_deref()) {
        Ok(l) => l,
        Err(m) => {
            tracing::warn!(execution = exec.id, "notifyAvgDurationThreshold: {m}");
            return None;
        }
    };
    let (job, exec) = (job.clone(), exec.clone());
    Some(tokio::spawn(async move {
        tokio::time::sleep(limit).await;
        if let Err(e) = notifier
            .notify(NotificationTrigger::AvgDuration, &job, &exec)
            .await
        {
            tracing::warn!(execution = exec.id, trigger = "onavgduration", error = %e, "notification failed");
        }
    }))
}

pub(super) async fn notify(
    engine: &Engine,
    trigger: NotificationTrigger,
    job: &Job,
    exec: &Execution,
) {
    if let Some(n) = &engine.inner.notifier {
        if let Err(e) = n.notify(trigger, job, exec).await {
            tracing::warn!(execution = exec.id, trigger = trigger.as_str(), error = %e, "notification failed");
        }
    }
}
