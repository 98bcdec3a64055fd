//! A job run through the API of a real `foredeck serve` on real SSH nodes
//! (OpenSSH sshd on loopback), its output followed to the end by offset
//! polling and by Server-Sent Events: both give the same text.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use foredeck::store::prelude::*;
mod common;
#[path = "../crates/ssh/tests/harness/mod.rs"]
mod harness;

use common::{serve_command, Serve};

use serde_json::Value;

// random (openssl rand -hex 32): serve refuses a guessable bootstrap token
const TOKEN: &str = "ff514b77bb5cbbee65d84826f2d25bec3dcdb904284fd67a0d2cfda7dd77ffe4";

fn start(data: &std::path::Path, key: Option<&std::path::Path>) -> Serve {
    let mut cmd = serve_command(data, TOKEN);
    cmd.args(["--ssh-host-key-policy", "accept-new"]);
    if let Some(k) = key {
        cmd.arg("--ssh-key").arg(k);
    }
    common::start(cmd, TOKEN)
}

/// An exchange as the bootstrap admin.
fn http(addr: &str, method: &str, path: &str, ctype: &str, body: &str) -> (u16, String) {
    common::exchange(addr, TOKEN, method, path, ctype, body)
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn line(entry: &Value) -> String {
    format!(
        "{}: {}",
        entry["node"].as_str().unwrap(),
        entry["log"].as_str().unwrap()
    )
}

#[test]
fn a_job_on_ssh_nodes_followed_by_polling_and_by_sse() {
    let Some(sshd) = harness::Sshd::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(&data, Some(&sshd.user_key_path()));
    let addr = server.addr.as_str();

    let (status, body) = http(
        addr,
        "POST",
        "/api/59/projects",
        "application/json",
        r#"{"name":"e2e"}"#,
    );
    assert_eq!(status, 201, "{body}");
    // the project's nodes, as a node source would store them
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = foredeck::sql::SqlStore::open_data_dir(&data).await.unwrap();
        store
            .replace_nodes("e2e", "test", &[sshd.node(1), sshd.node(2)])
            .await
            .unwrap();
    });
    let job = r#"
- name: count
  uuid: 55555555-5555-5555-5555-555555555555
  nodefilters:
    filter: "name: node1,node2"
    dispatch: {threadcount: 2, keepgoing: false}
  sequence:
    commands:
      - exec: 'for i in 1 2 3 4 5; do echo "line $i on ${node.name} as $(id -un)"; sleep 0.1; done; echo done >&2'
"#;
    let (status, body) = http(
        addr,
        "POST",
        "/api/59/project/e2e/jobs/import",
        "application/yaml",
        job,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        json(&body)["succeeded"].as_array().unwrap().len(),
        1,
        "{body}"
    );
    // nothing connected before the run
    assert_eq!(metric(addr, "foredeck_ssh_connections_open"), Some(0.0));
    let (status, body) = http(
        addr,
        "POST",
        "/api/59/job/55555555-5555-5555-5555-555555555555/run",
        "application/json",
        "",
    );
    assert_eq!(status, 200, "{body}");
    let id = json(&body)["id"].as_u64().unwrap();

    // SSE on its own thread while this one polls
    let sse_addr = addr.to_owned();
    let streaming = std::thread::spawn(move || {
        let (status, body) = http(
            &sse_addr,
            "GET",
            &format!("/api/59/execution/{id}/output/stream"),
            "text/plain",
            "",
        );
        assert_eq!(status, 200, "{body}");
        let mut lines = Vec::new();
        let mut end = None;
        for block in body.split("\n\n") {
            let event = block
                .lines()
                .find_map(|l| l.strip_prefix("event:"))
                .map(str::trim);
            let data: String = block
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            match event {
                Some("log") => lines.push(line(&json(&data))),
                Some("end") => end = Some(json(&data)),
                _ => {}
            }
        }
        (lines, end.expect("an end event"))
    });

    let mut polled = Vec::new();
    let mut offset = "0".to_owned();
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 5_000, "the execution does not end");
        let (status, body) = http(
            addr,
            "GET",
            &format!("/api/59/execution/{id}/output?offset={offset}"),
            "application/json",
            "",
        );
        assert_eq!(status, 200, "{body}");
        let v = json(&body);
        for e in v["entries"].as_array().unwrap() {
            polled.push(line(e));
        }
        offset = v["offset"].as_str().unwrap().to_owned();
        if v["completed"] == true {
            assert_eq!(v["execState"], "succeeded", "{polled:?}");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (streamed, end) = streaming.join().unwrap();
    assert_eq!(end["execState"], "succeeded");
    assert_eq!(streamed, polled);
    for n in [1, 2] {
        for i in 1..=5 {
            let want = format!("node{n}: line {i} on node{n} as {}", harness::USER);
            assert!(polled.contains(&want), "{want} missing from {polled:?}");
        }
        assert!(polled.contains(&format!("node{n}: done")), "{polled:?}");
    }
    let (_, body) = http(
        addr,
        "GET",
        &format!("/api/59/execution/{id}"),
        "application/json",
        "",
    );
    let e = json(&body);
    let mut ok: Vec<&str> = e["successfulNodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    ok.sort_unstable();
    assert_eq!(ok, ["node1", "node2"]);

    // the pool keeps one connection per node after the run (idle for 60 s)
    assert_eq!(metric(addr, "foredeck_ssh_connections_open"), Some(2.0));
    let lag = metric(addr, "foredeck_scheduler_lag_seconds").expect("the lag gauge");
    assert!(lag >= 0.0, "{lag}");
    let (status, text) = http(addr, "GET", "/metrics", "text/plain", "");
    assert_eq!(status, 200, "{text}");
    for want in [
        "# TYPE foredeck_ssh_connections_open gauge",
        "# TYPE foredeck_scheduler_lag_seconds gauge",
        "# TYPE foredeck_http_request_duration_seconds histogram",
        "foredeck_http_request_duration_seconds_count{method=\"GET\",route=\"/api/{v}/execution/{id}/output\"}",
    ] {
        assert!(text.contains(want), "{want} missing from {text}");
    }
    drop(server);
}

/// The value of an unlabelled metric on `/metrics`.
fn metric(addr: &str, name: &str) -> Option<f64> {
    let (status, text) = http(addr, "GET", "/metrics", "text/plain", "");
    assert_eq!(status, 200, "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

/// SIGTERM stops the server gracefully: what still runs is aborted and
/// recorded so, and the process exits cleanly.
#[test]
fn graceful_shutdown_aborts_running_executions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = start(&data, None);
    let addr = server.addr.clone();
    let (status, body) = http(
        &addr,
        "POST",
        "/api/59/projects",
        "application/json",
        r#"{"name":"p"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let job = "- name: long\n  uuid: 66666666-6666-6666-6666-666666666666\n  sequence:\n    commands:\n      - exec: 'echo started; sleep 60'\n";
    let (status, body) = http(
        &addr,
        "POST",
        "/api/59/project/p/jobs/import",
        "application/yaml",
        job,
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(
        &addr,
        "POST",
        "/api/59/job/66666666-6666-6666-6666-666666666666/run",
        "application/json",
        "",
    );
    assert_eq!(status, 200, "{body}");
    let id = json(&body)["id"].as_u64().unwrap();
    // wait for its first line: it runs
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 2_000, "the job prints nothing");
        let (_, body) = http(
            &addr,
            "GET",
            &format!("/api/59/execution/{id}/output?format=text"),
            "text/plain",
            "",
        );
        if body.contains("started") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (clean, rest) = server.terminate();
    assert!(clean, "{rest}");
    assert!(rest.contains("Aborting 1 running execution"), "{rest}");
    assert!(rest.contains("Foredeck stopped"), "{rest}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let e = rt.block_on(async {
        let store = foredeck::sql::SqlStore::open_data_dir(&data).await.unwrap();
        store.get_execution(id).await.unwrap().unwrap()
    });
    assert_eq!(e.status, foredeck::ExecutionStatus::Aborted);
}
