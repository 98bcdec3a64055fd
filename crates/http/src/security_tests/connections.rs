//! Finding 5 of issue 17: slow or idle connections cannot pile up. The
//! request head and each piece of a body must arrive within a timeout, an
//! idle keep-alive connection is closed, and connections are capped in
//! total and per client address (503 past a cap). These tests use real
//! sockets on loopback; every wait is bounded, so a server that keeps a
//! connection open fails the test instead of hanging it.

use super::*;
use crate::{serve, ServeLimits};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Longest a test waits for the server to act (far above the timeouts it
/// configures; reached only when the server does not act at all).
const BOUND: Duration = Duration::from_secs(20);

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(env: &Env, limits: ServeLimits) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let app = crate::router(env.state.clone());
        let task = tokio::spawn(serve(listener, app, limits, async {
            let _ = rx.await;
        }));
        Server {
            addr,
            stop: Some(tx),
            task,
        }
    }

    /// A connection from loopback address `from` (127.0.0.x).
    async fn connect_from(&self, from: &str) -> TcpStream {
        let socket = TcpSocket::new_v4().unwrap();
        socket
            .bind(SocketAddr::new(from.parse().unwrap(), 0))
            .unwrap();
        socket.connect(self.addr).await.unwrap()
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(BOUND, self.task)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
    }
}

/// Everything the server sends until it closes the connection, or `None`
/// if it keeps it open past [`BOUND`].
async fn until_closed(s: &mut TcpStream) -> Option<String> {
    let mut got = Vec::new();
    match tokio::time::timeout(BOUND, s.read_to_end(&mut got)).await {
        Ok(_) => Some(String::from_utf8_lossy(&got).into_owned()),
        Err(_) => None,
    }
}

fn quick() -> ServeLimits {
    ServeLimits {
        header_read_timeout: Duration::from_millis(300),
        body_read_timeout: Duration::from_millis(300),
        ..ServeLimits::default()
    }
}

#[tokio::test]
async fn a_slow_request_head_is_cut_off() {
    let env = env().await;
    let server = Server::start(&env, quick()).await;
    let mut s = server.connect_from("127.0.0.1").await;
    s.write_all(b"GET /api/59/system/info HTTP/1.1\r\nHost: x\r\nX-Slow: 1")
        .await
        .unwrap();
    assert!(
        until_closed(&mut s).await.is_some(),
        "a connection that never finishes its head stays open"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let env = env().await;
    let server = Server::start(&env, quick()).await;
    let mut s = server.connect_from("127.0.0.1").await;
    let ask =
        format!("GET /api/59/system/info HTTP/1.1\r\nHost: x\r\n{TOKEN_HEADER}: {ADMIN}\r\n\r\n");
    s.write_all(ask.as_bytes()).await.unwrap();
    let got = until_closed(&mut s)
        .await
        .expect("an idle keep-alive connection stays open");
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    server.stop().await;
}

#[tokio::test]
async fn a_body_that_stops_arriving_ends_the_request() {
    let env = env().await;
    let server = Server::start(&env, quick()).await;
    let mut s = server.connect_from("127.0.0.1").await;
    s.write_all(
        b"POST /j_security_check HTTP/1.1\r\nHost: x\r\n\
          Content-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 1000\r\n\r\nj_username=root&j_pass",
    )
    .await
    .unwrap();
    let got = until_closed(&mut s)
        .await
        .expect("a request whose body stops arriving stays open");
    // the login was not made: no session cookie
    assert!(!got.contains("JSESSIONID="), "{got}");
    server.stop().await;
}

#[tokio::test]
async fn connections_past_a_cap_get_503() {
    let env = env().await;
    let limits = ServeLimits {
        max_connections: 3,
        max_connections_per_address: 2,
        ..ServeLimits::default()
    };
    let server = Server::start(&env, limits).await;
    let mut held = vec![
        server.connect_from("127.0.0.1").await,
        server.connect_from("127.0.0.1").await,
    ];
    // a third from the same address is refused ...
    let mut third = server.connect_from("127.0.0.1").await;
    let got = until_closed(&mut third).await.expect("refused and closed");
    assert!(got.starts_with("HTTP/1.1 503"), "{got}");
    assert!(
        got.contains("too many connections are open from your address"),
        "{got}"
    );
    // ... another address is served ...
    let mut other = server.connect_from("127.0.0.2").await;
    other
        .write_all(b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let got = until_closed(&mut other).await.expect("answered");
    assert!(got.starts_with("HTTP/1.1 404"), "{got}");
    held.push(server.connect_from("127.0.0.2").await);
    // ... until the server holds its total
    let mut fourth = server.connect_from("127.0.0.3").await;
    let got = until_closed(&mut fourth).await.expect("refused and closed");
    assert!(got.starts_with("HTTP/1.1 503"), "{got}");
    assert!(
        got.contains("the server has too many connections open"),
        "{got}"
    );
    // a closed connection frees its place (the server notices the close
    // on its own schedule: retry a bounded number of times)
    drop(held.remove(0));
    let mut served = false;
    for _ in 0..200 {
        let mut s = server.connect_from("127.0.0.1").await;
        s.write_all(b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let got = until_closed(&mut s).await.expect("answered");
        if got.starts_with("HTTP/1.1 404") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(served, "a closed connection's place was never freed");
    server.stop().await;
}

#[test]
fn the_default_cap_stays_below_the_descriptor_limit() {
    for limit in [64u64, 1024, 65_536, 1_048_576] {
        let cap = ServeLimits::max_connections_for(limit) as u64;
        assert!(cap < limit, "{limit}: {cap}");
        assert!(cap >= limit / 2, "{limit}: {cap}");
    }
}
