//! The secrets a real `foredeck serve` is given through its API (an API
//! token it makes, a password and a private key in key storage, a webhook's
//! token, secure option values of a run, and of a run for later, which is
//! refused)
//! are nowhere in the bytes of its data directory: not in clear, not in
//! base64, not in hex. Markers stored in clear next to them are found, so
//! the scan reads what the server wrote.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use serde_json::Value;
use std::path::Path;

mod common;
use common::{serve_command, Serve};

// random (openssl rand -hex 32): serve refuses a guessable bootstrap token
const TOKEN: &str = "e8a11b2892087effc2324facd03ad2cb84042828cd07133e64e6ace385640f6a";

fn start(data: &Path) -> Serve {
    common::start(serve_command(data, TOKEN), TOKEN)
}

impl Serve {
    /// A call as the bootstrap admin that must succeed.
    fn ok(&self, method: &str, path: &str, ctype: &str, body: &str) -> String {
        let (status, text) = self.call(method, path, TOKEN, ctype, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {text}"
        );
        text
    }

    fn json(&self, method: &str, path: &str, body: &str) -> Value {
        let text = self.ok(method, path, "application/json", body);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    /// Imports a job document into project `e2e`.
    fn json_import(&self, doc: &str) -> Value {
        let text = self.ok(
            "POST",
            "/api/59/project/e2e/jobs/import",
            "application/yaml",
            doc,
        );
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }
}

/// Every byte of every file under `dir`, with the files' names.
fn all_files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The forms a secret could hide in: itself, base64 (standard and URL-safe,
/// at each of the three byte alignments it can have in a longer text), hex.
fn disguises(secret: &str) -> Vec<(String, Vec<u8>)> {
    let b = secret.as_bytes();
    let mut out = vec![("clear".to_owned(), b.to_vec())];
    for k in 0..3 {
        // whole 3-byte groups only: those encode the same inside any text
        let end = k + (b.len() - k) / 3 * 3;
        for (name, engine) in [
            ("base64", &base64::engine::general_purpose::STANDARD_NO_PAD),
            (
                "base64url",
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ),
        ] {
            let e = engine.encode(&b[k..end]);
            out.push((format!("{name}@{k}"), e.into_bytes()));
        }
    }
    let hex: String = b.iter().map(|c| format!("{c:02x}")).collect();
    out.push(("hex".into(), hex.clone().into_bytes()));
    out.push(("HEX".into(), hex.to_uppercase().into_bytes()));
    out
}

const JOB: &str = r#"
- name: deploy-marker-job
  uuid: 0b5e55ed-0000-4000-8000-00000000e2e0
  options:
    - name: who
    - name: pw
      secure: true
      valueExposed: true
  sequence:
    commands:
      - exec: echo "marker-output-${option.who}"; echo "pw is ${option.pw}"
"#;

#[test]
fn no_secret_given_through_the_api_is_stored_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = start(&data);
    let secure_now = "secure-option-value-now-Zq7Lp2";
    let secure_later = "secure-option-value-later-Xk9Wd4";
    let password = "key-storage-password-Hn3Vb8";
    let private_key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ-private-Rt5Yu1\n-----END OPENSSH PRIVATE KEY-----\n";

    server.json(
        "POST",
        "/api/59/projects",
        r#"{"name":"e2e","description":"marker-project-description"}"#,
    );
    // an API token, which then works
    let made = server.json(
        "POST",
        "/api/59/tokens",
        r#"{"user":"marker-token-user","roles":["admin"]}"#,
    );
    let api_token = made["token"].as_str().unwrap().to_owned();
    assert!(api_token.len() >= 32, "{made}");
    assert_eq!(
        server
            .call("GET", "/api/59/system/info", &api_token, "text/plain", "")
            .0,
        200
    );
    // key storage: a password and a private key
    server.ok(
        "POST",
        "/api/59/storage/keys/e2e/db.pass",
        "application/x-rundeck-data-password",
        password,
    );
    server.ok(
        "POST",
        "/api/59/storage/keys/e2e/id_marker",
        "application/octet-stream",
        private_key,
    );
    // a job with a secure option, run now and scheduled for later
    let v = server.json_import(JOB);
    assert_eq!(v["succeeded"].as_array().unwrap().len(), 1, "{v}");
    let job = "0b5e55ed-0000-4000-8000-00000000e2e0";
    let run = server.json(
        "POST",
        &format!("/api/59/job/{job}/run"),
        &format!(r#"{{"options":{{"who":"visible","pw":"{secure_now}"}}}}"#),
    );
    let id = run["id"].as_u64().unwrap();
    // a run for later keeps its options in the store until it fires: a
    // secure value is refused, the rest is kept
    let later = (chrono::Utc::now() + chrono::Duration::hours(6)).to_rfc3339();
    let (status, body) = server.call(
        "POST",
        &format!("/api/59/job/{job}/run"),
        TOKEN,
        "application/json",
        &format!(r#"{{"runAtTime":"{later}","options":{{"who":"x","pw":"{secure_later}"}}}}"#),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("options.pw") && !body.contains(secure_later),
        "{body}"
    );
    server.json(
        "POST",
        &format!("/api/59/job/{job}/run"),
        &format!(r#"{{"runAtTime":"{later}","options":{{"who":"marker-later-run"}}}}"#),
    );
    // a webhook; its token fires it
    let hook = server.json(
        "POST",
        "/api/59/project/e2e/webhook",
        &format!(
            r#"{{"name":"marker-hook","config":{{"jobId":"{job}","argString":"-who hooked"}}}}"#
        ),
    );
    let hook_token = hook["authToken"].as_str().unwrap().to_owned();
    let (status, body) = server.call(
        "POST",
        &format!("/api/59/webhook/{hook_token}"),
        "",
        "application/json",
        "{}",
    );
    assert_eq!(status, 200, "{body}");
    // the run ends (a bound, not a timing assertion), its output masked
    let mut status = String::new();
    for _ in 0..500 {
        status = server.json("GET", &format!("/api/59/execution/{id}"), "")["status"]
            .as_str()
            .unwrap()
            .to_owned();
        if status != "running" && status != "queued" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(status, "succeeded");
    let out = server.ok(
        "GET",
        &format!("/api/59/execution/{id}/output?format=text"),
        "text/plain",
        "",
    );
    assert!(out.contains("marker-output-visible"), "{out}");
    assert!(!out.contains(secure_now), "{out}");
    let (clean, out) = server.terminate();
    assert!(clean, "a clean exit on SIGTERM: {out}");

    let mut files = Vec::new();
    all_files(&data, &mut files);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.iter().any(|n| n.ends_with("foredeck.db")),
        "{names:?}"
    );
    // the scan sees what the server stored in clear
    for marker in [
        "marker-project-description",
        "marker-token-user",
        "marker-hook",
        "deploy-marker-job",
        "marker-output-visible",
        "e2e/id_marker",
        "marker-later-run",
    ] {
        assert!(
            files.iter().any(|(_, b)| contains(b, marker.as_bytes())),
            "{marker} is stored: the scan reads the right files ({names:?})"
        );
    }
    for (what, secret) in [
        ("the bootstrap token", TOKEN),
        ("the API token", api_token.as_str()),
        ("the webhook token", hook_token.as_str()),
        ("the stored password", password),
        ("the stored private key", private_key),
        ("the private key's body", &private_key[36..95]),
        ("a secure option value", secure_now),
        ("a scheduled run's secure option value", secure_later),
    ] {
        for (form, bytes) in disguises(secret) {
            for (name, content) in &files {
                assert!(!contains(content, &bytes), "{what} is in {name} ({form})");
            }
        }
    }
}

/// A secure option's default value given in a job file is kept in key
/// storage, encrypted: runs get it, the data directory never holds it.
#[test]
fn a_secure_option_default_is_not_stored_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = start(&data);
    let secret = "sealed-default-Pq4Ws6Tn";
    server.json("POST", "/api/59/projects", r#"{"name":"e2e"}"#);
    let v = server.json_import(&format!(
        r#"
- name: default-marker-job
  uuid: 0b5e55ed-0000-4000-8000-00000000e2e1
  options:
    - name: pw
      secure: true
      valueExposed: true
      value: {secret}
  sequence:
    commands:
      - exec: '[ "$(printf %s "${{option.pw}}" | tr a-z A-Z)" = "{upper}" ] && echo default-arrived'
"#,
        // the job compares with another form of the secret, which the
        // stored job text may then hold
        upper = secret.to_uppercase()
    ));
    assert_eq!(v["succeeded"].as_array().unwrap().len(), 1, "{v}");
    let run = server.json(
        "POST",
        "/api/59/job/0b5e55ed-0000-4000-8000-00000000e2e1/run",
        "{}",
    );
    let id = run["id"].as_u64().unwrap();
    let mut status = String::new();
    for _ in 0..500 {
        status = server.json("GET", &format!("/api/59/execution/{id}"), "")["status"]
            .as_str()
            .unwrap()
            .to_owned();
        if status != "running" && status != "queued" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = server.ok(
        "GET",
        &format!("/api/59/execution/{id}/output?format=text"),
        "text/plain",
        "",
    );
    assert_eq!(status, "succeeded", "{out}");
    assert!(out.contains("default-arrived"), "{out}");
    let (clean, out) = server.terminate();
    assert!(clean, "a clean exit on SIGTERM: {out}");

    let mut files = Vec::new();
    all_files(&data, &mut files);
    assert!(
        files
            .iter()
            .any(|(_, b)| contains(b, b"default-marker-job")),
        "the scan reads what the server stored"
    );
    for (form, bytes) in disguises(secret) {
        for (name, content) in &files {
            assert!(
                !contains(content, &bytes),
                "the secure default is in {name} ({form})"
            );
        }
    }
}
