//! A job's page (`/project/{p}/job/show/{id}`), read-only: what the job
//! is (name, group, description, options, workflow, node filter), when its
//! schedule fires next and how its recent runs went. Allowed as
//! `GET /api/{v}/job/{id}`: reading the job.
//!
//! The description is rendered as markdown, as Rundeck renders it, through
//! [`super::markdown`]: raw HTML in it is text, and only `http:`, `https:`,
//! `mailto:` and relative links keep their targets.

use super::{error_page, html, time, Chrome, Viewer};
use crate::ApiState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use foredeck_core::{Execution, ExecutionQuery, ExecutionStatus, Job, JobOption, Step, StepKind};
use maud::{html as markup, Markup};

/// Recent runs shown (the first page of the job's executions).
pub(crate) const RUNS: u64 = 20;

/// Next fire times shown.
const FIRES: usize = 3;

/// The page of one job.
pub(crate) fn job_url(project: &str, id: &str) -> String {
    format!(
        "/project/{}/job/show/{}",
        super::layout::encode(project),
        super::layout::encode(id)
    )
}

pub(super) async fn show(
    State(state): State<ApiState>,
    viewer: Viewer,
    Path((project, id)): Path<(String, String)>,
) -> Response {
    let chrome = match Chrome::load(&state, &viewer, Some(&project)).await {
        Ok(c) => c,
        Err(e) => return super::plain(e.status, &e.message),
    };
    let (found_in, job) = match state.job_for(&viewer.subject, &id, "read").await {
        Ok(j) => j,
        Err(e) => return error_page(&chrome, e),
    };
    if found_in != project {
        // the id names a job of another project: not this page's job
        return error_page(&chrome, crate::ApiError::not_found("Job ID", &id));
    }
    let fires = if job.schedule.is_some() {
        // the scheduler's own triggers and cron code; a year ahead covers
        // every schedule that fires at all yearly
        let until = Utc::now() + chrono::Duration::days(367);
        match state.jobs().forecast(&project, &id, until, FIRES).await {
            Ok(t) => t,
            Err(e) => return error_page(&chrome, e.into()),
        }
    } else {
        Vec::new()
    };
    let runs = match state
        .store
        .query_executions(&ExecutionQuery {
            project: Some(project.clone()),
            job_ids: vec![id.clone()],
            max: RUNS,
            ..ExecutionQuery::default()
        })
        .await
    {
        Ok(p) => p,
        Err(e) => return error_page(&chrome, e.into()),
    };
    let body = page(&project, &job, &fires, &runs.items, runs.total);
    html(StatusCode::OK, chrome.page(&job.name, body))
}

fn page(
    project: &str,
    job: &Job,
    fires: &[DateTime<Utc>],
    runs: &[Execution],
    total: u64,
) -> Markup {
    let group = job.group.as_deref().filter(|g| !g.is_empty());
    markup! {
        p.crumbs { a href=(super::layout::jobs_url(project)) { "Jobs" }
            @if let Some(g) = group { " / " span.path { (g) } } }
        h1 { (job.name) }
        @if !job.execution_enabled { p { span.badge { "execution disabled" } } }
        @if !job.description.is_empty() {
            section.description aria-label="Description" {
                (maud::PreEscaped(super::markdown::render(&job.description)))
            }
        }
        h2 { "Options" }
        @if job.options.is_empty() { p.empty { "No options." } }
        @else {
            table.options {
                thead { tr { th { "Name" } th { "Required" } th { "Default" } th { "Allowed values" } } }
                tbody { @for o in &job.options { (option(o)) } }
            }
        }
        h2 { "Workflow" }
        p { @if job.sequence.keepgoing { "Keeps going on failure" } @else { "Stops at the first failure" } }
        ol.steps { @for s in &job.sequence.commands { li { (step(s)) } } }
        h2 { "Nodes" }
        @match job.nodefilters.as_ref().and_then(|f| f.filter.as_deref()).filter(|f| !f.trim().is_empty()) {
            Some(f) => { p { "Node filter: " code.filter { (f) } } }
            None => { p { "Runs on the Foredeck server itself." } }
        }
        h2 { "Schedule" }
        @match &job.schedule {
            None => { p.empty { "Not scheduled." } }
            Some(s) => {
                p { code { (s.to_quartz()) }
                    @if let Some(z) = &job.time_zone { " (" (z) ")" }
                    @if !job.schedule_enabled { " " span.badge { "schedule off" } } }
                @if fires.is_empty() { p.empty { "No fire time ahead." } }
                @else {
                    p { "Next fire times:" }
                    ul.fires { @for t in fires { li { time datetime=(t.to_rfc3339()) { (time(*t)) } } } }
                }
            }
        }
        h2 { "Recent runs" }
        (recent(runs, total))
    }
}

fn option(o: &JobOption) -> Markup {
    markup! {
        tr {
            td { code { (o.name) }
                @if let Some(l) = o.label.as_deref().filter(|l| !l.is_empty()) { " " span.label { (l) } }
                @if o.secure { " " span.badge { "secure" } } }
            td { @if o.required { "required" } @else { "optional" } }
            td {
                @if o.secure {
                    @if o.default.is_some() || o.storage_path.is_some() { span.secret { "(secret, not shown)" } }
                } @else if let Some(d) = &o.default { code { (d) } }
            }
            td {
                @if o.values.is_empty() { @if let Some(r) = &o.regex { "matching " code { (r) } } }
                @else {
                    @for (i, v) in o.values.iter().enumerate() { @if i > 0 { ", " } code { (v) } }
                    @if o.enforced { " (only these)" }
                }
            }
        }
    }
}

fn step(s: &Step) -> Markup {
    let first = |t: &str| t.lines().next().unwrap_or("").to_owned();
    let (kind, what) = match &s.kind {
        StepKind::Command { exec } => ("command", first(exec)),
        StepKind::Script { script, .. } => ("script", first(script)),
        StepKind::ScriptFile { path, .. } => ("script file", path.clone()),
        StepKind::ScriptUrl { url, .. } => ("script URL", url.clone()),
        StepKind::JobRef(r) => (
            "job",
            match r.group.as_deref().filter(|g| !g.is_empty()) {
                Some(g) => format!("{g}/{}", r.name),
                None => r.name.clone(),
            },
        ),
        StepKind::Plugin { plugin_type, .. } => ("plugin", plugin_type.clone()),
    };
    markup! {
        span.kind { (kind) } " " code { (what) }
        @if let Some(d) = s.description.as_deref().filter(|d| !d.is_empty()) { " " span.desc { (d) } }
    }
}

/// A duration as `1h 2m`, `3m 4s` or `5.6s`.
fn duration(d: chrono::Duration) -> String {
    let ms = d.num_milliseconds().max(0);
    let s = ms / 1000;
    match s {
        0..=59 => format!("{}.{}s", s, (ms % 1000) / 100),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    }
}

/// The share of finished runs that succeeded, as a whole percent, with the
/// count of finished runs; `None` when none has finished.
fn success_rate(runs: &[Execution]) -> Option<(u64, usize)> {
    let done: Vec<&Execution> = runs.iter().filter(|e| e.status.is_final()).collect();
    let ok = done
        .iter()
        .filter(|e| e.status == ExecutionStatus::Succeeded)
        .count();
    (!done.is_empty()).then(|| ((ok as u64 * 100) / done.len() as u64, done.len()))
}

fn recent(runs: &[Execution], total: u64) -> Markup {
    markup! {
        @if runs.is_empty() { p.empty { "No run yet." } }
        @else {
            p.rate {
                @match success_rate(runs) {
                    Some((pct, n)) => { "Success rate: " strong { (pct) "%" } " of the last " (n) " finished runs." }
                    None => { "No finished run yet." }
                }
                " " (total) @if total == 1 { " run" } @else { " runs" } " in all."
            }
            table.runs {
                thead { tr { th { "Execution" } th { "Status" } th { "Started" } th { "Duration" } th { "By" } } }
                tbody {
                    @for e in runs {
                        tr {
                            // the execution page does not exist yet: the id, no link
                            td { "#" (e.id) }
                            td { span class={ "status " (e.status.as_str()) } { (e.status.as_str()) } }
                            td { time datetime=(e.date_started.to_rfc3339()) { (time(e.date_started)) } }
                            td { @match e.date_ended { Some(end) => { (duration(end - e.date_started)) } None => { "\u{2013}" } } }
                            td { (e.user) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::duration;
    use chrono::Duration;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(Duration::milliseconds(5_640)), "5.6s");
        assert_eq!(duration(Duration::seconds(184)), "3m 4s");
        assert_eq!(duration(Duration::seconds(3_720)), "1h 2m");
        assert_eq!(duration(Duration::seconds(-3)), "0.0s");
    }
}
