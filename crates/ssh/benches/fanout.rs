//! Fan-out over SSH: one command on 200 nodes (loopback addresses
//! 127.0.0.1-200 of one local sshd), first with cold connections (TCP,
//! handshake, authentication, command), then again on the pooled ones.
//!
//! Run as root (it starts sshd like the tests):
//! `cargo bench -p foredeck-ssh --bench fanout`.
//! `BENCH_NODES` (default 200, at most 254) and `BENCH_THREADS` (default 50:
//! steps in flight at once) change the shape. Figures are reported, never
//! asserted.

#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/harness/mod.rs"]
mod harness;

use foredeck_core::executor::{Executor, NodeCommand, NodeRequest, OutputSink};
use foredeck_core::Node;
use foredeck_ssh::{ConfigCredentials, MemoryKnownHosts, SshConfig, SshExecutor};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `true` on every node, `threads` at a time; returns the wall time.
async fn round(ex: &SshExecutor, nodes: &[Node], threads: usize) -> Duration {
    let gate = Arc::new(Semaphore::new(threads.max(1)));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for node in nodes {
        let (ex, node, gate) = (ex.clone(), node.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            let (sink, mut rx) = OutputSink::channel(16);
            let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
            let req = NodeRequest {
                node,
                command: NodeCommand::Shell("true".into()),
                env: vec![("RD_JOB_NAME".into(), "bench".into())],
                timeout: Some(Duration::from_secs(60)),
            };
            let outcome = ex.run(req, sink, CancellationToken::new()).await;
            drain.await.unwrap();
            assert!(outcome.unwrap().success());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

fn main() {
    let n = env_usize("BENCH_NODES", 200).clamp(1, 254);
    let threads = env_usize("BENCH_THREADS", 50);
    let sshd = harness::Sshd::start().expect("this benchmark needs sshd");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let nodes: Vec<Node> = (1..=n).map(|i| sshd.node(i as u8)).collect();
    let ex = SshExecutor::with_config(
        SshConfig::default(),
        Arc::new(ConfigCredentials::new().with_key(sshd.user_key())),
        Arc::new(MemoryKnownHosts::new()),
    );
    rt.block_on(async {
        let cold = round(&ex, &nodes, threads).await;
        let warm = round(&ex, &nodes, threads).await;
        let stats = ex.pool_stats();
        println!("ssh fan-out: {n} nodes, {threads} in flight");
        println!(
            "  cold (connect + handshake + auth + command): {:>8.1} ms  ({:.1} ms/node)",
            cold.as_secs_f64() * 1e3,
            cold.as_secs_f64() * 1e3 / n as f64
        );
        println!(
            "  warm (pooled connections, command only):      {:>8.1} ms  ({:.1} ms/node)",
            warm.as_secs_f64() * 1e3,
            warm.as_secs_f64() * 1e3 / n as f64
        );
        println!(
            "  connections opened: {} (open now {})",
            stats.connections_opened, stats.open_connections
        );
    });
}
