//! `foredeck exec`: run one command line on the nodes a filter selects, in
//! this process (Rundeck's ad-hoc commands).

use super::progress::{self, Counting, Counts, Line};
use super::ssh::SshArgs;
use anyhow::bail;
use clap::Args;
use foredeck::engine::{Engine, RunOptions};
use foredeck::local::LocalExecutor;
use foredeck::store::prelude::*;
use foredeck::{
    Dispatch, ExecutionStatus, Job, MemoryStore, NodeFilter, NodeFilters, Project, Step, Stream,
    Workflow,
};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
        filter: Some(filter.clone()),
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
    // a progress line on a terminal; nothing extra for pipes and files
    let progress = if std::io::stderr().is_terminal() {
        let dispatch = job.nodefilters.as_ref().map(|f| &f.dispatch);
        let total = NodeFilter::parse(&filter)?
            .select(&nodes, dispatch.is_some_and(|d| d.exclude_precedence))
            .len();
        Some((Arc::new(Counts::default()), total))
    } else {
        None
    };
    let ssh = a.ssh.executor().await?;
    let engine = match &progress {
        Some((counts, _)) => Engine::builder()
            .executor("ssh", Counting::new(ssh, counts.clone()))
            .executor("local", Counting::new(LocalExecutor::new(), counts.clone())),
        None => Engine::builder().executor("ssh", ssh),
    }
    .shared_store(store.clone())
    .build();
    let line = progress.map(|(counts, total)| Line::new(counts, total));
    let printer = line.clone();
    let prefix = nodes.len() > 1;
    let opts = RunOptions {
        user: std::env::var("USER").ok(),
        nodes: Some(nodes),
        ..RunOptions::default()
    }
    .on_log(move |ev| {
        let line = progress::output_line(ev, prefix);
        let to_stdout = ev.stream == Stream::Stdout;
        match &printer {
            Some(p) => p.print(&line, to_stdout),
            None => progress::print_line(&line, to_stdout),
        }
    });

    let started = std::time::Instant::now();
    let ticking = line.as_ref().map(|l| l.tick(Duration::from_millis(100)));
    let result = tokio::select! {
        r = engine.run_job("cli", &job, opts) => r,
        _ = tokio::signal::ctrl_c() => {
            for id in engine.running() {
                engine.abort(id);
            }
            if let Some(t) = ticking {
                t.stop().await;
            }
            bail!("interrupted");
        }
    };
    if let Some(t) = ticking {
        t.stop().await;
    }
    let e = result?;
    eprintln!("{}", super::summary(&e, started));
    Ok(if e.status == ExecutionStatus::Succeeded {
        0
    } else {
        1
    })
}
