//! `POST /api/{v}/project/{project}/jobs/import`: job documents in, saved
//! through core's job service.

use super::project_of;
use crate::error::{ApiError, Code};
use crate::extract::{param, Caller, Params};
use crate::views::jobs::import_entry;
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::HeaderMap;
use axum::Json;
use foredeck_core::format::JobFailure;
use foredeck_core::format::JobResults;
use foredeck_core::jobs::{OnDuplicate, SaveError, Saved};
use foredeck_core::Job;
use serde_json::{json, Value};
use std::collections::HashMap;

/// 415 with Rundeck's code for an import format that is not taken.
fn unsupported_format(name: &str, format: &str) -> ApiError {
    ApiError::of(
        Code::ImportFormatUnsupported,
        format!(
            "The specified format is not supported: {format} (parameter {name}: xml, yaml or json)"
        ),
    )
}

/// A job document format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DocFormat {
    Yaml,
    Json,
    Xml,
}

impl DocFormat {
    fn named(name: &str) -> Option<Self> {
        match name {
            "yaml" => Some(DocFormat::Yaml),
            "json" => Some(DocFormat::Json),
            "xml" => Some(DocFormat::Xml),
            _ => None,
        }
    }

    /// The format a media type names (`application/xml`, `text/yaml`, ...).
    fn of_media_type(ctype: &str) -> Option<Self> {
        if ctype.contains("yaml") {
            Some(DocFormat::Yaml)
        } else if ctype.contains("json") {
            Some(DocFormat::Json)
        } else if ctype == "application/xml" || ctype == "text/xml" || ctype.ends_with("+xml") {
            Some(DocFormat::Xml)
        } else {
            None
        }
    }

    fn read(self, text: &str, source: &str) -> foredeck_core::Result<JobResults> {
        match self {
            DocFormat::Yaml => foredeck_core::format::read_jobs_yaml(text, source),
            DocFormat::Json => foredeck_core::format::read_jobs_json(text, source),
            DocFormat::Xml => foredeck_core::format::read_jobs_xml(text, source),
        }
    }
}

/// The format named by `format` (or `fileformat`), as Rundeck reads them.
fn named_format(q: &[(String, String)]) -> Option<Result<DocFormat, ApiError>> {
    let (name, value) = match param(q, "format") {
        Some(f) => ("format", f),
        None => ("fileformat", param(q, "fileformat")?),
    };
    Some(DocFormat::named(value).ok_or_else(|| unsupported_format(name, value)))
}

/// The format of an import document: the one named by `format` (or
/// `fileformat`), else the `Content-Type` of the body (or of a form's
/// `xmlBatch` part), else, for a form, the document's first character (`<`
/// XML, `[`/`{` JSON, else YAML; Rundeck would assume XML).
fn import_format(
    q: &[(String, String)],
    content_type: &str,
    form_text: Option<&str>,
) -> Result<DocFormat, ApiError> {
    if let Some(named) = named_format(q) {
        return named;
    }
    if let Some(f) = DocFormat::of_media_type(content_type) {
        return Ok(f);
    }
    match form_text.map(|t| t.trim_start().chars().next()) {
        Some(Some('[' | '{')) => Ok(DocFormat::Json),
        Some(Some('<')) => Ok(DocFormat::Xml),
        Some(_) => Ok(DocFormat::Yaml),
        None => Err(ApiError::invalid(
            "send the jobs as application/xml, application/yaml or application/json, or name the format with fileformat=xml|yaml|json",
        )),
    }
}

/// `POST /api/{v}/project/{project}/jobs/import`: a job XML, YAML or JSON
/// document, as the body or (Rundeck's form uploads) as the `xmlBatch`
/// field of an `application/x-www-form-urlencoded` body or part of a
/// `multipart/form-data` one; the format as [`import_format`] finds it. Options (query parameters, or form fields): `dupeOption`
/// (`create` (default, as Rundeck; a job whose group and name exist fails),
/// `update`, `skip`) and `uuidOption` (`preserve`
/// (default), `remove`). Answers which jobs succeeded, failed (with their
/// 1-based `index`, `name` and `error`) or were skipped; a job that cannot
/// be read fails alone, and only a document that cannot be read at all is a
/// 400.
pub(crate) async fn import(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(p): Path<HashMap<String, String>>,
    Query(mut q): Params,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let project = project_of(&state, &caller, &p, true).await?;
    let form = crate::extract::Form::parse(&headers, body.clone()).await?;
    if let Some(f) = &form {
        q.extend(f.fields().into_iter().filter(|(n, _)| n != "xmlBatch"));
    }
    let dupe = match param(&q, "dupeOption").unwrap_or("create") {
        "create" => OnDuplicate::Create,
        "update" => OnDuplicate::Update,
        "skip" => OnDuplicate::Skip,
        other => {
            return Err(ApiError::invalid(format!(
                "parameter dupeOption: {other:?} is not create, update or skip"
            )))
        }
    };
    let remove_uuids = match param(&q, "uuidOption").unwrap_or("preserve") {
        "preserve" => false,
        "remove" => true,
        other => {
            return Err(ApiError::invalid(format!(
                "parameter uuidOption: {other:?} is not preserve or remove"
            )))
        }
    };
    let (text, source, format) = match &form {
        Some(f) => {
            let part = f
                .part("xmlBatch")
                .ok_or_else(|| crate::extract::required("xmlBatch"))?;
            let text = part.text()?;
            let ctype = part.content_type.as_deref().unwrap_or("");
            (text, "xmlBatch", import_format(&q, ctype, Some(text))?)
        }
        None => {
            let ctype = crate::extract::media_type(&headers);
            let format = import_format(&q, &ctype, None)?;
            let text = std::str::from_utf8(&body)
                .map_err(|e| ApiError::invalid(format!("request body is not UTF-8: {e}")))?;
            (text, "request body", format)
        }
    };
    // a document that cannot be read at all is a 400; a job that cannot be
    // read or fails its checks is reported in `failed` and the others are
    // imported, as in Rundeck (job XML is still read all or nothing)
    let results = format.read(text, source)?;
    let (mut succeeded, mut failed, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for (i, read) in results.into_iter().enumerate() {
        let index = i + 1;
        let mut job = match read {
            Ok(job) => job,
            Err(f) => {
                failed.push(unread_entry(&project, &f));
                continue;
            }
        };
        job.project = Some(project.clone());
        if remove_uuids {
            job.uuid = None;
        }
        let entry = |job: &Job, error: Option<String>| {
            import_entry(caller.version, &project, index, job, error)
        };
        match import_one(&state, &caller, &project, job.clone(), dupe).await {
            Ok(Saved::Created(stored) | Saved::Updated(stored)) => {
                let mut e = entry(&stored, None);
                // stored, but a log filter will fail its step at run time
                let problems = foredeck_core::logfilter::problems(&stored);
                if !problems.is_empty() {
                    e["warnings"] = json!(problems);
                }
                succeeded.push(e)
            }
            Ok(Saved::Skipped(existing)) => skipped.push(entry(&existing, None)),
            Err(msg) => {
                // a uuid the caller sent is theirs to see; nothing else leaks
                failed.push(entry(&job, Some(msg)));
            }
        }
    }
    Ok(Json(json!({
        "succeeded": succeeded,
        "failed": failed,
        "skipped": skipped,
    })))
}

/// The `failed` entry of a job that could not be read or failed its checks:
/// its position, what could be read of its name and group, and why.
fn unread_entry(project: &str, f: &JobFailure) -> Value {
    // a name or group over its limit is the error: not echoed whole
    let shown = |s: &Option<String>, max: usize| match s {
        Some(s) if s.chars().count() > max => s.chars().take(64).chain(['…']).collect(),
        Some(s) => s.clone(),
        None => String::new(),
    };
    json!({
        "index": f.index,
        "name": shown(&f.name, foredeck_core::names::JOB_NAME_MAX),
        "group": shown(&f.group, foredeck_core::names::GROUP_MAX),
        "project": project,
        "error": f.error.to_string(),
    })
}

/// Saves one job of an import through core's job service and records it;
/// a failure is the message of the import's `failed` entry.
async fn import_one(
    state: &ApiState,
    caller: &Caller,
    project: &str,
    job: Job,
    dupe: OnDuplicate,
) -> Result<Saved, String> {
    let saved = state
        .jobs()
        .save(&caller.subject, project, job, dupe)
        .await
        .map_err(|e| match e {
            // store messages are logged, not sent
            SaveError::Other(e) => ApiError::from(e).message,
            e => e.to_string(),
        })?;
    let (action, stored) = match &saved {
        Saved::Created(j) => ("create", j),
        Saved::Updated(j) => ("update", j),
        Saved::Skipped(_) => return Ok(saved),
    };
    let id = stored.uuid.clone().unwrap_or_default();
    state
        .audit(
            caller,
            action,
            "job",
            &id,
            Some(project),
            json!({"name": stored.full_name(), "via": "import"}),
        )
        .await;
    Ok(saved)
}
