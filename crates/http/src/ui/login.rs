//! The login page (Rundeck's `/user/login`), also shown after a failed
//! login (`/user/error`) and after logging out (`/user/loggedout`). The
//! form posts to the form login, `/j_security_check`.

use super::layout::document;
use super::{html, see_other};
use crate::session::{from_cookie, CookieAuth, UI_LANDING};
use crate::ApiState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html as markup;

pub(super) async fn login(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    if let CookieAuth::Session(..) = from_cookie(&state, &headers) {
        return see_other("/");
    }
    page(StatusCode::OK, None)
}

pub(super) async fn error() -> Response {
    page(
        StatusCode::OK,
        Some((
            "error",
            "Invalid user name or password, or too many failed logins: try again.",
        )),
    )
}

pub(super) async fn logged_out() -> Response {
    page(StatusCode::OK, Some(("info", "You have logged out.")))
}

fn page(status: StatusCode, message: Option<(&str, &str)>) -> Response {
    html(
        status,
        document(
            "Log in",
            markup! {
                main #main .login {
                    h1 { "Foredeck" }
                    @if let Some((class, text)) = message {
                        p class=(class) role=(if class == "error" { "alert" } else { "status" }) { (text) }
                    }
                    form method="post" action="/j_security_check" {
                        input type="hidden" name="landing" value=(UI_LANDING);
                        label for="login-user" { "User name" }
                        input #login-user type="text" name="j_username" autocomplete="username"
                            required autofocus;
                        label for="login-password" { "Password" }
                        input #login-password type="password" name="j_password"
                            autocomplete="current-password" required;
                        button type="submit" { "Log in" }
                    }
                }
            },
        ),
    )
}
