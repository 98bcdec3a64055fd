//! `run/url`: a script the server downloads from a real HTTP server started
//! here (tokio on 127.0.0.1:0), run by the local executor; refused schemes,
//! addresses and redirects, a tarpit, oversized and failed downloads, and
//! callers without grants, who make the server fetch nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::adhoc::{finished_log, post_as, state, ADMIN, NOBODY};
use axum::http::StatusCode;
use foredeck_core::ExecutionStatus;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SCRIPT: &str = "#!/bin/sh\necho url script says $1\n";

/// The raw HTTP answer for a path.
fn answer(path: &str) -> Vec<u8> {
    let plain = |status: &str, extra: &str, body: &[u8]| {
        let mut out = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    };
    match path {
        "/ok.sh" => plain("200 OK", "Content-Type: text/x-sh\r\n", SCRIPT.as_bytes()),
        "/to-ok" => plain("302 Found", "Location: /ok.sh\r\n", b""),
        "/to-file" => plain("302 Found", "Location: file:///etc/passwd\r\n", b""),
        "/to-metadata" => plain(
            "302 Found",
            "Location: http://169.254.169.254/latest/meta-data/\r\n",
            b"",
        ),
        "/loop" => plain("302 Found", "Location: /loop\r\n", b""),
        "/big" => plain("200 OK", "", &vec![b'#'; (1 << 20) + 1]),
        // no length: the limit must hold while the body streams
        "/big-unsized" => {
            let mut out = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
            out.extend(std::iter::repeat_n(b'#', 3 << 19));
            out
        }
        "/binary" => plain("200 OK", "", &[0xff, 0xfe, 0x00, 0x80]),
        "/empty" => plain("200 OK", "", b""),
        _ => plain("404 Not Found", "", b"no such script"),
    }
}

/// An HTTP server on 127.0.0.1 answering [`answer`]; counts requests.
async fn serve() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 16 * 1024 {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let line = String::from_utf8_lossy(&req).into_owned();
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                // the client may hang up early (a refused download)
                let _ = sock.write_all(&answer(&path)).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (addr, hits)
}

/// A listener that accepts connections and never answers.
async fn tarpit() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    addr
}

async fn run_url(s: &crate::ApiState, token: &str, body: Value) -> (StatusCode, Value) {
    post_as(
        s,
        "/api/59/project/ops/run/url",
        token,
        "application/json",
        &body.to_string(),
    )
    .await
}

#[tokio::test]
async fn a_downloaded_script_runs_on_the_filtered_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path()).await;
    let (addr, hits) = serve().await;
    // JSON (Rundeck's `url`)
    let (status, v) = run_url(
        &s,
        ADMIN,
        json!({"url": format!("http://{addr}/ok.sh"), "argString": "hello", "filter": "db1"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (st, log, adhoc) = finished_log(&s, v["execution"]["id"].as_u64().unwrap()).await;
    assert_eq!(st, ExecutionStatus::Succeeded, "{log}");
    assert!(adhoc);
    assert!(log.contains("db1: url script says hello"), "{log}");
    // a form (Rundeck's `scriptURL`), through a redirect on the same server
    let form = serde_urlencoded::to_string([
        ("scriptURL", format!("http://{addr}/to-ok")),
        ("argString", "again".into()),
        ("filter", "tags: web".into()),
        ("nodeThreadcount", "2".into()),
    ])
    .unwrap();
    let (status, v) = post_as(
        &s,
        "/api/59/project/ops/run/url",
        ADMIN,
        "application/x-www-form-urlencoded",
        &form,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (st, log, _) = finished_log(&s, v["execution"]["id"].as_u64().unwrap()).await;
    assert_eq!(st, ExecutionStatus::Succeeded, "{log}");
    assert!(
        log.contains("web1: url script says again") && log.contains("web2: url script says again"),
        "{log}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    // the audit names the URL, without a password in it
    let (status, v) = run_url(
        &s,
        ADMIN,
        json!({"scriptURL": format!("http://me:hunter2@{addr}/ok.sh"), "filter": "db1"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let audit = s
        .store
        .query_audit(&Default::default())
        .await
        .unwrap()
        .items;
    let details: Vec<String> = audit
        .iter()
        .filter(|a| a.resource_type == "adhoc")
        .map(|a| a.detail.to_string())
        .collect();
    assert_eq!(details.len(), 3, "{details:?}");
    assert!(details.iter().any(|d| d.contains("/ok.sh")), "{details:?}");
    assert!(
        !details.iter().any(|d| d.contains("hunter2")),
        "{details:?}"
    );
}

#[tokio::test]
async fn refused_urls_and_failed_downloads_are_clear_400s() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = state(dir.path()).await;
    s.limits.script_url_timeout = Duration::from_millis(300);
    let (addr, _) = serve().await;
    let slow = tarpit().await;
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    for (url, needle) in [
        ("file:///etc/passwd".to_owned(), "only http and https"),
        ("ftp://example.com/s.sh".to_owned(), "only http and https"),
        ("not a url".to_owned(), "not a URL"),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "does not connect to address 169.254.169.254",
        ),
        ("http://[fe80::1]/s.sh".to_owned(), "does not connect to"),
        (format!("http://{addr}/to-file"), "only http and https"),
        (format!("http://{addr}/to-metadata"), "169.254.169.254"),
        (format!("http://{addr}/loop"), "redirects"),
        (format!("http://{addr}/missing.sh"), "404"),
        (format!("http://{addr}/big"), "larger than 1048576 bytes"),
        (
            format!("http://{addr}/big-unsized"),
            "larger than 1048576 bytes",
        ),
        (format!("http://{addr}/binary"), "not UTF-8"),
        (format!("http://{addr}/empty"), "empty"),
        (
            format!("http://{slow}/s.sh"),
            "no complete answer within 300ms",
        ),
        (format!("http://{closed}/s.sh"), "scriptURL"),
    ] {
        let (status, v) = run_url(&s, ADMIN, json!({"url": url, "filter": "db1"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {v}");
        assert_eq!(v["errorCode"], "api.error.invalid.request", "{url}: {v}");
        let message = v["message"].as_str().unwrap();
        assert!(message.starts_with("scriptURL: "), "{url}: {v}");
        assert!(message.contains(needle), "{url} wants {needle:?}: {v}");
    }
    // no URL at all: Rundeck's parameter.required
    let (status, v) = run_url(&s, ADMIN, json!({"filter": "db1"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["errorCode"], "api.error.parameter.required", "{v}");
    assert!(v["message"].as_str().unwrap().contains("scriptURL"), "{v}");
    assert!(s
        .store
        .query_executions(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

#[tokio::test]
async fn callers_without_grants_make_the_server_fetch_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path()).await;
    let (addr, hits) = serve().await;
    let url = format!("http://{addr}/ok.sh");
    let (status, v) = run_url(&s, NOBODY, json!({"url": url, "filter": "db1"})).await;
    assert!(
        matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
        "{v}"
    );
    assert!(!v.to_string().contains("db1"), "{v}");
    // nor does a filter that selects no node, or an unknown project
    let (status, v) = run_url(&s, ADMIN, json!({"url": url, "filter": "name: nowhere"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, _) = post_as(
        &s,
        "/api/59/project/nope/run/url",
        ADMIN,
        "application/json",
        &json!({"url": url, "filter": "db1"}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    assert!(s
        .store
        .query_executions(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

/// The in-flight budget is the server's, not each route's: a `run/url`
/// request held by a tarpit takes the only slot, and a request to another
/// route is shed with 503 until it ends.
#[tokio::test]
async fn the_in_flight_limit_holds_across_routes() {
    use axum::body::Body;
    use axum::http::{Method, Request};
    use tower::ServiceExt;
    let dir = tempfile::tempdir().unwrap();
    let mut s = state(dir.path()).await;
    s.limits.script_url_timeout = Duration::from_secs(30);
    // one slot in all (the budget is in-flight plus token lookups)
    s.limits.max_in_flight = 0;
    s.limits.max_unauthenticated = 1;
    // a tarpit that says when it has the download's connection
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slow = listener.local_addr().unwrap();
    let (accepted, held) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let _ = accepted.send(());
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(sock);
    });
    let app = crate::router(s.clone());
    let request = |method: Method, uri: &str, body: String| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(crate::auth::TOKEN_HEADER, ADMIN)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let body = json!({"url": format!("http://{slow}/s.sh"), "filter": "web1"}).to_string();
    let download = tokio::spawn(app.clone().oneshot(request(
        Method::POST,
        "/api/59/project/ops/run/url",
        body,
    )));
    if tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .is_err()
    {
        let resp = download.await.unwrap().unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        panic!("the download never reached the tarpit: {status} {body:?}");
    }
    let resp = app
        .clone()
        .oneshot(request(Method::GET, "/api/59/system/info", String::new()))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("handling too many requests"), "{text}");
    download.abort();
}
