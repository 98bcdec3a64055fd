//! The projects home (`/`, Rundeck's `/menu/home`): the projects the user
//! may read, each leading to its jobs.

use super::layout::jobs_url;
use super::{error_page, html, Chrome, Viewer};
use crate::ApiState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html as markup;

pub(super) async fn home(State(state): State<ApiState>, viewer: Viewer) -> Response {
    // one read of the projects serves the switcher and the list
    let projects = match state.store.list_projects().await {
        Ok(p) => p,
        Err(e) => {
            let chrome = Chrome {
                user: viewer.subject.user.clone(),
                csrf: viewer.csrf.clone(),
                projects: Vec::new(),
                current: None,
            };
            return error_page(&chrome, e.into());
        }
    };
    let mut mine: Vec<_> = projects
        .into_iter()
        .filter(|p| state.may_read_project(&viewer.subject, &p.name))
        .collect();
    mine.sort_by(|a, b| a.name.cmp(&b.name));
    let chrome = Chrome {
        user: viewer.subject.user.clone(),
        csrf: viewer.csrf.clone(),
        projects: mine.iter().map(|p| p.name.clone()).collect(),
        current: None,
    };
    html(
        StatusCode::OK,
        chrome.page(
            "Projects",
            markup! {
                h1 { "Projects" }
                @if mine.is_empty() {
                    p.empty {
                        "There is no project you may read. An administrator creates projects \
                         (POST /api/59/projects) and grants \
                         access in an ACL policy."
                    }
                } @else {
                    ul.cards {
                        @for p in &mine {
                            li.card {
                                h2 { a href=(jobs_url(&p.name)) { (p.name) } }
                                @if let Some(d) = p.description.as_deref().filter(|d| !d.is_empty()) {
                                    p { (d) }
                                }
                            }
                        }
                    }
                }
            },
        ),
    )
}
