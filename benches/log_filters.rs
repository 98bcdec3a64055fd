//! Rundeck's log filters on a step that prints many lines: lines per second
//! through the whole log pipeline (masking, filters, the in-memory store),
//! with no filter, with one `key-value-data` capture, and with a chain of
//! capture, quiet, highlight and mask-passwords, over a secure option.
//!
//! Run: `cargo bench --bench log_filters` (`BENCH_LINES`, default 200,000).
//! Figures go to benches/README.md with the machine they came from.

use foredeck::engine::{Engine, RunOptions};
use foredeck::{ExecutionStatus, Job, Node};
use foredeck_core::testing::{FakeExecutor, FakeReply};
use std::sync::Arc;
use std::time::Instant;

const CHAIN: &str = r#"
        LogFilter:
        - type: key-value-data
        - type: quiet-output
          config: {regex: 'noise', quietMatch: 'true'}
        - type: highlight-output
          config: {regex: 'line (\d+)', fgcolor: green}
        - type: mask-passwords
          config: {replacement: '*****'}
"#;

const CAPTURE: &str = r#"
        LogFilter:
        - type: key-value-data
"#;

fn job(filters: &str) -> Job {
    let plugins = if filters.is_empty() {
        String::new()
    } else {
        format!("      plugins:{filters}")
    };
    let yaml = format!(
        "- name: out\n  nodefilters:\n    filter: '.*'\n  options:\n  - name: pw\n    secure: true\n  sequence:\n    commands:\n    - exec: print\n{plugins}"
    );
    foredeck::format::parse_jobs_yaml(&yaml, "bench")
        .expect("job")
        .remove(0)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let stdout: Vec<String> = (0..n)
        .map(|i| match i % 10 {
            0 => format!("RUNDECK:DATA:k{} = value {i}", i % 50),
            1 => format!("noise {i} hunter2-secret"),
            _ => format!("output line {i} of a busy step, nothing to capture here"),
        })
        .collect();
    let reply = FakeReply {
        stdout,
        ..FakeReply::default()
    };
    println!(
        "lines per run: {n}, cores: {}",
        std::thread::available_parallelism()
            .map(|p| p.get())
            .unwrap_or(1)
    );
    for (label, filters) in [
        ("no filter", ""),
        ("key-value-data", CAPTURE),
        ("capture + quiet + highlight + mask", CHAIN),
    ] {
        let fake = FakeExecutor::new().when(None, None, reply.clone());
        let engine = Engine::builder().executor("fake", Arc::new(fake)).build();
        let job = job(filters);
        let mut best = f64::MAX;
        for _ in 0..3 {
            let opts = RunOptions::default()
                .nodes(vec![Node::new("n1").with("node-executor", "fake")])
                .option("pw", "hunter2-secret");
            let start = Instant::now();
            let e = engine.run_job("bench", &job, opts).await.expect("runs");
            let d = start.elapsed().as_secs_f64();
            assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.failure);
            best = best.min(d);
        }
        println!(
            "{label:<36} {:>10.0} lines/s ({:.3} s per run, best of 3)",
            n as f64 / best,
            best
        );
    }
}
