//! Flood benchmark (issue 17, findings 5 and 6): `foredeck serve` on
//! loopback under a slow-header flood, an idle-connection flood and an
//! invalid-token flood, each while a legitimate client (4 concurrent
//! loops of `GET /api/59/system/info` with a valid token, one connection
//! per request) measures its success rate and latency. The floods come
//! from other loopback addresses (127.0.0.2, .3, .4) than the client
//! (127.0.0.1), as an attacker's would.
//!
//! `cargo bench --bench http_floods`
//! Env: `BENCH_SECONDS` the client measures per scenario (10),
//! `BENCH_FLOOD` connections of the slow-header and idle floods (4000),
//! `BENCH_TOKEN_FLOODERS` concurrent invalid-token senders (32),
//! `BENCH_FOREDECK` another `foredeck` binary to measure (e.g. one built
//! from an older commit; default: this build's), `BENCH_NOFILE` the
//! server's open-files limit (set with util-linux `prlimit`; default: this
//! process's), so that a flood can reach it.
//! Everything is bounded: each scenario lasts its seconds plus 4 s, every
//! client wait at most 5 s, and the floods end with their scenario.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

mod common;
use common::{env, free_port, Server};

const TOKEN: &str = "http-floods-admin-token-0123456789abcdef";
/// The longest a client waits for one answer.
const WAIT: Duration = Duration::from_secs(5);

/// A connection from loopback address `from` to the server.
async fn connect(from: [u8; 4], port: u16) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.bind((std::net::Ipv4Addr::from(from), 0).into())?;
    s.connect(([127, 0, 0, 1], port).into()).await
}

/// One GET with `token` on a new connection; the answer's status code, or
/// `None` on no answer within [`WAIT`].
async fn get(from: [u8; 4], port: u16, token: &str) -> Option<u16> {
    let go = async {
        let mut s = connect(from, port).await.ok()?;
        let ask = format!(
            "GET /api/59/system/info HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             X-Rundeck-Auth-Token: {token}\r\nConnection: close\r\n\r\n"
        );
        s.write_all(ask.as_bytes()).await.ok()?;
        let mut all = Vec::new();
        let _ = s.read_to_end(&mut all).await;
        std::str::from_utf8(all.get(9..12)?).ok()?.parse().ok()
    };
    tokio::time::timeout(WAIT, go).await.ok().flatten()
}

fn start(bin: &PathBuf, dir: &std::path::Path, port: u16) -> Server {
    let mut cmd = match std::env::var("BENCH_NOFILE") {
        Ok(n) => {
            let mut c = Command::new("prlimit");
            c.arg(format!("--nofile={n}:{n}")).arg("--").arg(bin);
            c
        }
        Err(_) => Command::new(bin),
    };
    let child = cmd
        .arg("serve")
        .args(["--port", &port.to_string(), "--data-dir"])
        .arg(dir)
        .env("FOREDECK_BOOTSTRAP_TOKEN", TOKEN)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start foredeck serve");
    Server(child)
}

/// The legitimate client's figures over `seconds`.
async fn measure(port: u16, seconds: u64) -> String {
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut loops = Vec::new();
    for _ in 0..4 {
        loops.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while Instant::now() < until {
                let t = Instant::now();
                let ok = get([127, 0, 0, 1], port, TOKEN).await == Some(200);
                seen.push((ok, t.elapsed()));
            }
            seen
        }));
    }
    let mut all = Vec::new();
    for l in loops {
        all.extend(l.await.expect("client loop"));
    }
    let ok = all.iter().filter(|(ok, _)| *ok).count();
    let mut times: Vec<Duration> = all.iter().map(|(_, t)| *t).collect();
    times.sort();
    let pct = |p: f64| {
        times
            .get(((times.len() as f64 * p) as usize).min(times.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    format!(
        "{} requests, {:.1}% answered 200, p50 {:.1} ms, p99 {:.1} ms",
        all.len(),
        100.0 * ok as f64 / all.len().max(1) as f64,
        pct(0.5),
        pct(0.99)
    )
}

/// What a flood saw.
#[derive(Default)]
struct Seen {
    opened: AtomicU64,
    closed_by_server: AtomicU64,
    statuses: std::sync::Mutex<std::collections::BTreeMap<u16, u64>>,
}

impl Seen {
    fn report(&self) -> String {
        let statuses = self
            .statuses
            .lock()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        format!(
            "flood: {} connections opened, {} closed by the server{}",
            self.opened.load(Ordering::Relaxed),
            self.closed_by_server.load(Ordering::Relaxed),
            if statuses.is_empty() {
                String::new()
            } else {
                format!(", answers {{{statuses}}}")
            }
        )
    }
}

/// Connections from 127.0.0.2 that send a request head one header line
/// every 2 s and never finish it; a closed one is opened again.
fn slow_headers(port: u16, n: u64, stop: CancellationToken, seen: Arc<Seen>) {
    for _ in 0..n {
        let (stop, seen) = (stop.clone(), seen.clone());
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                let Ok(mut s) = connect([127, 0, 0, 2], port).await else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                seen.opened.fetch_add(1, Ordering::Relaxed);
                let mut line: &[u8] = b"GET /api/59/system/info HTTP/1.1\r\nHost: x\r\n";
                loop {
                    if s.write_all(line).await.is_err() {
                        seen.closed_by_server.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    line = b"X-Slow: 1\r\n";
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(2)) => {}
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }
}

/// Connections from 127.0.0.3 that send nothing; a closed one is opened
/// again.
fn idle(port: u16, n: u64, stop: CancellationToken, seen: Arc<Seen>) {
    for _ in 0..n {
        let (stop, seen) = (stop.clone(), seen.clone());
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                let Ok(mut s) = connect([127, 0, 0, 3], port).await else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                seen.opened.fetch_add(1, Ordering::Relaxed);
                let mut buf = [0u8; 512];
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = async { while let Ok(1..) = s.read(&mut buf).await {} } => {
                        seen.closed_by_server.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }
}

/// Senders from 127.0.0.4 of requests with invalid tokens, as fast as the
/// server answers.
fn invalid_tokens(port: u16, n: u64, stop: CancellationToken, seen: Arc<Seen>) {
    for k in 0..n {
        let (stop, seen) = (stop.clone(), seen.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.is_cancelled() {
                i += 1;
                let token = format!("invalid-{k}-{i}-0123456789abcdef");
                seen.opened.fetch_add(1, Ordering::Relaxed);
                let status = get([127, 0, 0, 4], port, &token).await.unwrap_or(0);
                if let Ok(mut m) = seen.statuses.lock() {
                    *m.entry(status).or_default() += 1;
                }
            }
        });
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds = env("BENCH_SECONDS", 10);
    let flood = env("BENCH_FLOOD", 4000);
    let flooders = env("BENCH_TOKEN_FLOODERS", 32);
    let bin = std::env::var_os("BENCH_FOREDECK").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_foredeck")),
        PathBuf::from,
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let _server = start(&bin, dir.path(), port);
    let t = Instant::now();
    while get([127, 0, 0, 1], port, TOKEN).await != Some(200) {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "server not ready in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("== {} ({seconds} s per scenario)", bin.display());
    println!("no flood: {}", measure(port, seconds).await);
    type Flood = fn(u16, u64, CancellationToken, Arc<Seen>);
    let scenarios: [(&str, Flood, u64); 3] = [
        ("slow-header flood", slow_headers, flood),
        ("idle-connection flood", idle, flood),
        ("invalid-token flood", invalid_tokens, flooders),
    ];
    for (name, run, n) in scenarios {
        let stop = CancellationToken::new();
        let seen = Arc::new(Seen::default());
        run(port, n, stop.clone(), seen.clone());
        // let the flood build up
        tokio::time::sleep(Duration::from_secs(2)).await;
        let figures = measure(port, seconds).await;
        stop.cancel();
        println!("{name} ({n}): {figures}; {}", seen.report());
        // the flood's connections close; the server settles
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
