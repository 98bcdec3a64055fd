//! Finding 8 of issue 17: a GET that changes something (Rundeck's
//! `GET .../execution/{id}/abort`) must not work with the session cookie
//! alone; it needs the session's CSRF token like any other change, while
//! token clients keep using GET.

use super::*;
use crate::session::CSRF_HEADER;
use foredeck_core::Execution;

/// Logs `root` in: the session cookie and its CSRF token.
async fn root_session(env: &Env) -> (String, String) {
    let a = env
        .call(Method::POST, "/j_security_check")
        .body(
            "application/x-www-form-urlencoded",
            format!("j_username=root&j_password={}", PASSWORD.replace(' ', "+")),
        )
        .send()
        .await;
    assert_eq!(a.status, StatusCode::FOUND, "{}", a.body);
    let cookie = a.headers["set-cookie"].to_str().unwrap();
    let cookie = cookie.split("; ").next().unwrap().to_owned();
    let csrf = a.headers[CSRF_HEADER].to_str().unwrap().to_owned();
    (cookie, csrf)
}

#[tokio::test]
async fn a_get_abort_with_only_the_session_cookie_changes_nothing() {
    let env = env().await;
    let id = env
        .store
        .create_execution(&Execution::new("ops", "a run", "root"))
        .await
        .unwrap();
    let abort = format!("/api/59/execution/{id}/abort");
    let (cookie, csrf) = root_session(&env).await;

    // the cookie alone (what a link or an <img> on another site sends)
    let a = env
        .call(Method::GET, &abort)
        .header("cookie", &cookie)
        .send()
        .await;
    a.error(StatusCode::FORBIDDEN, "api.error.csrf");
    assert!(
        a.json()["message"].as_str().unwrap().contains("abort"),
        "{}",
        a.body
    );
    assert!(env.audit("abort", "execution").await.is_empty());

    // with the session's CSRF token the GET is the change it asks for
    let a = env
        .call(Method::GET, &abort)
        .header("cookie", &cookie)
        .header(CSRF_HEADER, &csrf)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(env.audit("abort", "execution").await.len(), 1);

    // a token client keeps its GET
    let a = env.call(Method::GET, &abort).token(ADMIN).send().await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(env.audit("abort", "execution").await.len(), 2);

    // reading stays a plain GET for the cookie
    let a = env
        .call(Method::GET, &format!("/api/59/execution/{id}"))
        .header("cookie", &cookie)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}
