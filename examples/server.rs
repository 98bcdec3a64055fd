//! A Foredeck server in a program of your own, with a custom executor:
//! nodes whose `node-executor` attribute is `dry-run` (and, here, this
//! host) print their commands instead of running them.
//!
//! `cargo run --example server` then `foredeck` clients on port 4440.

use foredeck::executor::{NodeCommand, NodeOutcome, NodeRequest, OutputSink};
use foredeck::{Foredeck, Result, Stream};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Debug)]
struct DryRun;

#[async_trait::async_trait]
impl foredeck::Executor for DryRun {
    async fn run(
        &self,
        req: NodeRequest,
        out: OutputSink,
        _: CancellationToken,
    ) -> Result<NodeOutcome> {
        let what = match &req.command {
            NodeCommand::Shell(line) => line.clone(),
            _ => "a script".into(),
        };
        out.line(
            Stream::Stdout,
            format!("[dry-run on {}] {what}", req.node.name),
        )
        .await;
        Ok(NodeOutcome::exit(0))
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let fd = Foredeck::builder()
        .data_dir("./foredeck-data")
        .executor("dry-run", Arc::new(DryRun))
        .executor("local", Arc::new(DryRun)) // this host too
        .build()
        .await?;
    if let Some(first) = fd.first_start(None).await? {
        println!(
            "user admin, password {}, API token {}",
            first.password, first.token
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:4440")
        .await
        .map_err(|e| foredeck::Error::io("binding 127.0.0.1:4440", e))?;
    println!("serving http://127.0.0.1:4440 (Ctrl-C stops)");
    fd.serve(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
