//! Live output latency: `foredeck serve` (SQLite in a fresh data directory)
//! runs a job on its own node that prints a line with the wall-clock time
//! (`date +%s%N`) every ~20 ms; one client follows the SSE stream
//! `/api/59/execution/{id}/output/stream` over HTTP on loopback, another
//! polls `/api/59/execution/{id}/output?offset=` every 100 ms, both at the
//! same time. Latency = arrival at the client - the time in the line;
//! reported as p50/p99/max for each.
//!
//! `cargo bench --bench sse_latency`
//! Env: `BENCH_SECONDS` (5) the job prints for, `BENCH_INTERVAL_MS` (20)
//! between lines, `BENCH_POLL_MS` (100) between polls.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod common;
use common::{env, Server};

// random (openssl rand -hex 32): serve refuses a guessable bootstrap token
const TOKEN: &str = "fdbdc63274ffd2599c3cbaf2f315cc36d4d3a5e4f7f4f60c51c3df15e5cb2f4d";
const JOB: &str = "66666666-6666-6666-6666-666666666666";

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// Starts `foredeck serve` on a free port; returns it and its address.
fn start(data: &std::path::Path) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_foredeck"))
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(data)
        .env("FOREDECK_BOOTSTRAP_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start foredeck serve");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let addr = loop {
        let mut l = String::new();
        assert!(
            out.read_line(&mut l).expect("read") > 0,
            "the server exited"
        );
        if let Some(a) = l.trim().split("listening on http://").nth(1) {
            break a.to_owned();
        }
    };
    // keep draining its stdout so that it never blocks on a full pipe
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (Server(child), addr)
}

/// One HTTP/1.0 exchange (the response ends at EOF).
fn http(addr: &str, method: &str, path: &str, ctype: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nX-Rundeck-Auth-Token: {TOKEN}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    let status = resp[9..12].parse().expect("status");
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The print time in an entry's text `tick <ns>`.
fn stamp(log: &str) -> Option<i128> {
    log.strip_prefix("tick ")?.trim().parse().ok()
}

/// Follows the SSE stream to its end; the latency of each line in ms.
fn follow_sse(addr: &str, id: u64) -> Vec<f64> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    write!(
        s,
        "GET /api/59/execution/{id}/output/stream HTTP/1.0\r\nHost: {addr}\r\nX-Rundeck-Auth-Token: {TOKEN}\r\n\r\n"
    )
    .expect("write");
    let mut lat = Vec::new();
    let mut buf = String::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let n = s.read(&mut chunk).expect("read");
        let arrived = now_ns();
        if n == 0 {
            return lat;
        }
        buf.push_str(&String::from_utf8_lossy(&chunk[..n]));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if !block.lines().any(|l| l.trim() == "event: log") {
                continue;
            }
            let data: String = block
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            let v: serde_json::Value = serde_json::from_str(&data).expect("json");
            if let Some(t) = v["log"].as_str().and_then(stamp) {
                lat.push((arrived - t) as f64 / 1e6);
            }
        }
    }
}

/// Polls the output every `every` until it is complete; the latency of
/// each line in ms.
fn poll(addr: &str, id: u64, every: Duration) -> Vec<f64> {
    let mut lat = Vec::new();
    let mut offset = "0".to_owned();
    loop {
        let path = format!("/api/59/execution/{id}/output?offset={offset}");
        let (status, body) = http(addr, "GET", &path, "application/json", "");
        let arrived = now_ns();
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        for e in v["entries"].as_array().into_iter().flatten() {
            if let Some(t) = e["log"].as_str().and_then(stamp) {
                lat.push((arrived - t) as f64 / 1e6);
            }
        }
        offset = v["offset"].as_str().unwrap_or("0").to_owned();
        if v["completed"] == true {
            return lat;
        }
        std::thread::sleep(every);
    }
}

fn report(label: &str, mut lat: Vec<f64>) {
    if lat.is_empty() {
        println!("{label:<28} no lines arrived");
        return;
    }
    lat.sort_by(f64::total_cmp);
    let at = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
    println!(
        "{label:<28} lines {:>4}  p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
        lat.len(),
        at(0.5),
        at(0.99),
        lat[lat.len() - 1]
    );
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    let seconds = env("BENCH_SECONDS", 5);
    let interval = env("BENCH_INTERVAL_MS", 20);
    let poll_every = Duration::from_millis(env("BENCH_POLL_MS", 100));
    let lines = seconds * 1000 / interval.max(1);
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!("machine: {cpus} CPUs, load average {}", load());

    let dir = tempfile::tempdir().expect("tempdir");
    let (server, addr) = start(&dir.path().join("data"));
    let (status, body) = http(
        &addr,
        "POST",
        "/api/59/projects",
        "application/json",
        r#"{"name":"bench"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let job = format!(
        r#"
- name: ticker
  uuid: {JOB}
  sequence:
    commands:
      - exec: 'for i in $(seq 1 {lines}); do echo "tick $(date +%s%N)"; sleep {:.3}; done'
"#,
        interval as f64 / 1000.0
    );
    let (status, body) = http(
        &addr,
        "POST",
        "/api/59/project/bench/jobs/import",
        "application/yaml",
        &job,
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(
        &addr,
        "POST",
        &format!("/api/59/job/{JOB}/run"),
        "application/json",
        "",
    );
    assert_eq!(status, 200, "{body}");
    let id = serde_json::from_str::<serde_json::Value>(&body).expect("json")["id"]
        .as_u64()
        .expect("execution id");

    let sse_addr = addr.clone();
    let sse = std::thread::spawn(move || follow_sse(&sse_addr, id));
    let polled = poll(&addr, id, poll_every);
    let streamed = sse.join().expect("sse thread");
    println!(
        "{lines} lines every {interval} ms for {seconds} s, on the server's own node; load average after {}",
        load()
    );
    report("SSE stream", streamed);
    report(
        &format!("polling every {} ms", poll_every.as_millis()),
        polled,
    );
    drop(server);
}
