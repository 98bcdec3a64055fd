//! Finding 14: execution output is streamed with a bounded buffer. A large
//! log's answer arrives in pieces of bounded size, read from the store as it
//! is sent: events appended after the first piece went out still reach the
//! answer (a server that built the whole answer first would have read the
//! log to its end before sending anything).

use super::*;
use foredeck_core::{Execution, ExecutionStatus, LogEvent, LogLevel};
use futures::StreamExt;
use tower::ServiceExt;

/// Largest piece of a body accepted: the 1 MiB buffer plus a page of
/// events, with room to spare; far below the ~12 MB of the whole answer.
const MAX_PIECE: usize = 3 << 20;
const LINE: usize = 1_300;
const LINES: u64 = 9_000;
const MARKERS: u64 = 1_000;

fn event(node: &str, text: String) -> LogEvent {
    LogEvent::system(LogLevel::Info, Some(node), Some("1"), text)
}

/// A finished execution with [`LINES`] long lines on two nodes.
async fn big_log(env: &Env) -> u64 {
    let mut e = Execution::new("p", "big", "root");
    e.status = ExecutionStatus::Succeeded;
    e.date_ended = Some(e.date_started);
    let id = env.store.create_execution(&e).await.unwrap();
    for batch in 0..(LINES / 500) {
        let events: Vec<LogEvent> = (batch * 500..(batch + 1) * 500)
            .map(|k| {
                let node = if k % 2 == 0 { "web1" } else { "web2" };
                let mut text = format!("line {k} ");
                text.push_str(&"x".repeat(LINE - text.len()));
                event(node, text)
            })
            .collect();
        env.store.append_log(id, &events).await.unwrap();
    }
    id
}

/// The body of a GET as its pieces; `between` runs once the first piece
/// arrived, before the rest is asked for.
async fn pieces<F: std::future::Future<Output = ()>>(
    env: &Env,
    uri: &str,
    between: F,
) -> Vec<axum::body::Bytes> {
    let req = Request::builder()
        .uri(uri)
        .header(TOKEN_HEADER, ADMIN)
        .body(Body::empty())
        .unwrap();
    let resp = crate::router(env.state.clone()).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body().into_data_stream();
    let mut out = vec![body.next().await.unwrap().unwrap()];
    between.await;
    while let Some(piece) = body.next().await {
        out.push(piece.unwrap());
    }
    for p in &out {
        assert!(p.len() <= MAX_PIECE, "a piece of {} bytes", p.len());
    }
    out
}

fn joined(pieces: &[axum::body::Bytes]) -> Vec<u8> {
    pieces.iter().flat_map(|p| p.iter().copied()).collect()
}

async fn append_markers(env: &Env, id: u64) {
    let markers: Vec<LogEvent> = (0..MARKERS)
        .map(|k| event("web1", format!("marker {k}")))
        .collect();
    env.store.append_log(id, &markers).await.unwrap();
}

#[tokio::test]
async fn a_large_log_is_streamed_as_it_is_read() {
    let env = env().await;
    let id = big_log(&env).await;

    // JSON: every field and entry, read as it was sent
    let body = joined(
        &pieces(
            &env,
            &format!("/api/59/execution/{id}/output"),
            append_markers(&env, id),
        )
        .await,
    );
    assert!(body.len() > 10 << 20, "{} bytes", body.len());
    let v: Value = serde_json::from_slice(&body).unwrap();
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len() as u64, LINES + MARKERS);
    assert!(entries[0]["log"].as_str().unwrap().starts_with("line 0 "));
    assert_eq!(entries[1]["node"], "web2");
    assert_eq!(entries.last().unwrap()["log"], "marker 999");
    assert_eq!(v["offset"], (LINES + MARKERS).to_string());
    assert_eq!(v["totalSize"], LINES + MARKERS);
    assert_eq!(v["completed"], true);
    assert_eq!(v["execState"], "succeeded");
    assert_eq!(v["id"], id.to_string());

    // text, one node, from an offset
    let body = joined(
        &pieces(
            &env,
            &format!("/api/59/execution/{id}/output/node/web1?format=text&offset=2"),
            async {},
        )
        .await,
    );
    let text = String::from_utf8(body).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len() as u64, (LINES - 2) / 2 + MARKERS);
    assert!(lines[0].starts_with("line 2 "), "{}", &lines[0][..20]);
    assert_eq!(lines.last().copied(), Some("marker 999"));

    // the last lines of one node, past a large log
    let a = env
        .call(
            Method::GET,
            &format!("/api/59/execution/{id}/output/node/web2?lastlines=3"),
        )
        .token(ADMIN)
        .send()
        .await;
    let v = a.json();
    let logs: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["log"].as_str().unwrap()[..10])
        .collect();
    assert_eq!(logs, ["line 8995 ", "line 8997 ", "line 8999 "]);
    assert_eq!(v["offset"], (LINES + MARKERS).to_string());
    // and of the whole log, long lines
    let body = joined(
        &pieces(
            &env,
            &format!("/api/59/execution/{id}/output?lastlines=2500&format=text"),
            async {},
        )
        .await,
    );
    let text = String::from_utf8(body).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2500);
    assert!(lines[0].starts_with("line 7500 "));
    assert_eq!(lines[2499], "marker 999");
}
