//! Project configuration, resources, metrics and audit routes.

use super::*;
use foredeck_core::authorizer::{AuthContext, Decision, Resource, Subject};
use foredeck_core::{AuditQuery, Execution, ExecutionStatus};

/// Holds only the `ops` project's web nodes: `read` on project `ops`, and
/// `read` on nodes tagged `web`, nothing else.
const WEB_ONLY: &str = "token-of-the-web-team";

#[derive(Debug)]
struct TestPolicy;

impl Authorizer for TestPolicy {
    fn decide(&self, s: &Subject, action: &str, r: &Resource, c: &AuthContext) -> Decision {
        if s.groups.contains("admin") {
            return Decision::Allow;
        }
        if !s.groups.contains("web") || action != "read" {
            return Decision::Reject;
        }
        let attr = |k: &str| r.attributes.get(k).map(String::as_str);
        match (r.kind.as_str(), c) {
            ("project", AuthContext::Application) if attr("name") == Some("ops") => Decision::Allow,
            ("node", AuthContext::Project(p)) if p == "ops" => {
                if attr("tags").is_some_and(|t| t.split(',').any(|t| t == "web")) {
                    Decision::Allow
                } else {
                    Decision::Reject
                }
            }
            _ => Decision::Reject,
        }
    }
}

async fn policy_state() -> ApiState {
    let mut s = state().await;
    s.authorizer = Arc::new(TestPolicy);
    s.store
        .create_token(&ApiToken {
            id: "t-web".into(),
            token_hash: hash_token(WEB_ONLY),
            user: "webdev".into(),
            roles: vec!["web".into()],
            name: None,
            creator: "test".into(),
            created: chrono::Utc::now(),
            expiration: None,
        })
        .await
        .unwrap();
    s
}

async fn call_with(
    state: &ApiState,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, String, String) {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Body::from(body.to_owned())).unwrap();
    let (status, headers, bytes) = answer(state, req).await;
    let ctype = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, String::from_utf8(bytes.to_vec()).unwrap(), ctype)
}

fn nodes_file(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

async fn create_project(s: &ApiState, name: &str, config: Value) {
    let body = serde_json::json!({"name": name, "config": config}).to_string();
    let (status, text) = call(
        s,
        Method::POST,
        "/api/59/projects",
        Some(ADMIN),
        Some(&body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
}

fn keys(body: &str) -> Vec<String> {
    json(body).as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn project_configuration_whole_and_by_key() {
    let s = state().await;
    create_project(
        &s,
        "ops",
        serde_json::json!({"a.b": "1", "project.description": "Ops"}),
    )
    .await;
    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/project/ops/config",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json(&body),
        serde_json::json!({"a.b": "1", "project.description": "Ops"})
    );

    let (status, body) = call(
        &s,
        Method::PUT,
        "/api/59/project/ops/config",
        Some(ADMIN),
        Some(r#"{"x.y":"2","project.description":"Operations","secret.like":"v4lue"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(keys(&body), ["project.description", "secret.like", "x.y"]);
    let (_, body) = call(&s, Method::GET, "/api/59/project/ops", Some(ADMIN), None).await;
    assert_eq!(json(&body)["description"], "Operations");
    assert_eq!(json(&body)["config"]["x.y"], "2");

    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/project/ops/config/x.y",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body), serde_json::json!({"key": "x.y", "value": "2"}));
    let (status, body) = call(
        &s,
        Method::PUT,
        "/api/59/project/ops/config/x.y",
        Some(ADMIN),
        Some(r#"{"value":"3"}"#),
    )
    .await;
    assert_eq!(
        (status, json(&body)["value"].clone()),
        (StatusCode::OK, "3".into())
    );
    let (status, body, _) = call_with(
        &s,
        Method::PUT,
        "/api/59/project/ops/config/plain.key",
        &[(TOKEN_HEADER, ADMIN), ("content-type", "text/plain")],
        "text value",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = call(
        &s,
        Method::GET,
        "/api/59/project/ops/config/plain.key",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(json(&body)["value"], "text value");
    let (status, _) = call(
        &s,
        Method::DELETE,
        "/api/59/project/ops/config/plain.key",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for (method, uri) in [
        (Method::GET, "/api/59/project/ops/config/plain.key"),
        (Method::DELETE, "/api/59/project/ops/config/plain.key"),
        (Method::GET, "/api/59/project/nope/config"),
        (Method::GET, "/api/59/project/nope/config/a"),
    ] {
        let (status, body) = call(&s, method.clone(), uri, Some(ADMIN), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {uri}");
        assert_error(&body, "api.error.item.doesnotexist");
    }

    // Bad input changes nothing.
    for bad in [
        r#"{"k": 1}"#,
        r#"["k"]"#,
        r#"{"k": "v""#,
        r#"{"with space": "v"}"#,
        r#"{"": "v"}"#,
        r#"{"k": "nul\u0000"}"#,
    ] {
        let (status, body) = call(
            &s,
            Method::PUT,
            "/api/59/project/ops/config",
            Some(ADMIN),
            Some(bad),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_error(&body, "api.error.invalid.request");
    }
    for bad in [r#"{"value": 3}"#, r#"{"v": "x"}"#, "nope"] {
        let (status, body) = call(
            &s,
            Method::PUT,
            "/api/59/project/ops/config/k",
            Some(ADMIN),
            Some(bad),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (_, body) = call(
        &s,
        Method::GET,
        "/api/59/project/ops/config",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(keys(&body), ["project.description", "secret.like", "x.y"]);

    // Every change is audited, with the keys and never the values.
    let events = s
        .store
        .query_audit(&AuditQuery {
            resource_type: Some("project.config".into()),
            max: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.total, 4);
    assert!(events
        .items
        .iter()
        .all(|e| e.user == "user-t1" && e.project.as_deref() == Some("ops")));
    let all = serde_json::to_string(&events.items).unwrap();
    assert!(
        all.contains("secret.like") && !all.contains("v4lue"),
        "{all}"
    );
}

#[tokio::test]
async fn resources_from_sources_with_filters_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let a = nodes_file(
        dir.path(),
        "a.yaml",
        "web1: {hostname: web1.example, tags: 'web,prod'}\nweb2: {hostname: web2.example, tags: web}\ndb1: {hostname: db1.example, tags: db}\n",
    );
    let s = state().await;
    create_project(
        &s,
        "ops",
        serde_json::json!({"resources.source.1.type": "file", "resources.source.1.config.file": a}),
    )
    .await;
    let (status, body, ctype) = call_with(
        &s,
        Method::GET,
        "/api/59/project/ops/resources",
        &[(TOKEN_HEADER, ADMIN)],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ctype, "application/json");
    assert_eq!(keys(&body), ["db1", "localhost", "web1", "web2"]);
    let v = json(&body);
    assert_eq!(v["web1"]["nodename"], "web1");
    assert_eq!(v["web1"]["hostname"], "web1.example");
    assert_eq!(v["web1"]["tags"], "prod,web");

    for (filter, want) in [
        ("tags%3A%20web", vec!["web1", "web2"]),
        ("tags%3A%20web%2Bprod", vec!["web1"]),
        ("!tags%3A%20db", vec!["localhost", "web1", "web2"]),
        ("name%3A%20db.*", vec!["db1"]),
        ("name%3A%20nothing", vec![]),
    ] {
        let (status, body) = call(
            &s,
            Method::GET,
            &format!("/api/59/project/ops/resources?filter={filter}"),
            Some(ADMIN),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(keys(&body), want, "{filter}");
    }
    // YAML by parameter or by Accept header.
    let (status, body, ctype) = call_with(
        &s,
        Method::GET,
        "/api/59/project/ops/resources?format=yaml&filter=db1",
        &[(TOKEN_HEADER, ADMIN)],
        "",
    )
    .await;
    assert_eq!(
        (status, ctype.as_str()),
        (StatusCode::OK, "text/yaml; charset=utf-8")
    );
    assert_eq!(
        body,
        "db1:\n  nodename: db1\n  hostname: db1.example\n  tags: db\n"
    );
    let (_, body2, _) = call_with(
        &s,
        Method::GET,
        "/api/59/project/ops/resources?filter=db1",
        &[(TOKEN_HEADER, ADMIN), ("accept", "application/yaml")],
        "",
    )
    .await;
    assert_eq!(body, body2);

    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/project/ops/resource/web2",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["web2"]["hostname"], "web2.example");

    // Bad input.
    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/project/ops/resources?filter=name%3A%20%22web",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "api.error.invalid.request");
    assert!(
        body.contains("parameter `filter`") && body.contains("unterminated"),
        "{body}"
    );
    // a format no resource generator writes: Rundeck's 415
    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/project/ops/resources?format=toml",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error(&body, "api.error.resource.format.unsupported");
    for uri in [
        "/api/59/project/ops/resource/nope",
        "/api/59/project/nope/resources",
        "/api/59/project/nope/resource/web1",
    ] {
        let (status, body) = call(&s, Method::GET, uri, Some(ADMIN), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_error(&body, "api.error.item.doesnotexist");
    }
}

#[tokio::test]
async fn a_configuration_change_refreshes_the_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let a = nodes_file(dir.path(), "a.yaml", "web1: {tags: web}\n");
    let b = nodes_file(
        dir.path(),
        "b.json",
        r#"{"web1": {"hostname": "from-b"}, "app1": {}}"#,
    );
    let s = state().await;
    create_project(&s, "ops", serde_json::json!({})).await;
    let (_, body) = call(
        &s,
        Method::GET,
        "/api/59/project/ops/resources",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(keys(&body), ["localhost"]);

    let config = serde_json::json!({
        "resources.source.1.type": "file",
        "resources.source.1.config.file": a,
        "resources.source.2.type": "file",
        "resources.source.2.config.file": b,
        "project.nodeCache.delay": "3600",
    })
    .to_string();
    let (status, _) = call(
        &s,
        Method::PUT,
        "/api/59/project/ops/config",
        Some(ADMIN),
        Some(&config),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = call(
        &s,
        Method::GET,
        "/api/59/project/ops/resources",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(keys(&body), ["app1", "localhost", "web1"]);
    // The later source wins for web1.
    assert_eq!(json(&body)["web1"]["hostname"], "from-b");

    let (status, _) = call(
        &s,
        Method::DELETE,
        "/api/59/project/ops/config/resources.source.2.type",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = call(
        &s,
        Method::GET,
        "/api/59/project/ops/resources",
        Some(ADMIN),
        None,
    )
    .await;
    // Source 2 is now broken (no type) and was changed: its nodes are gone.
    assert_eq!(keys(&body), ["localhost", "web1"]);
    assert_eq!(json(&body)["web1"]["tags"], "web");
    let errors = s.nodes.errors("ops");
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .to_string()
            .contains("resources.source.2.type is not set"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn nodes_the_subject_may_not_read_are_invisible() {
    let dir = tempfile::tempdir().unwrap();
    let a = nodes_file(
        dir.path(),
        "a.yaml",
        "web1: {tags: web}\ndb-secret-name: {tags: db, hostname: hidden.example}\n",
    );
    let s = policy_state().await;
    let source =
        serde_json::json!({"resources.source.1.type": "file", "resources.source.1.config.file": a});
    create_project(&s, "ops", source.clone()).await;
    create_project(&s, "other", source).await;

    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/project/ops/resources",
        Some(WEB_ONLY),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&body), ["web1"]);
    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/project/ops/resources?filter=.*",
        Some(WEB_ONLY),
        None,
    )
    .await;
    assert_eq!(
        (status, keys(&body)),
        (StatusCode::OK, vec!["web1".to_owned()])
    );
    let (status, hidden) = call(
        &s,
        Method::GET,
        "/api/59/project/ops/resource/db-secret-name",
        Some(WEB_ONLY),
        None,
    )
    .await;
    let (_, missing) = call(
        &s,
        Method::GET,
        "/api/59/project/ops/resource/no-such-node",
        Some(WEB_ONLY),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Same answer as for a node that does not exist.
    assert_eq!(
        hidden.replace("db-secret-name", "X"),
        missing.replace("no-such-node", "X")
    );
    for uri in [
        "/api/59/project/other/resources",
        "/api/59/project/other/resource/web1",
        "/api/59/project/ops/config",
        "/api/59/project/ops/config/resources.source.1.type",
    ] {
        let (status, body) = call(&s, Method::GET, uri, Some(WEB_ONLY), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}: {body}");
        assert!(
            !body.contains("hidden.example") && !body.contains("a.yaml"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn prometheus_and_rundeck_metrics() {
    let s = state().await;
    for status in [
        ExecutionStatus::Succeeded,
        ExecutionStatus::Succeeded,
        ExecutionStatus::Running,
        ExecutionStatus::Failed,
    ] {
        let mut e = Execution::new("ops", "job", "u");
        e.status = status;
        s.store.create_execution(&e).await.unwrap();
    }
    s.metrics
        .gauge("foredeck_ssh_connections_open", "SSH connections open.")
        .unwrap()
        .set(7.0);
    call(&s, Method::GET, "/api/59/projects", Some(ADMIN), None).await;
    call(&s, Method::GET, "/api/41/projects", Some(ADMIN), None).await;

    let (status, body, ctype) =
        call_with(&s, Method::GET, "/metrics", &[(TOKEN_HEADER, ADMIN)], "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ctype, "text/plain; version=0.0.4; charset=utf-8");
    for line in [
        "foredeck_executions{status=\"succeeded\"} 2",
        "foredeck_executions{status=\"failed\"} 1",
        "foredeck_executions{status=\"aborted\"} 0",
        "foredeck_executions_running 1",
        "foredeck_http_request_duration_seconds_count{method=\"GET\",route=\"/api/{v}/projects\"} 2",
        "foredeck_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/{v}/projects\",le=\"+Inf\"} 2",
        "# TYPE foredeck_ssh_connections_open gauge",
        "foredeck_ssh_connections_open 7",
    ] {
        assert!(body.lines().any(|l| l == line), "missing {line:?} in\n{body}");
    }
    // Prometheus' bearer token and the query parameter work too.
    let (status, _, _) = call_with(
        &s,
        Method::GET,
        "/metrics",
        &[("authorization", &format!("Bearer {ADMIN}"))],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = call_with(
        &s,
        Method::GET,
        &format!("/metrics?authtoken={ADMIN}"),
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for headers in [
        vec![],
        vec![("authorization", "Bearer wrong")],
        vec![(TOKEN_HEADER, NOBODY)],
    ] {
        let (status, body, _) = call_with(&s, Method::GET, "/metrics", &headers, "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}");
        assert_error(&body, "api.error.item.unauthorized");
    }

    let (status, body) = call(
        &s,
        Method::GET,
        "/api/59/metrics/metrics",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let v = json(&body);
    assert_eq!(v["gauges"]["foredeck.executions.succeeded"]["value"], 2);
    assert_eq!(v["gauges"]["foredeck_ssh_connections_open"]["value"], 7.0);
    assert_eq!(
        v["timers"]["foredeck.http.GET /api/{v}/projects"]["count"],
        2
    );
    let (status, _) = call(
        &s,
        Method::GET,
        "/api/59/metrics/metrics",
        Some(NOBODY),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_audit_log_is_for_admins() {
    let s = state().await;
    create_project(&s, "ops", serde_json::json!({})).await;
    create_project(&s, "dev", serde_json::json!({})).await;
    call(
        &s,
        Method::PUT,
        "/api/59/project/ops/config/k",
        Some(ADMIN),
        Some(r#"{"value":"v"}"#),
    )
    .await;
    call(&s, Method::DELETE, "/api/59/project/dev", Some(ADMIN), None).await;

    let (status, body) = call(&s, Method::GET, "/api/59/system/audit", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v["paging"]["total"], 4);
    let seen: Vec<String> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!("{} {} {}", e["action"], e["resourceType"], e["resource"]).replace('"', "")
        })
        .collect();
    assert_eq!(
        seen,
        [
            "delete project dev",
            "update project.config ops",
            "create project dev",
            "create project ops"
        ]
    );
    assert_eq!(v["events"][0]["user"], "user-t1");

    let (_, body) = call(
        &s,
        Method::GET,
        "/api/59/system/audit?project=ops&action=create&max=1",
        Some(ADMIN),
        None,
    )
    .await;
    let v = json(&body);
    assert_eq!(
        (v["paging"]["total"].clone(), v["paging"]["count"].clone()),
        (1.into(), 1.into())
    );
    let (_, body) = call(
        &s,
        Method::GET,
        "/api/59/system/audit?begin=4102444800000",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(json(&body)["paging"]["total"], 0);
    let (_, body) = call(
        &s,
        Method::GET,
        "/api/59/system/audit?end=2000-01-01T00:00:00Z",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(json(&body)["paging"]["total"], 0);

    for bad in [
        "begin=yesterday",
        "max=-1",
        "max=100000",
        "offset=x",
        "colour=red",
    ] {
        let (status, body) = call(
            &s,
            Method::GET,
            &format!("/api/59/system/audit?{bad}"),
            Some(ADMIN),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_error(&body, "api.error.invalid.request");
    }
    let (status, body) = call(&s, Method::GET, "/api/59/system/audit", Some(NOBODY), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!body.contains("ops"), "{body}");
}

/// No grants: every route of this module answers 403 and shows nothing.
#[tokio::test]
async fn a_subject_without_grants_gets_nothing_here() {
    let dir = tempfile::tempdir().unwrap();
    let a = nodes_file(
        dir.path(),
        "a.yaml",
        "secret-node: {hostname: secret-host}\n",
    );
    let s = state().await;
    create_project(
        &s,
        "secret-proj",
        serde_json::json!({"resources.source.1.type": "file", "resources.source.1.config.file": a, "k": "s3cr3t-value"}),
    )
    .await;
    let routes = [
        (Method::GET, "/api/59/project/secret-proj/config", None),
        (
            Method::PUT,
            "/api/59/project/secret-proj/config",
            Some("{}"),
        ),
        (Method::GET, "/api/59/project/secret-proj/config/k", None),
        (
            Method::PUT,
            "/api/59/project/secret-proj/config/k",
            Some(r#"{"value":"x"}"#),
        ),
        (Method::DELETE, "/api/59/project/secret-proj/config/k", None),
        (Method::GET, "/api/59/project/secret-proj/resources", None),
        (
            Method::GET,
            "/api/59/project/secret-proj/resource/secret-node",
            None,
        ),
        (Method::GET, "/api/59/project/no-such/resources", None),
        (Method::GET, "/api/59/project/secret-proj/sources", None),
        (Method::GET, "/api/59/metrics/metrics", None),
        (Method::GET, "/api/59/system/audit", None),
    ];
    for (method, uri, body) in routes {
        let (status, text) = call(&s, method.clone(), uri, Some(NOBODY), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}: {text}");
        assert_error(&text, "api.error.item.unauthorized");
        for secret in ["s3cr3t-value", "secret-node", "secret-host", "a.yaml"] {
            assert!(!text.contains(secret), "{method} {uri}: {text}");
        }
    }
    // Nothing changed.
    let (_, body) = call(
        &s,
        Method::GET,
        "/api/59/project/secret-proj/config/k",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(json(&body)["value"], "s3cr3t-value");
}
