//! Every route of [`router`](crate::router), for callers who may not see
//! what they ask for: 403 or 404 (bulk deletes: every item refused), nothing
//! changed, nothing leaked, against real seeded data (jobs with options,
//! executions with output, a webhook, stored keys, tokens, policies, project
//! configuration and nodes).
//!
//! The route table is in `sweep_routes.rs`, checked against the routes
//! `lib.rs` registers.

use super::sweep_routes::{routes, Expect, Route, Target};
use super::*;
use foredeck_core::ExecutionQuery;

impl Env {
    async fn ask(&self, r: &Route, token: Option<&str>) -> Answer {
        let mut c = self.call(r.method.clone(), &r.uri);
        if let Some(t) = token {
            c = c.token(t);
        }
        if let Some((ctype, b)) = &r.body {
            c = c.body(ctype, b.clone());
        }
        c.send().await
    }

    async fn admin_json(&self, method: Method, uri: &str, ctype: &str, body: &str) -> Value {
        let a = self
            .call(method, uri)
            .token(ADMIN)
            .body(ctype, body)
            .send()
            .await;
        assert!(a.status.is_success(), "{uri}: {} {}", a.status, a.body);
        a.json()
    }

    /// Runs a job as the admin and waits for its end (a bound, not a timing
    /// assertion).
    async fn run_job(&self, id: &str) -> u64 {
        let uri = format!("/api/59/job/{id}/run");
        let e = self
            .admin_json(Method::POST, &uri, "application/json", "{}")
            .await["id"]
            .as_u64()
            .unwrap();
        for _ in 0..1_000 {
            let x = self.store.get_execution(e).await.unwrap().unwrap();
            if x.status.is_final() {
                return e;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("execution {e} did not end");
    }

    /// What the sweep must not change, as text.
    async fn snapshot(&self) -> String {
        let s = &self.store;
        let mut out = format!(
            "{:?}\n{:?}\n{:?}\n",
            s.list_tokens(None).await.unwrap(),
            s.list_keys("keys/").await.unwrap(),
            s.list_acl_policies(None).await.unwrap(),
        );
        for p in s.list_projects().await.unwrap() {
            let execs = s
                .query_executions(&ExecutionQuery {
                    project: Some(p.name.clone()),
                    max: 1_000,
                    ..Default::default()
                })
                .await
                .unwrap();
            out += &format!(
                "{p:?}\n{:?}\n{:?}\n{:?}\n{:?}\n",
                s.list_jobs(&p.name, &Default::default()).await.unwrap(),
                execs.items,
                s.list_webhooks(&p.name).await.unwrap(),
                s.list_acl_policies(Some(&p.name)).await.unwrap(),
            );
        }
        out
    }
}

/// Asserts `a` is what `r` expects of this caller and that it holds none of
/// `leaks` but what the caller sent itself (an id or path in the URL).
fn check(r: &Route, who: Option<&str>, a: &Answer, leaks: &[&str]) {
    let Route {
        method, uri, body, ..
    } = r;
    let ctx = format!("{method} {uri} ({who:?}): {} {}", a.status, a.body);
    let denied = || {
        assert!(
            a.status == StatusCode::FORBIDDEN || a.status == StatusCode::NOT_FOUND,
            "{ctx}"
        );
        let v = a.json();
        assert_eq!(v["error"], true, "{ctx}");
        assert_eq!(v["apiversion"], 59, "{ctx}");
        // (an unknown API path is Rundeck's 404 `api.error.invalid.request`)
        let codes = [
            "api.error.item.unauthorized",
            "api.error.item.doesnotexist",
            "api.error.invalid.request",
        ];
        assert!(
            codes.contains(&v["errorCode"].as_str().unwrap_or_default()),
            "{ctx}"
        );
        assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{ctx}"
        );
    };
    match (r.expect, who) {
        (Expect::Denied, _) | (Expect::Open | Expect::Refused, None) => denied(),
        (Expect::Open, Some(_)) => assert_eq!(a.status, StatusCode::OK, "{ctx}"),
        (Expect::Refused, Some(_)) => {
            assert_eq!(a.status, StatusCode::OK, "{ctx}");
            let v = a.json();
            assert_eq!(v["allsuccessful"], false, "{ctx}");
            assert_eq!(v["requestCount"], 1, "{ctx}");
        }
        (Expect::Public, _) => assert_eq!(a.status, StatusCode::OK, "{ctx}"),
        (Expect::Redirect(to), _) => {
            assert!(a.status.is_redirection(), "{ctx}");
            assert_eq!(a.headers["location"], to, "{ctx}");
            let cookies: Vec<_> = a.headers.get_all("set-cookie").iter().collect();
            assert!(
                cookies
                    .iter()
                    .all(|c| c.to_str().unwrap().starts_with("JSESSIONID=;")),
                "no session is made: {cookies:?}"
            );
        }
    }
    let sent =
        |leak: &str| uri.contains(leak) || body.as_ref().is_some_and(|(_, b)| b.contains(leak));
    for leak in leaks.iter().filter(|l| !sent(l)) {
        assert!(
            !a.body.contains(leak),
            "{method} {uri} ({who:?}) leaks {leak}: {}",
            a.body
        );
        for (k, v) in &a.headers {
            let v = v.to_str().unwrap_or_default();
            assert!(
                !v.contains(leak),
                "{method} {uri} leaks {leak} in header {k}: {v}"
            );
        }
    }
}

const HIDDEN_JOB: &str = "5ec2e700-0000-4000-8000-000000000001";
const PRIVATE_JOB: &str = "5ec2e700-0000-4000-8000-000000000002";
const PUBLIC_JOB: &str = "5ec2e700-0000-4000-8000-000000000003";

/// A job document: `name` in `group` with a secret-looking option default,
/// printing `output`.
fn job_doc(uuid: &str, group: &str, name: &str, option: &str, output: &str) -> String {
    format!(
        "- name: {name}\n  group: {group}\n  uuid: {uuid}\n  description: {name}-description\n  options:\n    - name: {option}\n      value: {option}-default-s3cr3t\n  sequence:\n    commands:\n      - exec: echo {output}\n"
    )
}

/// The seeded world: `hidden-project` (nobody but the admin sees anything
/// of it) and `open-project`, where `ops` may read the project and the jobs
/// of group `public`, not the job `private/private-job-name`.
struct World {
    env: Env,
    /// Holds the project's nodes file.
    _dir: tempfile::TempDir,
    token_id: String,
    hook_id: String,
    hook_token: String,
    hidden_exec: u64,
    private_exec: u64,
    public_exec: u64,
}

async fn world() -> World {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let nodes = dir.path().join("nodes.yaml");
    std::fs::write(&nodes, "secret-node: {hostname: secret-host}\n").unwrap();
    let config = serde_json::json!({
        "name": "hidden-project",
        "config": {
            "resources.source.1.type": "file",
            "resources.source.1.config.file": nodes,
            "secret.key": "cfg-s3cr3t-value",
        },
    });
    let json = "application/json";
    let yaml = "application/yaml";
    env.admin_json(Method::POST, "/api/59/projects", json, &config.to_string())
        .await;
    env.admin_json(
        Method::POST,
        "/api/59/projects",
        json,
        r#"{"name":"open-project"}"#,
    )
    .await;
    grant(
        &env,
        "secret-policy-name.aclpolicy",
        "description: secret-description\ncontext: {application: rundeck}\nfor: {project: [{allow: read}]}\nby: {group: secret-group}\n",
    )
    .await;
    grant(
        &env,
        "ops.aclpolicy",
        "description: test\ncontext: {application: rundeck}\nfor: {project: [{equals: {name: open-project}, allow: read}]}\nby: {group: ops}\n---\ndescription: test\ncontext: {project: open-project}\nfor: {job: [{equals: {group: public}, allow: [read, view, run]}]}\nby: {group: ops}\n",
    )
    .await;
    let a = env
        .call(
            Method::POST,
            "/api/59/project/hidden-project/acl/p-secret.aclpolicy",
        )
        .token(ADMIN)
        .body(
            yaml,
            "description: test\nfor: {job: [{allow: run}]}\nby: {group: secret-group}\n",
        )
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let a = env
        .call(Method::POST, "/api/59/storage/keys/secret-dir/key.pass")
        .token(ADMIN)
        .body("application/x-rundeck-data-password", "pw-value-secret")
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let token_id = env
        .admin_json(
            Method::POST,
            "/api/59/tokens/secret-user",
            json,
            r#"{"roles":["secret-role"]}"#,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (project, doc) in [
        (
            "hidden-project",
            job_doc(
                HIDDEN_JOB,
                "ops",
                "secret-job-name",
                "secret-option",
                "secret-output-line",
            ),
        ),
        (
            "open-project",
            job_doc(
                PRIVATE_JOB,
                "private",
                "private-job-name",
                "private-option",
                "private-output-line",
            ),
        ),
        (
            "open-project",
            job_doc(
                PUBLIC_JOB,
                "public",
                "public-job-name",
                "public-option",
                "public-output-line",
            ),
        ),
    ] {
        let uri = format!("/api/59/project/{project}/jobs/import");
        let v = env.admin_json(Method::POST, &uri, yaml, &doc).await;
        assert_eq!(v["succeeded"].as_array().unwrap().len(), 1, "{v}");
    }
    let hook = env
        .admin_json(
            Method::POST,
            "/api/59/project/hidden-project/webhook",
            json,
            &format!(r#"{{"name":"secret-hook-name","config":{{"jobId":"{HIDDEN_JOB}"}}}}"#),
        )
        .await;
    World {
        hidden_exec: env.run_job(HIDDEN_JOB).await,
        private_exec: env.run_job(PRIVATE_JOB).await,
        public_exec: env.run_job(PUBLIC_JOB).await,
        hook_id: hook["id"].as_str().unwrap().to_owned(),
        hook_token: hook["authToken"].as_str().unwrap().to_owned(),
        token_id,
        _dir: dir,
        env,
    }
}

/// The strings of `job_doc` a caller who may not see the job must not get.
fn job_secrets(name: &str, option: &str, output: &str, uuid: &str) -> Vec<String> {
    vec![
        name.to_owned(),
        format!("{name}-description"),
        option.to_owned(),
        format!("{option}-default-s3cr3t"),
        output.to_owned(),
        uuid.to_owned(),
    ]
}

#[tokio::test]
async fn no_grants_no_access_no_leaks() {
    let w = world().await;
    let env = &w.env;
    let mut leaks: Vec<String> = [
        "hidden-project",
        "secret-policy-name",
        "secret-description",
        "secret-group",
        "p-secret",
        "secret-dir",
        "pw-value-secret",
        "secret-user",
        "secret-role",
        "secret-hook-name",
        "cfg-s3cr3t-value",
        "secret-node",
        "secret-host",
        "nodes.yaml",
        ADMIN,
    ]
    .map(str::to_owned)
    .into();
    leaks.extend([w.token_id.clone(), w.hook_id.clone(), w.hook_token.clone()]);
    leaks.extend(job_secrets(
        "secret-job-name",
        "secret-option",
        "secret-output-line",
        HIDDEN_JOB,
    ));
    // The admin sees them (but the secrets shown only once), so a leak
    // would show.
    let mut seen = String::new();
    for uri in [
        "/api/59/project/hidden-project/jobs/export".to_owned(),
        format!("/api/59/execution/{}/output?format=text", w.hidden_exec),
        "/api/59/project/hidden-project/webhooks".into(),
        "/api/59/project/hidden-project/config".into(),
        "/api/59/project/hidden-project/resources".into(),
        "/api/59/project/hidden-project/sources".into(),
        "/api/59/project/hidden-project/acl/".into(),
        "/api/59/system/acl/".into(),
        "/api/59/system/acl/secret-policy-name.aclpolicy".into(),
        "/api/59/storage/keys/secret-dir/".into(),
        "/api/59/tokens/secret-user".into(),
    ] {
        let a = env.call(Method::GET, &uri).token(ADMIN).send().await;
        assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.body);
        seen += &a.body;
    }
    for leak in &leaks {
        let once = [ADMIN, w.hook_token.as_str(), "pw-value-secret"];
        assert!(
            seen.contains(leak.as_str()) || once.contains(&leak.as_str()),
            "the admin sees {leak}"
        );
    }
    let leaks: Vec<&str> = leaks.iter().map(String::as_str).collect();
    let table = routes(&Target {
        project: "hidden-project",
        job: HIDDEN_JOB,
        exec: w.hidden_exec,
        hook: &w.hook_id,
        token_id: &w.token_id,
    });
    let before = env.snapshot().await;
    // `ops` may read another project, none of this one.
    for who in [Some(NOBODY), None, Some(OPS)] {
        for r in &table {
            check(r, who, &env.ask(r, who).await, &leaks);
        }
    }
    assert_eq!(env.snapshot().await, before, "nothing changed");
    // the webhook still answers its own token (the wrong one got 404)
    let a = env
        .call(Method::POST, &format!("/api/59/webhook/{}", w.hook_token))
        .json("{}")
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

/// `ops` reads `open-project` and its `public` jobs, not the job
/// `private/private-job-name`: that job is 404 on every route, and none of
/// its name, options or output is in any list or export.
#[tokio::test]
async fn a_job_one_may_not_see_is_missing_everywhere() {
    let w = world().await;
    let env = &w.env;
    let leaks = job_secrets(
        "private-job-name",
        "private-option",
        "private-output-line",
        PRIVATE_JOB,
    );
    let leaks: Vec<&str> = leaks.iter().map(String::as_str).collect();
    let table = routes(&Target {
        project: "open-project",
        job: PRIVATE_JOB,
        exec: w.private_exec,
        hook: "no-such-hook",
        token_id: "no-such-token",
    });
    let before = env.snapshot().await;
    let mut aimed = 0;
    for r in &table {
        let a = env.ask(r, Some(OPS)).await;
        if r.uri.contains(PRIVATE_JOB) || r.body.as_ref().is_some_and(|b| b.1.contains(PRIVATE_JOB))
        {
            aimed += 1;
            if r.expect == Expect::Refused {
                check(r, Some(OPS), &a, &leaks);
                assert!(a.body.contains("api.error.item.doesnotexist"), "{}", a.body);
            } else if r.uri.contains("/webhook") || matches!(r.expect, Expect::Redirect(_)) {
                // webhooks are not the job's routes: ops may read none; a
                // page sends a token (no session) to the login page
                check(r, Some(OPS), &a, &leaks);
            } else {
                assert_eq!(
                    a.status,
                    StatusCode::NOT_FOUND,
                    "{} {}: {}",
                    r.method,
                    r.uri,
                    a.body
                );
                check(r, Some(OPS), &a, &leaks);
            }
        } else if r.uri.contains(&format!("/execution/{}/", w.private_exec))
            || r.uri.ends_with(&format!("/execution/{}", w.private_exec))
            || r.body
                .as_ref()
                .is_some_and(|b| b.1.contains(&format!("[{}]", w.private_exec)))
        {
            aimed += 1;
            if r.expect == Expect::Refused {
                check(r, Some(OPS), &a, &leaks);
            } else {
                assert_eq!(
                    a.status,
                    StatusCode::NOT_FOUND,
                    "{} {}: {}",
                    r.method,
                    r.uri,
                    a.body
                );
                check(r, Some(OPS), &a, &leaks);
            }
        } else {
            // the project's lists and everything else: whatever the
            // status, nothing of the private job
            for leak in &leaks {
                assert!(
                    !a.body.contains(leak),
                    "{} {} leaks {leak}: {}",
                    r.method,
                    r.uri,
                    a.body
                );
            }
        }
    }
    assert!(aimed >= 25, "{aimed} routes aimed at the private job");
    assert_eq!(env.snapshot().await, before, "nothing changed");
    // The lists ops may read show the public job and its execution, so
    // the absence of the private one means something.
    for (uri, want) in [
        (
            "/api/59/project/open-project/jobs".to_owned(),
            "public-job-name",
        ),
        (
            "/api/59/project/open-project/jobs/export?format=yaml".into(),
            "public-option-default-s3cr3t",
        ),
        ("/api/59/project/open-project/executions".into(), PUBLIC_JOB),
        (format!("/api/59/job/{PUBLIC_JOB}/executions"), PUBLIC_JOB),
        (
            format!("/api/59/execution/{}/output?format=text", w.public_exec),
            "public-output-line",
        ),
        (
            format!("/api/59/execution/{}", w.public_exec),
            "public-option",
        ),
    ] {
        let a = env.call(Method::GET, &uri).token(OPS).send().await;
        assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.body);
        assert!(a.body.contains(want), "{uri} shows {want}: {}", a.body);
        for leak in &leaks {
            assert!(!a.body.contains(leak), "{uri} leaks {leak}: {}", a.body);
        }
    }
    // jobs filtered by the private job's id or name find nothing
    for uri in [
        format!("/api/59/project/open-project/jobs?idlist={PRIVATE_JOB}"),
        "/api/59/project/open-project/jobs?jobFilter=private-job-name".into(),
        "/api/59/project/open-project/jobs?groupPath=private".into(),
        format!("/api/59/project/open-project/jobs/export?idlist={PRIVATE_JOB}"),
        format!("/api/59/project/open-project/executions?jobIdListFilter={PRIVATE_JOB}"),
        "/api/59/project/open-project/executions?groupPath=private".into(),
    ] {
        let a = env.call(Method::GET, &uri).token(OPS).send().await;
        for leak in leaks.iter().filter(|l| !uri.contains(*l)) {
            assert!(!a.body.contains(leak), "{uri} leaks {leak}: {}", a.body);
        }
        assert!(!a.body.contains("private-output-line"), "{uri}: {}", a.body);
        assert!(
            !a.body.contains(&format!("\"id\":{}", w.private_exec)),
            "{uri}: {}",
            a.body
        );
    }
}

/// The runs a limited user can start reach nothing they may not: `ops`
/// runs `public` jobs of `open-project` that reference the hidden job (by
/// uuid and by name) and the private one, runs with filter overrides, and
/// fires a webhook acting as them; no output, name or execution of what
/// they may not see comes back, and nothing runs where they may not.
#[tokio::test]
async fn runs_started_by_limited_users_reach_nothing_hidden() {
    let w = world().await;
    let env = &w.env;
    let leaks = [
        "secret-output-line",
        "private-output-line",
        "secret-node",
        "secret-host",
    ];
    let hidden_runs = || async {
        env.store
            .query_executions(&ExecutionQuery {
                project: Some("hidden-project".into()),
                max: 1_000,
                ..Default::default()
            })
            .await
            .unwrap()
            .total
    };
    let hidden_before = hidden_runs().await;
    let doc = format!(
        "\
- name: ref-by-uuid
  group: public
  sequence:
    commands:
      - jobref: {{uuid: {HIDDEN_JOB}, project: hidden-project}}
- name: ref-by-name
  group: public
  sequence:
    commands:
      - jobref: {{group: ops, name: secret-job-name, project: hidden-project}}
- name: ref-private
  group: public
  sequence:
    commands:
      - jobref: {{group: private, name: private-job-name}}
"
    );
    let v = env
        .admin_json(
            Method::POST,
            "/api/59/project/open-project/jobs/import",
            "application/yaml",
            &doc,
        )
        .await;
    let ids: Vec<String> = v["succeeded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3, "{v}");

    // without a node grant, no job run of ops starts, whatever the filter
    for (job, body) in [
        (ids[0].as_str(), "{}"),
        (PUBLIC_JOB, r#"{"filter":".*"}"#),
        (PUBLIC_JOB, r#"{"filter":"name: localhost"}"#),
    ] {
        let a = env
            .call(Method::POST, &format!("/api/59/job/{job}/run"))
            .token(OPS)
            .json(body)
            .send()
            .await;
        a.error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
        for leak in leaks {
            assert!(
                !a.body.contains(leak),
                "{job} {body} leaks {leak}: {}",
                a.body
            );
        }
    }
    grant(
        env,
        "ops-local.aclpolicy",
        "description: test\ncontext: {project: open-project}\nfor: {node: [{equals: {nodename: localhost}, allow: run}]}\nby: {group: ops}\n",
    )
    .await;
    let ended = |id: u64| async move {
        for _ in 0..1_000 {
            let e = env.store.get_execution(id).await.unwrap().unwrap();
            if e.status.is_final() {
                return e;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("execution {id} did not end");
    };
    // each reference is refused in its step, and its output never shows
    let mut outer = Vec::new();
    for id in &ids {
        let a = env
            .call(Method::POST, &format!("/api/59/job/{id}/run"))
            .token(OPS)
            .json("{}")
            .send()
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        outer.push(a.json()["id"].as_u64().unwrap());
    }
    // a webhook acting as ops runs the same reference as ops
    let hook = env
        .admin_json(
            Method::POST,
            "/api/59/project/open-project/webhook",
            "application/json",
            &format!(
                r#"{{"name":"ops-hook","user":"olga","roles":"ops","config":{{"jobId":"{}"}}}}"#,
                ids[1]
            ),
        )
        .await;
    let a = env
        .call(
            Method::POST,
            &format!("/api/59/webhook/{}", hook["authToken"].as_str().unwrap()),
        )
        .json("{}")
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    outer.push(a.json()["executionId"].as_u64().unwrap());
    // and a webhook acting as ops with a node filter ops may not use
    let hook = env
        .admin_json(
            Method::POST,
            "/api/59/project/open-project/webhook",
            "application/json",
            &format!(
                r#"{{"name":"ops-hook-2","user":"olga","roles":"ops","config":{{"jobId":"{PUBLIC_JOB}","nodeFilter":"name: localhost,secret-node"}}}}"#
            ),
        )
        .await;
    let a = env
        .call(
            Method::POST,
            &format!("/api/59/webhook/{}", hook["authToken"].as_str().unwrap()),
        )
        .json("{}")
        .send()
        .await;
    // secret-node is not a node of open-project: only localhost is reached
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    for id in outer {
        let e = ended(id).await;
        assert_eq!(e.status, foredeck_core::ExecutionStatus::Failed, "{id}");
        let a = env
            .call(
                Method::GET,
                &format!("/api/59/execution/{id}/output?format=text"),
            )
            .token(ADMIN)
            .send()
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert!(a.body.contains("not"), "{}", a.body);
        for leak in leaks {
            assert!(
                !a.body.contains(leak),
                "execution {id} leaks {leak}: {}",
                a.body
            );
        }
    }
    assert_eq!(
        hidden_runs().await,
        hidden_before,
        "the hidden job never ran"
    );
}
