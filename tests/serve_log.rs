//! `foredeck serve --log-format json`: the access log on standard error as
//! one JSON object a line, filtered by `FOREDECK_LOG`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;

const TOKEN: &str = "006ef5afe47454daaff177678aa434cc14bb973d620d92bdd925d1ea1d238abc";

/// A GET as the admin with this `X-Request-Id`: the whole answer.
fn get(addr: &str, path: &str, request_id: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nX-Rundeck-Auth-Token: {TOKEN}\r\nX-Request-Id: {request_id}\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp
}

#[test]
fn log_format_json_prints_the_access_log_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = common::serve_command(dir.path(), TOKEN);
    cmd.args(["--log-format", "json"])
        .env("FOREDECK_LOG", "warn,foredeck::access=debug")
        .env_remove("FOREDECK_LOG_FORMAT")
        .env_remove("FOREDECK_CONFIG")
        .stderr(Stdio::piped());
    let mut server = common::start(cmd, TOKEN);
    let mut stderr = server.child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });

    let ok = get(&server.addr, "/api/59/system/info", "e2e-info-1");
    assert!(ok.starts_with("HTTP/1.0 200"), "{ok}");
    assert!(
        ok.to_ascii_lowercase()
            .contains("x-request-id: e2e-info-1\r\n"),
        "{ok}"
    );
    let missing = get(&server.addr, "/api/59/project/no-such", "e2e-missing-1");
    assert!(missing.starts_with("HTTP/1.0 404"), "{missing}");
    let (stopped, _) = server.terminate();
    assert!(stopped);
    let text = reader.join().unwrap();

    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let find = |message: &str, id: &str| -> Value {
        lines
            .iter()
            .find(|l| {
                l["target"] == "foredeck::access"
                    && l["message"] == message
                    && l["request_id"] == id
            })
            .cloned()
            .unwrap_or_else(|| panic!("no {message:?} line of {id}: {text}"))
    };
    let access = find("request", "e2e-info-1");
    assert_eq!(access["level"], "INFO", "{access}");
    assert_eq!(access["method"], "GET", "{access}");
    assert_eq!(access["route"], "/api/{v}/system/info", "{access}");
    assert_eq!(access["status"], 200, "{access}");
    assert_eq!(access["user"], "admin", "{access}");
    assert!(access["duration_ms"].is_number(), "{access}");
    assert!(access["timestamp"].is_string(), "{access}");
    let refused = find("request refused", "e2e-missing-1");
    assert_eq!(refused["level"], "DEBUG", "{refused}");
    assert_eq!(refused["status"], 404, "{refused}");
    assert_eq!(refused["code"], "api.error.item.doesnotexist", "{refused}");
    assert!(!text.contains(TOKEN), "the token is in the log: {text}");
}

#[test]
fn text_logs_to_a_pipe_are_plain_text_without_colours() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = common::serve_command(dir.path(), TOKEN);
    cmd.env("FOREDECK_LOG", "warn,foredeck::access=info")
        .env_remove("FOREDECK_LOG_FORMAT")
        .env_remove("FOREDECK_CONFIG")
        .stderr(Stdio::piped());
    let mut server = common::start(cmd, TOKEN);
    let mut stderr = server.child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let ok = get(&server.addr, "/api/59/system/info", "e2e-text-1");
    assert!(ok.starts_with("HTTP/1.0 200"), "{ok}");
    let (stopped, _) = server.terminate();
    assert!(stopped);
    let text = reader.join().unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("request_id=\"e2e-text-1\""))
        .unwrap_or_else(|| panic!("no access line: {text}"));
    assert!(line.contains(" INFO foredeck::access: request "), "{line}");
    assert!(line.contains("route=\"/api/{v}/system/info\""), "{line}");
    assert!(line.contains("user=\"admin\""), "{line}");
    assert!(!text.contains('\u{1b}'), "colour codes in a pipe: {text:?}");
    assert!(!text.contains(TOKEN), "the token is in the log: {text}");
}
