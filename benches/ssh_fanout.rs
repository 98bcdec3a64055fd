//! `true` on 200 SSH nodes (loopback addresses of one local sshd) with
//! `foredeck exec`, side by side with `parallel-ssh -p 200` and OpenSSH under
//! `xargs -P 200`, over the same addresses, user and key; then the peak
//! memory of `foredeck exec` on 1,000 nodes.
//!
//! Run as root (it starts sshd like the tests):
//! `cargo bench --bench ssh_fanout`. `BENCH_NODES` (default 200),
//! `BENCH_BIG_NODES` (default 1000, 0 skips the memory run; run under an
//! open-files limit, soft and hard, of `BENCH_NOFILE`, default 1024), `BENCH_ROUNDS`
//! (default 3: each figure is the median of this many runs, the tools taking
//! turns so that outside load hits them alike). Figures are reported, never
//! asserted; record them in benches/README.md.

#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../crates/ssh/tests/harness/mod.rs"]
mod harness;

use foredeck::engine::{Engine, RunOptions};
use foredeck::ssh::{ConfigCredentials, MemoryKnownHosts, SshConfig, SshExecutor};
use foredeck::store::prelude::*;
use foredeck::{
    Dispatch, ExecutionStatus, Job, MemoryStore, Node, NodeFilters, Project, Step, Workflow,
};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FOREDECK: &str = env!("CARGO_BIN_EXE_foredeck");

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The i-th loopback address (0-based), 127.0.x.y with y in 1..=250.
fn address(i: usize) -> String {
    format!("127.0.{}.{}", i / 250, i % 250 + 1)
}

fn nodes_yaml(path: &Path, n: usize, port: u16) {
    let mut yaml = String::new();
    for i in 0..n {
        yaml.push_str(&format!(
            "n{i}:\n  hostname: {}:{port}\n  username: {}\n  tags: web\n",
            address(i),
            harness::USER
        ));
    }
    std::fs::write(path, yaml).unwrap();
}

/// Runs a command to the end; returns its wall time, or why it failed.
fn timed(cmd: &mut Command) -> Result<Duration, String> {
    let start = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let took = start.elapsed();
    if out.status.success() {
        Ok(took)
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: String = err.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
        Err(format!("{}: {tail}", out.status))
    }
}

fn has(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// OpenSSH client options shared by parallel-ssh and xargs: same key, no
/// host-key bookkeeping, no user configuration; `kex` forces a key exchange.
fn ssh_options(key: &Path, kex: Option<&str>) -> Vec<String> {
    let mut o = vec![
        "-F".into(),
        "/dev/null".into(),
        "-i".into(),
        key.display().to_string(),
    ];
    for opt in [
        "BatchMode=yes",
        "IdentitiesOnly=yes",
        "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null",
        "LogLevel=ERROR",
        "ConnectTimeout=60",
    ] {
        o.push("-o".into());
        o.push(opt.into());
    }
    if let Some(k) = kex {
        o.push("-o".into());
        o.push(format!("KexAlgorithms={k}"));
    }
    o
}

struct Setup {
    port: u16,
    key: std::path::PathBuf,
    dir: tempfile::TempDir,
    n: usize,
}

impl Setup {
    fn foredeck_exec(&self, nodes: &Path, threads: usize) -> Command {
        let known = self.dir.path().join("known_hosts");
        let _ = std::fs::remove_file(&known);
        let mut c = Command::new(FOREDECK);
        c.args(["exec", "--nodes"])
            .arg(nodes)
            .args(["--filter", "tags: web", "--threads", &threads.to_string()])
            .arg("--ssh-key")
            .arg(&self.key)
            .arg("--ssh-known-hosts")
            .arg(&known)
            .arg("--data-dir")
            .arg(self.dir.path().join("no-data"))
            .args(["--ssh-connect-timeout", "60", "--", "true"]);
        c
    }

    fn pssh(&self, kex: Option<&str>) -> Command {
        let hosts = self.dir.path().join("hosts");
        let lines: Vec<String> = (0..self.n)
            .map(|i| format!("{}:{}", address(i), self.port))
            .collect();
        std::fs::write(&hosts, lines.join("\n") + "\n").unwrap();
        let mut c = Command::new("parallel-ssh");
        c.args([
            "-p",
            &self.n.to_string(),
            "-t",
            "120",
            "-l",
            harness::USER,
            "-h",
        ])
        .arg(&hosts);
        for o in ssh_options(&self.key, kex) {
            c.arg("-X").arg(o);
        }
        c.arg("true").stdout(Stdio::null());
        c
    }

    fn xargs(&self, kex: Option<&str>) -> Command {
        let list = self.dir.path().join("addresses");
        let lines: Vec<String> = (0..self.n).map(address).collect();
        std::fs::write(&list, lines.join("\n") + "\n").unwrap();
        let mut c = Command::new("xargs");
        c.arg("-a")
            .arg(&list)
            .args(["-P", &self.n.to_string(), "-I{}", "ssh", "-p"])
            .arg(self.port.to_string())
            .args(["-l", harness::USER])
            .args(ssh_options(&self.key, kex))
            .args(["{}", "true"]);
        c
    }
}

/// One execution of `true` on `nodes` through the engine, as `foredeck exec`
/// runs it.
async fn engine_round(engine: &Engine, job: &Job, nodes: &[Node]) -> Duration {
    let opts = RunOptions {
        nodes: Some(nodes.to_vec()),
        ..RunOptions::default()
    };
    let start = Instant::now();
    let e = engine.run_job("bench", job, opts).await.unwrap();
    let took = start.elapsed();
    assert_eq!(e.status, ExecutionStatus::Succeeded, "{:?}", e.failure);
    took
}

fn median(mut v: Vec<Duration>) -> Option<Duration> {
    v.sort();
    v.get(v.len() / 2).copied()
}

fn show(label: &str, d: Option<Duration>, n: usize, note: &str) {
    match d {
        Some(d) => println!(
            "  {label:<44} {:>8.2} s  ({:>5.1} ms/node){note}",
            d.as_secs_f64(),
            d.as_secs_f64() * 1e3 / n as f64
        ),
        None => println!("  {label:<44} skipped{note}"),
    }
}

/// Peak resident memory (KiB) of the largest child waited for so far.
fn children_max_rss_kib() -> i64 {
    use nix::sys::resource::{getrusage, UsageWho};
    getrusage(UsageWho::RUSAGE_CHILDREN)
        .map(|u| u.max_rss())
        .unwrap_or(0)
}

fn main() {
    let n = env_usize("BENCH_NODES", 200).clamp(1, 1000);
    let big = env_usize("BENCH_BIG_NODES", 1000).min(10_000);
    let rounds = env_usize("BENCH_ROUNDS", 3).max(1);
    let sshd = harness::Sshd::start().expect("this benchmark needs sshd");
    let setup = Setup {
        port: sshd.port,
        key: sshd.user_key_path(),
        dir: tempfile::tempdir().unwrap(),
        n,
    };
    println!(
        "ssh fan-out of `true`: {n} nodes on one OpenSSH sshd, {} cores, load average {}",
        std::thread::available_parallelism().map_or(0, |p| p.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    // memory first: ru_maxrss of children is the largest child so far, and
    // only small ssh-keygen runs have ended before this one
    if big > 0 {
        let nodes = setup.dir.path().join("big.yaml");
        nodes_yaml(&nodes, big, sshd.port);
        // under the usual default limit of 1,024 open files, hard as well:
        // the pool closes idle connections to stay below it
        let nofile = env_usize("BENCH_NOFILE", 1024);
        let exec = setup.foredeck_exec(&nodes, 200);
        let mut limited = Command::new("sh");
        limited
            .args(["-c", &format!("ulimit -n {nofile} && exec \"$0\" \"$@\"")])
            .arg(exec.get_program())
            .args(exec.get_args());
        match timed(&mut limited) {
            Ok(d) => println!(
                "  foredeck exec on {big} nodes, --threads 200, ulimit -n {nofile}: \
                 {:.2} s, peak RSS {:.1} MiB",
                d.as_secs_f64(),
                children_max_rss_kib() as f64 / 1024.0
            ),
            Err(e) => {
                println!("  foredeck exec on {big} nodes, ulimit -n {nofile}, FAILED: {e}")
            }
        }
    }

    let nodes_file = setup.dir.path().join("nodes.yaml");
    nodes_yaml(&nodes_file, n, sshd.port);
    let pssh = has("parallel-ssh");
    let ssh = has("ssh") && has("xargs");
    let curve = Some("curve25519-sha256");
    let mut cold = Vec::new();
    let mut pssh_default = Vec::new();
    let mut pssh_curve = Vec::new();
    let mut xargs_default = Vec::new();
    let mut xargs_curve = Vec::new();
    let record = |what: &str, v: &mut Vec<Duration>, r: Result<Duration, String>| match r {
        Ok(d) => v.push(d),
        Err(e) => println!("  {what} failed: {e}"),
    };
    for _ in 0..rounds {
        record(
            "foredeck exec",
            &mut cold,
            timed(&mut setup.foredeck_exec(&nodes_file, n)),
        );
        if pssh {
            record(
                "parallel-ssh",
                &mut pssh_default,
                timed(&mut setup.pssh(None)),
            );
            record(
                "parallel-ssh",
                &mut pssh_curve,
                timed(&mut setup.pssh(curve)),
            );
        }
        if ssh {
            record(
                "xargs ssh",
                &mut xargs_default,
                timed(&mut setup.xargs(None)),
            );
            record(
                "xargs ssh",
                &mut xargs_curve,
                timed(&mut setup.xargs(curve)),
            );
        }
    }

    // warm: one process, the pool's connections reused by the next execution
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (in_cold, warm) = rt.block_on(async {
        let ssh = SshExecutor::with_config(
            SshConfig::default(),
            Arc::new(ConfigCredentials::new().with_key(sshd.user_key())),
            Arc::new(MemoryKnownHosts::new()),
        );
        let store = Arc::new(MemoryStore::new());
        let mut p = Project::new("bench");
        p.config
            .insert("project.default.node-executor".into(), "ssh".into());
        store.create_project(&p).await.unwrap();
        let engine = Engine::builder()
            .shared_store(store)
            .executor("ssh", ssh.clone())
            .build();
        let mut job = Job::new("bench", Workflow::new(vec![Step::command("true")]));
        job.nodefilters = Some(NodeFilters {
            filter: Some("tags: web".into()),
            dispatch: Dispatch {
                threadcount: u32::try_from(n).unwrap(),
                ..Dispatch::default()
            },
            ..NodeFilters::default()
        });
        let nodes = foredeck::format::parse_nodes(
            &std::fs::read_to_string(&nodes_file).unwrap(),
            "nodes.yaml",
            foredeck::format::NodeFormat::Yaml,
        )
        .unwrap();
        let in_cold = engine_round(&engine, &job, &nodes).await;
        let mut warm = Vec::new();
        for _ in 0..rounds.max(3) {
            warm.push(engine_round(&engine, &job, &nodes).await);
        }
        assert_eq!(ssh.pool_stats().connections_opened, n as u64);
        (in_cold, median(warm))
    });

    let why_pssh = if pssh {
        ""
    } else {
        "  (parallel-ssh missing: apt-get install pssh)"
    };
    let why_ssh = if ssh { "" } else { "  (ssh or xargs missing)" };
    println!("median of {rounds} run(s), wall time for all {n} nodes:");
    show(
        "foredeck exec, cold (new process)",
        median(cold.clone()),
        n,
        "",
    );
    show(
        "foredeck engine, cold, in process (1 run)",
        Some(in_cold),
        n,
        "",
    );
    show("foredeck engine, warm (pooled connections)", warm, n, "");
    show(
        &format!("parallel-ssh -p {n}, default kex"),
        median(pssh_default.clone()),
        n,
        why_pssh,
    );
    show(
        &format!("parallel-ssh -p {n}, curve25519"),
        median(pssh_curve.clone()),
        n,
        why_pssh,
    );
    show(
        &format!("xargs -P {n} ssh, default kex"),
        median(xargs_default),
        n,
        why_ssh,
    );
    show(
        &format!("xargs -P {n} ssh, curve25519"),
        median(xargs_curve),
        n,
        why_ssh,
    );
    let ratio = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.1}x", a.as_secs_f64() / b.as_secs_f64()),
        _ => "n/a".into(),
    };
    let (c, w) = (median(cold), warm);
    println!(
        "parallel-ssh (default kex) / foredeck exec cold: {}; / foredeck warm: {}",
        ratio(median(pssh_default.clone()), c),
        ratio(median(pssh_default), w)
    );
    println!(
        "parallel-ssh (curve25519) / foredeck exec cold: {}; / foredeck warm: {}",
        ratio(median(pssh_curve.clone()), c),
        ratio(median(pssh_curve), w)
    );
}
