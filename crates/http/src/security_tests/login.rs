//! `/j_security_check`, session cookies, CSRF and `/user/logout`.

use super::*;
use crate::session::CSRF_HEADER;

fn form(user: &str, password: &str) -> String {
    format!(
        "j_username={}&j_password={}",
        user,
        password.replace(' ', "+")
    )
}

async fn login(env: &Env, user: &str, password: &str) -> Answer {
    env.call(Method::POST, "/j_security_check")
        .body("application/x-www-form-urlencoded", form(user, password))
        .send()
        .await
}

/// The session cookie (`JSESSIONID=...`) and the CSRF token of a login.
fn session(a: &Answer) -> (String, String) {
    assert_eq!(a.status, StatusCode::FOUND, "{}", a.body);
    assert_eq!(a.headers["location"], crate::session::home().as_str());
    let set = a.headers["set-cookie"].to_str().unwrap();
    let parts: Vec<&str> = set.split("; ").collect();
    assert!(
        parts[0].starts_with("JSESSIONID=") && parts[0].len() > 40,
        "{set}"
    );
    assert!(parts.contains(&"HttpOnly"), "{set}");
    assert!(parts.contains(&"SameSite=Lax"), "{set}");
    assert!(parts.contains(&"Path=/"), "{set}");
    (
        parts[0].to_owned(),
        a.headers[CSRF_HEADER].to_str().unwrap().to_owned(),
    )
}

#[tokio::test(start_paused = true)]
async fn form_login_session_csrf_and_logout() {
    let env = env().await;
    let (cookie, csrf) = session(&login(&env, "root", PASSWORD).await);
    // The session id is kept hashed only.
    let id = cookie.trim_start_matches("JSESSIONID=");
    assert_eq!(env.state.sessions.len(), 1);
    assert!(!format!("{:?}", env.state.sessions).contains(id));

    let a = env
        .call(Method::GET, "/api/59/user/info")
        .header("cookie", &format!("other=1; {cookie}"))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.json()["login"], "root");
    // Every cookie-authenticated answer carries the CSRF token.
    assert_eq!(a.headers[CSRF_HEADER], csrf.as_str());

    // A change by cookie needs the CSRF token.
    let create = |csrf: Option<&str>| {
        let mut c = env
            .call(Method::POST, "/api/59/projects")
            .header("cookie", &cookie)
            .json(r#"{"name":"by-cookie"}"#);
        if let Some(t) = csrf {
            c = c.header(CSRF_HEADER, t);
        }
        c.send()
    };
    create(None)
        .await
        .error(StatusCode::FORBIDDEN, "api.error.csrf");
    create(Some("wrong"))
        .await
        .error(StatusCode::FORBIDDEN, "api.error.csrf");
    assert!(env.store.get_project("by-cookie").await.unwrap().is_none());
    assert_eq!(create(Some(&csrf)).await.status, StatusCode::CREATED);
    // A token request needs no CSRF token.
    let a = env
        .call(Method::POST, "/api/59/projects")
        .token(ADMIN)
        .json(r#"{"name":"by-token"}"#)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED);

    // Idle sessions end.
    tokio::time::advance(std::time::Duration::from_secs(29 * 60)).await;
    let me = || {
        env.call(Method::GET, "/api/59/user/info")
            .header("cookie", &cookie)
            .send()
    };
    assert_eq!(me().await.status, StatusCode::OK);
    tokio::time::advance(std::time::Duration::from_secs(31 * 60)).await;
    me().await
        .error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");

    // Logout ends the session and clears the cookie.
    let (cookie, _) = session(&login(&env, "olga", PASSWORD).await);
    let a = env
        .call(Method::GET, "/user/logout")
        .header("cookie", &cookie)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::FOUND);
    assert!(a.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    env.call(Method::GET, "/api/59/user/info")
        .header("cookie", &cookie)
        .send()
        .await
        .error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");

    let logins = env.audit("login", "session").await;
    assert_eq!(logins.len(), 2);
    assert_eq!(env.audit("logout", "session").await[0].user, "olga");
}

#[tokio::test(start_paused = true)]
async fn sessions_end_at_their_maximum_age_even_when_used() {
    let env = env().await;
    let (cookie, _) = session(&login(&env, "root", PASSWORD).await);
    for _ in 0..24 {
        tokio::time::advance(std::time::Duration::from_secs(29 * 60)).await;
        let a = env
            .call(Method::GET, "/api/59/user/info")
            .header("cookie", &cookie)
            .send()
            .await;
        assert_eq!(a.status, StatusCode::OK);
    }
    tokio::time::advance(std::time::Duration::from_secs(29 * 60)).await;
    let a = env
        .call(Method::GET, "/api/59/user/info")
        .header("cookie", &cookie)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn failed_logins_redirect_to_the_error_page_and_are_audited() {
    let env = env().await;
    for (user, password) in [
        ("root", "wrong"),
        ("root", ""),
        ("ghost", PASSWORD),
        ("", PASSWORD),
        (&"u".repeat(5000), PASSWORD),
    ] {
        let a = login(&env, user, password).await;
        assert_eq!(a.status, StatusCode::FOUND, "{user}");
        assert_eq!(a.headers["location"], "/user/error");
        assert!(a.headers.get("set-cookie").is_none());
    }
    // Malformed forms too.
    for body in ["j_username=root", "%zz", ""] {
        let a = env
            .call(Method::POST, "/j_security_check")
            .body("application/x-www-form-urlencoded", body)
            .send()
            .await;
        assert_eq!(a.headers["location"], "/user/error", "{body}");
    }
    let failed = env.audit("login_failed", "session").await;
    assert_eq!(failed.len(), 5);
    assert!(failed
        .iter()
        .all(|e| !e.detail.to_string().contains(PASSWORD)));
    assert!(failed.iter().any(|e| e.user == "ghost"));
    assert!(env.state.sessions.is_empty());
    // A user without a password cannot log in.
    let mut u = env.store.get_user("olga").await.unwrap().unwrap();
    u.password_hash = None;
    env.store.put_user(&u).await.unwrap();
    assert_eq!(
        login(&env, "olga", PASSWORD).await.headers["location"],
        "/user/error"
    );
}

#[tokio::test(start_paused = true)]
async fn repeated_failures_for_a_user_are_refused_for_a_while() {
    let env = env().await;
    let free = env.state.login_throttle.user_failures;
    for _ in 0..free {
        assert_eq!(
            login(&env, "root", "wrong").await.headers["location"],
            "/user/error"
        );
    }
    // the right password no longer gets in, and is not even checked
    let a = login(&env, "root", PASSWORD).await;
    assert_eq!(a.headers["location"], "/user/error");
    assert!(a.headers.get("set-cookie").is_none());
    let failed = env.audit("login_failed", "session").await;
    assert_eq!(failed.len(), free as usize + 1);
    assert!(failed
        .iter()
        .any(|e| e.detail.to_string().contains("too many failed logins")));
    // another user is not affected
    session(&login(&env, "olga", PASSWORD).await);
    // after the refusal it works, and the count starts over
    tokio::time::advance(std::time::Duration::from_secs(1)).await;
    session(&login(&env, "root", PASSWORD).await);
    assert_eq!(
        env.state.login_throttle.check("root", None),
        crate::throttle::Verdict::Try
    );
}
