//! The user's own page (Rundeck's `/user/profile`): who they are and
//! their API tokens, which they create and delete here. Creating and
//! deleting go through the API's own handlers, so the page is allowed
//! exactly what `POST /api/{v}/tokens` and `DELETE /api/{v}/token/{id}`
//! are.

use super::{html, see_other, time, Chrome, Viewer};
use crate::extract::ClientAddr;
use crate::{tokens, ApiError, ApiState, ApiVersion, CURRENT_API};
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use maud::{html as markup, Markup};
use serde::Deserialize;
use serde_json::json;

pub(super) async fn show(State(state): State<ApiState>, viewer: Viewer) -> Response {
    render(&state, &viewer, StatusCode::OK, Notice::None).await
}

/// What the page says above the tokens after a change.
enum Notice {
    None,
    /// A token was made: its secret, shown this once.
    Created(String),
    /// A change was refused: why, and the form's values to show again.
    Refused(String, Option<CreateForm>),
}

async fn render(state: &ApiState, viewer: &Viewer, status: StatusCode, notice: Notice) -> Response {
    let chrome = match Chrome::load(state, viewer, None).await {
        Ok(c) => c,
        Err(e) => return super::plain(e.status, &e.message),
    };
    let mine = match state.store.list_tokens(Some(&viewer.subject.user)).await {
        Ok(t) => t,
        Err(e) => return super::error_page(&chrome, e.into()),
    };
    let now = chrono::Utc::now();
    let groups: Vec<&str> = viewer.subject.groups.iter().map(String::as_str).collect();
    let (form_name, form_roles, form_duration) = match &notice {
        Notice::Refused(_, Some(f)) => (f.name.clone(), f.roles.clone(), f.duration.clone()),
        _ => (String::new(), groups.join(", "), String::new()),
    };
    let body = markup! {
        h1 { "Profile" }
        dl.facts {
            dt { "User" } dd { (viewer.subject.user) }
            dt { "Roles" } dd { (groups.join(", ")) }
        }
        h2 #tokens { "API tokens" }
        @match &notice {
            Notice::None => {}
            Notice::Created(secret) => {
                div.notice role="status" {
                    p { "New token (shown only now: copy it):" }
                    p { code.secret #new-token { (secret) } }
                }
            }
            Notice::Refused(why, _) => { p.error role="alert" { (why) } }
        }
        @if mine.is_empty() {
            p.empty { "You have no API token." }
        } @else {
            div.scroll {
                table {
                    thead { tr { th { "Name" } th { "Id" } th { "Roles" } th { "Expires" } th { span.sr { "Actions" } } } }
                    tbody {
                        @for t in &mine {
                            tr {
                                td { (t.name.as_deref().unwrap_or("")) }
                                td { code { (t.id) } }
                                td { (t.roles.join(", ")) }
                                td {
                                    @match t.expiration {
                                        Some(e) if e <= now => { span.bad { "expired " (time(e)) } }
                                        Some(e) => (time(e)),
                                        None => "never",
                                    }
                                }
                                td {
                                    form method="post" action=(format!("/user/profile/tokens/{}/delete", super::layout::encode(&t.id))) data-confirm="Delete this API token?" {
                                        (csrf_field(&viewer.csrf))
                                        button.danger type="submit" aria-label=(format!("Delete token {}", t.id)) { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h3 { "New token" }
        form.stack method="post" action="/user/profile/tokens" {
            (csrf_field(&viewer.csrf))
            label for="token-name" { "Name (optional)" }
            input #token-name type="text" name="name" maxlength="200" value=(form_name);
            label for="token-roles" { "Roles (comma-separated, some of yours)" }
            input #token-roles type="text" name="roles" required value=(form_roles);
            label for="token-duration" { "Lifetime (e.g. 30d, 12h; the longest allowed if empty)" }
            input #token-duration type="text" name="duration" value=(form_duration);
            button type="submit" { "Create token" }
        }
    };
    html(status, chrome.page("Profile", body))
}

fn csrf_field(csrf: &str) -> Markup {
    markup! { input type="hidden" name="csrf" value=(csrf); }
}

/// The new-token form.
#[derive(Deserialize, Clone)]
pub(super) struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    roles: String,
    #[serde(default)]
    duration: String,
}

pub(super) async fn create(
    State(state): State<ApiState>,
    viewer: Viewer,
    from: ClientAddr,
    headers: HeaderMap,
    form: Form<CreateForm>,
) -> Response {
    let Form(form) = form;
    if let Some(refused) = viewer.refuse_post(&headers, Some(&form.csrf)) {
        return refused;
    }
    let mut body = json!({ "user": viewer.subject.user, "roles": form.roles });
    if !form.name.trim().is_empty() {
        body["name"] = json!(form.name.trim());
    }
    if !form.duration.trim().is_empty() {
        body["duration"] = json!(form.duration.trim());
    }
    let made = tokens::create(
        State(state.clone()),
        Extension(viewer.subject.clone()),
        Extension(ApiVersion(CURRENT_API)),
        from,
        Ok(Json(body)),
    )
    .await;
    match made {
        Ok((_, Json(v))) => {
            let secret = v["token"].as_str().unwrap_or_default().to_owned();
            render(
                &state,
                &viewer,
                StatusCode::CREATED,
                Notice::Created(secret),
            )
            .await
        }
        Err(e) => refused(&state, &viewer, e, Some(form)).await,
    }
}

async fn refused(
    state: &ApiState,
    viewer: &Viewer,
    e: ApiError,
    form: Option<CreateForm>,
) -> Response {
    render(state, viewer, e.status, Notice::Refused(e.message, form)).await
}

/// A form with the CSRF token alone.
#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(super) async fn delete(
    State(state): State<ApiState>,
    viewer: Viewer,
    from: ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = viewer.refuse_post(&headers, Some(&form.csrf)) {
        return refused;
    }
    let done = tokens::delete(
        State(state.clone()),
        Extension(viewer.subject.clone()),
        from,
        Path((CURRENT_API.to_string(), id)),
    )
    .await;
    match done {
        // the list again, without the form post in the history
        Ok(_) => see_other("/user/profile#tokens"),
        Err(e) => refused(&state, &viewer, e, None).await,
    }
}
