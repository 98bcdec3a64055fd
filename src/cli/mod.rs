//! Command-line front-end: thin wrappers over the library.

mod client;
mod config;
mod exec;
mod keys;
mod known_hosts;
mod logging;
mod nodes;
mod notify_args;
mod progress;
mod project;
mod run;
mod schedule;
mod serve;
mod ssh;
mod token_strength;

use clap::{Parser, Subcommand};
use std::path::Path;

/// Operations automation: jobs, node filters and workflows.
#[derive(Debug, Parser)]
#[command(name = "foredeck", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List nodes that match a filter: of a resource file (--nodes), or of a
    /// server's project (`nodes list`).
    Nodes(nodes::NodesArgs),
    /// Run a job of a server and follow its output, or a job file in this process.
    Run(run::RunArgs),
    /// Jobs of a server's project: list, load, export.
    Jobs(client::JobsArgs),
    /// Executions of a server: list, follow, abort.
    Executions(client::ExecutionsArgs),
    /// A server's project as Rundeck's archive: export, import.
    Project(project::ProjectArgs),
    /// Manage the encrypted key store of the data directory.
    Keys(keys::KeysArgs),
    /// Show or forget host keys the server has learned (`known-hosts forget HOST`).
    KnownHosts(known_hosts::KnownHostsArgs),
    /// Run one command line on the nodes a filter selects (over SSH by default).
    Exec(exec::ExecArgs),
    /// Inspect cron schedules (`schedule next`).
    Schedule(schedule::ScheduleArgs),
    /// Start the API server (SQLite in ./foredeck-data, port 4440).
    Serve(serve::ServeArgs),
}

/// Runs a command; returns the process exit code. `matches` are what `cli`
/// was parsed from (`serve` asks them where each setting came from).
pub async fn dispatch(cli: Cli, matches: &clap::ArgMatches) -> anyhow::Result<u8> {
    // `serve` starts its log once its configuration file is read
    if !matches!(cli.command, Command::Serve(_)) {
        logging::init(logging::LogFormat::Text);
        crate::raise_open_files_limit();
    }
    match cli.command {
        Command::Nodes(a) => nodes::run(a).await,
        Command::Run(a) => run::run(a).await,
        Command::Jobs(a) => client::jobs(a).await,
        Command::Executions(a) => client::executions(a).await,
        Command::Project(a) => project::run(a).await,
        Command::Keys(a) => keys::run(a).await,
        Command::KnownHosts(a) => known_hosts::run(a).await,
        Command::Exec(a) => exec::run(a).await,
        Command::Schedule(a) => schedule::run(a).await,
        Command::Serve(mut a) => match matches.subcommand_matches("serve") {
            // the configuration file fills what the command line and the
            // environment left unset (`m` tells which those are)
            Some(m) => {
                let file = config::apply(&mut a, m)?;
                serve::run(a, file.as_deref()).await
            }
            None => anyhow::bail!("the arguments of `serve` were not parsed"),
        },
    }
}

/// Reads a resource-model file (YAML or JSON by extension, YAML otherwise).
pub fn load_nodes(path: &Path) -> anyhow::Result<Vec<foredeck::Node>> {
    use foredeck::format::{parse_nodes, NodeFormat};
    let text = read_text(path)?;
    let format = NodeFormat::from_path(path).unwrap_or(NodeFormat::Yaml);
    Ok(parse_nodes(&text, &path.display().to_string(), format)?)
}

/// Reads a UTF-8 text file no larger than the document limit.
pub fn read_text(path: &Path) -> anyhow::Result<String> {
    use anyhow::Context;
    let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
    if meta.len() as usize > foredeck::format::MAX_DOCUMENT_BYTES {
        anyhow::bail!(
            "{}: {} bytes is larger than the limit of {} bytes",
            path.display(),
            meta.len(),
            foredeck::format::MAX_DOCUMENT_BYTES
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
    String::from_utf8(bytes)
        .map_err(|e| anyhow::anyhow!("{}: not UTF-8 text ({e})", path.display()))
}

/// `succeeded in 0.12s: 3 node(s) succeeded, 1 failed (web2): reason`
pub fn summary(e: &foredeck::Execution, started: std::time::Instant) -> String {
    let failed = e.failed_nodes();
    format!(
        "{} in {:.2}s: {} node(s) succeeded, {} failed{}{}",
        e.status,
        started.elapsed().as_secs_f64(),
        e.state.nodes_in(foredeck::ExecState::Succeeded).len(),
        failed.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(" ({})", failed.join(", "))
        },
        e.failure
            .as_deref()
            .map(|f| format!(": {f}"))
            .unwrap_or_default(),
    )
}
