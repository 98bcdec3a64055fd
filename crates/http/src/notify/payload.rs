//! What a notification says: property tokens and the JSON and XML payloads.

use chrono::SecondsFormat;
use foredeck_core::model::{Execution, Job, NotificationSet, Notifications};
use foredeck_core::NotificationTrigger;
use std::collections::BTreeMap;

pub(super) fn for_trigger(n: &Notifications, t: NotificationTrigger) -> Option<&NotificationSet> {
    match t {
        NotificationTrigger::Start => n.onstart.as_ref(),
        NotificationTrigger::Success => n.onsuccess.as_ref(),
        NotificationTrigger::Failure => n.onfailure.as_ref(),
        NotificationTrigger::RetryableFailure => n.onretryablefailure.as_ref(),
        NotificationTrigger::AvgDuration => n.onavgduration.as_ref(),
    }
}

/// Rundeck's trigger name in payloads (`start`, `success`, ...).
pub(super) fn trigger_name(t: NotificationTrigger) -> &'static str {
    match t {
        NotificationTrigger::Start => "start",
        NotificationTrigger::Success => "success",
        NotificationTrigger::Failure => "failure",
        NotificationTrigger::RetryableFailure => "retryablefailure",
        NotificationTrigger::AvgDuration => "avgduration",
    }
}

/// Rundeck's `notification.eventStatus`.
pub(super) fn event_status(t: NotificationTrigger) -> &'static str {
    match t {
        NotificationTrigger::Start => "Starting",
        NotificationTrigger::Success => "Succeeded",
        NotificationTrigger::Failure => "Failed",
        NotificationTrigger::RetryableFailure => "Failed (will retry)",
        NotificationTrigger::AvgDuration => "Running longer than average",
    }
}

/// The values property tokens refer to.
pub(super) fn properties(
    base: &str,
    t: NotificationTrigger,
    job: &Job,
    e: &Execution,
) -> BTreeMap<&'static str, String> {
    let base = base.trim_end_matches('/');
    let job_id = job.uuid.clone().or(e.job_id.clone()).unwrap_or_default();
    BTreeMap::from([
        ("execution.id", e.id.to_string()),
        ("execution.status", e.status.to_string()),
        ("execution.user", e.user.clone()),
        ("execution.project", e.project.clone()),
        ("execution.argstring", e.arg_string.clone()),
        (
            "execution.href",
            format!("{base}/project/{}/execution/show/{}", e.project, e.id),
        ),
        ("job.id", job_id.clone()),
        ("job.name", job.name.clone()),
        ("job.group", job.group.clone().unwrap_or_default()),
        ("job.project", e.project.clone()),
        (
            "job.href",
            format!("{base}/project/{}/job/show/{job_id}", e.project),
        ),
        ("notification.trigger", trigger_name(t).to_owned()),
        ("notification.eventStatus", event_status(t).to_owned()),
    ])
}

/// Replaces `${name}` tokens; unknown tokens stay as written.
pub(super) fn expand(
    template: &str,
    props: &BTreeMap<&'static str, String>,
    encode: bool,
) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if props.contains_key(&after[..end]) => {
                let v = &props[&after[..end]];
                if encode {
                    out.push_str(&percent_encode(v));
                } else {
                    out.push_str(v);
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

pub(super) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The execution as a webhook sends it (Rundeck's JSON notification shape).
pub(super) fn json_payload(
    t: NotificationTrigger,
    job: &Job,
    e: &Execution,
    props: &BTreeMap<&'static str, String>,
) -> serde_json::Value {
    let w3c = |d: chrono::DateTime<chrono::Utc>| d.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut exec = serde_json::json!({
        "id": e.id,
        "href": props["execution.href"],
        "status": e.status.to_string(),
        "user": e.user,
        "dateStarted": w3c(e.date_started),
        "dateStartedUnixtime": e.date_started.timestamp_millis(),
        "dateStartedW3c": w3c(e.date_started),
        "description": e.description,
        "argstring": e.arg_string,
        "project": e.project,
        "loglevel": e.loglevel,
        "job": {
            "id": props["job.id"],
            "href": props["job.href"],
            "name": job.name,
            "group": job.group.clone().unwrap_or_default(),
            "project": e.project,
            "description": job.description,
        },
    });
    if let (Some(end), Some(obj)) = (e.date_ended, exec.as_object_mut()) {
        obj.insert("dateEnded".into(), w3c(end).into());
        obj.insert("dateEndedUnixtime".into(), end.timestamp_millis().into());
        obj.insert("dateEndedW3c".into(), w3c(end).into());
    }
    if let (Some(f), Some(obj)) = (&e.failure, exec.as_object_mut()) {
        obj.insert("failure".into(), f.clone().into());
    }
    serde_json::json!({ "trigger": trigger_name(t), "execution": exec })
}

pub(super) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // characters XML 1.0 cannot carry at all
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Rundeck's XML notification: `<notification>` around the execution.
pub(super) fn xml_payload(
    t: NotificationTrigger,
    job: &Job,
    e: &Execution,
    props: &BTreeMap<&'static str, String>,
) -> String {
    let x = |s: &str| xml_escape(s);
    let w3c = |d: chrono::DateTime<chrono::Utc>| d.to_rfc3339_opts(SecondsFormat::Secs, true);
    let ended = e
        .date_ended
        .map(|d| {
            format!(
                "<date-ended unixtime=\"{}\">{}</date-ended>",
                d.timestamp_millis(),
                w3c(d)
            )
        })
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <notification trigger=\"{trigger}\" executionId=\"{id}\" status=\"{status}\">\
         <executions count=\"1\"><execution id=\"{id}\" href=\"{href}\" status=\"{status}\" project=\"{project}\">\
         <user>{user}</user><date-started unixtime=\"{started_ms}\">{started}</date-started>{ended}\
         <job id=\"{job_id}\" href=\"{job_href}\"><name>{name}</name><group>{group}</group>\
         <project>{project}</project><description>{job_desc}</description></job>\
         <description>{desc}</description><argstring>{args}</argstring>\
         </execution></executions></notification>\n",
        trigger = trigger_name(t),
        id = e.id,
        status = x(&e.status.to_string()),
        href = x(&props["execution.href"]),
        project = x(&e.project),
        user = x(&e.user),
        started_ms = e.date_started.timestamp_millis(),
        started = w3c(e.date_started),
        job_id = x(&props["job.id"]),
        job_href = x(&props["job.href"]),
        name = x(&job.name),
        group = x(job.group.as_deref().unwrap_or("")),
        job_desc = x(&job.description),
        desc = x(&e.description),
        args = x(&e.arg_string),
    )
}
