//! `foredeck project export|import`: Rundeck's project archive (a zip of
//! jobs, executions with logs, configuration, readme/motd and ACL
//! policies) from and into a server's project, over the API.

use super::client::{seg, ServerArgs};
use anyhow::{bail, Context};
use clap::Args;
use reqwest::Method;
use serde_json::Value;
use std::path::PathBuf;

/// `foredeck project ...`
#[derive(Debug, Args)]
pub struct ProjectArgs {
    #[command(subcommand)]
    command: ProjectCommand,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, clap::Subcommand)]
enum ProjectCommand {
    /// Export the project as an archive (`<project>.rdproject.jar` by default).
    Export {
        /// Where to write the archive.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// Only these parts (comma-separated: jobs, executions, configs,
        /// readmes, acls); all by default.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Only these executions (comma-separated ids), nothing else.
        #[arg(long, value_delimiter = ',')]
        execution_ids: Vec<u64>,
    },
    /// Import an archive into the project (which must exist): all or nothing.
    Import {
        /// The archive.
        file: PathBuf,
        /// Give the jobs new uuids (needed to copy a project on the same server).
        #[arg(long)]
        remove_uuids: bool,
        /// Leave the executions and their logs out.
        #[arg(long)]
        no_executions: bool,
        /// Import the configuration (without node sources).
        #[arg(long)]
        import_config: bool,
        /// Import the node sources of the configuration.
        #[arg(long)]
        import_nodes_sources: bool,
        /// Import the ACL policies.
        #[arg(long)]
        import_acl: bool,
    },
}

/// Runs `foredeck project ...`.
pub async fn run(a: ProjectArgs) -> anyhow::Result<u8> {
    let client = a.server.client()?;
    let project = client.project()?.to_owned();
    match a.command {
        ProjectCommand::Export {
            output,
            only,
            execution_ids,
        } => {
            let mut query = Vec::new();
            if !only.is_empty() {
                query.push(("exportAll", "false".to_owned()));
                for part in &only {
                    let name = match part.as_str() {
                        "jobs" => "exportJobs",
                        "executions" => "exportExecutions",
                        "configs" | "config" => "exportConfigs",
                        "readmes" | "readme" => "exportReadmes",
                        "acls" | "acl" => "exportAcls",
                        other => bail!(
                            "--only {other:?}: expected jobs, executions, configs, readmes or acls"
                        ),
                    };
                    query.push((name, "true".to_owned()));
                }
            }
            if !execution_ids.is_empty() {
                let ids: Vec<String> = execution_ids.iter().map(u64::to_string).collect();
                query.push(("executionIds", ids.join(",")));
            }
            let zip = client
                .bytes(
                    Method::GET,
                    &format!("project/{}/export", seg(&project)),
                    &query,
                    None,
                )
                .await?;
            let path = output.unwrap_or_else(|| PathBuf::from(format!("{project}.rdproject.jar")));
            std::fs::write(&path, &zip).with_context(|| format!("{}", path.display()))?;
            println!("{} bytes written to {}", zip.len(), path.display());
            Ok(0)
        }
        ProjectCommand::Import {
            file,
            remove_uuids,
            no_executions,
            import_config,
            import_nodes_sources,
            import_acl,
        } => {
            let zip = std::fs::read(&file).with_context(|| format!("{}", file.display()))?;
            let flag = |b: bool| b.to_string();
            let query = vec![
                (
                    "jobUuidOption",
                    if remove_uuids { "remove" } else { "preserve" }.to_owned(),
                ),
                ("importExecutions", flag(!no_executions)),
                ("importConfig", flag(import_config)),
                ("importNodesSources", flag(import_nodes_sources)),
                ("importACL", flag(import_acl)),
            ];
            let answer = client
                .bytes(
                    Method::PUT,
                    &format!("project/{}/import", seg(&project)),
                    &query,
                    Some(("application/zip", zip)),
                )
                .await?;
            let v: Value =
                serde_json::from_slice(&answer).context("the server's answer is not JSON")?;
            if v["import_status"] == "successful" {
                let n = |k: &str| v["imported"][k].as_u64().unwrap_or(0);
                println!(
                    "imported into {project}: {} job(s), {} execution(s), {} ACL polic(ies)",
                    n("jobs"),
                    n("executions"),
                    n("acls")
                );
                return Ok(0);
            }
            eprintln!("nothing imported into {project}:");
            for kind in ["errors", "execution_errors", "acl_errors", "other_errors"] {
                for e in v[kind].as_array().into_iter().flatten() {
                    eprintln!("  {}", e.as_str().unwrap_or_default());
                }
            }
            Ok(1)
        }
    }
}
