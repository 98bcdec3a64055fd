//! `foredeck run --file`: run a job in this process with an in-memory store,
//! through the run service (the run-start rules of a server hold here too);
//! `foredeck run JOB`: run a job of a server and follow its output.

use super::progress;
use anyhow::{bail, Context};
use clap::Args;
use foredeck::engine::{Engine, LogListener};
use foredeck::runs::{RunService, StartError, StartRun};
use foredeck::schedule::DurableScheduler;
use foredeck::store::prelude::*;
use foredeck::{ExecutionStatus, LogLevel, MemoryStore, Project, Stream, Subject};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A job of the server to run (uuid, or group/name in --project); needs
    /// no --file.
    #[arg(
        value_name = "JOB",
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    remote: Option<String>,
    /// Job file: Rundeck job YAML (JSON with a .json extension, job XML
    /// with a .xml extension), run in this process.
    #[arg(long, value_name = "JOB.yaml")]
    file: Option<PathBuf>,
    /// With JOB: print the execution id and return instead of following its output.
    #[arg(long)]
    no_follow: bool,
    /// With JOB: run it at this time instead of now (ISO-8601 with a zone
    /// offset, `2026-12-24T18:00:00+01:00`); prints the id of its
    /// `scheduled` execution and returns.
    #[arg(long, value_name = "TIME", requires = "remote")]
    at: Option<String>,
    /// Resource-model file with the nodes the job may target.
    #[arg(long, value_name = "NODES.yaml")]
    nodes: Option<PathBuf>,
    /// Which job of the file (name or group/name); required when it holds several.
    #[arg(long)]
    job: Option<String>,
    /// Option value, repeatable: --option env=prod
    #[arg(long = "option", short = 'o', value_name = "NAME=VALUE")]
    options: Vec<String>,
    /// Node filter replacing the job's.
    #[arg(long, short = 'F')]
    filter: Option<String>,
    /// Executor for nodes without a `node-executor` attribute.
    #[arg(long, default_value = "ssh")]
    default_executor: String,
    /// Log level (DEBUG, VERBOSE, INFO, WARN, ERROR).
    #[arg(long)]
    loglevel: Option<String>,
    /// Prefix every output line with its node name (default when several nodes run).
    #[arg(long)]
    prefix: Option<bool>,
    #[command(flatten)]
    ssh: super::ssh::SshArgs,
    #[command(flatten)]
    server: super::client::ServerArgs,
}

pub async fn run(a: RunArgs) -> anyhow::Result<u8> {
    let file = match (&a.file, &a.remote) {
        (Some(f), _) => f.clone(),
        (None, Some(job)) => {
            let run = super::client::RemoteRun {
                job,
                options: &a.options,
                filter: a.filter.as_deref(),
                loglevel: a.loglevel.as_deref(),
                at: a.at.as_deref(),
            };
            return super::client::run_remote(&a.server, run, !a.no_follow).await;
        }
        (None, None) => bail!("name a JOB of the server or a job --file"),
    };
    let text = super::read_text(&file)?;
    let name = file.display().to_string();
    let jobs = match foredeck::format::JobFormat::from_path(&file) {
        Some(foredeck::format::JobFormat::Json) => foredeck::format::parse_jobs_json(&text, &name)?,
        Some(foredeck::format::JobFormat::Xml) => foredeck::format::parse_jobs_xml(&text, &name)?,
        _ => foredeck::format::parse_jobs_yaml(&text, &name)?,
    };
    let job = match (&a.job, jobs.len()) {
        (None, 1) => jobs[0].clone(),
        (None, 0) => bail!("{name}: no jobs in the file"),
        (None, _) => bail!(
            "{name} holds {} jobs; choose one with --job ({})",
            jobs.len(),
            jobs.iter()
                .map(|j| j.full_name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (Some(want), _) => jobs
            .iter()
            .find(|j| &j.full_name() == want || &j.name == want)
            .cloned()
            .with_context(|| format!("{name}: no job named {want:?}"))?,
    };
    let options = super::client::option_pairs(&a.options)?;
    let loglevel = match a.loglevel.as_deref() {
        None => None,
        Some(l) => Some(
            serde_yaml_ng::from_str::<LogLevel>(&l.to_uppercase()).map_err(|_| {
                anyhow::anyhow!("--loglevel {l:?}: use DEBUG, VERBOSE, INFO, WARN or ERROR")
            })?,
        ),
    };
    let nodes = match &a.nodes {
        Some(p) => super::load_nodes(p)?,
        None => Vec::new(),
    };

    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let project = job.project.clone().unwrap_or_else(|| "cli".into());
    let mut p = Project::new(project.clone());
    p.config.insert(
        "project.default.node-executor".into(),
        a.default_executor.clone(),
    );
    store.create_project(&p).await?;
    for j in &jobs {
        store.put_job(&project, j).await?;
    }
    let engine = Engine::builder()
        .shared_store(store.clone())
        .executor("ssh", a.ssh.executor().await?)
        .build();
    // a scheduler the service needs but never ticks: a local run is now
    let runs = RunService::new(engine, |launcher| {
        DurableScheduler::builder(store.clone(), launcher).build()
    });
    let several =
        job.nodefilters.as_ref().is_some_and(|n| n.filter.is_some()) || a.filter.is_some();
    let prefix = a.prefix.unwrap_or(several);
    let request = StartRun {
        // the local CLI runs with the rights of whoever runs it: its engine
        // has no authorizer
        subject: Subject::new(
            std::env::var("USER").unwrap_or_else(|_| "foredeck".into()),
            Vec::<String>::new(),
        ),
        options,
        loglevel: loglevel.map(|l| l.as_str().to_owned()),
        filter: a.filter.clone(),
        ..StartRun::default()
    };
    let listener = LogListener::new(move |ev| {
        let line = progress::output_line(ev, prefix);
        progress::print_line(&line, ev.stream == Stream::Stdout);
    });

    let started = std::time::Instant::now();
    // only the file's nodes: the server's own node is no choice here
    let run = runs.run(&project, &job, request, Some(nodes), Some(listener));
    let e = tokio::select! {
        r = run => match r {
            Ok(e) => e,
            // Rundeck refuses to run a disabled job, whoever asks
            Err(StartError::JobDisabled(_)) => bail!(
                "{name}: job {:?} is not run: executionEnabled is false (its executions are disabled)",
                job.full_name()
            ),
            Err(e) => return Err(e.into()),
        },
        _ = tokio::signal::ctrl_c() => {
            for id in runs.engine.running() {
                runs.engine.abort(id);
            }
            bail!("interrupted");
        }
    };
    eprintln!("Execution #{} {}", e.id, super::summary(&e, started));
    if let Some(n) = e.nagios {
        eprintln!("Nagios: {n:?}");
    }
    Ok(if e.status == ExecutionStatus::Succeeded {
        0
    } else {
        1
    })
}
