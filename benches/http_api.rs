//! HTTP API benchmark: `foredeck serve` on SQLite and on PostgreSQL with
//! 10,000 jobs and 1,000,000 executions seeded through the Store, measured
//! with `wrk` (installed with apt-get when missing): p50/p99 under 50
//! concurrent clients per route, idle RSS, and the time from process start to
//! the first 200 on `/api/59/system/info`.
//!
//! `cargo bench --bench http_api`
//! Env: `BENCH_EXECUTIONS` (1000000), `BENCH_JOBS` (10000), `BENCH_SECONDS`
//! per route (10), `BENCH_BACKENDS` (`sqlite,postgres`), `BENCH_DIR` (where
//! the seeded SQLite file is kept between runs, default
//! `target/http-bench`), `FOREDECK_TEST_POSTGRES`
//! (`postgres://postgres@127.0.0.1:5432`), `BENCH_PG_DB` (the PostgreSQL
//! database, default `fd_http_bench_<executions>`), `BENCH_ONLY` (measure
//! only the routes whose name contains this text). A seeded database is
//! reused when it already holds the executions asked for.
//!
//! Routes that answer 404 (not built yet on this branch) are reported as
//! absent rather than measured.

use chrono::{Duration as CDuration, Utc};
use foredeck::store::prelude::*;
use foredeck::store::{Trigger, TriggerFire};
use foredeck::{Execution, ExecutionQuery, ExecutionStatus, Job, Node, Project, Step, Workflow};
use foredeck_store::SqlStore;
use sea_orm::{ConnectionTrait, Database};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{env, free_port, Server};

// random (openssl rand -hex 32): serve refuses a guessable bootstrap token
const TOKEN: &str = "4687e9e77bc03aa7889cec3bd149a12da28736ca41963db4beb047589f185438";
const PROJECT: &str = "bench";

/// Seeds jobs and executions unless the store already holds them; returns
/// one execution id for the output route.
async fn seed(store: &SqlStore) -> u64 {
    let n = env("BENCH_EXECUTIONS", 1_000_000);
    let n_jobs = env("BENCH_JOBS", 10_000);
    if store
        .get_project(PROJECT)
        .await
        .expect("get project")
        .is_none()
    {
        store
            .create_project(&Project::new(PROJECT))
            .await
            .expect("create project");
    }
    let have = store
        .query_executions(&ExecutionQuery {
            project: Some(PROJECT.into()),
            max: 1,
            ..Default::default()
        })
        .await
        .expect("count");
    if have.total >= n {
        println!("seed: reusing {} executions", have.total);
        let id = have.items.first().map_or(1, |e| e.id);
        seed_log(store, id).await;
        return id;
    }
    let t = Instant::now();
    let mut jobs = Vec::new();
    for i in 0..n_jobs {
        let mut j = Job::new(
            format!("job-{i:05}"),
            Workflow::new(vec![Step::command("true")]),
        );
        j.group = Some(format!("team-{}/svc-{}", i % 20, i % 200));
        jobs.push(store.put_job(PROJECT, &j).await.expect("put_job"));
    }
    println!("seed: {n_jobs} jobs in {:.1} s", t.elapsed().as_secs_f64());

    // Executions go in through fire_trigger, thousands per transaction: the
    // Store's one way of creating many executions at once.
    let t = Instant::now();
    let start = Utc::now() - CDuration::days(60);
    let fire_at = Utc::now() - CDuration::hours(1);
    store
        .put_trigger(&Trigger::new("bench-seed", PROJECT, None, fire_at))
        .await
        .expect("trigger");
    let batch = 5_000u64;
    let mut i = have.total;
    while i < n {
        let claimed = store
            .claim_due_triggers("bench", Utc::now(), Duration::from_secs(600), 1)
            .await
            .expect("claim");
        assert_eq!(claimed.len(), 1, "seed trigger not claimed");
        let mut executions = Vec::with_capacity(batch as usize);
        for k in i..(i + batch).min(n) {
            let job = &jobs[(k % jobs.len() as u64) as usize];
            let mut e = Execution::new(PROJECT, job.full_name(), format!("user{}", k % 50));
            e.job_id = if k % 10 == 0 { None } else { job.uuid.clone() };
            e.date_started = start + CDuration::seconds((k * 5) as i64);
            e.date_ended = Some(e.date_started + CDuration::seconds(3));
            e.status = if k % 7 == 0 {
                ExecutionStatus::Failed
            } else if k % 97 == 0 {
                e.aborted_by = Some(format!("user{}", k % 13));
                ExecutionStatus::Aborted
            } else {
                ExecutionStatus::Succeeded
            };
            // one job run in four by its schedule, one in 50 at a later time
            if e.job_id.is_some() && k % 4 == 1 {
                e.execution_type = foredeck::ExecutionType::Scheduled;
            } else if e.job_id.is_some() && k % 50 == 3 {
                e.execution_type = foredeck::ExecutionType::UserScheduled;
            }
            executions.push(e);
        }
        let made = executions.len() as u64;
        let fired = store
            .fire_trigger(&TriggerFire {
                trigger_id: "bench-seed".into(),
                server: "bench".into(),
                fire_time: fire_at,
                next_fire: Some(fire_at),
                executions,
                exclusive: false,
                scheduled: None,
            })
            .await
            .expect("fire");
        assert!(
            matches!(fired, foredeck::FireOutcome::Fired(_)),
            "the seeding claim was lost: {fired:?}"
        );
        i += made;
        if i % 100_000 < batch {
            println!(
                "seed: {i} executions, {:.0}/s",
                i as f64 / t.elapsed().as_secs_f64()
            );
        }
    }
    store
        .delete_trigger("bench-seed")
        .await
        .expect("delete trigger");
    let nodes: Vec<Node> = (0..1000)
        .map(|i| {
            Node::new(format!("node-{i:04}"))
                .with("hostname", format!("10.0.{}.{}", i / 250, i % 250))
                .with_tags([if i % 2 == 0 { "web" } else { "db" }, "bench"])
        })
        .collect();
    store
        .replace_nodes(PROJECT, "bench.seed", &nodes)
        .await
        .expect("nodes");
    println!(
        "seed: {n} executions in {:.1} s ({:.0}/s)",
        t.elapsed().as_secs_f64(),
        n as f64 / t.elapsed().as_secs_f64()
    );
    let page = store
        .query_executions(&ExecutionQuery {
            project: Some(PROJECT.into()),
            max: 1,
            ..Default::default()
        })
        .await
        .expect("page");
    let id = page.items.first().map_or(1, |e| e.id);
    seed_log(store, id).await;
    id
}

/// The uuid of `job-00042`, whose executions one route queries.
async fn one_job(store: &SqlStore) -> String {
    store
        .find_job(PROJECT, Some("team-2/svc-42"), "job-00042")
        .await
        .expect("find job")
        .and_then(|j| j.uuid)
        .expect("job-00042 seeded")
}

/// Lines in the log of the execution whose output is measured.
const LOG_LINES: u64 = 10_000;

/// Gives the measured execution a log of [`LOG_LINES`] lines on four nodes
/// (in appends of 500, as the engine batches them) unless it has one.
async fn seed_log(store: &SqlStore, id: u64) {
    let have = store.log_length(id).await.expect("log length");
    if have >= LOG_LINES {
        return;
    }
    let mut i = have;
    while i < LOG_LINES {
        let batch: Vec<foredeck::LogEvent> = (i..(i + 500).min(LOG_LINES))
            .map(|k| {
                let mut ev = foredeck::LogEvent::system(
                    foredeck::LogLevel::Info,
                    Some(&format!("node-{:04}", k % 4)),
                    Some("1"),
                    format!("line {k}: the quick brown fox jumps over the lazy dog"),
                );
                ev.stream = foredeck::Stream::Stdout;
                ev
            })
            .collect();
        i += batch.len() as u64;
        store.append_log(id, &batch).await.expect("append log");
    }
    println!("seed: {LOG_LINES} log lines on execution {id}");
}

/// The header of the requests that take a gzip-compressed answer, as
/// Python's `requests`, OkHttp (Rundeck's `rd` CLI) and `curl --compressed`
/// send it.
const GZIP: &str = "Accept-Encoding: gzip";

/// A connection that has sent one GET of `path` with the token (and
/// `header`, if any).
fn request(port: u16, path: &str, header: Option<&str>, timeout: Duration) -> Option<TcpStream> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    let extra = header.map(|h| format!("{h}\r\n")).unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Rundeck-Auth-Token: {TOKEN}\r\n{extra}Connection: close\r\n\r\n"
    )
    .ok()?;
    Some(s)
}

/// One GET with the token; the status code, or `None` when the server does
/// not answer yet.
fn get_status(port: u16, path: &str) -> Option<u16> {
    let mut s = request(port, path, None, Duration::from_secs(5))?;
    let mut buf = [0u8; 16];
    s.read_exact(&mut buf).ok()?;
    std::str::from_utf8(&buf[9..12]).ok()?.parse().ok()
}

/// One GET with the token (and `header`); the body of a 200 answer sent
/// with a length, as sent (compressed when it was).
fn get_body(port: u16, path: &str, header: Option<&str>) -> Option<Vec<u8>> {
    let mut s = request(port, path, header, Duration::from_secs(30))?;
    let mut all = Vec::new();
    s.read_to_end(&mut all).ok()?;
    let at = all.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&all[..at]).to_ascii_lowercase();
    (head.starts_with("http/1.1 200") && head.contains("content-length:"))
        .then(|| all.split_off(at + 4))
}

/// Whether a GET with `header` is answered gzip-compressed.
fn answers_gzip(port: u16, path: &str, header: Option<&str>) -> bool {
    let Some(mut s) = request(port, path, header, Duration::from_secs(30)) else {
        return false;
    };
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let head = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| String::from_utf8_lossy(&all[..at]).to_ascii_lowercase())
        .unwrap_or_default();
    head.lines().any(|l| l.trim() == "content-encoding: gzip")
}

/// The floor under a route's figures: `body` answered from memory by a
/// bare axum server in this process, which builds nothing per request, so
/// what `wrk` measures is the transport and the client on this machine.
fn floor(body: Vec<u8>, seconds: u64) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let body = axum::body::Bytes::from(body);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt.spawn(async move {
        let app = axum::Router::new().fallback(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        });
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
        axum::serve(listener, app).await
    });
    let figures = wrk(port, "/", None, seconds);
    server.abort();
    figures
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn start(args: &[String], port: u16) -> (Server, Duration) {
    let t = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_foredeck"))
        .arg("serve")
        .args(args)
        .args(["--port", &port.to_string()])
        .env("FOREDECK_BOOTSTRAP_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start foredeck serve");
    let server = Server(child);
    loop {
        if get_status(port, "/api/59/system/info") == Some(200) {
            return (server, t.elapsed());
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "server not ready in 60 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn ensure_wrk() {
    if Command::new("wrk").arg("--version").output().is_ok() {
        return;
    }
    println!("installing wrk with apt-get");
    let ok = Command::new("apt-get")
        .args(["install", "-y", "wrk"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "wrk is missing and apt-get install wrk failed");
}

/// A `wrk` latency figure (`1.23ms`, `812.00us`, `1.01s`) in milliseconds.
fn wrk_ms(v: &str) -> f64 {
    let num = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
    if let Some(x) = v.strip_suffix("us") {
        num(x) / 1000.0
    } else if let Some(x) = v.strip_suffix("ms") {
        num(x)
    } else if let Some(x) = v.strip_suffix('s') {
        num(x) * 1000.0
    } else {
        f64::NAN
    }
}

fn wrk(port: u16, path: &str, header: Option<&str>, seconds: u64) -> String {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c50", &format!("-d{seconds}s"), "--latency", "-H"])
        .arg(format!("X-Rundeck-Auth-Token: {TOKEN}"));
    if let Some(h) = header {
        cmd.args(["-H", h]);
    }
    let out = cmd
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let find = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix).map(|r| r.trim().to_owned()))
            .unwrap_or_default()
    };
    let errors = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("Non-2xx") || l.starts_with("Socket errors"))
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, {} req/s{}",
        wrk_ms(&find("50%")),
        wrk_ms(&find("99%")),
        find("Requests/sec:"),
        if errors.is_empty() {
            String::new()
        } else {
            format!(" ({errors})")
        }
    )
}

fn measure(label: &str, args: Vec<String>, (exec_id, job_id): (u64, String)) {
    let seconds = env("BENCH_SECONDS", 10);
    let port = free_port();
    let (server, ready) = start(&args, port);
    // Let the first-start work and the first node refresh settle.
    std::thread::sleep(Duration::from_secs(2));
    let idle = rss_kib(server.0.id());
    println!(
        "== {label}: ready in {:.1} ms (spawn to first 200 on /api/59/system/info), idle RSS {:.1} MiB",
        ready.as_secs_f64() * 1e3,
        idle as f64 / 1024.0
    );
    // a day of the seeded 60, by end time (Rundeck's begin and end)
    let day_begin = (Utc::now() - CDuration::days(20)).timestamp_millis();
    let day_end = day_begin + 86_400_000;
    let routes = [
        (
            "job list, one group (500 of 10,000 jobs)",
            format!("/api/59/project/{PROJECT}/jobs?groupPath=team-3"),
            None,
        ),
        (
            "job list, all 10,000 jobs (~3 MB)",
            format!("/api/59/project/{PROJECT}/jobs"),
            None,
        ),
        (
            "job list, all 10,000 jobs, gzip",
            format!("/api/59/project/{PROJECT}/jobs"),
            Some(GZIP),
        ),
        (
            "execution query, first page",
            format!("/api/59/project/{PROJECT}/executions?max=20"),
            None,
        ),
        (
            "execution query, jobFilter=job-0004 (10 jobs)",
            format!("/api/59/project/{PROJECT}/executions?max=20&jobFilter=job-0004"),
            None,
        ),
        (
            "execution query, one job (100 of 1,000,000)",
            format!("/api/59/project/{PROJECT}/executions?max=20&jobIdListFilter={job_id}"),
            None,
        ),
        (
            "execution query, excludeJobFilter=job-0004 (all but 10 jobs)",
            format!("/api/59/project/{PROJECT}/executions?max=20&excludeJobFilter=job-0004"),
            None,
        ),
        (
            "execution query, jobExactFilter=job-00042",
            format!("/api/59/project/{PROJECT}/executions?max=20&jobExactFilter=job-00042"),
            None,
        ),
        (
            "execution query, jobListFilter=team-2/svc-42/job-00042",
            format!("/api/59/project/{PROJECT}/executions?max=20&jobListFilter=team-2%2Fsvc-42%2Fjob-00042"),
            None,
        ),
        (
            "execution query, groupPathExact=team-1/svc-21 (50 jobs)",
            format!("/api/59/project/{PROJECT}/executions?max=20&groupPathExact=team-1%2Fsvc-21"),
            None,
        ),
        (
            "execution query, excludeGroupPath=team-1 (all but 500 jobs)",
            format!("/api/59/project/{PROJECT}/executions?max=20&excludeGroupPath=team-1"),
            None,
        ),
        (
            "execution query, excludeJobIdListFilter (one job)",
            format!("/api/59/project/{PROJECT}/executions?max=20&excludeJobIdListFilter={job_id}"),
            None,
        ),
        (
            "execution query, executionTypeFilter=scheduled",
            format!("/api/59/project/{PROJECT}/executions?max=20&executionTypeFilter=scheduled"),
            None,
        ),
        (
            "execution query, userFilter=user7",
            format!("/api/59/project/{PROJECT}/executions?max=20&userFilter=user7"),
            None,
        ),
        (
            "execution query, abortedbyFilter=user7",
            format!("/api/59/project/{PROJECT}/executions?max=20&abortedbyFilter=user7"),
            None,
        ),
        (
            "execution query, recentFilter=7d",
            format!("/api/59/project/{PROJECT}/executions?max=20&recentFilter=7d"),
            None,
        ),
        (
            "execution query, olderFilter=30d",
            format!("/api/59/project/{PROJECT}/executions?max=20&olderFilter=30d"),
            None,
        ),
        (
            "execution query, begin and end (one day)",
            format!("/api/59/project/{PROJECT}/executions?max=20&begin={day_begin}&end={day_end}"),
            None,
        ),
        (
            "execution query, adhoc=true",
            format!("/api/59/project/{PROJECT}/executions?max=20&adhoc=true"),
            None,
        ),
        (
            "execution output tail (lastlines=100 of 10,000)",
            format!("/api/59/execution/{exec_id}/output?lastlines=100"),
            None,
        ),
        (
            "execution output by offset (9,900, maxlines=100)",
            format!("/api/59/execution/{exec_id}/output?offset=9900&maxlines=100"),
            None,
        ),
        (
            "resources, 1,000 nodes, filter tags: web",
            format!("/api/59/project/{PROJECT}/resources?filter=tags%3A%20web"),
            None,
        ),
        // the whole node set, as resourcejson and as Rundeck's resourcexml
        (
            "resources, 1,000 nodes, JSON",
            format!("/api/59/project/{PROJECT}/resources"),
            None,
        ),
        (
            "resources, 1,000 nodes, resourcexml",
            format!("/api/59/project/{PROJECT}/resources?format=xml"),
            None,
        ),
        ("metrics (Prometheus)", "/metrics".to_owned(), None),
        ("system/info", "/api/59/system/info".to_owned(), None),
    ];
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    for (name, path, header) in routes {
        if !name.contains(only.as_str()) {
            continue;
        }
        // a server that does not compress is measured all the same, and
        // said to be
        let plain = header.is_some() && !answers_gzip(port, &path, header);
        let note = if plain {
            " (answered uncompressed)"
        } else {
            ""
        };
        match get_status(port, &path) {
            Some(200) => println!("{name:45} {}{note}", wrk(port, &path, header, seconds)),
            Some(404) => println!("{name:45} absent on this branch (404), not measured"),
            other => println!("{name:45} answered {other:?}, not measured"),
        }
    }
    println!(
        "RSS after the load: {:.1} MiB",
        rss_kib(server.0.id()) as f64 / 1024.0
    );
    let jobs = format!("/api/59/project/{PROJECT}/jobs");
    let full = get_body(port, &jobs, None);
    let gzip = get_body(port, &jobs, Some(GZIP));
    drop(server);
    for (what, body) in [("full list", full), ("gzip list", gzip)] {
        if let Some(body) = body.filter(|_| only.is_empty()) {
            println!(
                "{:45} {}",
                format!(
                    "floor: the {what}'s {:.2} MB from memory",
                    body.len() as f64 / 1e6
                ),
                floor(body, seconds)
            );
        }
    }
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    ensure_wrk();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let n = env("BENCH_EXECUTIONS", 1_000_000);
    for backend in backends.split(',') {
        println!("load average: {}", load());
        match backend.trim() {
            "sqlite" => {
                let dir: PathBuf = std::env::var_os("BENCH_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| {
                        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/http-bench")
                    })
                    .join(format!("sqlite-{n}"));
                std::fs::create_dir_all(&dir).expect("bench dir");
                let id = rt.block_on(async {
                    let store = SqlStore::open_data_dir(&dir).await.expect("open sqlite");
                    (seed(&store).await, one_job(&store).await)
                });
                measure(
                    "SQLite",
                    vec!["--data-dir".into(), dir.to_string_lossy().into_owned()],
                    id,
                );
            }
            "postgres" => {
                let base = std::env::var("FOREDECK_TEST_POSTGRES")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
                let db =
                    std::env::var("BENCH_PG_DB").unwrap_or_else(|_| format!("fd_http_bench_{n}"));
                let url = format!("{base}/{db}");
                let id = rt.block_on(async {
                    let admin = Database::connect(format!("{base}/postgres"))
                        .await
                        .expect("connect postgres");
                    let exists = admin
                        .query_one(sea_orm::Statement::from_string(
                            admin.get_database_backend(),
                            format!("SELECT 1 FROM pg_database WHERE datname = '{db}'"),
                        ))
                        .await
                        .expect("query")
                        .is_some();
                    if !exists {
                        admin
                            .execute_unprepared(&format!("CREATE DATABASE {db}"))
                            .await
                            .expect("create database");
                    }
                    let store = SqlStore::connect(&url).await.expect("open postgres");
                    let seeded = (seed(&store).await, one_job(&store).await);
                    // the statistics autovacuum keeps on a database in use;
                    // right after a bulk seed they may not be there yet
                    store
                        .connection()
                        .execute_unprepared("ANALYZE")
                        .await
                        .expect("analyze");
                    seeded
                });
                let dir = tempfile::tempdir().expect("tempdir");
                measure(
                    "PostgreSQL",
                    vec![
                        "--database-url".into(),
                        url,
                        "--data-dir".into(),
                        dir.path().to_string_lossy().into_owned(),
                    ],
                    id,
                );
            }
            other => panic!("unknown backend {other:?}"),
        }
    }
}
