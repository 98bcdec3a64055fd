//! Executions in Rundeck's JSON shape.

use crate::api::ApiVersion;
use chrono::{DateTime, Utc};
use foredeck_core::{Execution, ExecutionStatus, JobSummary};
use serde_json::{json, Value};

/// Rundeck's date object.
pub(crate) fn date(t: DateTime<Utc>) -> Value {
    json!({
        "unixtime": t.timestamp_millis(),
        "date": t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// An execution's status as Rundeck's API names it: a durable run waiting
/// for a server to continue it (Foredeck's `waiting`) has started and not
/// ended, which Rundeck clients know as `running`.
pub(crate) fn api_status(status: &ExecutionStatus) -> &str {
    match status {
        ExecutionStatus::Waiting => ExecutionStatus::Running.as_str(),
        other => other.as_str(),
    }
}

/// An execution in Rundeck's shape.
pub(crate) fn execution_json(v: ApiVersion, e: &Execution, job: Option<&JobSummary>) -> Value {
    let mut out = json!({
        "id": e.id,
        "href": format!("/api/{}/execution/{}", v.0, e.id),
        "permalink": format!("/project/{}/execution/show/{}", e.project, e.id),
        "status": api_status(&e.status),
        "project": e.project,
        "executionType": e.execution_type.as_str(),
        "user": e.user,
        "date-started": date(e.date_started),
        "description": e.description,
        "argstring": if e.arg_string.is_empty() { Value::Null } else { json!(e.arg_string) },
        "serverUUID": e.server_uuid,
        "successfulNodes": e.succeeded_nodes(),
        "failedNodes": e.failed_nodes(),
    });
    if let Some(end) = e.date_ended {
        out["date-ended"] = date(end);
    }
    if e.status == ExecutionStatus::Aborted {
        // Rundeck names the starting user when no one else aborted it
        out["abortedby"] = json!(e.aborted_by.as_deref().unwrap_or(&e.user));
    }
    if let Some(f) = &e.filter {
        out["filter"] = json!(f);
    }
    if e.retry_attempt > 0 {
        out["retryAttempt"] = json!(e.retry_attempt);
    }
    if let Some(r) = e.retry_of {
        out["retriedExecution"] = json!({
            "id": r,
            "href": format!("/api/{}/execution/{}", v.0, r),
        });
    }
    if let (Some(id), Some(job)) = (&e.job_id, job) {
        out["job"] = json!({
            "id": id,
            "name": job.name,
            "group": job.group.clone().unwrap_or_default(),
            "project": e.project,
            "description": job.description,
            "href": format!("/api/{}/job/{}", v.0, id),
            "permalink": format!("/project/{}/job/show/{}", e.project, id),
            "options": e.options,
        });
    }
    out
}
