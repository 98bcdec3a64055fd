//! `/api/{v}/system/acl/...` and `/api/{v}/project/{p}/acl/...`.

use super::*;

const OPS_READS_PROJECTS: &str = "description: ops may read projects\ncontext:\n  application: rundeck\nfor:\n  project:\n    - allow: read\nby:\n  group: ops\n";

#[tokio::test]
async fn system_policies_create_get_list_update_delete_and_take_effect() {
    let env = env().await;
    // Without a policy the ops token may not read the project.
    env.call(Method::POST, "/api/59/projects")
        .token(ADMIN)
        .json(r#"{"name":"ops"}"#)
        .send()
        .await;
    let read = || {
        env.call(Method::GET, "/api/59/project/ops")
            .token(OPS)
            .send()
    };
    assert_eq!(read().await.status, StatusCode::FORBIDDEN);

    let a = env
        .call(Method::POST, "/api/59/system/acl/ops.aclpolicy")
        .token(ADMIN)
        .body("application/yaml", OPS_READS_PROJECTS)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.json()["contents"], OPS_READS_PROJECTS);
    // In force at once.
    assert_eq!(read().await.status, StatusCode::OK);

    let a = env
        .call(Method::GET, "/api/59/system/acl/ops.aclpolicy")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.json()["contents"], OPS_READS_PROJECTS);
    let a = env
        .call(Method::GET, "/api/59/system/acl/ops.aclpolicy")
        .token(ADMIN)
        .header("accept", "application/yaml")
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, OPS_READS_PROJECTS);
    assert!(a.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/yaml"));

    let a = env
        .call(Method::GET, "/api/59/system/acl/")
        .token(ADMIN)
        .send()
        .await;
    let v = a.json();
    assert_eq!(v["type"], "directory");
    assert_eq!(v["path"], "");
    assert_eq!(v["resources"][0]["name"], "ops.aclpolicy");
    assert_eq!(v["resources"][0]["type"], "file");
    assert_eq!(
        v["resources"][0]["href"],
        "/api/59/system/acl/ops.aclpolicy"
    );

    // Creating again conflicts; updating a missing one is 404.
    env.call(Method::POST, "/api/59/system/acl/ops.aclpolicy")
        .token(ADMIN)
        .body("application/yaml", OPS_READS_PROJECTS)
        .send()
        .await
        .error(StatusCode::CONFLICT, "api.error.item.alreadyexists");
    env.call(Method::PUT, "/api/59/system/acl/none.aclpolicy")
        .token(ADMIN)
        .body("application/yaml", OPS_READS_PROJECTS)
        .send()
        .await
        .error(StatusCode::NOT_FOUND, "api.error.item.doesnotexist");

    // Update through JSON: ops loses read on this project by a deny.
    let denied = format!(
        "{OPS_READS_PROJECTS}---\ndescription: not ops\ncontext: {{application: rundeck}}\nfor:\n  project:\n    - equals: {{name: ops}}\n      deny: read\nby: {{group: ops}}\n"
    );
    let a = env
        .call(Method::PUT, "/api/59/system/acl/ops.aclpolicy")
        .token(ADMIN)
        .json(&serde_json::json!({ "contents": denied }).to_string())
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(read().await.status, StatusCode::FORBIDDEN);

    let a = env
        .call(Method::DELETE, "/api/59/system/acl/ops.aclpolicy")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    env.call(Method::DELETE, "/api/59/system/acl/ops.aclpolicy")
        .token(ADMIN)
        .send()
        .await
        .error(StatusCode::NOT_FOUND, "api.error.item.doesnotexist");
    assert_eq!(read().await.status, StatusCode::FORBIDDEN);

    // Every change was audited with who and what.
    for action in ["create", "update", "delete"] {
        let events = env.audit(action, "acl_policy").await;
        assert_eq!(events.len(), 1, "{action}");
        assert_eq!(events[0].user, "root");
        assert_eq!(events[0].resource, "ops.aclpolicy");
        assert_eq!(events[0].project, None);
    }
}

#[tokio::test]
async fn invalid_policies_get_rundecks_validation_body() {
    let env = env().await;
    let a = env
        .call(Method::POST, "/api/59/system/acl/bad.aclpolicy")
        .token(ADMIN)
        .body(
            "application/yaml",
            format!("{OPS_READS_PROJECTS}---\ndescription: no for\ncontext: {{application: rundeck}}\nby: {{group: x}}\n"),
        )
        .send()
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    let v = a.json();
    assert_eq!(v["valid"], false);
    assert_eq!(v["policies"][0]["policy"], "bad.aclpolicy[2]");
    assert_eq!(v["policies"][0]["errors"][0], "Section 'for:' is required");
    assert_eq!(v["policies"].as_array().unwrap().len(), 1);

    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 0..12 {
        let prev = if i == 0 {
            "a".to_owned()
        } else {
            format!("b{}", i - 1)
        };
        bomb.push_str(&format!(
            "b{i}: &b{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    for text in ["for: [}\n", bomb.as_str(), "", "just text"] {
        let a = env
            .call(Method::POST, "/api/59/system/acl/bad.aclpolicy")
            .token(ADMIN)
            .body("text/plain", text)
            .send()
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{text}: {}", a.body);
        assert_eq!(a.json()["valid"], false, "{}", a.body);
    }
    for (ctype, body, status) in [
        (
            "application/json",
            r#"{"contents": 1}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            "application/json",
            r#"{"contents""#,
            StatusCode::BAD_REQUEST,
        ),
        (
            "application/json",
            r#"{"other": "x"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            "application/xml",
            "<policy/>",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ] {
        let a = env
            .call(Method::POST, "/api/59/system/acl/bad.aclpolicy")
            .token(ADMIN)
            .body(ctype, body)
            .send()
            .await;
        a.error(status, "api.error.invalid.request");
    }
    for name in [
        "..",
        "..%2Fx.aclpolicy",
        ".hidden.aclpolicy",
        "x.yaml",
        "a%20b.aclpolicy",
    ] {
        let a = env
            .call(Method::POST, &format!("/api/59/system/acl/{name}"))
            .token(ADMIN)
            .body("application/yaml", OPS_READS_PROJECTS)
            .send()
            .await;
        assert!(
            a.status == StatusCode::BAD_REQUEST || a.status == StatusCode::NOT_FOUND,
            "{name}: {} {}",
            a.status,
            a.body
        );
    }
    // Nothing was stored.
    assert!(env.store.list_acl_policies(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn project_policies() {
    let env = env().await;
    env.call(Method::POST, "/api/59/projects")
        .token(ADMIN)
        .json(r#"{"name":"web"}"#)
        .send()
        .await;
    let base = "/api/59/project/web/acl";
    let policy = "description: ops runs jobs in web\nfor:\n  job:\n    - allow: [read, run]\nby:\n  group: ops\n";
    let a = env
        .call(Method::POST, &format!("{base}/jobs.aclpolicy"))
        .token(ADMIN)
        .body("application/yaml", policy)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let ctx = foredeck_core::AuthContext::Project("web".into());
    let ops = foredeck_core::Subject::new("olga", ["ops"]);
    let job = foredeck_core::Resource::new("job").with("name", "deploy");
    assert!(env.state.authorizer.allowed(&ops, "run", &job, &ctx));
    assert!(!env.state.authorizer.allowed(
        &ops,
        "run",
        &job,
        &foredeck_core::AuthContext::Project("other".into())
    ));

    // A project policy may not speak for other projects or the application.
    for bad in [
        "description: test\ncontext: {project: '.*'}\nfor: {job: [{allow: run}]}\nby: {group: ops}\n",
        "description: test\ncontext: {application: rundeck}\nfor: {job: [{allow: run}]}\nby: {group: ops}\n",
    ] {
        let a = env
            .call(Method::POST, &format!("{base}/bad.aclpolicy"))
            .token(ADMIN)
            .body("application/yaml", bad)
            .send()
            .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
        assert_eq!(a.json()["policies"][0]["policy"], "bad.aclpolicy[1]");
    }
    let a = env
        .call(Method::GET, &format!("{base}/"))
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.json()["resources"].as_array().unwrap().len(), 1);
    assert_eq!(
        a.json()["resources"][0]["href"],
        "/api/59/project/web/acl/jobs.aclpolicy"
    );
    env.call(Method::GET, "/api/59/project/nope/acl/")
        .token(ADMIN)
        .send()
        .await
        .error(StatusCode::NOT_FOUND, "api.error.item.doesnotexist");

    // project_acl grants: ops may read web's policies but not change them.
    grant(
        &env,
        "ops-acl.aclpolicy",
        "description: test\ncontext: {application: rundeck}\nfor:\n  project_acl:\n    - equals: {name: web}\n      allow: read\nby: {group: ops}\n",
    )
    .await;
    let a = env
        .call(Method::GET, &format!("{base}/jobs.aclpolicy"))
        .token(OPS)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK);
    env.call(Method::DELETE, &format!("{base}/jobs.aclpolicy"))
        .token(OPS)
        .send()
        .await
        .error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");

    let a = env
        .call(Method::DELETE, &format!("{base}/jobs.aclpolicy"))
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert!(!env.state.authorizer.allowed(&ops, "run", &job, &ctx));
    let events = env.audit("delete", "acl_policy").await;
    assert_eq!(events[0].project.as_deref(), Some("web"));
}

/// Jobs of project `web`: `public` and `private` groups, enough of them
/// for a list worth compressing.
fn web_jobs() -> String {
    let mut doc = String::new();
    for group in ["public", "private"] {
        for i in 0..20 {
            doc.push_str(&format!(
                "- name: {group}-job-{i:02}\n  group: {group}\n  sequence:\n    commands:\n      - exec: 'true'\n"
            ));
        }
    }
    doc
}

const OPS_READS_PUBLIC_JOBS: &str = "description: ops reads public jobs\ncontext:\n  project: web\nfor:\n  job:\n    - equals: {group: public}\n      allow: read\nby:\n  group: ops\n";
const OPS_READS_EVERY_JOB: &str = "description: ops reads every job\ncontext:\n  project: web\nfor:\n  job:\n    - allow: read\nby:\n  group: ops\n";

/// Whether `web`'s job list came gzip-compressed to `token`, and the names
/// in it.
async fn web_list(env: &Env, token: &str) -> (bool, Vec<String>) {
    let (status, headers, bytes) = env
        .call(Method::GET, "/api/59/project/web/jobs")
        .token(token)
        .header("accept-encoding", "gzip")
        .send_raw()
        .await;
    assert_eq!(status, StatusCode::OK);
    let gzip = headers.get("content-encoding").is_some();
    let mut text = String::new();
    if gzip {
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
            .unwrap();
    } else {
        text = String::from_utf8(bytes.to_vec()).unwrap();
    }
    let v: Value = serde_json::from_str(&text).unwrap();
    let names = v
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap().to_owned())
        .collect();
    (gzip, names)
}

#[tokio::test]
async fn job_lists_kept_for_whoever_sees_every_job_follow_policy_changes() {
    let env = env().await;
    env.call(Method::POST, "/api/59/projects")
        .token(ADMIN)
        .json(r#"{"name":"web"}"#)
        .send()
        .await;
    let a = env
        .call(Method::POST, "/api/59/project/web/jobs/import")
        .token(ADMIN)
        .body("application/yaml", web_jobs())
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let (gzip, names) = web_list(&env, ADMIN).await;
    assert!(gzip, "the admin's whole list comes compressed");
    assert_eq!(names.len(), 40);

    // ops reads the project and its public jobs: never the kept list
    grant(
        &env,
        "ops.aclpolicy",
        &format!("{OPS_READS_PROJECTS}---\n{OPS_READS_PUBLIC_JOBS}"),
    )
    .await;
    let (_, names) = web_list(&env, OPS).await;
    assert_eq!(names.len(), 20, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("public-")), "{names:?}");

    // given every job, ops gets the whole list; taken back, the part again
    grant(&env, "every.aclpolicy", OPS_READS_EVERY_JOB).await;
    let (gzip, names) = web_list(&env, OPS).await;
    assert!(gzip);
    assert_eq!(names.len(), 40);
    let a = env
        .call(Method::DELETE, "/api/59/system/acl/every.aclpolicy")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let (_, names) = web_list(&env, OPS).await;
    assert_eq!(names.len(), 20, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("public-")), "{names:?}");
    // and the admin's list is still the whole one
    assert_eq!(web_list(&env, ADMIN).await.1.len(), 40);
}
