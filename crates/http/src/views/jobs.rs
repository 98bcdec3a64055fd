//! Jobs in Rundeck's JSON shapes.

use crate::api::ApiVersion;
use chrono::{DateTime, Utc};
use foredeck_core::{Job, JobSummary};
use serde_json::{json, Value};

/// A job in Rundeck's list shape, serialized straight from the summary
/// (lists of thousands are written without building a JSON tree).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobItem<'a> {
    id: &'a str,
    name: &'a str,
    group: &'a str,
    project: &'a str,
    description: &'a str,
    href: String,
    permalink: String,
    scheduled: bool,
    schedule_enabled: bool,
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_scheduled_execution: Option<String>,
}

impl<'a> JobItem<'a> {
    pub(crate) fn new(
        v: ApiVersion,
        project: &'a str,
        job: &'a JobSummary,
        next: Option<DateTime<Utc>>,
    ) -> Self {
        let id = job.uuid.as_str();
        JobItem {
            id,
            name: &job.name,
            group: job.group.as_deref().unwrap_or_default(),
            project,
            description: &job.description,
            href: format!("/api/{}/job/{id}", v.0),
            permalink: format!("/project/{project}/job/show/{id}"),
            scheduled: job.scheduled,
            schedule_enabled: job.schedule_enabled,
            enabled: job.execution_enabled,
            next_scheduled_execution: next
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        }
    }
}

/// A job in Rundeck's list shape, as a JSON value to add fields to.
pub(crate) fn job_json(
    v: ApiVersion,
    project: &str,
    job: &JobSummary,
    next: Option<DateTime<Utc>>,
) -> Value {
    serde_json::to_value(JobItem::new(v, project, job, next)).unwrap_or(Value::Null)
}

/// One job of an import's answer (`succeeded`, `failed` or `skipped`):
/// its place in the document, its name and, once it has one, its uuid and
/// links; the reason for a failed one.
pub(crate) fn import_entry(
    v: ApiVersion,
    project: &str,
    index: usize,
    job: &Job,
    error: Option<String>,
) -> Value {
    let mut e = json!({
        "index": index,
        "name": job.name,
        "group": job.group.clone().unwrap_or_default(),
        "project": project,
    });
    if let Some(id) = &job.uuid {
        e["id"] = json!(id);
        e["href"] = json!(format!("/api/{}/job/{id}", v.0));
        e["permalink"] = json!(format!("/project/{project}/job/show/{id}"));
    }
    if let Some(err) = error {
        e["error"] = json!(err);
    }
    e
}
