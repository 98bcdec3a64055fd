//! Embedding Foredeck: load a Rundeck job definition, run it on the local
//! node with an in-memory store, and print its output and result.
//!
//! `cargo run --example embed`

use foredeck::engine::{Engine, RunOptions};
use foredeck::format::parse_jobs_yaml;

const JOB: &str = r#"
- name: hello
  options:
    - name: who
      value: world
  sequence:
    commands:
      - exec: echo "hello ${option.who} from ${node.name}"
      - script: |
          echo "RUNDECK:DATA:answer=42"
      - exec: echo "the answer is ${data.answer}"
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let job = parse_jobs_yaml(JOB, "inline")?.remove(0);
    let engine = Engine::builder().build(); // local executor + in-memory store
    let opts = RunOptions::default()
        .option("who", "embedder")
        .on_log(|ev| println!("[{}] {}", ev.node.as_deref().unwrap_or("-"), ev.text));
    let execution = engine.run_job("demo", &job, opts).await?;
    println!("execution #{} {}", execution.id, execution.status);
    Ok(())
}
