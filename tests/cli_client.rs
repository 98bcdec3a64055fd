//! The CLI as a client of a real `foredeck serve`: jobs load/list/export,
//! run JOB (following its output), executions list/follow/abort.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{serve_command, Serve};

// random (openssl rand -hex 32): serve refuses a guessable bootstrap token
const TOKEN: &str = "d36c54819b2b707e3a5dc8f44c09d9b0c350aadfec4ccca4e2f2c451e6d2c5c9";

fn start(data: &Path) -> Serve {
    common::start(serve_command(data, TOKEN), TOKEN)
}

fn cli(server: &Serve, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_foredeck"))
        .args(args)
        .args(["--url", &server.url(), "--project", "ops"])
        .env("FOREDECK_TOKEN", TOKEN)
        .env("FOREDECK_CONFIG", "/nonexistent/client.yaml")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const JOBS: &str = r#"
- name: hello
  uuid: 11111111-1111-4111-8111-111111111111
  options:
    - name: who
      value: nobody
  sequence:
    commands:
      - exec: echo "hello ${option.who}"
  notification:
    onsuccess:
      urls: http://HOOK/done/${execution.id}
- name: broken
  group: ops/tools
  sequence:
    commands:
      - exec: echo about to fail; exit 3
- name: fanout
  nodefilters:
    filter: 'tags: web'
  sequence:
    commands:
      - exec: echo "on ${node.name}"
- name: sleeper
  sequence:
    commands:
      - exec: echo sleeping; sleep 60; echo never
"#;

#[test]
fn jobs_runs_and_executions_through_a_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"));
    // nodes from a Rundeck file node source, run by the local executor
    let nodes = dir.path().join("nodes.yaml");
    std::fs::write(
        &nodes,
        "web1:\n  hostname: web1\n  tags: web\n  node-executor: local\nweb2:\n  hostname: web2\n  tags: web\n  node-executor: local\ndb1:\n  hostname: db1\n  tags: db\n  node-executor: local\n",
    )
    .unwrap();
    let project = serde_json::json!({
        "name": "ops",
        "config": {
            "resources.source.1.type": "file",
            "resources.source.1.config.file": nodes.to_str().unwrap(),
            "resources.source.1.config.format": "resourceyaml",
        }
    });
    assert_eq!(
        server
            .http(
                "POST",
                "/api/59/projects",
                "application/json",
                &project.to_string()
            )
            .0,
        201
    );
    // a webhook receiver for the job's success notification
    let hook = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook_addr = hook.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in hook.incoming() {
            let mut conn = conn.unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let (mut head, mut len) = (String::new(), 0usize);
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                head.push_str(&line);
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = tx.send((head, String::from_utf8(body).unwrap()));
        }
    });
    let file = dir.path().join("jobs.yaml");
    std::fs::write(&file, JOBS.replace("HOOK", &hook_addr.to_string())).unwrap();

    let out = cli(&server, &["jobs", "load", "--file", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let loaded = text(&out.stdout);
    assert_eq!(loaded.matches("loaded").count(), 4, "{loaded}");
    // a job that fails its checks fails alone, named with its position
    let partly = dir.path().join("partly.yaml");
    std::fs::write(
        &partly,
        "- name: no-steps\n  sequence: {commands: []}\n- name: beside\n  sequence: {commands: [{exec: 'true'}]}\n",
    )
    .unwrap();
    let out = cli(
        &server,
        &["jobs", "load", "--file", partly.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("beside"),
        "{}",
        text(&out.stdout)
    );
    let failed = text(&out.stderr);
    assert!(
        failed.contains("FAILED  #1  no-steps") && failed.contains("at least one step"),
        "{failed}"
    );

    let out = cli(&server, &["nodes", "list", "--filter", "tags: web"]);
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        shown.contains("web1") && shown.contains("web2") && !shown.contains("db1"),
        "{shown}"
    );
    let out = cli(&server, &["run", "fanout"]);
    let ran = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        ran.contains("web1: on web1") && ran.contains("web2: on web2"),
        "{ran}"
    );
    assert!(!ran.contains("db1"), "{ran}");

    let out = cli(&server, &["jobs", "list"]);
    let list = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for name in ["hello", "ops/tools/broken", "sleeper"] {
        assert!(list.contains(name), "{list}");
    }
    let out = cli(&server, &["jobs", "export", "--format", "yaml"]);
    assert!(
        text(&out.stdout).contains("name: hello"),
        "{}",
        text(&out.stdout)
    );

    // run by name, following the output: exit status follows the run
    let out = cli(&server, &["run", "hello", "--option", "who=world"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("hello world"),
        "{}",
        text(&out.stdout)
    );
    // the server sent the success notification, its link pointing at itself
    let (head, body) = rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap();
    assert!(head.starts_with("POST /done/"), "{head}");
    let note: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(note["trigger"], "success");
    assert_eq!(note["execution"]["job"]["name"], "hello");
    assert!(
        note["execution"]["href"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/project/ops/execution/show/", server.url())),
        "{note}"
    );
    let out = cli(&server, &["run", "ops/tools/broken"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("about to fail"),
        "{}",
        text(&out.stdout)
    );
    let out = cli(&server, &["run", "no-such-job"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no-such-job"),
        "{}",
        text(&out.stderr)
    );

    // start without following, then abort and follow to the end
    let out = cli(&server, &["run", "sleeper", "--no-follow"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_owned();
    assert!(id.parse::<u64>().is_ok(), "{id}");
    let out = cli(&server, &["executions", "abort", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = cli(&server, &["executions", "follow", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        !text(&out.stdout).contains("never"),
        "{}",
        text(&out.stdout)
    );

    // a run for later: its scheduled execution's id, abortable before then
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let out = cli(
        &server,
        &["run", "hello", "--option", "who=later", "--at", &at],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let later = text(&out.stdout).trim().to_owned();
    assert!(later.parse::<u64>().is_ok(), "{later}");
    assert!(
        text(&out.stderr).contains(&format!("Execution #{later} scheduled for")),
        "{}",
        text(&out.stderr)
    );
    let out = cli(&server, &["executions", "abort", &later]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = cli(&server, &["executions", "list"]);
    let list = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        list.contains("succeeded") && list.contains("failed") && list.contains("aborted"),
        "{list}"
    );

    // a wrong token is a clear error
    let out = Command::new(env!("CARGO_BIN_EXE_foredeck"))
        .args([
            "jobs",
            "list",
            "--url",
            &server.url(),
            "--project",
            "ops",
            "--token",
            "wrong-token",
        ])
        .env("FOREDECK_CONFIG", "/nonexistent/client.yaml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("token"), "{}", text(&out.stderr));
}

/// `foredeck` with these arguments against `server`, for project `project`.
fn cli_in(server: &Serve, project: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_foredeck"))
        .args(args)
        .args(["--url", &server.url(), "--project", project])
        .env("FOREDECK_TOKEN", TOKEN)
        .env("FOREDECK_CONFIG", "/nonexistent/client.yaml")
        .output()
        .unwrap()
}

#[test]
fn a_project_archive_copies_a_project_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"));
    for (name, config) in [
        ("ops", serde_json::json!({"project.label": "Operations"})),
        ("copy", serde_json::json!({})),
    ] {
        let body = serde_json::json!({"name": name, "config": config});
        let (status, answer) = server.http(
            "POST",
            "/api/59/projects",
            "application/json",
            &body.to_string(),
        );
        assert_eq!(status, 201, "{answer}");
    }
    let file = dir.path().join("jobs.yaml");
    std::fs::write(
        &file,
        "- name: greet\n  sequence:\n    commands:\n      - exec: echo greetings from the archive\n",
    )
    .unwrap();
    let out = cli_in(
        &server,
        "ops",
        &["jobs", "load", "--file", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = cli_in(&server, "ops", &["run", "greet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let archive = dir.path().join("ops.rdproject.jar");
    let out = cli_in(
        &server,
        "ops",
        &["project", "export", "-o", archive.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("bytes written to"),
        "{}",
        text(&out.stdout)
    );
    let zip = std::fs::read(&archive).unwrap();
    assert!(zip.starts_with(b"PK"));

    let args = [
        "project",
        "import",
        archive.to_str().unwrap(),
        "--remove-uuids",
        "--import-config",
    ];
    let out = cli_in(&server, "copy", &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 job(s), 1 execution(s)"),
        "{}",
        text(&out.stdout)
    );
    let (_, config) = server.http("GET", "/api/59/project/copy/config", "application/json", "");
    assert!(config.contains("Operations"), "{config}");
    let (_, runs) = server.http(
        "GET",
        "/api/59/project/copy/executions",
        "application/json",
        "",
    );
    let runs: serde_json::Value = serde_json::from_str(&runs).unwrap();
    assert_eq!(runs["paging"]["total"], 1, "{runs}");
    let id = runs["executions"][0]["id"].as_u64().unwrap();
    let (_, output) = server.http(
        "GET",
        &format!("/api/59/execution/{id}/output"),
        "application/json",
        "",
    );
    assert!(output.contains("greetings from the archive"), "{output}");

    // the same jobs again keep their uuids: refused, nothing more stored
    let out = cli_in(
        &server,
        "copy",
        &["project", "import", archive.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("could not be imported"),
        "{}",
        text(&out.stderr)
    );
    let (_, runs) = server.http(
        "GET",
        "/api/59/project/copy/executions",
        "application/json",
        "",
    );
    assert!(runs.contains("\"total\":1"), "{runs}");
    // not an archive: a clear error
    let out = cli_in(
        &server,
        "copy",
        &["project", "import", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("not a readable zip"),
        "{}",
        text(&out.stderr)
    );
}
