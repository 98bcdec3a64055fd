//! `foredeck serve --ssh-known-hosts FILE` under the strict host-key policy
//! (issue 17, finding 7): a host listed only in the file is accepted, one
//! in neither the file nor the database is refused, and one whose key in
//! the file differs from the key in the database is refused naming both
//! fingerprints. Real sshd on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use foredeck::store::prelude::*;
mod common;
#[path = "../crates/ssh/tests/harness/mod.rs"]
mod harness;

use common::{serve_command, Serve};
use serde_json::Value;

// random (openssl rand -hex 32)
const TOKEN: &str = "7d2a9c41e8b3f6051c7e9a2d4b8f3e6a0d5c1b9e7f2a4c8d6e0b3f9a1c5d7e24";
/// Another ed25519 public key (not the sshd's).
const OTHER_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGd4u0gWm0c5ZlVZ0wR5kq9f5rj1Yh1oY7cZ0sS3x9mB";

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Runs job `uuid` and waits for its end: the final state and its log.
fn run(server: &Serve, uuid: &str) -> (String, String) {
    let (status, body) = server.http(
        "POST",
        &format!("/api/59/job/{uuid}/run"),
        "application/json",
        "",
    );
    assert_eq!(status, 200, "{body}");
    let id = json(&body)["id"].as_u64().unwrap();
    let mut log = String::new();
    let mut offset = "0".to_owned();
    for _ in 0..3_000 {
        let (status, body) = server.http(
            "GET",
            &format!("/api/59/execution/{id}/output?offset={offset}"),
            "application/json",
            "",
        );
        assert_eq!(status, 200, "{body}");
        let v = json(&body);
        for e in v["entries"].as_array().unwrap() {
            log.push_str(e["log"].as_str().unwrap_or_default());
            log.push('\n');
        }
        offset = v["offset"].as_str().unwrap().to_owned();
        if v["completed"] == true {
            return (v["execState"].as_str().unwrap().to_owned(), log);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("execution {id} does not end: {log}");
}

#[test]
fn strict_checking_reads_the_known_hosts_file_and_refuses_a_conflict_with_the_database() {
    let Some(sshd) = harness::Sshd::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let host_key = sshd.host_public_key();
    let host_key = host_key
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    // node1 and node3 are in the operator's file; node2 is not
    let file = dir.path().join("known_hosts");
    std::fs::write(
        &file,
        format!(
            "# the operator's file\n[127.0.0.1]:{p} {host_key}\n[127.0.0.3]:{p} {host_key}\n",
            p = sshd.port
        ),
    )
    .unwrap();
    let mut cmd = serve_command(&data, TOKEN);
    cmd.args(["--ssh-host-key-policy", "strict", "--ssh-known-hosts"])
        .arg(&file)
        .arg("--ssh-key")
        .arg(sshd.user_key_path());
    let server = common::start(cmd, TOKEN);
    let (status, body) = server.http(
        "POST",
        "/api/59/projects",
        "application/json",
        r#"{"name":"kh"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = foredeck::sql::SqlStore::open_data_dir(&data).await.unwrap();
        store
            .replace_nodes("kh", "test", &[sshd.node(1), sshd.node(2), sshd.node(3)])
            .await
            .unwrap();
        // the database knows another key for node3
        store
            .put_known_host(&format!("[127.0.0.3]:{}", sshd.port), OTHER_KEY)
            .await
            .unwrap();
    });
    let mut jobs = String::new();
    for n in 1..=3 {
        jobs.push_str(&format!(
            "- name: on{n}\n  uuid: 00000000-0000-4000-8000-00000000000{n}\n  nodefilters: {{filter: 'name: node{n}'}}\n  sequence: {{commands: [{{exec: 'echo hello from node{n}'}}]}}\n"
        ));
    }
    let (status, body) = server.http(
        "POST",
        "/api/59/project/kh/jobs/import",
        "application/yaml",
        &jobs,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        json(&body)["succeeded"].as_array().unwrap().len(),
        3,
        "{body}"
    );

    let (state, log) = run(&server, "00000000-0000-4000-8000-000000000001");
    assert_eq!(state, "succeeded", "a host listed in the file runs: {log}");
    assert!(log.contains("hello from node1"), "{log}");

    let (state, log) = run(&server, "00000000-0000-4000-8000-000000000002");
    assert_eq!(state, "failed", "{log}");
    assert!(log.contains("unknown"), "{log}");
    assert!(!log.contains("hello from node2"), "{log}");

    let (state, log) = run(&server, "00000000-0000-4000-8000-000000000003");
    assert_eq!(state, "failed", "{log}");
    assert!(!log.contains("hello from node3"), "{log}");
    let file_fp = foredeck::ssh::fingerprint(&host_key);
    let db_fp = foredeck::ssh::fingerprint(OTHER_KEY);
    assert!(log.contains(&file_fp) && log.contains(&db_fp), "{log}");
    assert!(log.contains(&file.display().to_string()), "{log}");
    // serve never writes the operator's file
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 3);

    // the operator forgets the database's wrong key; the file's key then runs
    let host = format!("[127.0.0.3]:{}", sshd.port);
    let show = std::process::Command::new(env!("CARGO_BIN_EXE_foredeck"))
        .args(["known-hosts", "show", &host, "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(show.status.success(), "{show:?}");
    assert!(
        String::from_utf8_lossy(&show.stdout).contains(&db_fp),
        "{show:?}"
    );
    let forget = std::process::Command::new(env!("CARGO_BIN_EXE_foredeck"))
        .args(["known-hosts", "forget", &host, "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(forget.status.success(), "{forget:?}");
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_foredeck"))
        .args(["known-hosts", "forget", &host, "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("no key learned"),
        "{again:?}"
    );
    let (state, log) = run(&server, "00000000-0000-4000-8000-000000000003");
    assert_eq!(state, "succeeded", "{log}");
    assert!(log.contains("hello from node3"), "{log}");
}
