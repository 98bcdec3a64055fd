//! Who a run runs as (issue 17, findings 2, 3 and 4): job references, the
//! nodes a job run reaches, scheduled and webhook runs, and webhook
//! changes, tried by `olga` (group `ops`), who may create and run the jobs
//! of group `lim` in project `mine` and run only on node `localhost`.
//!
//! Project `mine` also lists node `forbidden`, run by the `local` executor:
//! a run that reached it would run its command on this host.

use super::*;
use foredeck_core::ExecutionStatus;

const YAML: &str = "application/yaml";
const SECRET_JOB: &str = "5ec4e7a0-0000-4000-8000-000000000017";
const SECRET_OUTPUT: &str = "top-secret-output-17";

const OPS_POLICY: &str = "\
description: ops reads mine
context: {application: rundeck}
for: {project: [{equals: {name: mine}, allow: read}]}
by: {group: ops}
---
description: ops runs in mine
context: {project: mine}
for:
  job: [{equals: {group: lim}, allow: [create, read, update, view, run, delete, toggle_schedule]}]
  node: [{equals: {nodename: localhost}, allow: [read, run]}]
  webhook: [{allow: [read, update]}]
by: {group: ops}
";

struct Runs {
    env: Env,
    _dir: tempfile::TempDir,
}

impl Runs {
    async fn new() -> Runs {
        let env = env().await;
        let dir = tempfile::tempdir().unwrap();
        let nodes = dir.path().join("nodes.yaml");
        std::fs::write(
            &nodes,
            "forbidden: {hostname: localhost, node-executor: local}\n",
        )
        .unwrap();
        let mine = serde_json::json!({
            "name": "mine",
            "config": {
                "resources.source.1.type": "file",
                "resources.source.1.config.file": nodes,
            },
        });
        for body in [mine.to_string(), r#"{"name":"other"}"#.to_owned()] {
            let a = env
                .call(Method::POST, "/api/59/projects")
                .token(ADMIN)
                .json(&body)
                .send()
                .await;
            assert!(a.status.is_success(), "{}", a.body);
        }
        grant(&env, "ops.aclpolicy", OPS_POLICY).await;
        let r = Runs { env, _dir: dir };
        r.import(
            ADMIN,
            "other",
            &format!(
                "- name: secret\n  group: ops\n  uuid: {SECRET_JOB}\n  sequence:\n    commands:\n      - exec: echo {SECRET_OUTPUT}\n"
            ),
        )
        .await;
        r
    }

    /// Imports jobs; answers the first one's uuid.
    async fn import(&self, token: &str, project: &str, yaml: &str) -> String {
        let a = self
            .env
            .call(
                Method::POST,
                &format!("/api/59/project/{project}/jobs/import"),
            )
            .token(token)
            .body(YAML, yaml)
            .send()
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        let v = a.json();
        assert_eq!(v["failed"].as_array().map(Vec::len), Some(0), "{v}");
        v["succeeded"][0]["id"].as_str().unwrap().to_owned()
    }

    async fn run(&self, token: &str, job: &str, body: &str) -> Answer {
        self.env
            .call(Method::POST, &format!("/api/59/job/{job}/run"))
            .token(token)
            .json(body)
            .send()
            .await
    }

    /// Waits for an execution's end (a bound, not a timing assertion).
    async fn ended(&self, id: u64) -> foredeck_core::Execution {
        for _ in 0..1_000 {
            let e = self.env.store.get_execution(id).await.unwrap().unwrap();
            if e.status.is_final() {
                return e;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("execution {id} did not end");
    }

    async fn log(&self, id: u64) -> String {
        self.env
            .store
            .read_log(id, 0, 10_000)
            .await
            .unwrap()
            .events
            .into_iter()
            .map(|e| e.text + "\n")
            .collect()
    }

    /// Executions of a project (all of them).
    async fn executions(&self, project: &str) -> Vec<foredeck_core::Execution> {
        self.env
            .store
            .query_executions(&foredeck_core::ExecutionQuery {
                project: Some(project.into()),
                max: 1_000,
                ..Default::default()
            })
            .await
            .unwrap()
            .items
    }
}

fn refused_on_forbidden(a: &Answer) {
    a.error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
    let m = a.json()["message"].as_str().unwrap_or_default().to_owned();
    assert!(m.contains("\"forbidden\"") && m.contains("\"olga\""), "{m}");
}

#[tokio::test]
async fn a_job_reference_runs_only_jobs_the_user_may_run() {
    let r = Runs::new().await;
    let outer = r
        .import(
            OPS,
            "mine",
            &format!(
                "\
- name: by-name
  group: lim
  sequence:
    commands:
      - jobref: {{group: ops, name: secret, project: other}}
- name: by-uuid
  group: lim
  sequence:
    commands:
      - jobref: {{uuid: {SECRET_JOB}, project: other}}
- name: middle
  group: lim
  sequence:
    commands:
      - jobref: {{group: ops, name: secret, project: other}}
- name: nested
  group: lim
  sequence:
    commands:
      - jobref: {{group: lim, name: middle}}
"
            ),
        )
        .await;
    let list = r
        .env
        .call(Method::GET, "/api/59/project/mine/jobs")
        .token(OPS)
        .send()
        .await
        .json();
    let id_of = |name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|j| j["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(id_of("by-name"), outer);
    let refused = |why: &'static str| {
        let r = &r;
        let id_of = &id_of;
        async move {
            for name in ["by-name", "by-uuid", "nested"] {
                let a = r.run(OPS, &id_of(name), "{}").await;
                assert_eq!(a.status, StatusCode::OK, "{name}: {}", a.body);
                let e = r.ended(a.json()["id"].as_u64().unwrap()).await;
                assert_eq!(e.status, ExecutionStatus::Failed, "{name}");
                let log = r.log(e.id).await;
                assert!(!log.contains(SECRET_OUTPUT), "{name}: {log}");
                // refused in the step's log
                assert!(log.contains(why), "{name}: {log}");
            }
        }
    };
    refused("user \"olga\" may not read project \"other\"").await;
    // reading the project is not enough: a job she may not see is
    // answered as if it did not exist
    grant(
        &r.env,
        "ops-other.aclpolicy",
        "description: test\ncontext: {application: rundeck}\nfor: {project: [{equals: {name: other}, allow: read}]}\nby: {group: ops}\n",
    )
    .await;
    refused("not found in project \"other\"").await;
    // the referenced job never ran
    assert!(r.executions("other").await.is_empty());

    // the admin may: the reference runs, its output stays in its own
    // project's execution, which the outer log points to
    let a = r.run(ADMIN, &id_of("by-name"), "{}").await;
    let e = r.ended(a.json()["id"].as_u64().unwrap()).await;
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.failure);
    assert!(r.log(e.id).await.contains("of project \"other\""));
    let child = &r.executions("other").await[0];
    assert!(r.log(child.id).await.contains(SECRET_OUTPUT));
    // olga cannot read it there
    let a = r
        .env
        .call(
            Method::GET,
            &format!("/api/59/execution/{}/output", child.id),
        )
        .token(OPS)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
}

#[tokio::test]
async fn a_job_run_reaches_only_nodes_the_user_may_run_on() {
    let r = Runs::new().await;
    let yaml = "\
- name: everywhere
  group: lim
  nodefilters: {filter: '.*'}
  sequence:
    commands:
      - exec: 'true'
- name: local
  group: lim
  nodefilters: {filter: 'name: localhost'}
  sequence:
    commands:
      - exec: 'test ${node.name} = localhost'
";
    r.import(OPS, "mine", yaml).await;
    let jobs = r
        .env
        .call(Method::GET, "/api/59/project/mine/jobs")
        .token(OPS)
        .send()
        .await
        .json();
    let id_of = |name: &str| {
        jobs.as_array()
            .unwrap()
            .iter()
            .find(|j| j["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (everywhere, local) = (id_of("everywhere"), id_of("local"));

    // the stored filter `.*` selects `forbidden`: refused, nothing recorded
    refused_on_forbidden(&r.run(OPS, &everywhere, "{}").await);
    // a filter override selecting it
    refused_on_forbidden(&r.run(OPS, &local, r#"{"filter":"name: forbidden"}"#).await);
    refused_on_forbidden(&r.run(OPS, &local, r#"{"filter":".*"}"#).await);
    assert!(r.executions("mine").await.is_empty());

    // what olga may run on runs
    let a = r.run(OPS, &local, "{}").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let e = r.ended(a.json()["id"].as_u64().unwrap()).await;
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.failure);

    // retry on failed nodes: the admin's run failed on `forbidden`, and
    // olga's retry of it would run there
    let a = r.run(ADMIN, &local, r#"{"filter":".*"}"#).await;
    let failed = r.ended(a.json()["id"].as_u64().unwrap()).await;
    assert_eq!(failed.failed_nodes(), vec!["forbidden".to_owned()]);
    let a = r
        .env
        .call(
            Method::POST,
            &format!("/api/59/job/{local}/retry/{}", failed.id),
        )
        .token(OPS)
        .json("{}")
        .send()
        .await;
    refused_on_forbidden(&a);
}

#[tokio::test]
async fn scheduled_runs_run_as_who_scheduled_them() {
    let r = Runs::new().await;
    let yaml = "\
- name: later
  group: lim
  nodefilters: {filter: '.*'}
  schedule: {crontab: '0 0 3 * * ?'}
  sequence:
    commands:
      - exec: 'true'
";
    let id = r.import(OPS, "mine", yaml).await;
    // the schedule records olga and her roles
    let t = r
        .env
        .store
        .get_trigger(&format!("job:{id}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.spec["user"], "olga", "{}", t.spec);
    assert_eq!(t.spec["roles"], serde_json::json!(["ops"]), "{}", t.spec);

    // a run at a time: when it comes, it runs as olga and is refused
    let a = r
        .run(OPS, &id, r#"{"runAtTime":"2099-01-01T00:00:00Z"}"#)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // its time comes (the scheduler's clock is the system's: the trigger
    // is moved to now instead)
    let store = &r.env.store;
    let mut t = store.list_triggers(Some("mine")).await.unwrap();
    t.retain(|t| t.id.starts_with("once:"));
    assert_eq!(t.len(), 1, "{t:?}");
    t[0].next_fire = chrono::Utc::now() - chrono::Duration::seconds(1);
    store.put_trigger(&t[0]).await.unwrap();
    let scheduler = &r.env.state.runs.scheduler;
    scheduler.tick().await.unwrap();
    scheduler.wait_idle().await;
    let runs = r.executions("mine").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(a.json()["id"].as_u64(), Some(runs[0].id), "{runs:?}");
    assert_eq!(runs[0].status, ExecutionStatus::Failed);
    let why = runs[0].failure.clone().unwrap_or_default();
    assert!(
        why.contains("\"forbidden\"") && why.contains("\"olga\""),
        "{why}"
    );
}

/// Creates a webhook in `mine` as the admin, acting as `user`/`roles`.
async fn hook(r: &Runs, name: &str, job: &str, user: &str, roles: &str, extra: &str) -> Value {
    let a = r
        .env
        .call(Method::POST, "/api/59/project/mine/webhook")
        .token(ADMIN)
        .json(&format!(
            r#"{{"name":"{name}","user":"{user}","roles":"{roles}","config":{{"jobId":"{job}"{extra}}}}}"#
        ))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    a.json()
}

async fn fire(r: &Runs, token: &str) -> Answer {
    r.env
        .call(Method::POST, &format!("/api/59/webhook/{token}"))
        .json("{}")
        .send()
        .await
}

#[tokio::test]
async fn a_webhook_runs_as_its_user_and_roles() {
    let r = Runs::new().await;
    let yaml = "\
- name: everywhere
  group: lim
  nodefilters: {filter: '.*'}
  sequence:
    commands:
      - exec: 'true'
- name: local
  group: lim
  sequence:
    commands:
      - exec: 'true'
";
    let everywhere = r.import(ADMIN, "mine", yaml).await;
    let jobs = r
        .env
        .store
        .list_jobs("mine", &Default::default())
        .await
        .unwrap();
    let local = jobs
        .iter()
        .find(|j| j.name == "local")
        .and_then(|j| j.uuid.clone())
        .unwrap();
    let h = hook(&r, "wide", &everywhere, "olga", "ops", "").await;
    refused_on_forbidden(&fire(&r, h["authToken"].as_str().unwrap()).await);
    let h = hook(
        &r,
        "narrowed",
        &local,
        "olga",
        "ops",
        r#","nodeFilter":"forbidden""#,
    )
    .await;
    refused_on_forbidden(&fire(&r, h["authToken"].as_str().unwrap()).await);
    assert!(r.executions("mine").await.is_empty());
    // as the admin, the same webhook runs
    let h = hook(&r, "as-admin", &everywhere, "root", "admin", "").await;
    let a = fire(&r, h["authToken"].as_str().unwrap()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

#[tokio::test]
async fn changing_a_webhook_needs_the_rights_it_acts_with() {
    let r = Runs::new().await;
    let target = r
        .import(
            ADMIN,
            "mine",
            "- name: admin-only\n  group: adm\n  sequence:\n    commands:\n      - exec: 'true'\n",
        )
        .await;
    let other = r
        .import(
            ADMIN,
            "mine",
            "- name: other\n  group: adm\n  sequence:\n    commands:\n      - exec: 'true'\n",
        )
        .await;
    let h = hook(&r, "admins", &target, "root", "admin", "").await;
    let id = h["id"].as_str().unwrap().to_owned();
    let token = h["authToken"].as_str().unwrap().to_owned();
    let uri = format!("/api/59/project/mine/webhook/{id}");
    let before = r.env.store.list_webhooks("mine").await.unwrap();
    // olga has webhook `update`, not `admin`
    for body in [
        r#"{"regenAuthToken":true}"#.to_owned(),
        format!(r#"{{"config":{{"jobId":"{other}"}}}}"#),
        format!(r#"{{"config":{{"jobId":"{target}","argString":"-x y"}}}}"#),
    ] {
        let a = r
            .env
            .call(Method::POST, &uri)
            .token(OPS)
            .json(&body)
            .send()
            .await;
        a.error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
        assert!(!a.body.contains("authToken"), "{}", a.body);
        let m = a.json()["message"].as_str().unwrap_or_default().to_owned();
        assert!(m.contains("acting as user \"root\""), "{m}");
    }
    assert_eq!(r.env.store.list_webhooks("mine").await.unwrap(), before);
    // the old token still works (was not regenerated)
    let a = fire(&r, &token).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // what does not change what it runs or who holds it stays allowed
    let a = r
        .env
        .call(Method::POST, &uri)
        .token(OPS)
        .json(&format!(
            r#"{{"enabled":true,"config":{{"jobId":"{target}"}}}}"#
        ))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // re-bound to olga herself, she may regenerate and retarget it
    let a = r
        .env
        .call(Method::POST, &uri)
        .token(OPS)
        .json(&format!(
            r#"{{"user":"olga","roles":"ops","regenAuthToken":true,"config":{{"jobId":"{other}"}}}}"#
        ))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v = a.json();
    assert_eq!(v["user"], "olga");
    let fresh = v["authToken"].as_str().unwrap().to_owned();
    // and firing it now runs as olga, who may not run the admin's job
    let a = fire(&r, &fresh).await;
    a.error(StatusCode::FORBIDDEN, "api.error.item.unauthorized");
    assert_eq!(fire(&r, &token).await.status, StatusCode::NOT_FOUND);
}
