//! The web UI: server-rendered pages at Rundeck's URL shapes.
//!
//! Pages are [maud] templates, checked when the crate compiles and escaped
//! by default: nothing a user typed reaches a page unescaped. One small
//! style sheet and one hand-written script are compiled into the binary and
//! served under names carrying their hash ([`assets`]), cached for good.
//! Every answer carries a Content-Security-Policy that allows scripts and
//! styles from this server's own files only (no inline script, no
//! `eval`), and forbids framing.
//!
//! A page needs a session: the login page posts to the form login
//! (`/j_security_check`, see [`crate::session`]) and an unauthenticated
//! request for a page is sent there. Every form that changes something
//! carries the session's CSRF token, and a cross-site post is refused
//! whatever it carries. Every page asks the [`Authorizer`] exactly as the
//! API route that reads or changes the same thing.
//!
//! [`Authorizer`]: foredeck_core::Authorizer

mod assets;
mod home;
mod job;
mod jobs;
mod layout;
mod login;
mod markdown;
mod profile;

use crate::session::{cross_site, csrf_matches, from_cookie, CookieAuth};
use crate::ApiState;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{from_fn, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::{routing, Router};
use foredeck_core::authorizer::Subject;

#[cfg(test)]
pub(crate) use assets::{css_url, js_url};
pub(crate) use layout::Chrome;

/// The pages and their files, each answer with the UI's security headers.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/static/{file}", routing::get(assets::serve))
        .route("/user/login", routing::get(login::login))
        .route("/user/error", routing::get(login::error))
        .route("/user/loggedout", routing::get(login::logged_out))
        .route("/", routing::get(home::home))
        .route("/menu/home", routing::get(home::home))
        .route("/user/profile", routing::get(profile::show))
        .route("/user/profile/tokens", routing::post(profile::create))
        .route(
            "/user/profile/tokens/{id}/delete",
            routing::post(profile::delete),
        )
        .route("/project/{project}/jobs", routing::get(jobs::list))
        .route("/project/{project}/job/show/{id}", routing::get(job::show))
        .layer(from_fn(security_headers))
}

/// What every page's answer forbids: scripts and styles from elsewhere or
/// inline, plugins, framing, forms posting elsewhere, `<base>`.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        // pages show what one user may see: never kept by a cache
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// The signed-in user of a page request. Without a live session the
/// request is sent to the login page.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    pub subject: Subject,
    /// The session's CSRF token, put in every form.
    pub csrf: String,
}

impl FromRequestParts<ApiState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Response> {
        match from_cookie(state, &parts.headers) {
            CookieAuth::Session(subject, csrf) => {
                parts
                    .extensions
                    .insert(crate::request_log::User(subject.user.clone()));
                Ok(Viewer { subject, csrf })
            }
            CookieAuth::None => Err(see_other("/user/login")),
        }
    }
}

impl Viewer {
    /// Checks a form post: not sent from another site, and carrying this
    /// session's CSRF token (`csrf` field). The refusal, if it is one.
    pub(crate) fn refuse_post(&self, headers: &HeaderMap, sent: Option<&str>) -> Option<Response> {
        (cross_site(headers) || !csrf_matches(sent, &self.csrf)).then(|| {
            plain(
                StatusCode::FORBIDDEN,
                "This form was not sent from this server's own page (missing or wrong CSRF \
                 token); reload the page and send it again.",
            )
        })
    }
}

/// A 303 to a path of this server (after a post, the browser gets it).
pub(crate) fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

/// A short text answer (refusals before any page can be drawn).
fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_owned(),
    )
        .into_response()
}

/// A rendered page as an answer.
pub(crate) fn html(status: StatusCode, markup: maud::Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

/// A page answering an API error (its status, its message) inside the
/// layout.
pub(crate) fn error_page(chrome: &Chrome, e: crate::ApiError) -> Response {
    let title = match e.status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::BAD_REQUEST => "Bad request",
        _ => "Error",
    };
    html(
        e.status,
        chrome.page(
            title,
            maud::html! {
                h1 { (title) }
                p.error role="alert" { (e.message) }
                p { a href="/" { "Back to the projects" } }
            },
        ),
    )
}

/// A time as pages show it (UTC, to the second).
pub(crate) fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod browser;
#[cfg(test)]
mod tests;
