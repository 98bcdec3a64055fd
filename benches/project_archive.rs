//! Project archive benchmark: export and import of a project with 1,000
//! jobs and 10,000 executions (20 log lines each) on SQLite, through the
//! API of an in-process server: the time to build the zip and its size,
//! the time to import it into a fresh project (new uuids), and the same
//! counts read back.
//!
//! `cargo bench --bench project_archive`
//! Env: `BENCH_JOBS` (1000), `BENCH_EXECUTIONS` (10000), `BENCH_LINES`
//! (20 log lines per execution).

use chrono::{Duration as CDuration, Utc};
use foredeck::store::prelude::*;
use foredeck::{
    Execution, ExecutionQuery, ExecutionStatus, Job, LogEvent, LogLevel, Project, Step, Workflow,
};
use foredeck_store::SqlStore;
use std::sync::Arc;
use std::time::Instant;

mod common;
use common::env;

const TOKEN: &str = "bench-archive-admin-token-0123456789abcdef";

async fn seed(store: &SqlStore, jobs: u64, executions: u64, lines: u64) {
    store
        .create_project(&Project::new("src"))
        .await
        .expect("project");
    let mut p = store.get_project("src").await.expect("get").expect("src");
    p.config.insert("project.label".into(), "Benchmark".into());
    p.readme = Some("# Benchmark\n".into());
    store.update_project(&p).await.expect("update");
    let t = Instant::now();
    let mut stored = Vec::new();
    for i in 0..jobs {
        let mut j = Job::new(
            format!("job-{i:05}"),
            Workflow::new(vec![Step::command("echo hi")]),
        );
        j.group = Some(format!("team-{}", i % 20));
        stored.push(store.put_job("src", &j).await.expect("put_job"));
    }
    let start = Utc::now() - CDuration::days(10);
    for k in 0..executions {
        let job = &stored[(k % jobs) as usize];
        let mut e = Execution::new("src", job.full_name(), "bench");
        e.job_id = job.uuid.clone();
        e.date_started = start + CDuration::seconds(k as i64);
        e.date_ended = Some(e.date_started + CDuration::seconds(2));
        e.status = if k % 7 == 0 {
            ExecutionStatus::Failed
        } else {
            ExecutionStatus::Succeeded
        };
        let id = store.create_execution(&e).await.expect("execution");
        let log: Vec<LogEvent> = (0..lines)
            .map(|n| {
                let mut ev = LogEvent::system(
                    LogLevel::Info,
                    Some("localhost"),
                    Some("1"),
                    format!("line {n} of execution {id}: some output that a job printed"),
                );
                ev.stream = foredeck::Stream::Stdout;
                ev
            })
            .collect();
        store.append_log(id, &log).await.expect("log");
    }
    println!(
        "seed: {jobs} jobs, {executions} executions of {lines} lines in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let (jobs, executions, lines) = (
        env("BENCH_JOBS", 1_000),
        env("BENCH_EXECUTIONS", 10_000),
        env("BENCH_LINES", 20),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqlStore::open_data_dir(dir.path()).await.expect("sqlite"));
    seed(&store, jobs, executions, lines).await;
    store
        .create_project(&Project::new("copy"))
        .await
        .expect("copy");
    store
        .create_token(&foredeck::store::ApiToken {
            id: "bench".into(),
            token_hash: foredeck_http::auth::hash_token(TOKEN),
            user: "bench".into(),
            roles: vec!["admin".into()],
            name: None,
            creator: "bench".into(),
            created: Utc::now(),
            expiration: None,
        })
        .await
        .expect("token");
    let state = foredeck_http::ApiState::new(
        store.clone(),
        Arc::new(foredeck_http::RoleAuthorizer::new(["admin"])),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, foredeck_http::router(state))
            .await
            .expect("serve");
    });
    let http = reqwest::Client::new();
    let base = format!("http://{addr}/api/59/project");

    let t = Instant::now();
    let zip = http
        .get(format!("{base}/src/export"))
        .header("X-Rundeck-Auth-Token", TOKEN)
        .send()
        .await
        .expect("export")
        .bytes()
        .await
        .expect("zip");
    let export_s = t.elapsed().as_secs_f64();
    println!(
        "export: {:.2} s, {:.1} MiB zip",
        export_s,
        zip.len() as f64 / (1 << 20) as f64
    );

    let t = Instant::now();
    let answer = http
        .put(format!(
            "{base}/copy/import?jobUuidOption=remove&importConfig=true"
        ))
        .header("X-Rundeck-Auth-Token", TOKEN)
        .header("Content-Type", "application/zip")
        .body(zip)
        .send()
        .await
        .expect("import")
        .text()
        .await
        .expect("answer");
    let import_s = t.elapsed().as_secs_f64();
    assert!(answer.contains("\"successful\""), "{answer}");
    println!(
        "import: {:.2} s ({:.0} executions/s)",
        import_s,
        executions as f64 / import_s
    );

    let copied = store
        .query_executions(&ExecutionQuery {
            project: Some("copy".into()),
            max: 1,
            ..Default::default()
        })
        .await
        .expect("count");
    let copied_jobs = store
        .list_jobs("copy", &foredeck::store::JobQuery::default())
        .await
        .expect("jobs");
    println!(
        "copy: {} jobs, {} executions",
        copied_jobs.len(),
        copied.total
    );
    assert_eq!((copied_jobs.len() as u64, copied.total), (jobs, executions));
}
