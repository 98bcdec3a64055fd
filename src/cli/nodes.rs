//! `foredeck nodes`: filter a resource file, or list a server's nodes.

use clap::{Args, ValueEnum};
use foredeck::NodeFilter;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct NodesArgs {
    #[command(subcommand)]
    command: Option<NodesCommand>,
    /// Resource-model file (YAML or JSON).
    #[arg(long, value_name = "FILE", required = true)]
    nodes: Option<PathBuf>,
    /// Node filter, e.g. `tags: web+prod !name: db1` (default: all nodes).
    #[arg(long, short = 'F', default_value = ".*")]
    filter: String,
    /// Use include precedence instead of Rundeck's default exclude precedence.
    #[arg(long)]
    include_precedence: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Names)]
    output: Output,
}

#[derive(Debug, clap::Subcommand)]
enum NodesCommand {
    /// The nodes of a server's project that match a filter.
    List {
        /// Node filter (default: all nodes).
        #[arg(long, short = 'F', default_value = ".*")]
        filter: String,
        #[command(flatten)]
        server: super::client::ServerArgs,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    /// One node name per line.
    Names,
    /// Name, hostname, user and tags in columns.
    Table,
    /// Rundeck resource YAML.
    Yaml,
    /// Rundeck resource JSON.
    Json,
}

pub async fn run(a: NodesArgs) -> anyhow::Result<u8> {
    let path = match (a.command, &a.nodes) {
        (Some(NodesCommand::List { filter, server }), _) => {
            return super::client::nodes_list(&server, &filter).await
        }
        (None, Some(p)) => p.clone(),
        (None, None) => anyhow::bail!("give a resource file with --nodes, or use `nodes list`"),
    };
    let nodes = super::load_nodes(&path)?;
    let filter = NodeFilter::parse(&a.filter)?;
    let selected: Vec<foredeck::Node> = filter
        .select(&nodes, !a.include_precedence)
        .into_iter()
        .cloned()
        .collect();
    match a.output {
        Output::Names => {
            for n in &selected {
                println!("{}", n.name);
            }
        }
        Output::Table => {
            let w = selected
                .iter()
                .map(|n| n.name.len())
                .max()
                .unwrap_or(4)
                .max(4);
            println!("{:w$}  {:24}  {:12}  TAGS", "NAME", "HOSTNAME", "USER");
            for n in &selected {
                println!(
                    "{:w$}  {:24}  {:12}  {}",
                    n.name,
                    n.hostname().unwrap_or("-"),
                    n.username().unwrap_or("-"),
                    n.tags_string()
                );
            }
        }
        Output::Yaml => print!("{}", foredeck::format::nodes_to_yaml(&selected)?),
        Output::Json => println!("{}", foredeck::format::nodes_to_json(&selected)?),
    }
    if selected.is_empty() {
        eprintln!(
            "no nodes matched the filter {:?} ({} nodes in {})",
            a.filter,
            nodes.len(),
            path.display()
        );
        return Ok(1);
    }
    Ok(0)
}
