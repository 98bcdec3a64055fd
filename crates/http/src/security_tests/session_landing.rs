//! Where a form login lands, and Rundeck's metrics servlet at the root
//! (`/metrics/metrics`, `/metrics/ping`, `/metrics/healthcheck`), which
//! clients logged in by session ask for without the `/api/{v}` prefix.

use super::*;

/// Logs in as a client does: the session cookie and where it is sent.
async fn login(env: &Env, user: &str) -> (String, String) {
    let a = env
        .call(Method::POST, "/j_security_check")
        .body(
            "application/x-www-form-urlencoded",
            format!(
                "j_username={user}&j_password={}",
                PASSWORD.replace(' ', "+")
            ),
        )
        .send()
        .await;
    assert_eq!(a.status, StatusCode::FOUND, "{}", a.body);
    let cookie = a.headers["set-cookie"].to_str().unwrap();
    let cookie = cookie.split("; ").next().unwrap().to_owned();
    let location = a.headers["location"].to_str().unwrap().to_owned();
    (cookie, location)
}

#[tokio::test]
async fn a_login_lands_on_an_answer_for_its_session() {
    let env = env().await;
    let (cookie, location) = login(&env, "root").await;
    // python-rundeck 2.0 follows the redirect and takes the login as failed
    // when it ends on /user/login or /user/error, or at a status >= 400
    assert!(
        !location.contains("/user/login") && !location.contains("/user/error"),
        "{location}"
    );
    let a = env
        .call(Method::GET, &location)
        .header("cookie", &cookie)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{location}: {}", a.body);
    assert_eq!(a.json()["login"], "root", "{}", a.body);
    // the same place without the session is refused, not a page for anyone
    let a = env.call(Method::GET, &location).send().await;
    a.error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
    // a failed login still lands on Rundeck's error page
    let a = env
        .call(Method::POST, "/j_security_check")
        .body(
            "application/x-www-form-urlencoded",
            "j_username=root&j_password=wrong",
        )
        .send()
        .await;
    assert_eq!(a.headers["location"], "/user/error");
}

#[tokio::test]
async fn the_metrics_servlet_answers_at_the_root_as_under_the_api() {
    let env = env().await;
    let (root, _) = login(&env, "root").await;
    let (olga, _) = login(&env, "olga").await;
    for (path, api) in [
        ("/metrics/metrics", "/api/59/metrics/metrics"),
        ("/metrics/ping", "/api/59/metrics/ping"),
        ("/metrics/healthcheck", "/api/59/metrics/healthcheck"),
        ("/metrics/threads", "/api/59/metrics/threads"),
    ] {
        let by_api = env.call(Method::GET, api).token(ADMIN).send().await;
        assert_eq!(by_api.status, StatusCode::OK, "{api}: {}", by_api.body);
        // by session, as rundeck-exporter asks, and by token
        let by_session = env
            .call(Method::GET, path)
            .header("cookie", &root)
            .send()
            .await;
        let by_token = env.call(Method::GET, path).token(ADMIN).send().await;
        for a in [&by_session, &by_token] {
            assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
            assert_eq!(
                a.headers.get("content-type"),
                by_api.headers.get("content-type"),
                "{path}"
            );
        }
        if path == "/metrics/ping" {
            assert_eq!(by_session.body, "pong");
        } else if path == "/metrics/threads" {
            // a dump of the process's threads, like the API's
            assert!(
                by_session.body.starts_with("Foredeck thread list"),
                "{path}: {}",
                by_session.body
            );
        } else {
            // the same document (figures move between calls: compare keys)
            let keys = |v: Value| {
                let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
                k.sort();
                k
            };
            assert_eq!(keys(by_session.json()), keys(by_api.json()), "{path}");
        }
        // the same authorization: nobody without read on the system
        env.call(Method::GET, path)
            .header("cookie", &olga)
            .send()
            .await
            .error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
        env.call(Method::GET, path)
            .token(NOBODY)
            .send()
            .await
            .error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
        env.call(Method::GET, path)
            .send()
            .await
            .error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
    }
    let a = env
        .call(Method::GET, "/metrics/metrics")
        .header("cookie", &root)
        .send()
        .await;
    let v = a.json();
    assert!(v["gauges"].is_object() && v["timers"].is_object(), "{v}");
}
