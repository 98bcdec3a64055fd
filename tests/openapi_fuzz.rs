//! schemathesis against a real `foredeck serve`, driven by the server's own
//! `/api/59/openapi.json`: every documented operation, as the admin and as
//! a user with no grants, must never answer 5xx nor break its documented
//! schema. schemathesis comes from the pinned client virtual environment
//! (`scripts/client-venv.sh`, `FOREDECK_CLIENT_VENV`).
//!
//! Operations that start runs (job runs and retries, ad-hoc commands,
//! webhook events, job imports that could schedule one) are left out: the
//! server would execute generated shell text on this machine. The live
//! output stream is left out too: it holds its connection open by design.
//! So is deleting a token: schemathesis learns token ids from the token
//! list and would delete the very token it runs with (which the API
//! rightly allows), leaving the rest of the run unauthenticated.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

const TOKEN: &str = "9c0e1d2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f";

/// Operations schemathesis must not call (see the module comment).
const EXCLUDED: &str = r"^POST .*(/run|/run/command|/run/script|/run/url|/executions|/retry/\{execid\}|/webhook/\{token\}|/jobs/import)$|/output/stream$|^DELETE /api/\{v\}/token/\{id\}$";

/// Runs schemathesis with `token` for at most `budget` seconds of
/// generation (and a hard kill well after it); its exit status and output.
fn schemathesis(
    venv: &std::path::Path,
    work: &std::path::Path,
    url: &str,
    token: &str,
    budget: u32,
) -> (bool, String) {
    let mut child = Command::new(venv.join("bin/schemathesis"))
        .current_dir(work)
        .arg("run")
        .arg(format!("{url}/api/59/openapi.json"))
        .args(["--url", &format!("{url}/api/59")])
        .args(["-H", &format!("X-Rundeck-Auth-Token: {token}")])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args(["--exclude-operation-id-regex", EXCLUDED])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "25", "--seed", "4440", "--workers", "1"])
        .args(["--max-time", &budget.to_string(), "--request-timeout", "10"])
        .args(["--no-color", "--output-truncate", "true"])
        .env("SCHEMATHESIS_HOOKS", "")
        .env("HOME", work)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let hard = u64::from(budget) * 3 + 120;
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(hard));
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    });
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    drop(watchdog);
    (status.success(), format!("{out}{err}"))
}

#[test]
fn schemathesis_finds_no_server_error_nor_schema_break() {
    let Some(venv) = common::client_venv() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cmd = common::serve_command(&dir.path().join("data"), TOKEN);
    let mut server = common::start(cmd, TOKEN);
    // something to find: a project, a job, a finished run
    let (status, _) = server.http(
        "POST",
        "/api/59/projects",
        "application/json",
        r#"{"name":"fuzzed"}"#,
    );
    assert_eq!(status, 201);
    let job = "- name: quiet\n  sequence:\n    commands:\n      - exec: 'true'\n";
    let (status, body) = server.http(
        "POST",
        "/api/59/project/fuzzed/jobs/import?fileformat=yaml",
        "application/yaml",
        job,
    );
    assert_eq!(status, 200, "{body}");
    // a user with no grants, for the denied side of every operation
    let (status, body) = server.http(
        "POST",
        "/api/59/tokens",
        "application/json",
        r#"{"user":"fuzzer","roles":["nobody"],"duration":"2h"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let limited: serde_json::Value = serde_json::from_str(&body).unwrap();
    let limited = limited["token"].as_str().unwrap().to_owned();

    let url = server.url();
    for (who, token) in [
        ("a user without grants", limited.as_str()),
        ("the admin", TOKEN),
    ] {
        let (ok, out) = schemathesis(&venv, dir.path(), &url, token, 60);
        assert!(ok, "schemathesis as {who}:\n{out}");
    }
    let (stopped, _) = server.terminate();
    assert!(stopped, "the server did not stop cleanly after the fuzzing");
}
