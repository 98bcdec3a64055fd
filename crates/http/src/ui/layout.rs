//! The layout every signed-in page shares: the header with the project
//! switcher and the user's menu, then the page.

use super::{assets, Viewer};
use crate::ApiState;
use maud::{html, Markup, DOCTYPE};

/// What the layout shows around a page: who is signed in and the projects
/// they may read.
#[derive(Debug, Clone)]
pub(crate) struct Chrome {
    pub user: String,
    pub csrf: String,
    /// Projects the user may read, by name.
    pub projects: Vec<String>,
    /// The project the page belongs to.
    pub current: Option<String>,
}

impl Chrome {
    /// The chrome for `viewer`, on a page of `current` (if any). Reads the
    /// project list (one store query) and keeps those the viewer may read,
    /// as `GET /api/{v}/projects` does.
    pub(crate) async fn load(
        state: &ApiState,
        viewer: &Viewer,
        current: Option<&str>,
    ) -> Result<Chrome, crate::ApiError> {
        let mut projects: Vec<String> = state
            .store
            .list_projects()
            .await?
            .into_iter()
            .filter(|p| state.may_read_project(&viewer.subject, &p.name))
            .map(|p| p.name)
            .collect();
        projects.sort();
        Ok(Chrome {
            user: viewer.subject.user.clone(),
            csrf: viewer.csrf.clone(),
            projects,
            current: current.map(str::to_owned),
        })
    }

    /// A whole page: `title` and `body` inside the layout.
    pub(crate) fn page(&self, title: &str, body: Markup) -> Markup {
        document(
            title,
            html! {
                header.top {
                    a.brand href="/" { "Foredeck" }
                    nav aria-label="Projects" {
                        details.switcher {
                            summary {
                                @match &self.current {
                                    Some(p) => { "Project: " strong { (p) } }
                                    None => "Choose a project",
                                }
                            }
                            ul {
                                @for p in &self.projects {
                                    li {
                                        a href=(jobs_url(p))
                                            aria-current=[(self.current.as_deref() == Some(p)).then_some("page")] { (p) }
                                    }
                                }
                                @if self.projects.is_empty() {
                                    li { "No project you may read." }
                                }
                            }
                        }
                    }
                    nav.user aria-label="User" {
                        a href="/user/profile" { (self.user) }
                        form method="post" action="/user/logout" {
                            input type="hidden" name="csrf" value=(self.csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main #main { (body) }
            },
        )
    }
}

/// The jobs page of a project.
pub(crate) fn jobs_url(project: &str) -> String {
    format!("/project/{}/jobs", encode(project))
}

/// A path segment percent-encoded (project names are plain, job ids are
/// uuids; encoded anyway so that no name can change the URL's shape).
pub(crate) fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The HTML document around a page's content (also the login page's).
pub(crate) fn document(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Foredeck" }
                link rel="stylesheet" href=(assets::css_url());
                script src=(assets::js_url()) defer {}
            }
            body {
                a.skip href="#main" { "Skip to the content" }
                (content)
            }
        }
    }
}
