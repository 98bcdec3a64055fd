//! `foredeck exec`: run one command line on the nodes a filter selects, in
//! this process (Rundeck's ad-hoc commands).

use super::ssh::SshArgs;
use anyhow::bail;
use clap::Args;
use foredeck::engine::{Engine, RunOptions};
use foredeck::{
    Dispatch, ExecutionStatus, Job, MemoryStore, NodeFilters, Project, Step, Store, Stream,
    Workflow,
};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Resource-model file with the nodes.
    #[arg(long, value_name = "NODES.yaml")]
    nodes: PathBuf,
    /// Node filter (default: every node of the file).
    #[arg(long, short = 'F')]
    filter: Option<String>,
    /// Nodes run at once.
    #[arg(long, short = 'C', default_value_t = 1)]
    threads: u32,
    /// Keep going on the other nodes when one fails.
    #[arg(long, short = 'K')]
    keepgoing: bool,
    /// Executor for nodes without a `node-executor` attribute.
    #[arg(long, default_value = "ssh")]
    default_executor: String,
    #[command(flatten)]
    ssh: SshArgs,
    /// The command line, run by each node's shell: `foredeck exec ... -- uptime`.
    #[arg(required = true, last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

pub async fn run(a: ExecArgs) -> anyhow::Result<u8> {
    let line = a.command.join(" ");
    if line.trim().is_empty() {
        bail!("nothing to run: give a command after --");
    }
    let nodes = super::load_nodes(&a.nodes)?;
    let filter = a.filter.clone().unwrap_or_else(|| ".*".into());
    let mut job = Job::new("exec", Workflow::new(vec![Step::command(line)]));
    job.nodefilters = Some(NodeFilters {
        filter: Some(filter),
        dispatch: Dispatch {
            threadcount: a.threads.max(1),
            keepgoing: a.keepgoing,
            ..Dispatch::default()
        },
        ..NodeFilters::default()
    });

    let store = Arc::new(MemoryStore::new());
    let mut p = Project::new("cli");
    p.config.insert(
        "project.default.node-executor".into(),
        a.default_executor.clone(),
    );
    store.create_project(&p).await?;
    let engine = Engine::builder()
        .shared_store(store.clone())
        .executor("ssh", a.ssh.executor().await?)
        .build();
    let prefix = nodes.len() > 1;
    let opts = RunOptions {
        user: std::env::var("USER").ok(),
        nodes: Some(nodes),
        ..RunOptions::default()
    }
    .on_log(move |ev| {
        let node = ev.node.as_deref().unwrap_or("");
        let line = if prefix && !node.is_empty() {
            format!("{node}: {}", ev.text)
        } else {
            ev.text.clone()
        };
        if ev.stream == Stream::Stdout {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        } else {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    });

    let started = std::time::Instant::now();
    let e = tokio::select! {
        r = engine.run_job("cli", &job, opts) => r?,
        _ = tokio::signal::ctrl_c() => {
            for id in engine.running() {
                engine.abort(id);
            }
            bail!("interrupted");
        }
    };
    eprintln!("{}", super::summary(&e, started));
    Ok(if e.status == ExecutionStatus::Succeeded {
        0
    } else {
        1
    })
}
