//! Memory of the execution output route: `foredeck serve` on SQLite with
//! one finished execution whose log is about 50 MB (10,000 lines of 5,000
//! bytes, the most one answer carries), read whole over loopback once and
//! then by 30 clients at once. Reported: the server's idle RSS, its peak RSS
//! (`VmHWM`, reset through `/proc/PID/clear_refs` before each phase) and its
//! RSS after each phase. Figures only, nothing asserted.
//!
//! `cargo bench --bench output_memory`
//! Env: `BENCH_LINES` (10000), `BENCH_LINE_BYTES` (5000), `BENCH_PARALLEL`
//! (30), `BENCH_SERVER` (another `foredeck` binary to measure, e.g. one
//! built before a change; default: this build's).

use foredeck::store::prelude::*;
use foredeck::{Execution, ExecutionStatus, LogEvent, LogLevel, Project};
use foredeck_store::SqlStore;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{env, free_port, Server};

const TOKEN: &str = "output-bench-admin-token-0123456789abcdef";
const PROJECT: &str = "bench";

/// A finished execution with `lines` lines of `line_bytes` bytes.
async fn seed(store: &SqlStore, lines: u64, line_bytes: usize) -> u64 {
    store
        .create_project(&Project::new(PROJECT))
        .await
        .expect("create project");
    let mut e = Execution::new(PROJECT, "big-log", "admin");
    e.status = ExecutionStatus::Succeeded;
    e.date_ended = Some(e.date_started);
    let id = store.create_execution(&e).await.expect("create execution");
    let mut k = 0;
    while k < lines {
        let batch: Vec<LogEvent> = (k..(k + 500).min(lines))
            .map(|i| {
                let mut text = format!("line {i} ");
                text.push_str(&"x".repeat(line_bytes.saturating_sub(text.len())));
                LogEvent::system(LogLevel::Info, Some("web1"), Some("1"), text)
            })
            .collect();
        k += batch.len() as u64;
        store.append_log(id, &batch).await.expect("append log");
    }
    id
}

/// One GET with the token; the status line and the body's length as
/// received (chunk headers included when it is streamed).
fn get(port: u16, path: &str) -> Option<(String, usize)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(300))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Rundeck-Auth-Token: {TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = vec![0u8; 64 << 10];
    let mut first = Vec::new();
    let mut total = 0usize;
    loop {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        if first.len() < 64 {
            first.extend_from_slice(&buf[..n.min(64)]);
        }
        total += n;
    }
    let status = String::from_utf8_lossy(&first)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned();
    Some((status, total))
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

/// Resets the process's peak RSS (`VmHWM`) to its current RSS.
fn reset_peak(pid: u32) {
    if let Err(e) = std::fs::write(format!("/proc/{pid}/clear_refs"), "5") {
        println!("(cannot reset the peak RSS: {e}; peaks are since start)");
    }
}

fn main() {
    let lines = env("BENCH_LINES", 10_000);
    let line_bytes = env("BENCH_LINE_BYTES", 5_000) as usize;
    let parallel = env("BENCH_PARALLEL", 30);
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let id = rt.block_on(async {
        let store = SqlStore::open_data_dir(dir.path())
            .await
            .expect("open sqlite");
        seed(&store, lines, line_bytes).await
    });
    drop(rt);
    let bin =
        std::env::var("BENCH_SERVER").unwrap_or_else(|_| env!("CARGO_BIN_EXE_foredeck").into());
    let port = free_port();
    let server = Server(
        Command::new(&bin)
            .arg("serve")
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--port", &port.to_string()])
            .env("FOREDECK_BOOTSTRAP_TOKEN", TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start foredeck serve"),
    );
    let pid = server.0.id();
    let t = Instant::now();
    while get(port, "/api/59/system/info").is_none_or(|(s, _)| !s.contains(" 200 ")) {
        assert!(t.elapsed() < Duration::from_secs(120), "server not ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(2));
    let path = format!("/api/59/execution/{id}/output");
    println!(
        "== {bin}: a log of {lines} lines of {line_bytes} bytes ({:.0} MB)",
        (lines as f64 * line_bytes as f64) / 1e6
    );
    println!("idle RSS {}", mib(status_kib(pid, "VmRSS:")));

    reset_peak(pid);
    let (status, bytes) = get(port, &path).expect("one read");
    println!(
        "1 read ({status}, {:.1} MB): peak RSS {}, RSS after {}",
        bytes as f64 / 1e6,
        mib(status_kib(pid, "VmHWM:")),
        mib(status_kib(pid, "VmRSS:"))
    );

    reset_peak(pid);
    let readers: Vec<_> = (0..parallel)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || get(port, &path))
        })
        .collect();
    let mut ok = 0;
    let mut total = 0usize;
    for r in readers {
        if let Ok(Some((status, bytes))) = r.join() {
            ok += usize::from(status.contains(" 200 "));
            total += bytes;
        }
    }
    let peak = status_kib(pid, "VmHWM:");
    std::thread::sleep(Duration::from_secs(2));
    println!(
        "{parallel} parallel reads ({ok} answered 200, {:.0} MB in all): peak RSS {}, RSS 2 s after {}",
        total as f64 / 1e6,
        mib(peak),
        mib(status_kib(pid, "VmRSS:"))
    );
}
