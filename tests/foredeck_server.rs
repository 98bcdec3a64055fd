//! The `Foredeck` facade started in-process on port 0: a custom executor
//! registered through the builder runs a job started through the API, and
//! `serve` returns once its shutdown future resolves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use foredeck::executor::{NodeCommand, NodeOutcome, NodeRequest, OutputSink};
use foredeck::{Foredeck, Result, Stream};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// Records the commands it is given and answers them with a marker.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<String>>);

#[async_trait::async_trait]
impl foredeck::Executor for Recorder {
    async fn run(
        &self,
        req: NodeRequest,
        out: OutputSink,
        _: CancellationToken,
    ) -> Result<NodeOutcome> {
        if let NodeCommand::Shell(line) = &req.command {
            self.0.lock().unwrap().push(line.clone());
        }
        out.line(Stream::Stdout, format!("recorded on {}", req.node.name))
            .await;
        Ok(NodeOutcome::exit(0))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_server_runs_jobs_with_a_registered_executor() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Arc::new(Recorder::default());
    let fd = Foredeck::builder()
        .data_dir(dir.path().join("data"))
        .server_node("embedded")
        .executor("local", recorder.clone())
        .build()
        .await
        .unwrap();
    let first = fd.first_start(None).await.unwrap().expect("a first start");
    assert!(fd.first_start(None).await.unwrap().is_none(), "only once");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/59", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(fd.serve(listener, async {
        let _ = stopped.await;
    }));

    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, ctype: &str, body: String| {
        http.request(method, format!("{base}{path}"))
            .header("X-Rundeck-Auth-Token", &first.token)
            .header("Accept", "application/json")
            .header("Content-Type", ctype)
            .body(body)
            .send()
    };
    let r = call(
        reqwest::Method::POST,
        "/projects",
        "application/json",
        r#"{"name":"p"}"#.into(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = call(
        reqwest::Method::POST,
        "/project/p/jobs/import",
        "application/yaml",
        "- name: j\n  uuid: 0b5e55ed-0000-4000-8000-0000000000f1\n  sequence:\n    commands:\n      - exec: echo from-the-api\n".into(),
    )
    .await
    .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["succeeded"].as_array().map(Vec::len), Some(1), "{v}");
    let r = call(
        reqwest::Method::POST,
        "/job/0b5e55ed-0000-4000-8000-0000000000f1/run",
        "application/json",
        "{}".into(),
    )
    .await
    .unwrap();
    let v: Value = r.json().await.unwrap();
    let id = v["id"].as_u64().unwrap_or_else(|| panic!("{v}"));
    let mut status = String::new();
    for _ in 0..500 {
        let v: Value = call(
            reqwest::Method::GET,
            &format!("/execution/{id}"),
            "application/json",
            String::new(),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        status = v["status"].as_str().unwrap_or_default().to_owned();
        if status != "running" && status != "queued" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, "succeeded");
    let out = call(
        reqwest::Method::GET,
        &format!("/execution/{id}/output?format=text"),
        "text/plain",
        String::new(),
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(out.contains("recorded on embedded"), "{out}");
    assert_eq!(recorder.0.lock().unwrap().as_slice(), ["echo from-the-api"]);

    stop.send(()).unwrap();
    let stopped = server.await.unwrap().unwrap();
    assert_eq!(stopped.aborted, 0);
}
