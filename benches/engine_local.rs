//! 10,000 executions of a one-step local job `true` through the evaluator
//! with the in-memory store, against the cost of the processes alone.
//!
//! Run: `cargo bench --bench engine_local` (set `BENCH_N` to change the count).
//! Figures go to benches/README.md with the machine they came from.

use foredeck::engine::{Engine, RunOptions};
use foredeck::executor::{Executor, NodeCommand, NodeRequest, OutputSink};
use foredeck::local::LocalExecutor;
use foredeck::{ExecutionStatus, Job, Node, Step, Workflow};
use foredeck_core::testing::FakeExecutor;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn per_sec(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

async fn engine_runs(
    engine: &Engine,
    job: &Job,
    n: usize,
    concurrency: usize,
    nodes: Option<Vec<Node>>,
) -> Duration {
    let start = Instant::now();
    let per_task = n / concurrency;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (engine, job, nodes) = (engine.clone(), job.clone(), nodes.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_task {
                let opts = RunOptions {
                    nodes: nodes.clone(),
                    ..RunOptions::default()
                };
                let e = engine.run_job("bench", &job, opts).await.expect("runs");
                assert_eq!(e.status, ExecutionStatus::Succeeded);
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    start.elapsed()
}

async fn raw_local(n: usize, concurrency: usize, env: Vec<(String, String)>) -> Duration {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let env = env.clone();
        tasks.push(tokio::spawn(async move {
            let ex = LocalExecutor::new();
            for _ in 0..n / concurrency {
                let (sink, mut rx) = OutputSink::channel(16);
                let req = NodeRequest {
                    node: Node::new("localhost"),
                    command: NodeCommand::Shell("true".into()),
                    env: env.clone(),
                    timeout: None,
                };
                let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
                let o = ex
                    .run(req, sink, CancellationToken::new())
                    .await
                    .expect("runs");
                assert!(o.success());
                drain.await.expect("drain");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    start.elapsed()
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let job = Job::new("true", Workflow::new(vec![Step::command("true")]));
    println!(
        "executions: {n}, cores: {}",
        std::thread::available_parallelism()
            .map(|p| p.get())
            .unwrap_or(1)
    );

    // engine alone: the executor answers without a process
    let fake_nodes = vec![Node::new("n1").with("node-executor", "fake")];
    let mut fake_job = job.clone();
    fake_job.nodefilters = Some(foredeck::NodeFilters {
        filter: Some(".*".into()),
        ..Default::default()
    });
    let fake = Engine::builder()
        .executor("fake", Arc::new(FakeExecutor::new()))
        .build();
    let d = engine_runs(&fake, &fake_job, n, 1, Some(fake_nodes)).await;
    println!(
        "engine only (fake executor, 1 at a time): {:>8.0} executions/s, {:>7.1} µs per execution",
        per_sec(n, d),
        d.as_secs_f64() * 1e6 / n as f64
    );

    if std::env::var("BENCH_ONLY").is_ok_and(|v| v == "engine") {
        return;
    }
    for conc in [1usize, 4] {
        // the same environment the engine gives the step (RD_JOB_*, RD_NODE_*)
        let mut ctx = foredeck::DataContext::default();
        for k in [
            "name",
            "group",
            "id",
            "execid",
            "project",
            "username",
            "user.name",
            "loglevel",
            "retryAttempt",
            "wasRetry",
        ] {
            ctx.job.insert(k.into(), "x".into());
        }
        let env =
            foredeck::environment(&ctx, &Node::new("localhost").with("hostname", "localhost"));
        // alternate batches of both so that load from elsewhere hits both alike
        let engine = Engine::builder().build();
        let (mut raw, mut full) = (Duration::ZERO, Duration::ZERO);
        let batch = (n / 10).max(conc);
        for _ in 0..n / batch {
            raw += raw_local(batch, conc, env.clone()).await;
            full += engine_runs(&engine, &job, batch, conc, None).await;
        }
        println!(
            "local `true`, {conc} at a time: processes alone {:>6.0}/s; through the engine {:>6.0} executions/s; overhead {:>6.1} µs per execution",
            per_sec(n, raw),
            per_sec(n, full),
            (full.as_secs_f64() - raw.as_secs_f64()) * 1e6 / n as f64
        );
    }
}
