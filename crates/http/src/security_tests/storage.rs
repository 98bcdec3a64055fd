//! `/api/{v}/storage/keys/...`.

use super::*;

const PRIVATE_KEY: &str =
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-private-material\n-----END OPENSSH PRIVATE KEY-----\n";
const PASSWORD_VALUE: &str = "db-password-s3cr3t";
const PUBLIC_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPublic ops@example";

async fn upload(env: &Env, method: Method, path: &str, ctype: &str, body: &str) -> Answer {
    env.call(method, &format!("/api/59/storage/keys/{path}"))
        .token(ADMIN)
        .header("host", "fd.example:4440")
        .body(ctype, body)
        .send()
        .await
}

#[tokio::test]
async fn keys_upload_list_read_and_delete() {
    let env = env().await;
    let a = upload(
        &env,
        Method::POST,
        "ops/db.pem",
        "application/octet-stream",
        PRIVATE_KEY,
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let v = a.json();
    assert_eq!(v["path"], "keys/ops/db.pem");
    assert_eq!(v["name"], "db.pem");
    assert_eq!(v["type"], "file");
    assert_eq!(
        v["url"],
        "http://fd.example:4440/api/59/storage/keys/ops/db.pem"
    );
    assert_eq!(v["meta"]["Rundeck-key-type"], "private");
    assert_eq!(v["meta"]["Rundeck-content-mask"], "content");
    assert_eq!(
        v["meta"]["Rundeck-content-size"],
        PRIVATE_KEY.len().to_string()
    );
    assert!(!a.body.contains("private-material"));
    let a = upload(
        &env,
        Method::POST,
        "ops/db.pass",
        "application/x-rundeck-data-password",
        PASSWORD_VALUE,
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.json()["meta"]["Rundeck-key-type"], "password");
    let a = upload(
        &env,
        Method::POST,
        "id.pub",
        "application/pgp-keys",
        PUBLIC_KEY,
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);

    // Stored encrypted.
    let raw = env
        .store
        .get_key("keys/ops/db.pass")
        .await
        .unwrap()
        .unwrap();
    assert!(!raw
        .ciphertext
        .windows(PASSWORD_VALUE.len())
        .any(|w| w == PASSWORD_VALUE.as_bytes()));

    // Listing: a directory and a file at the root, never content.
    let a = env
        .call(Method::GET, "/api/59/storage/keys")
        .token(ADMIN)
        .send()
        .await;
    let v = a.json();
    assert_eq!(v["path"], "keys");
    assert_eq!(v["type"], "directory");
    let kinds: Vec<String> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["type"].as_str().unwrap(),
                r["path"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(kinds, ["directory keys/ops", "file keys/id.pub"]);
    let a = env
        .call(Method::GET, "/api/59/storage/keys/ops/")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.json()["resources"].as_array().unwrap().len(), 2);
    assert!(!a.body.contains(PASSWORD_VALUE) && !a.body.contains("private-material"));

    // Metadata as JSON; public content on request; secrets never.
    let a = env
        .call(Method::GET, "/api/59/storage/keys/ops/db.pem")
        .token(ADMIN)
        .header("accept", "application/json")
        .send()
        .await;
    assert_eq!(a.json()["meta"]["Rundeck-key-type"], "private");
    let a = env
        .call(Method::GET, "/api/59/storage/keys/id.pub")
        .token(ADMIN)
        .header("accept", "application/pgp-keys")
        .send()
        .await;
    assert_eq!((a.status, a.body.as_str()), (StatusCode::OK, PUBLIC_KEY));
    for (path, accept) in [
        ("ops/db.pem", "*/*"),
        ("ops/db.pem", "application/octet-stream"),
        ("ops/db.pass", "application/x-rundeck-data-password"),
        ("ops/db.pass", "*/*"),
    ] {
        let a = env
            .call(Method::GET, &format!("/api/59/storage/keys/{path}"))
            .token(ADMIN)
            .header("accept", accept)
            .send()
            .await;
        a.error(StatusCode::FORBIDDEN, "api.error.resource.unauthorized");
        assert!(!a.body.contains(PASSWORD_VALUE) && !a.body.contains("private-material"));
    }

    // POST over an existing key conflicts; PUT replaces; PUT of a missing key is 404.
    upload(
        &env,
        Method::POST,
        "id.pub",
        "application/pgp-keys",
        PUBLIC_KEY,
    )
    .await
    .error(StatusCode::CONFLICT, "api.error.item.alreadyexists");
    let a = upload(
        &env,
        Method::PUT,
        "id.pub",
        "application/pgp-keys",
        "ssh-ed25519 BBBB",
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    upload(
        &env,
        Method::PUT,
        "none.pub",
        "application/pgp-keys",
        PUBLIC_KEY,
    )
    .await
    .error(StatusCode::NOT_FOUND, "api.error.item.doesnotexist");
    // A directory cannot become a key.
    upload(
        &env,
        Method::POST,
        "ops",
        "application/pgp-keys",
        PUBLIC_KEY,
    )
    .await
    .error(StatusCode::CONFLICT, "api.error.item.alreadyexists");

    let a = env
        .call(Method::DELETE, "/api/59/storage/keys/ops/db.pem")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    env.call(Method::DELETE, "/api/59/storage/keys/ops/db.pem")
        .token(ADMIN)
        .send()
        .await
        .error(StatusCode::NOT_FOUND, "api.error.item.doesnotexist");
    env.call(Method::GET, "/api/59/storage/keys/nothing/here")
        .token(ADMIN)
        .send()
        .await
        .error(StatusCode::NOT_FOUND, "api.error.item.doesnotexist");

    assert_eq!(env.audit("create", "key").await.len(), 3);
    assert_eq!(env.audit("update", "key").await.len(), 1);
    let deleted = env.audit("delete", "key").await;
    assert_eq!(deleted[0].resource, "keys/ops/db.pem");
    assert_eq!(deleted[0].user, "root");
}

#[tokio::test]
async fn bad_paths_and_content_types_are_refused() {
    let env = env().await;
    for path in [
        "../etc/passwd",
        "a/../b",
        "a/./b",
        "a//b",
        "%2e%2e/x",
        "a/%2E%2E/b",
        "a%2F..%2Fb",
        "a%00b",
        "a%20b",
        "a%5Cb",
    ] {
        for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
            let a = env
                .call(method.clone(), &format!("/api/59/storage/keys/{path}"))
                .token(ADMIN)
                .body("application/pgp-keys", PUBLIC_KEY)
                .send()
                .await;
            a.error(StatusCode::BAD_REQUEST, "api.error.invalid.request");
        }
    }
    for ctype in ["text/plain", "application/json", ""] {
        upload(&env, Method::POST, "k", ctype, "x")
            .await
            .error(StatusCode::BAD_REQUEST, "api.error.invalid.request");
    }
    upload(&env, Method::POST, "empty", "application/pgp-keys", "")
        .await
        .error(StatusCode::BAD_REQUEST, "api.error.invalid.request");
    let big = "x".repeat(foredeck_store::keys::MAX_SECRET_BYTES + 1);
    upload(&env, Method::POST, "big", "application/octet-stream", &big)
        .await
        .error(StatusCode::BAD_REQUEST, "api.error.invalid.request");
    assert!(env.store.list_keys("keys/").await.unwrap().is_empty());
}

#[tokio::test]
async fn storage_grants_by_path() {
    let env = env().await;
    upload(
        &env,
        Method::POST,
        "ops/a.pub",
        "application/pgp-keys",
        PUBLIC_KEY,
    )
    .await;
    upload(
        &env,
        Method::POST,
        "dev/b.pub",
        "application/pgp-keys",
        PUBLIC_KEY,
    )
    .await;
    grant(
        &env,
        "ops-keys.aclpolicy",
        "description: test\ncontext: {application: rundeck}\nfor:\n  storage:\n    - match: {path: 'keys(/ops(/.*)?)?'}\n      allow: [read, create]\nby: {group: ops}\n",
    )
    .await;
    let a = env
        .call(Method::GET, "/api/59/storage/keys")
        .token(OPS)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.body.contains("keys/ops") && !a.body.contains("keys/dev"),
        "{}",
        a.body
    );
    env.call(Method::GET, "/api/59/storage/keys/dev/b.pub")
        .token(OPS)
        .send()
        .await
        .error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
    let a = env
        .call(Method::POST, "/api/59/storage/keys/ops/c.pub")
        .token(OPS)
        .body("application/pgp-keys", PUBLIC_KEY)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    env.call(Method::DELETE, "/api/59/storage/keys/ops/c.pub")
        .token(OPS)
        .send()
        .await
        .error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
    env.call(Method::POST, "/api/59/storage/keys/dev/c.pub")
        .token(OPS)
        .body("application/pgp-keys", PUBLIC_KEY)
        .send()
        .await
        .error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
}
