//! Bad input on every kind of route: malformed JSON and YAML, YAML bombs
//! and deep nesting, unknown jobs and executions, bad filters, cron
//! patterns and parameters, `..` in key paths. Each gets its status and
//! Rundeck's error body `{error, errorCode, message, apiversion}`, with a
//! message naming what was wrong.

use super::*;

const JOB: &str = "0badf00d-0000-4000-8000-000000000001";
const NO_JOB: &str = "0badf00d-0000-4000-8000-00000000ffff";

/// Project `p` with job `JOB` run once, and a webhook; returns the
/// execution id and the webhook id.
async fn seeded(env: &Env) -> (u64, String) {
    env.project("p").await;
    let doc = format!(
        "- name: j\n  uuid: {JOB}\n  options: [{{name: who}}]\n  sequence: {{commands: [{{exec: 'true'}}]}}\n"
    );
    env.import_one("p", "application/yaml", doc).await;
    let a = env
        .call(Method::POST, &format!("/api/59/job/{JOB}/run"))
        .token(ADMIN)
        .json("{}")
        .send()
        .await;
    let id = a.json()["id"].as_u64().unwrap();
    env.finished(id).await;
    let a = env
        .call(Method::POST, "/api/59/project/p/webhook")
        .token(ADMIN)
        .json(&format!(r#"{{"name":"h","config":{{"jobId":"{JOB}"}}}}"#))
        .send()
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    (id, a.json()["id"].as_str().unwrap().to_owned())
}

/// A billion laughs: nine levels of ten aliases each (10^9 values).
fn billion_laughs() -> String {
    let mut s = String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..9 {
        let p = format!("*l{}", i - 1);
        let ten = [p.as_str(); 10].join(", ");
        s += &format!("l{i}: &l{i} [{ten}]\n");
    }
    s
}

/// Method, URI, content type, body; status, error code, a text the message
/// must hold.
type Case = (
    Method,
    String,
    &'static str,
    String,
    StatusCode,
    &'static str,
    &'static str,
);

#[tokio::test]
async fn bad_input_gets_a_status_and_rundecks_error_body() {
    let env = env().await;
    let (e, hook) = seeded(&env).await;
    let bomb = billion_laughs();
    let bomb_list = format!("- name: x\n  bomb: {{{}}}\n", bomb.replace('\n', ", "));
    let deep_yaml = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_json = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    const BAD: StatusCode = StatusCode::BAD_REQUEST;
    const MISSING: StatusCode = StatusCode::NOT_FOUND;
    let invalid = "api.error.invalid.request";
    let nothing = "api.error.item.doesnotexist";
    let json = "application/json";
    let yaml = "application/yaml";
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        // malformed JSON bodies
        (Method::POST, "/api/59/projects".into(), json, r#"{"name": "#.into(), BAD, invalid, "request body"),
        (Method::POST, "/api/59/jobs/delete".into(), json, r#"{"ids": ["#.into(), BAD, invalid, "request body"),
        (Method::POST, "/api/59/jobs/delete".into(), json, r#"{"ids": 7}"#.into(), BAD, invalid, "ids"),
        (Method::POST, "/api/59/executions/delete".into(), json, "{".into(), BAD, invalid, ""),
        (Method::POST, format!("/api/59/job/{JOB}/retry/{e}"), json, "{".into(), BAD, invalid, "request body"),
        (Method::POST, "/api/59/project/p/run/script".into(), json, "{".into(), BAD, invalid, "JSON"),
        (Method::POST, "/api/59/project/p/webhook".into(), json, "{not json".into(), BAD, invalid, ""),
        (Method::POST, format!("/api/59/project/p/webhook/{hook}"), json, "[1,".into(), BAD, invalid, ""),
        (Method::PUT, "/api/59/project/p/config".into(), json, r#"{"a": 1"#.into(), BAD, invalid, ""),
        (Method::PUT, "/api/59/project/p/config/k".into(), json, r#"{"value""#.into(), BAD, invalid, ""),
        (Method::POST, "/api/59/tokens".into(), json, r#"{"user": "#.into(), BAD, invalid, ""),
        // malformed YAML, YAML bombs, deep nesting (job import)
        (Method::POST, "/api/59/project/p/jobs/import".into(), yaml, "- name: [unclosed".into(), BAD, invalid, "request body"),
        (Method::POST, "/api/59/project/p/jobs/import".into(), yaml, bomb.clone(), BAD, invalid, "YAML aliases"),
        (Method::POST, "/api/59/project/p/jobs/import".into(), yaml, bomb_list, BAD, invalid, "YAML aliases"),
        (Method::POST, "/api/59/project/p/jobs/import".into(), yaml, deep_yaml, BAD, invalid, "nests deeper"),
        (Method::POST, "/api/59/project/p/jobs/import".into(), json, deep_json, BAD, invalid, "nests deeper"),
        (Method::POST, "/api/59/project/p/jobs/import".into(), yaml, "name: x\nsequence: {commands: 7}\n".into(), BAD, invalid, "Expected list data"),
        // unknown jobs
        (Method::GET, format!("/api/59/job/{NO_JOB}"), json, String::new(), MISSING, nothing, NO_JOB),
        (Method::DELETE, format!("/api/59/job/{NO_JOB}"), json, String::new(), MISSING, nothing, NO_JOB),
        (Method::GET, format!("/api/59/job/{NO_JOB}/info"), json, String::new(), MISSING, nothing, NO_JOB),
        (Method::GET, format!("/api/59/job/{NO_JOB}/forecast"), json, String::new(), MISSING, nothing, NO_JOB),
        (Method::POST, format!("/api/59/job/{NO_JOB}/run"), json, "{}".into(), MISSING, nothing, NO_JOB),
        (Method::GET, format!("/api/59/job/{NO_JOB}/executions"), json, String::new(), MISSING, nothing, NO_JOB),
        (Method::POST, format!("/api/59/job/{NO_JOB}/retry/{e}"), json, "{}".into(), MISSING, nothing, NO_JOB),
        (Method::POST, format!("/api/59/job/{NO_JOB}/execution/disable"), json, String::new(), MISSING, nothing, NO_JOB),
        (Method::POST, format!("/api/59/job/{NO_JOB}/schedule/disable"), json, String::new(), MISSING, nothing, NO_JOB),
        (Method::GET, "/api/59/job/".into(), json, String::new(), MISSING, invalid, "/api/59/job/"),
        (Method::GET, format!("/api/59/job/{}", "x".repeat(300)), json, String::new(), MISSING, nothing, "Job ID"),
        (Method::POST, "/api/59/project/p/webhook".into(), json, format!(r#"{{"name":"n","config":{{"jobId":"{NO_JOB}"}}}}"#), BAD, invalid, "no job"),
        (Method::GET, "/api/59/project/nope/jobs".into(), json, String::new(), MISSING, nothing, "nope"),
        // unknown executions
        (Method::GET, "/api/59/execution/999999".into(), json, String::new(), MISSING, nothing, "999999"),
        (Method::GET, "/api/59/execution/abc".into(), json, String::new(), MISSING, nothing, "abc"),
        (Method::GET, "/api/59/execution/99999999999999999999999/output".into(), json, String::new(), MISSING, nothing, "Execution ID"),
        (Method::GET, "/api/59/execution/-1/state".into(), json, String::new(), MISSING, nothing, "-1"),
        (Method::POST, "/api/59/execution/999999/abort".into(), json, String::new(), MISSING, nothing, "999999"),
        (Method::DELETE, "/api/59/execution/999999".into(), json, String::new(), MISSING, nothing, "999999"),
        (Method::POST, format!("/api/59/job/{JOB}/retry/999999"), json, "{}".into(), MISSING, nothing, "999999"),
        // bad filters and parameters
        (Method::POST, format!("/api/59/job/{JOB}/run"), json, r#"{"filter": "name: \"open"}"#.into(), BAD, invalid, "filter"),
        (Method::GET, "/api/59/project/p/resources?filter=name:%20%22open".into(), json, String::new(), BAD, invalid, "filter"),
        (Method::GET, "/api/59/project/p/executions?max=lots".into(), json, String::new(), BAD, invalid, "max"),
        (Method::GET, "/api/59/project/p/executions?begin=yesterday".into(), json, String::new(), BAD, invalid, "begin"),
        (Method::GET, "/api/59/project/p/executions?executionTypeFilter=sideways".into(), json, String::new(), BAD, invalid, "executionTypeFilter"),
        (Method::GET, "/api/59/project/p/executions/running?offset=-3".into(), json, String::new(), BAD, invalid, "offset"),
        (Method::GET, format!("/api/59/execution/{e}/output?offset=x"), json, String::new(), BAD, invalid, "offset"),
        (Method::GET, format!("/api/59/job/{JOB}/executions?status=sleeping"), json, String::new(), BAD, invalid, "status"),
        (Method::GET, "/api/59/system/audit?max=x".into(), json, String::new(), BAD, invalid, "max"),
        (Method::POST, format!("/api/59/job/{JOB}/run"), json, r#"{"runAtTime": "2026-13-45T99:00:00Z"}"#.into(), BAD, invalid, "runAtTime"),
        // key paths
        (Method::GET, "/api/59/storage/keys/a/../../etc/passwd".into(), json, String::new(), BAD, invalid, ""),
        (Method::POST, "/api/59/storage/keys/..%2F..%2Fx".into(), "application/pgp-keys", "ssh-ed25519 A".into(), BAD, invalid, ""),
        // API version
        (Method::GET, "/api/99/system/info".into(), json, String::new(), BAD, "api.error.api-version.unsupported", "99"),
    ];
    for (method, uri, ctype, body, status, code, needle) in cases {
        let mut c = env.call(method.clone(), &uri).token(ADMIN);
        if !body.is_empty() {
            c = c.body(ctype, body.clone());
        }
        let a = c.send().await;
        let shown: String = body.chars().take(80).collect();
        let ctx = format!("{method} {uri} {shown:?}: {} {}", a.status, a.body);
        assert_eq!(a.status, status, "{ctx}");
        let v = a.json();
        assert_eq!(v["error"], true, "{ctx}");
        assert_eq!(v["errorCode"], code, "{ctx}");
        assert_eq!(v["apiversion"], 59, "{ctx}");
        let message = v["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty() && message.contains(needle),
            "{needle}: {ctx}"
        );
    }
    // none of it changed anything
    let jobs = env.store.list_jobs("p", &Default::default()).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].execution_enabled && jobs[0].schedule_enabled);
    assert!(env.store.get_execution(e).await.unwrap().is_some());
    assert!(env.store.list_keys("keys/").await.unwrap().is_empty());
    assert!(!env
        .store
        .get_project("p")
        .await
        .unwrap()
        .unwrap()
        .config
        .contains_key("k"));
}

/// A bad cron pattern or time zone fails its job at import, and nothing of
/// it is stored; the other jobs of the document are imported.
#[tokio::test]
async fn bad_schedules_fail_their_job_only() {
    let env = env().await;
    seeded(&env).await;
    let doc = "
- name: bad-cron
  schedule: {crontab: '0 0 25 * * ?'}
  sequence: {commands: [{exec: 'true'}]}
- name: bad-fields
  schedule: {crontab: '* * *'}
  sequence: {commands: [{exec: 'true'}]}
- name: bad-zone
  schedule: {crontab: '0 0 12 * * ?'}
  timeZone: Mars/Olympus_Mons
  sequence: {commands: [{exec: 'true'}]}
- name: never
  schedule: {crontab: '0 0 12 ? * * 2001'}
  sequence: {commands: [{exec: 'true'}]}
- name: good
  schedule: {crontab: '0 0 12 * * ?'}
  sequence: {commands: [{exec: 'true'}]}
";
    let a = env
        .call(Method::POST, "/api/59/project/p/jobs/import")
        .token(ADMIN)
        .body("application/yaml", doc)
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v = a.json();
    let failed: Vec<&str> = v["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        failed,
        ["bad-cron", "bad-fields", "bad-zone", "never"],
        "{v}"
    );
    for (f, needle) in
        v["failed"]
            .as_array()
            .unwrap()
            .iter()
            .zip(["hour", "fields", "Mars/Olympus_Mons", "never"])
    {
        let error = f["error"].as_str().unwrap();
        assert!(error.contains(needle), "{needle}: {f}");
    }
    assert_eq!(v["succeeded"][0]["name"], "good", "{v}");
    let names: Vec<String> = env
        .store
        .list_jobs("p", &Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"good".to_owned()), "{names:?}");
}
