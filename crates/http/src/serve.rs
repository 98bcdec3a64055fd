//! Serving the router on a TCP listener with bounds on what a client can
//! hold: the request head and each piece of a request body must arrive
//! within a timeout, a connection waiting for its next request is closed
//! after the same head timeout, and the connections open at once are capped
//! in total (below the process's descriptor limit) and per client address.
//! A connection past a cap is answered `503` and closed at once.

use axum::extract::ConnectInfo;
use axum::Router;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

/// Bounds on connections, for [`serve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeLimits {
    /// Longest wait for a whole request head (request line and headers),
    /// counted from when the connection starts waiting for a request: also
    /// how long an idle keep-alive connection stays open.
    pub header_read_timeout: Duration,
    /// Longest wait for the next piece of a request body.
    pub body_read_timeout: Duration,
    /// Connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_address: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_connections_per_address: 256,
        }
    }
}

impl ServeLimits {
    /// The default connection cap for a process that may open
    /// `descriptors` files: a quarter of them are kept for the database,
    /// SSH connections, logs and the 503 answers themselves.
    pub fn max_connections_for(descriptors: u64) -> usize {
        let usable = descriptors.saturating_sub(descriptors / 4).max(16);
        usize::try_from(usable).unwrap_or(usize::MAX)
    }
}

/// Connections open now, in total and by address.
#[derive(Debug, Default)]
struct Open {
    total: AtomicUsize,
    by_addr: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted connection; it leaves the counts when dropped.
#[derive(Debug)]
struct Slot {
    open: Arc<Open>,
    addr: IpAddr,
}

impl Open {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // single increments and decrements keep the map consistent
        self.by_addr.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits a connection from `addr`, or says which cap it is past.
    fn admit(self: &Arc<Self>, addr: IpAddr, limits: &ServeLimits) -> Result<Slot, &'static str> {
        let mut map = self.lock();
        if self.total.load(Ordering::Relaxed) >= limits.max_connections {
            return Err("the server has too many connections open");
        }
        let n = map.entry(addr).or_insert(0);
        if *n >= limits.max_connections_per_address {
            return Err("too many connections are open from your address");
        }
        *n += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        Ok(Slot {
            open: self.clone(),
            addr,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.open.lock();
        if let Some(n) = map.get_mut(&self.addr) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.addr);
            }
        }
        self.open.total.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Refusals being written at once; past this a refused connection is
/// closed without an answer, so refusing cannot use up descriptors either.
const MAX_REFUSING: usize = 64;

/// Serves `router` on `listener` until `shutdown` resolves, then waits for
/// the open connections to finish their requests. Each request carries the
/// client's address as [`ConnectInfo<SocketAddr>`].
pub async fn serve<F>(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let open = Arc::new(Open::default());
    let refusing = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // out of descriptors or a connection reset before it
                    // was taken: wait a little rather than spin
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        match open.admit(peer.ip(), &limits) {
            Ok(slot) => {
                let router = router.clone();
                let stop = stop_rx.clone();
                tokio::spawn(connection(stream, peer, router, limits, slot, stop));
            }
            Err(why) => {
                tracing::warn!(address = %peer.ip(), reason = why, "connection refused");
                if refusing.fetch_add(1, Ordering::Relaxed) < MAX_REFUSING {
                    let refusing = refusing.clone();
                    tokio::spawn(async move {
                        refuse(stream, why).await;
                        refusing.fetch_sub(1, Ordering::Relaxed);
                    });
                } else {
                    refusing.fetch_sub(1, Ordering::Relaxed);
                    drop(stream);
                }
            }
        }
    }
    drop(listener);
    drop(stop_rx);
    let _ = stop_tx.send(true);
    // every connection task holds a receiver; they are gone when all ended
    stop_tx.closed().await;
    Ok(())
}

/// Answers 503 in Rundeck's error shape and closes, within a second.
async fn refuse(mut stream: TcpStream, why: &str) {
    let body = serde_json::json!({
        "error": true,
        "apiversion": crate::CURRENT_API,
        "errorCode": crate::error::Code::Overloaded.as_str(),
        "message": format!("Connection refused: {why}; try again shortly."),
    })
    .to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// One connection, until it closes, times out or the server stops (then it
/// finishes the request in progress).
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ServeLimits,
    slot: Slot,
    stop: watch::Receiver<bool>,
) {
    let _slot = slot;
    let body_timeout = limits.body_read_timeout;
    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut req = req.map(|b| axum::body::Body::new(TimeoutBody::new(b, body_timeout)));
        req.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    let stopping = async move {
        let mut stop = stop;
        // the guard `wait_for` returns is not held past this line
        let _ = stop.wait_for(|s| *s).await;
    };
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(address = %peer.ip(), error = %e, "connection ended");
            }
        }
        () = stopping => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// A request body whose every frame must arrive within a timeout; past it
/// the body ends with an error (the handler answers 400 or 408).
struct TimeoutBody {
    inner: Incoming,
    timeout: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl TimeoutBody {
    fn new(inner: Incoming, timeout: Duration) -> Self {
        TimeoutBody {
            inner,
            timeout,
            sleep: None,
        }
    }
}

/// The error of a body that stopped arriving.
#[derive(Debug)]
struct BodyTimeout(Duration);

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body stopped arriving: no data for {} s",
            self.0.as_secs_f64()
        )
    }
}

impl std::error::Error for BodyTimeout {}

impl HttpBody for TimeoutBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(r) => {
                this.sleep = None;
                Poll::Ready(r.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.sleep = None;
                        Poll::Ready(Some(Err(Box::new(BodyTimeout(timeout)))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
