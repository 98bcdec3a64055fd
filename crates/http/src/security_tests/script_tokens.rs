//! Finding 1 of issue 17: `@option.x@` tokens in script steps, filled from a
//! webhook payload or a run request, must not run code; tokens where no
//! quoting helps refuse the step; `scriptTokens: raw` is marked in the log
//! and the audit.

use super::*;
use foredeck_core::ExecutionStatus;
use serde_json::json;

/// Payloads that ran code when tokens were pasted raw.
const PAYLOADS: &[&str] = &[
    "$(touch PWNED)",
    "`touch PWNED`",
    "\"; touch PWNED; echo \"",
    "'; touch PWNED; echo '",
    "x; touch PWNED",
    "$(touch PWNED)'\"`touch PWNED`\"'",
];

/// A shell script printing the value in several quoting contexts.
const SCRIPT: &str = "#!/bin/sh\necho \"double=[@option.v@]\"\necho 'single=[@option.v@]'\necho unquoted=[@option.v@]\ncat <<EOF\nheredoc=[@option.v@]\nEOF\nx=$(printf '%s' \"@option.v@\")\necho \"substituted=[$x]\"\n";

async fn import(env: &Env, project: &str, job: Value) {
    let doc = json!([job]).to_string();
    env.import_one(project, "application/json", doc).await;
}

fn script_job(uuid: &str, script: &str) -> Value {
    json!({
        "name": uuid,
        "uuid": uuid,
        "options": [{"name": "v"}],
        "sequence": {"commands": [{"script": script}]},
    })
}

async fn run(env: &Env, job: &str, v: &str) -> (ExecutionStatus, String) {
    let a = env
        .call(Method::POST, &format!("/api/59/job/{job}/run"))
        .token(ADMIN)
        .json(&json!({"options": {"v": v}}).to_string())
        .send()
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    env.finished(a.json()["id"].as_u64().unwrap()).await
}

#[tokio::test]
async fn a_webhook_payload_in_script_tokens_does_not_run_code() {
    let env = env().await;
    env.project("hooked").await;
    let dir = tempfile::tempdir().unwrap();
    let body = SCRIPT.trim_start_matches("#!/bin/sh\n");
    let script = format!("#!/bin/sh\ncd {}\n{body}", dir.path().display());
    import(&env, "hooked", script_job("script-job", &script)).await;
    let hook = env
        .call(Method::POST, "/api/59/project/hooked/webhook")
        .token(ADMIN)
        .json(r#"{"name":"deploy","config":{"jobId":"script-job","argString":"-v ${data.v}"}}"#)
        .send()
        .await;
    assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.body);
    let token = hook.json()["authToken"].as_str().unwrap().to_owned();
    for payload in PAYLOADS {
        // the webhook's token alone fires it: no API token
        let fired = env
            .call(Method::POST, &format!("/api/59/webhook/{token}"))
            .json(&json!({ "v": payload }).to_string())
            .send()
            .await;
        assert_eq!(fired.status, StatusCode::OK, "{}", fired.body);
        let exec = fired.json()["executionId"].as_u64().unwrap();
        let (status, log) = env.finished(exec).await;
        assert_eq!(status, ExecutionStatus::Succeeded, "{payload}: {log}");
        for context in ["double", "single", "unquoted", "heredoc", "substituted"] {
            let line = format!("{context}=[{payload}]");
            assert!(
                log.lines().any(|l| l == line),
                "{payload}: no {line:?} in\n{log}"
            );
        }
        assert!(
            !dir.path().join("PWNED").exists(),
            "{payload} ran code:\n{log}"
        );
    }
}

#[tokio::test]
async fn a_token_where_no_quoting_helps_refuses_the_step_with_a_clear_error() {
    let env = env().await;
    env.project("refused").await;
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "cd {}\necho before\neval \"echo @option.v@\"\n",
        dir.path().display()
    );
    import(&env, "refused", script_job("eval-job", &script)).await;
    let (status, log) = run(&env, "eval-job", "$(touch PWNED)").await;
    assert_eq!(status, ExecutionStatus::Failed, "{log}");
    for part in ["line 3", "@option.v@", "eval", "$RD_OPTION_V"] {
        assert!(log.contains(part), "{part} not in\n{log}");
    }
    // refused before anything ran
    assert!(!log.lines().any(|l| l == "before"), "{log}");
    assert!(!dir.path().join("PWNED").exists(), "{log}");
}

#[tokio::test]
async fn raw_script_tokens_are_explicit_and_marked_in_log_and_audit() {
    let env = env().await;
    env.project("legacy").await;
    let mut raw = script_job("raw-job", "echo [@option.v@]\n");
    raw["scriptTokens"] = json!("raw");
    import(&env, "legacy", raw).await;
    import(
        &env,
        "legacy",
        script_job("quoted-job", "echo [@option.v@]\n"),
    )
    .await;

    // the attribute survives export
    let a = env
        .call(Method::GET, "/api/59/job/raw-job?format=json")
        .token(ADMIN)
        .send()
        .await;
    assert_eq!(a.json()[0]["scriptTokens"], "raw", "{}", a.body);
    let a = env
        .call(Method::GET, "/api/59/job/quoted-job?format=yaml")
        .token(ADMIN)
        .send()
        .await;
    assert!(!a.body.contains("scriptTokens"), "{}", a.body);

    // raw: the value is shell text (here, harmless word splitting shows it)
    let (status, log) = run(&env, "raw-job", "a   b $((1+1))").await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{log}");
    assert!(log.lines().any(|l| l == "[a b 2]"), "{log}");
    assert!(log.contains("scriptTokens: raw"), "{log}");
    let (status, log) = run(&env, "quoted-job", "a   b $((1+1))").await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{log}");
    assert!(log.lines().any(|l| l == "[a   b $((1+1))]"), "{log}");
    assert!(!log.contains("scriptTokens"), "{log}");

    let runs = env.audit("run", "job").await;
    let detail = |job: &str| {
        runs.iter()
            .find(|e| e.resource == job)
            .map(|e| e.detail.clone())
            .unwrap_or_else(|| panic!("no audit of {job}: {runs:?}"))
    };
    assert_eq!(detail("raw-job")["scriptTokens"], "raw");
    assert!(detail("quoted-job").get("scriptTokens").is_none());

    // an unknown value is refused at import, naming the field
    let mut bad = script_job("bad-job", "echo\n");
    bad["scriptTokens"] = json!("unquoted");
    let a = env
        .call(Method::POST, "/api/59/project/legacy/jobs/import")
        .token(ADMIN)
        .json(&json!([bad]).to_string())
        .send()
        .await;
    assert!(a.body.contains("scriptTokens"), "{} {}", a.status, a.body);
}
