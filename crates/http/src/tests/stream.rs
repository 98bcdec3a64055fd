//! The output stream of a running execution follows the engine's live feed:
//! lines arrive before the store has them, and resuming by `Last-Event-ID`
//! joins the store and the feed with no gap and no duplicate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::auth::{hash_token, TOKEN_HEADER};
use async_trait::async_trait;
use axum::body::{Body, BodyDataStream};
use axum::http::{Method, Request, StatusCode};
use foredeck_core::engine::{Engine, PluginCall, StepPlugin};
use foredeck_core::executor::NodeOutcome;
use foredeck_core::runs::RunService;
use foredeck_core::schedule::DurableScheduler;
use foredeck_core::store::ApiToken;
use foredeck_core::{Job, MemoryStore, Project, Step, StepKind, Stream, Workflow};
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tower::ServiceExt;

const ADMIN: &str = "stream-admin-token";
const JOB: &str = "33333333-3333-3333-3333-333333333333";

/// Prints the lines the test sends it, until the test drops the sender.
#[derive(Debug)]
struct Lines(std::sync::Mutex<Option<mpsc::UnboundedReceiver<String>>>);

#[async_trait]
impl StepPlugin for Lines {
    async fn run(&self, call: PluginCall) -> foredeck_core::Result<NodeOutcome> {
        let rx = self.0.lock().unwrap().take();
        if let Some(mut rx) = rx {
            while let Some(line) = rx.recv().await {
                call.out.line(Stream::Stdout, line).await;
            }
        }
        Ok(NodeOutcome::exit(0))
    }
}

async fn state(lines: mpsc::UnboundedReceiver<String>) -> ApiState {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    store
        .create_token(&ApiToken {
            id: "a".into(),
            token_hash: hash_token(ADMIN),
            user: "admin".into(),
            roles: vec!["admin".into()],
            name: None,
            creator: "test".into(),
            created: chrono::Utc::now(),
            expiration: None,
        })
        .await
        .unwrap();
    store.create_project(&Project::new("p")).await.unwrap();
    let mut job = Job::new(
        "printer",
        Workflow::new(vec![Step::new(StepKind::Plugin {
            plugin_type: "lines".into(),
            node_step: false,
            configuration: Default::default(),
        })]),
    );
    job.uuid = Some(JOB.into());
    store.put_job("p", &job).await.unwrap();
    let engine = Engine::builder()
        .shared_store(store.clone())
        .step_plugin("lines", Lines(std::sync::Mutex::new(Some(lines))))
        .build();
    let sched = store.clone();
    let runs = RunService::new(engine, |l| DurableScheduler::builder(sched, l).build());
    ApiState::new(store, Arc::new(RoleAuthorizer::new(["admin"]))).with_run_service(runs)
}

async fn request(s: &ApiState, method: Method, uri: &str, last_id: Option<&str>) -> Body {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(TOKEN_HEADER, ADMIN);
    if let Some(l) = last_id {
        req = req.header("last-event-id", l);
    }
    let resp = router(s.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.into_body()
}

/// An SSE response read event by event.
struct Events {
    body: BodyDataStream,
    buf: String,
}

impl Events {
    async fn open(s: &ApiState, id: u64, last_id: Option<&str>) -> Events {
        let uri = format!("/api/59/execution/{id}/output/stream");
        let body = request(s, Method::GET, &uri, last_id).await;
        Events {
            body: body.into_data_stream(),
            buf: String::new(),
        }
    }

    /// The next event: (event, id, data); keep-alive comments are skipped.
    async fn next(&mut self) -> (String, String, Value) {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if !event.is_empty() {
                    return (event, id, serde_json::from_str(&data).unwrap());
                }
            }
            let chunk = self.body.next().await.expect("stream ended").unwrap();
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next `log` event: (id, line).
    async fn line(&mut self) -> (String, String) {
        let (event, id, data) = self.next().await;
        assert_eq!(event, "log", "{data}");
        (id, data["log"].as_str().unwrap().to_owned())
    }
}

async fn stored(s: &ApiState, id: u64) -> usize {
    s.store.read_log(id, 0, 100).await.unwrap().events.len()
}

/// Time is paused: the engine's 100 ms batch delay passes only when every
/// task waits, so a line read from the stream before then came live.
#[tokio::test(start_paused = true)]
async fn stream_delivers_lines_before_the_store_and_resumes_without_gaps() {
    let (lines, rx) = mpsc::unbounded_channel::<String>();
    let s = state(rx).await;
    let body = request(&s, Method::POST, &format!("/api/59/job/{JOB}/run"), None).await;
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let id = serde_json::from_slice::<Value>(&bytes).unwrap()["id"]
        .as_u64()
        .unwrap();

    let mut first = Events::open(&s, id, None).await;
    lines.send("one".into()).unwrap();
    assert_eq!(first.line().await, ("1".into(), "one".into()));
    assert_eq!(stored(&s, id).await, 0, "the store has not received it");
    lines.send("two".into()).unwrap();
    assert_eq!(first.line().await, ("2".into(), "two".into()));
    assert_eq!(stored(&s, id).await, 0);
    drop(first);

    // the batch goes to the store; then a line only the feed has
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert_eq!(stored(&s, id).await, 2);
    lines.send("three".into()).unwrap();
    // resume after "one": "two" from the store, "three" from the feed
    let mut resumed = Events::open(&s, id, Some("1")).await;
    assert_eq!(resumed.line().await, ("2".into(), "two".into()));
    assert_eq!(resumed.line().await, ("3".into(), "three".into()));
    assert_eq!(stored(&s, id).await, 2);
    drop(lines);
    let (event, _, end) = resumed.next().await;
    assert_eq!(event, "end", "{end}");
    assert_eq!(end["execState"], "succeeded");
    assert_eq!(end["offset"], 3);

    // the same text as offset polling
    let uri = format!("/api/59/execution/{id}/output?format=text");
    let body = request(&s, Method::GET, &uri, None).await;
    let text = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    assert_eq!(std::str::from_utf8(&text).unwrap(), "one\ntwo\nthree\n");
}
