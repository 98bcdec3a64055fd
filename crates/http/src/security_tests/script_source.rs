//! A script node source (`resources.source.N.type=script`) runs a command
//! on the server: only an admin may add, change or remove one, through any
//! route that writes a project's configuration.

use super::*;

/// ops may configure project `dev` and create projects, but is no admin.
const OPS_CONFIGURES: &str = "description: ops configures dev\ncontext:\n  application: rundeck\nfor:\n  project:\n    - equals: {name: dev}\n      allow: [read, configure]\n  resource:\n    - equals: {kind: project}\n      allow: [create]\nby:\n  group: ops\n";

async fn config(env: &Env) -> std::collections::BTreeMap<String, String> {
    env.store.get_project("dev").await.unwrap().unwrap().config
}

async fn put_key(env: &Env, token: &str, key: &str, value: &str) -> Answer {
    env.call(Method::PUT, &format!("/api/59/project/dev/config/{key}"))
        .token(token)
        .json(&serde_json::json!({ "value": value }).to_string())
        .send()
        .await
}

/// A refusal that says what is wrong (a script source, only an admin) and
/// where (the source's key).
fn refused(a: &Answer, key: &str) {
    a.error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
    let msg = a.json()["message"].as_str().unwrap().to_owned();
    assert!(msg.contains(key), "{msg}");
    assert!(msg.contains("script"), "{msg}");
    assert!(msg.contains("admin"), "{msg}");
}

#[tokio::test]
async fn only_an_admin_configures_a_script_node_source() {
    let env = env().await;
    let a = env
        .call(Method::POST, "/api/59/projects")
        .token(ADMIN)
        .json(r#"{"name":"dev"}"#)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    grant(&env, "ops.aclpolicy", OPS_CONFIGURES).await;
    let before = config(&env).await;

    // one key at a time
    let a = put_key(&env, OPS, "resources.source.1.type", "script").await;
    refused(&a, "resources.source.1");
    // the whole configuration
    let a = env
        .call(Method::PUT, "/api/59/project/dev/config")
        .token(OPS)
        .json(
            r#"{"resources.source.3.type":"script","resources.source.3.config.command":"touch /tmp/pwned"}"#,
        )
        .send()
        .await;
    refused(&a, "resources.source.3");
    // a new project with one
    let a = env
        .call(Method::POST, "/api/59/projects")
        .token(OPS)
        .json(r#"{"name":"ops-new","config":{"resources.source.1.type":" Script ","resources.source.1.config.command":"id"}}"#)
        .send()
        .await;
    refused(&a, "resources.source.1");
    assert!(env.store.get_project("ops-new").await.unwrap().is_none());
    assert_eq!(config(&env).await, before, "nothing changed");

    // an admin may; then ops may neither change nor remove its keys
    for (k, v) in [
        ("resources.source.1.type", "script"),
        (
            "resources.source.1.config.command",
            "cat /etc/foredeck/nodes.yaml",
        ),
    ] {
        let a = put_key(&env, ADMIN, k, v).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
    let set = config(&env).await;
    let a = put_key(
        &env,
        OPS,
        "resources.source.1.config.command",
        "touch /tmp/pwned",
    )
    .await;
    refused(&a, "resources.source.1");
    let a = put_key(&env, OPS, "resources.source.1.config.args", "x").await;
    refused(&a, "resources.source.1");
    let a = env
        .call(
            Method::DELETE,
            "/api/59/project/dev/config/resources.source.1.config.command",
        )
        .token(OPS)
        .send()
        .await;
    refused(&a, "resources.source.1");
    // turning it into a file source is a change of a script source too
    let a = put_key(&env, OPS, "resources.source.1.type", "file").await;
    refused(&a, "resources.source.1");
    assert_eq!(config(&env).await, set, "nothing changed");

    // everything else stays ops's to configure, the script source kept as is
    let a = put_key(&env, OPS, "project.description", "dev things").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = put_key(&env, OPS, "resources.source.2.type", "file").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let mut whole = config(&env).await;
    whole.insert("project.label".into(), "Dev".into());
    let a = env
        .call(Method::PUT, "/api/59/project/dev/config")
        .token(OPS)
        .json(&serde_json::to_string(&whole).unwrap())
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(config(&env).await, whole);
}
