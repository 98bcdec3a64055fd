//! A subject without grants, and a client without credentials, on every route
//! of this area: 403 or 404, nothing changed, nothing leaked.

use super::*;

/// Method, URI, and an optional (content type, body).
type Route<'a> = (Method, String, Option<(&'a str, &'a str)>);

#[tokio::test]
async fn no_grants_no_access_no_leaks() {
    let env = env().await;
    env.call(Method::POST, "/api/59/projects")
        .token(ADMIN)
        .json(r#"{"name":"hidden-project"}"#)
        .send()
        .await;
    grant(
        &env,
        "secret-policy-name.aclpolicy",
        "description: secret-description\ncontext: {application: rundeck}\nfor: {project: [{allow: read}]}\nby: {group: secret-group}\n",
    )
    .await;
    let a = env
        .call(
            Method::POST,
            "/api/59/project/hidden-project/acl/p-secret.aclpolicy",
        )
        .token(ADMIN)
        .body(
            "application/yaml",
            "for: {job: [{allow: run}]}\nby: {group: secret-group}\n",
        )
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let a = env
        .call(Method::POST, "/api/59/storage/keys/secret-dir/key.pass")
        .token(ADMIN)
        .body("application/x-rundeck-data-password", "pw-value-secret")
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let a = env
        .call(Method::POST, "/api/59/tokens/secret-user")
        .token(ADMIN)
        .json(r#"{"roles":["secret-role"]}"#)
        .send()
        .await;
    let token_id = a.json()["id"].as_str().unwrap().to_owned();
    let leaks = [
        "secret-policy-name",
        "secret-description",
        "secret-group",
        "p-secret",
        "secret-dir",
        "pw-value-secret",
        "secret-user",
        "secret-role",
        token_id.as_str(),
        ADMIN,
    ];
    let policy =
        "context: {application: rundeck}\nfor: {project: [{allow: '*'}]}\nby: {group: dev}\n";
    let routes: Vec<Route> = vec![
        (Method::GET, "/api/59/system/acl/".into(), None),
        (Method::GET, "/api/59/system/acl".into(), None),
        (
            Method::GET,
            "/api/59/system/acl/secret-policy-name.aclpolicy".into(),
            None,
        ),
        (
            Method::POST,
            "/api/59/system/acl/mine.aclpolicy".into(),
            Some(("application/yaml", policy)),
        ),
        (
            Method::PUT,
            "/api/59/system/acl/secret-policy-name.aclpolicy".into(),
            Some(("application/yaml", policy)),
        ),
        (
            Method::DELETE,
            "/api/59/system/acl/secret-policy-name.aclpolicy".into(),
            None,
        ),
        (
            Method::GET,
            "/api/59/project/hidden-project/acl/".into(),
            None,
        ),
        (
            Method::GET,
            "/api/59/project/hidden-project/acl/p-secret.aclpolicy".into(),
            None,
        ),
        (
            Method::POST,
            "/api/59/project/hidden-project/acl/mine.aclpolicy".into(),
            Some((
                "application/yaml",
                "for: {job: [{allow: '*'}]}\nby: {group: dev}\n",
            )),
        ),
        (
            Method::PUT,
            "/api/59/project/hidden-project/acl/p-secret.aclpolicy".into(),
            Some(("application/yaml", policy)),
        ),
        (
            Method::DELETE,
            "/api/59/project/hidden-project/acl/p-secret.aclpolicy".into(),
            None,
        ),
        (Method::GET, "/api/59/storage/keys".into(), None),
        (Method::GET, "/api/59/storage/keys/".into(), None),
        (Method::GET, "/api/59/storage/keys/secret-dir/".into(), None),
        (
            Method::GET,
            "/api/59/storage/keys/secret-dir/key.pass".into(),
            None,
        ),
        (
            Method::POST,
            "/api/59/storage/keys/mine.pub".into(),
            Some(("application/pgp-keys", "ssh-ed25519 A")),
        ),
        (
            Method::PUT,
            "/api/59/storage/keys/secret-dir/key.pass".into(),
            Some(("application/x-rundeck-data-password", "x")),
        ),
        (
            Method::DELETE,
            "/api/59/storage/keys/secret-dir/key.pass".into(),
            None,
        ),
        (
            Method::POST,
            "/api/59/tokens".into(),
            Some(("application/json", r#"{"user":"nobody","roles":["dev"]}"#)),
        ),
        (
            Method::POST,
            "/api/59/tokens/root".into(),
            Some(("application/json", r#"{"roles":["admin"]}"#)),
        ),
        (Method::GET, "/api/59/tokens/secret-user".into(), None),
        (Method::GET, format!("/api/59/token/{token_id}"), None),
        (Method::DELETE, format!("/api/59/token/{token_id}"), None),
        (Method::GET, "/api/59/user/list".into(), None),
        (Method::GET, "/api/59/user/info/root".into(), None),
    ];
    for credentials in [Some(NOBODY), None] {
        for (method, uri, body) in &routes {
            let mut c = env.call(method.clone(), uri);
            if let Some(t) = credentials {
                c = c.token(t);
            }
            if let Some((ctype, b)) = body {
                c = c.body(ctype, *b);
            }
            let a = c.send().await;
            assert!(
                a.status == StatusCode::FORBIDDEN || a.status == StatusCode::NOT_FOUND,
                "{method} {uri} ({credentials:?}): {} {}",
                a.status,
                a.body
            );
            // what the caller sent (an id or path in the URL) may be
            // echoed; anything else is a leak
            let sent =
                |leak: &str| uri.contains(leak) || body.is_some_and(|(_, b)| b.contains(leak));
            for leak in leaks.iter().filter(|l| !sent(l)) {
                assert!(
                    !a.body.contains(leak),
                    "{method} {uri} leaks {leak}: {}",
                    a.body
                );
            }
        }
    }
    // Lists open to everyone show nothing of others.
    for uri in ["/api/59/tokens", "/api/59/user/info"] {
        let a = env.call(Method::GET, uri).token(NOBODY).send().await;
        assert_eq!(a.status, StatusCode::OK);
        for leak in &leaks {
            assert!(!a.body.contains(leak), "{uri} leaks {leak}: {}", a.body);
        }
    }
    // Nothing changed.
    assert_eq!(env.store.list_acl_policies(None).await.unwrap().len(), 1);
    assert_eq!(
        env.store
            .list_acl_policies(Some("hidden-project"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(env.store.list_keys("keys/").await.unwrap().len(), 1);
    assert_eq!(env.store.list_tokens(None).await.unwrap().len(), 4);
}
