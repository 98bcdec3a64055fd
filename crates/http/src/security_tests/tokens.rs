//! `/api/{v}/tokens` and `/api/{v}/token/{id}`.

use super::*;

#[tokio::test]
async fn admin_creates_lists_gets_and_deletes_tokens() {
    let env = env().await;
    let a = env
        .call(Method::POST, "/api/59/tokens/alice")
        .token(ADMIN)
        .json(r#"{"roles":"sre, dev","duration":"1d12h","name":"CI"}"#)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let v = a.json();
    let secret = v["token"].as_str().unwrap().to_owned();
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(v["user"], "alice");
    assert_eq!(v["creator"], "root");
    assert_eq!(v["name"], "CI");
    assert_eq!(v["roles"], serde_json::json!(["dev", "sre"]));
    assert_eq!(v["expired"], false);
    let exp = chrono::DateTime::parse_from_rfc3339(v["expiration"].as_str().unwrap()).unwrap();
    let stored = env.store.list_tokens(Some("alice")).await.unwrap();
    assert_eq!(stored.len(), 1);
    // Stored hashed: the secret is nowhere in the record.
    assert_eq!(stored[0].token_hash, hash_token(&secret));
    assert!(!format!("{stored:?}").contains(&secret));
    let lifetime = stored[0].expiration.unwrap() - stored[0].created;
    assert_eq!(lifetime, chrono::Duration::hours(36));
    assert_eq!(exp.timestamp(), stored[0].expiration.unwrap().timestamp());

    // The new token authenticates as alice with its roles.
    let a = env
        .call(Method::GET, "/api/59/user/info")
        .token(&secret)
        .send()
        .await;
    assert_eq!(a.json()["login"], "alice");

    // Listing and getting never show the secret.
    for uri in [
        "/api/59/tokens".to_owned(),
        "/api/59/tokens/alice".to_owned(),
        format!("/api/59/token/{id}"),
    ] {
        let a = env.call(Method::GET, &uri).token(ADMIN).send().await;
        assert_eq!(a.status, StatusCode::OK, "{uri}");
        assert!(a.body.contains(&id), "{uri}: {}", a.body);
        assert!(!a.body.contains(&secret), "{uri}");
        assert!(!a.body.contains("\"token\""), "{uri}: {}", a.body);
    }
    let a = env
        .call(Method::GET, "/api/59/tokens")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.json().as_array().unwrap().len(), 4);

    let a = env
        .call(Method::DELETE, &format!("/api/59/token/{id}"))
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        env.call(Method::GET, "/api/59/user/info")
            .token(&secret)
            .send()
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    env.call(Method::GET, &format!("/api/59/token/{id}"))
        .token(ADMIN)
        .send()
        .await
        .error(StatusCode::NOT_FOUND, "api.error.item.doesnotexist");

    let created = env.audit("create", "token").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].resource, id);
    assert!(!created[0].detail.to_string().contains(&secret));
    assert_eq!(env.audit("delete", "token").await.len(), 1);
}

#[tokio::test]
async fn bad_token_requests_are_refused() {
    let env = env().await;
    for (uri, body) in [
        ("/api/59/tokens", r#"{"roles":["a"]}"#),
        ("/api/59/tokens/alice", r#"{}"#),
        ("/api/59/tokens/alice", r#"{"roles":[]}"#),
        (
            "/api/59/tokens/alice",
            r#"{"roles":["a"],"duration":"10x"}"#,
        ),
        (
            "/api/59/tokens/alice",
            r#"{"roles":["a"],"duration":"-1d"}"#,
        ),
        (
            "/api/59/tokens/alice",
            r#"{"roles":["a"],"duration":"31d"}"#,
        ),
        (
            "/api/59/tokens/alice",
            r#"{"roles":["a"],"duration":"99999999999999999999y"}"#,
        ),
        ("/api/59/tokens/alice", r#"{"roles":["a"],"name":5}"#),
        ("/api/59/tokens/alice", r#"{"roles":["a"]"#),
        ("/api/59/tokens/alice", r#"{"roles":[""]}"#),
        ("/api/59/tokens/alice", r#"{"roles":"a","name":"x\u0000y"}"#),
    ] {
        let a = env
            .call(Method::POST, uri)
            .token(ADMIN)
            .json(body)
            .send()
            .await;
        a.error(StatusCode::BAD_REQUEST, "api.error.invalid.request");
    }
    assert_eq!(env.store.list_tokens(None).await.unwrap().len(), 3);
}

#[tokio::test]
async fn user_and_service_tokens_follow_rundecks_grants() {
    let env = env().await;
    let mine = r#"{"roles":"*","duration":"1h"}"#;
    // No grant: no token.
    env.call(Method::POST, "/api/59/tokens/olga")
        .token(OPS)
        .json(mine)
        .send()
        .await
        .error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
    grant(
        &env,
        "user-tokens.aclpolicy",
        "description: test\ncontext: {application: rundeck}\nfor:\n  resource:\n    - equals: {kind: apitoken}\n      allow: generate_user_token\nby: {group: ops}\n",
    )
    .await;
    // A user token: oneself, one's own roles (`*`).
    let a = env
        .call(Method::POST, "/api/59/tokens/olga")
        .token(OPS)
        .json(mine)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.json()["roles"], serde_json::json!(["ops"]));
    // Extra roles or another user make a service token: refused.
    for (uri, body) in [
        ("/api/59/tokens/olga", r#"{"roles":["ops","admin"]}"#),
        ("/api/59/tokens/mysql", r#"{"roles":["ops"]}"#),
    ] {
        env.call(Method::POST, uri)
            .token(OPS)
            .json(body)
            .send()
            .await
            .error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
    }
    // Rundeck's documented service-token policy.
    grant(
        &env,
        "service-tokens.aclpolicy",
        "description: test\ncontext: {application: rundeck}\nfor:\n  resource:\n    - equals: {kind: apitoken}\n      allow: generate_service_token\n  apitoken:\n    - allow: create\n      match: {username: '(mysql|myservice)'}\n      subset: {roles: [mysql_api_access, myservice_api_access]}\nby: {group: ops}\n",
    )
    .await;
    let a = env
        .call(Method::POST, "/api/59/tokens/mysql")
        .token(OPS)
        .json(r#"{"roles":["mysql_api_access"]}"#)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    for (uri, body) in [
        ("/api/59/tokens/mysql", r#"{"roles":["admin"]}"#),
        (
            "/api/59/tokens/postgres",
            r#"{"roles":["mysql_api_access"]}"#,
        ),
    ] {
        env.call(Method::POST, uri)
            .token(OPS)
            .json(body)
            .send()
            .await
            .error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
    }
    // Olga sees the tokens she made, not the others'.
    let a = env
        .call(Method::GET, "/api/59/tokens")
        .token(OPS)
        .send()
        .await;
    let users: Vec<String> = a
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["user"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        users.iter().all(|u| u == "olga" || u == "mysql"),
        "{users:?}"
    );
    assert!(users.contains(&"mysql".to_owned()));
    env.call(Method::GET, "/api/59/tokens/root")
        .token(OPS)
        .send()
        .await
        .error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
    env.call(Method::GET, "/api/59/token/t-admin")
        .token(OPS)
        .send()
        .await
        .error(StatusCode::NOT_FOUND, "api.error.item.doesnotexist");
    env.call(Method::DELETE, "/api/59/token/t-admin")
        .token(OPS)
        .send()
        .await
        .error(StatusCode::NOT_FOUND, "api.error.item.doesnotexist");
}

#[tokio::test]
async fn users_info_and_list() {
    let env = env().await;
    let a = env
        .call(Method::GET, "/api/59/user/info")
        .token(OPS)
        .send()
        .await;
    assert_eq!(
        a.json(),
        serde_json::json!({"login":"olga","firstName":"OLGA","lastName":null,"email":"olga@example.com"})
    );
    let a = env
        .call(Method::GET, "/api/59/user/info/olga")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.json()["email"], "olga@example.com");
    env.call(Method::GET, "/api/59/user/info/root")
        .token(OPS)
        .send()
        .await
        .error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
    env.call(Method::GET, "/api/59/user/info/ghost")
        .token(ADMIN)
        .send()
        .await
        .error(StatusCode::NOT_FOUND, "api.error.item.doesnotexist");
    let a = env
        .call(Method::GET, "/api/59/user/list")
        .token(ADMIN)
        .send()
        .await;
    let v = a.json();
    assert_eq!(v[0]["login"], "olga");
    assert_eq!(v[0]["tokens"], 1);
    assert!(v[0]["created"].as_str().unwrap().ends_with('Z'));
    assert!(!a.body.contains("passwordHash") && !a.body.contains("argon2"));
    env.call(Method::GET, "/api/59/user/list")
        .token(OPS)
        .send()
        .await
        .error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
}

#[test]
fn durations() {
    use crate::tokens::parse_duration;
    for (text, secs) in [
        ("30d", 30 * 86_400),
        ("1d12h", 129_600),
        ("90m", 5_400),
        ("45s", 45),
        ("2w", 14 * 86_400),
        ("120", 120),
    ] {
        assert_eq!(parse_duration(text).unwrap().num_seconds(), secs, "{text}");
    }
    for bad in ["d", "1x", "-1d", "99999999999999999999d", "1.5h"] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn a_token_deleted_elsewhere_is_refused_after_the_ttl() {
    // Another server of a cluster deletes the token in the shared store:
    // this server took it as current a moment ago and must stop doing so
    // once the ttl has passed.
    let env = env().await;
    let a = env
        .call(Method::POST, "/api/59/tokens/alice")
        .token(ADMIN)
        .json(r#"{"roles":"dev"}"#)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let v = a.json();
    let secret = v["token"].as_str().unwrap().to_owned();
    let info = |secret: String| {
        let env = &env;
        async move {
            env.call(Method::GET, "/api/59/user/info")
                .token(&secret)
                .send()
                .await
                .status
        }
    };
    assert_eq!(info(secret.clone()).await, StatusCode::OK);
    env.store
        .delete_token(v["id"].as_str().unwrap())
        .await
        .unwrap();
    tokio::time::sleep(crate::recent::RECENT_TTL + std::time::Duration::from_millis(100)).await;
    assert_eq!(info(secret).await, StatusCode::FORBIDDEN);
}
