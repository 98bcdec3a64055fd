//! A project's jobs (`/project/{p}/jobs`): the jobs the user may see,
//! grouped by their group path, with a search by name. Allowed as
//! `GET /api/{v}/project/{p}/jobs`: reading the project, then each job
//! read or viewed.

use super::{error_page, html, Chrome, Viewer};
use crate::ApiState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use foredeck_core::{JobQuery, JobSummary};
use maud::html as markup;
use serde::Deserialize;

/// Jobs drawn on one page; more are reached by the page links.
pub(crate) const PAGE: usize = 500;

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    /// Name contains (case-insensitive).
    #[serde(default)]
    q: String,
    #[serde(default)]
    offset: usize,
}

pub(super) async fn list(
    State(state): State<ApiState>,
    viewer: Viewer,
    Path(project): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    // a malformed offset is taken as the first page
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let chrome = match Chrome::load(&state, &viewer, Some(&project)).await {
        Ok(c) => c,
        Err(e) => return super::plain(e.status, &e.message),
    };
    if !state.may_read_project(&viewer.subject, &project) {
        return error_page(
            &chrome,
            crate::ApiError::unauthorized("read", &format!("Project {project}")),
        );
    }
    match state.project_exists(&project).await {
        Ok(true) => {}
        Ok(false) => return error_page(&chrome, crate::ApiError::not_found("Project", &project)),
        Err(e) => return error_page(&chrome, e),
    }
    let search = query.q.trim();
    let store_query = JobQuery {
        name_contains: (!search.is_empty()).then(|| search.to_owned()),
        ..Default::default()
    };
    let summaries = match state.store.list_job_summaries(&project, &store_query).await {
        Ok(s) => s,
        Err(e) => return error_page(&chrome, e.into()),
    };
    let all = state.sees_every_job(&viewer.subject, &project);
    let mut seen: Vec<&JobSummary> = summaries
        .iter()
        .filter(|j| all || state.sees_job_in(&viewer.subject, &project, *j))
        .collect();
    let total = seen.len();
    seen.sort_by(|a, b| {
        (a.group.as_deref().unwrap_or(""), a.name.as_str())
            .cmp(&(b.group.as_deref().unwrap_or(""), b.name.as_str()))
    });
    let offset = query.offset.min(total);
    let shown = &seen[offset..(offset + PAGE).min(total)];
    let groups = group(shown);
    let page_url = |offset: usize| {
        let mut u = format!("{}?offset={offset}", super::layout::jobs_url(&project));
        if !search.is_empty() {
            u.push_str("&q=");
            u.push_str(&super::layout::encode(search));
        }
        u
    };
    let body = markup! {
        h1 { "Jobs" }
        form.search role="search" method="get" action=(super::layout::jobs_url(&project)) {
            label for="job-search" { "Search jobs by name" }
            input #job-search type="search" name="q" value=(search);
            button type="submit" { "Search" }
        }
        @if total == 0 {
            p.empty {
                @if search.is_empty() { "No job in this project that you may see." }
                @else { "No job whose name contains \u{201c}" (search) "\u{201d}." }
            }
        } @else {
            p.count { (total) @if total == 1 { " job" } @else { " jobs" }
                @if total > PAGE { ", " (offset + 1) "\u{2013}" (offset + shown.len()) " shown" } }
            @for (path, jobs) in &groups {
                details.group open {
                    summary {
                        @match path {
                            Some(g) => { span.path { (g) } }
                            None => { span.path.top { "(no group)" } }
                        }
                        " " span.n { "(" (jobs.len()) ")" }
                    }
                    ul.jobs {
                        @for j in jobs {
                            li {
                                a.name href=(super::job::job_url(&project, &j.uuid)) { (j.name) }
                                @if !j.execution_enabled { " " span.badge { "execution disabled" } }
                                @if j.scheduled {
                                    " " span.badge { @if j.schedule_enabled { "scheduled" } @else { "schedule off" } }
                                }
                                @if let Some(first) = j.description.lines().next().filter(|l| !l.is_empty()) {
                                    span.desc { (first) }
                                }
                            }
                        }
                    }
                }
            }
            @if total > PAGE {
                nav.pages aria-label="Pages" {
                    @if offset > 0 { a rel="prev" href=(page_url(offset.saturating_sub(PAGE))) { "Previous" } }
                    @if offset + PAGE < total { a rel="next" href=(page_url(offset + PAGE)) { "Next" } }
                }
            }
        }
    };
    html(
        StatusCode::OK,
        chrome.page(&format!("Jobs of {project}"), body),
    )
}

/// Jobs (sorted by group then name) in runs of one group.
fn group<'a>(jobs: &[&'a JobSummary]) -> Vec<(Option<&'a str>, Vec<&'a JobSummary>)> {
    let mut out: Vec<(Option<&'a str>, Vec<&'a JobSummary>)> = Vec::new();
    for j in jobs {
        let g = j.group.as_deref().filter(|g| !g.is_empty());
        match out.last_mut() {
            Some((last, list)) if *last == g => list.push(j),
            _ => out.push((g, vec![j])),
        }
    }
    out
}
