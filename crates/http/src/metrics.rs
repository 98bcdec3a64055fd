//! Metrics: a small registry, the request-latency middleware, Prometheus'
//! text exposition at `GET /metrics` and Rundeck's Dropwizard-style JSON at
//! `GET /api/{v}/metrics/metrics`.
//!
//! Both need an API token (`X-Rundeck-Auth-Token`, `authtoken` query
//! parameter, or `Authorization: Bearer` as Prometheus sends it) whose
//! subject has `read` on `resource kind=system`, as Rundeck asks for its
//! metrics endpoints. Served:
//!
//! - `foredeck_executions{status="..."}`: executions in the store by status
//!   (every status, zeros included);
//! - `foredeck_executions_running`: executions running now;
//! - `foredeck_http_request_duration_seconds{method,route}`: API latency
//!   histogram, `route` being the route's pattern (`/api/{v}/projects`);
//! - whatever other parts registered with [`Metrics::gauge`] or
//!   [`Metrics::gauge_fn`] (`foredeck serve` registers
//!   `foredeck_scheduler_lag_seconds` and `foredeck_ssh_connections_open`).

use crate::error::ApiError;
use crate::ApiState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Router;
use axum::{Extension, Json};
use foredeck_core::authorizer::{AuthContext, Resource, Subject};
use foredeck_core::{ExecutionQuery, ExecutionStatus};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The API's metrics route, `metrics/metrics` (Prometheus' `/metrics` is [`prometheus_routes`]).
pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route("/api/{v}/metrics/metrics", routing::get(rundeck_json))
}

/// Rundeck's metrics servlet at the root, as clients logged in with a
/// session (rundeck-exporter) ask for it: `/metrics/metrics`,
/// `/metrics/ping`, `/metrics/healthcheck` and `/metrics/threads`, the
/// same answers and
/// authorization as under `/api/{v}/`.
pub(crate) fn servlet_routes() -> Router<ApiState> {
    Router::new()
        .route("/metrics/metrics", routing::get(rundeck_json))
        .route("/metrics/ping", routing::get(crate::system::ping))
        .route(
            "/metrics/healthcheck",
            routing::get(crate::system::healthcheck),
        )
        .route("/metrics/threads", routing::get(crate::system::threads))
}

/// Prometheus' `GET /metrics`.
pub(crate) fn prometheus_routes() -> Router<ApiState> {
    Router::new().route("/metrics", routing::get(prometheus))
}

/// Upper bounds of the latency histogram's buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The statuses counted in `foredeck_executions`.
const STATUSES: [ExecutionStatus; 11] = [
    ExecutionStatus::Scheduled,
    ExecutionStatus::Queued,
    ExecutionStatus::Running,
    ExecutionStatus::Waiting,
    ExecutionStatus::Succeeded,
    ExecutionStatus::Failed,
    ExecutionStatus::Aborted,
    ExecutionStatus::TimedOut,
    ExecutionStatus::FailedWithRetry,
    ExecutionStatus::Incomplete,
    ExecutionStatus::Missed,
];

/// A value others set: a handle to one registered gauge. Cloning shares it.
#[derive(Clone, Debug, Default)]
pub struct Gauge(Arc<AtomicU64>);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }

    /// Adds to the value (negative to subtract).
    pub fn add(&self, delta: f64) {
        let mut cur = self.0.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(cur) + delta).to_bits();
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }

    /// The value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// Why a gauge could not be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricNameError(pub String);

impl std::fmt::Display for MetricNameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MetricNameError {}

/// Where a registered gauge's value comes from.
#[derive(Clone)]
enum Source {
    /// Set through a [`Gauge`] handle.
    Set(Gauge),
    /// Read when scraped.
    Read(Arc<dyn Fn() -> f64 + Send + Sync>),
}

impl Source {
    fn value(&self) -> f64 {
        match self {
            Source::Set(g) => g.get(),
            Source::Read(f) => f(),
        }
    }
}

struct Registered {
    help: String,
    source: Source,
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.source {
            Source::Set(_) => "set",
            Source::Read(_) => "read",
        };
        f.debug_struct("Registered")
            .field("help", &self.help)
            .field("source", &kind)
            .finish()
    }
}

#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
    max_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.max_nanos.fetch_max(nanos, Ordering::Relaxed);
    }

    /// Cumulative bucket counts.
    fn cumulative(&self) -> Vec<u64> {
        let mut acc = 0;
        self.buckets
            .iter()
            .map(|b| {
                acc += b.load(Ordering::Relaxed);
                acc
            })
            .collect()
    }

    /// The upper bound of the bucket holding quantile `q` (the largest
    /// observed value past the last bucket).
    fn quantile(&self, q: f64) -> f64 {
        let count = self.count.load(Ordering::Relaxed);
        if count == 0 {
            return 0.0;
        }
        let rank = (q * count as f64).ceil().max(1.0) as u64;
        for (i, c) in self.cumulative().into_iter().enumerate() {
            if c >= rank {
                return LATENCY_BUCKETS[i];
            }
        }
        self.max_nanos.load(Ordering::Relaxed) as f64 / 1e9
    }
}

/// The metrics registry every part of the server reports to.
#[derive(Debug, Default)]
pub struct Metrics {
    gauges: RwLock<BTreeMap<String, Registered>>,
    requests: RwLock<BTreeMap<(String, String), Arc<Histogram>>>,
    /// Execution counts of the last scrape, reused for a second so that
    /// concurrent scrapers cost one set of store queries.
    counts: tokio::sync::Mutex<Option<(Instant, StatusCounts)>>,
}

/// Executions by status name.
type StatusCounts = Vec<(&'static str, u64)>;

/// How long execution counts are reused.
const COUNTS_TTL: Duration = Duration::from_secs(1);

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Names the server serves itself.
const RESERVED: [&str; 3] = [
    "foredeck_executions",
    "foredeck_executions_running",
    "foredeck_http_request_duration_seconds",
];

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Metrics::default()
    }

    /// Registers a gauge (for example `foredeck_scheduler_lag_seconds` or
    /// `foredeck_ssh_connections_open`) and returns the handle to set it
    /// with. Registering a name twice returns the same gauge; a name that is
    /// not a Prometheus metric name, or that the server serves itself, is
    /// refused.
    pub fn gauge(&self, name: &str, help: &str) -> Result<Gauge, MetricNameError> {
        let mut g = self.register(name)?;
        let entry = g.entry(name.to_owned()).or_insert_with(|| Registered {
            help: help.replace(['\n', '\\'], " "),
            source: Source::Set(Gauge::default()),
        });
        match &entry.source {
            Source::Set(gauge) => Ok(gauge.clone()),
            Source::Read(_) => Err(MetricNameError(format!(
                "metric name {name:?} is registered as a gauge read when scraped"
            ))),
        }
    }

    /// Registers a gauge whose value `read` gives at each scrape (for
    /// example the SSH connections a pool has open): nothing needs to keep
    /// it up to date. Registering a name again replaces the reader; the
    /// names allowed are those of [`gauge`](Self::gauge).
    pub fn gauge_fn(
        &self,
        name: &str,
        help: &str,
        read: impl Fn() -> f64 + Send + Sync + 'static,
    ) -> Result<(), MetricNameError> {
        let mut g = self.register(name)?;
        if matches!(g.get(name), Some(r) if matches!(r.source, Source::Set(_))) {
            return Err(MetricNameError(format!(
                "metric name {name:?} is registered as a gauge that is set"
            )));
        }
        g.insert(
            name.to_owned(),
            Registered {
                help: help.replace(['\n', '\\'], " "),
                source: Source::Read(Arc::new(read)),
            },
        );
        Ok(())
    }

    /// The gauges, write-locked, once `name` is known to be allowed.
    fn register(
        &self,
        name: &str,
    ) -> Result<std::sync::RwLockWriteGuard<'_, BTreeMap<String, Registered>>, MetricNameError>
    {
        if !valid_name(name) {
            return Err(MetricNameError(format!(
                "metric name {name:?} must match [a-zA-Z_:][a-zA-Z0-9_:]*"
            )));
        }
        if RESERVED.contains(&name) {
            return Err(MetricNameError(format!(
                "metric name {name:?} is served by the server itself"
            )));
        }
        Ok(self.gauges.write().unwrap_or_else(|e| e.into_inner()))
    }

    /// Records one request's latency.
    pub fn observe_request(&self, method: &str, route: &str, elapsed: Duration) {
        let key = (method.to_owned(), route.to_owned());
        let found = self
            .requests
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        let h = match found {
            Some(h) => h,
            None => self
                .requests
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .entry(key)
                .or_default()
                .clone(),
        };
        h.observe(elapsed);
    }

    fn gauge_values(&self) -> Vec<(String, String, f64)> {
        // the readers run outside the lock: one may take its time
        let sources: Vec<(String, String, Source)> = self
            .gauges
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(n, r)| (n.clone(), r.help.clone(), r.source.clone()))
            .collect();
        sources
            .into_iter()
            .map(|(n, h, s)| (n, h, s.value()))
            .collect()
    }

    fn histograms(&self) -> Vec<((String, String), Arc<Histogram>)> {
        self.requests
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, h)| (k.clone(), h.clone()))
            .collect()
    }
}

/// Times every routed request, by method and route pattern.
pub(crate) async fn track(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let resp = next.run(req).await;
    state
        .metrics
        .observe_request(&method, &route, started.elapsed());
    resp
}

/// Lets Prometheus authenticate with `Authorization: Bearer <token>`: the
/// token is moved to Rundeck's header before authentication runs.
pub(crate) async fn bearer_token(mut req: Request, next: Next) -> Response {
    if !req.headers().contains_key(crate::auth::TOKEN_HEADER) {
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|t| HeaderValue::from_str(t.trim()).ok());
        if let Some(t) = bearer {
            req.headers_mut().insert(crate::auth::TOKEN_HEADER, t);
        }
    }
    next.run(req).await
}

fn may_read(state: &ApiState, subject: &Subject) -> Result<(), ApiError> {
    let system = Resource::new("resource").with("kind", "system");
    if state
        .authorizer
        .allowed(subject, "read", &system, &AuthContext::Application)
    {
        Ok(())
    } else {
        Err(ApiError::unauthorized("read", "System metrics"))
    }
}

/// Executions by status, from the store's counts (at most [`COUNTS_TTL`]
/// old).
async fn execution_counts(state: &ApiState) -> Result<StatusCounts, ApiError> {
    let mut last = state.metrics.counts.lock().await;
    if let Some((at, counts)) = last.as_ref() {
        if at.elapsed() < COUNTS_TTL {
            return Ok(counts.clone());
        }
    }
    let counts = query_counts(state).await?;
    *last = Some((Instant::now(), counts.clone()));
    Ok(counts)
}

async fn query_counts(state: &ApiState) -> Result<StatusCounts, ApiError> {
    let mut out = Vec::with_capacity(STATUSES.len());
    for s in &STATUSES {
        let page = state
            .store
            .query_executions(&ExecutionQuery {
                status: Some(s.clone()),
                max: 1,
                ..Default::default()
            })
            .await?;
        let name: &'static str = match s {
            ExecutionStatus::Scheduled => "scheduled",
            ExecutionStatus::Queued => "queued",
            ExecutionStatus::Running => "running",
            ExecutionStatus::Waiting => "waiting",
            ExecutionStatus::Succeeded => "succeeded",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::Aborted => "aborted",
            ExecutionStatus::TimedOut => "timedout",
            ExecutionStatus::FailedWithRetry => "failed-with-retry",
            ExecutionStatus::Incomplete => "incomplete",
            ExecutionStatus::Missed => "missed",
            ExecutionStatus::Other(_) => "other",
        };
        out.push((name, page.total));
    }
    Ok(out)
}

/// Escapes a label value for the text exposition format.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `GET /metrics`: Prometheus text exposition (version 0.0.4).
pub(crate) async fn prometheus(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
) -> Result<Response, ApiError> {
    may_read(&state, &subject)?;
    let counts = execution_counts(&state).await?;
    let mut out = String::with_capacity(4096);
    // Writing to a String cannot fail: the results are ignored.
    let _ = writeln!(
        out,
        "# HELP foredeck_executions Executions in the store by status."
    );
    let _ = writeln!(out, "# TYPE foredeck_executions gauge");
    for (status, n) in &counts {
        let _ = writeln!(out, "foredeck_executions{{status=\"{status}\"}} {n}");
    }
    let running = counts
        .iter()
        .find(|(s, _)| *s == "running")
        .map_or(0, |(_, n)| *n);
    let _ = writeln!(
        out,
        "# HELP foredeck_executions_running Executions running now."
    );
    let _ = writeln!(out, "# TYPE foredeck_executions_running gauge");
    let _ = writeln!(out, "foredeck_executions_running {running}");
    let _ = writeln!(
        out,
        "# HELP foredeck_http_request_duration_seconds API request latency by route."
    );
    let _ = writeln!(
        out,
        "# TYPE foredeck_http_request_duration_seconds histogram"
    );
    for ((method, route), h) in state.metrics.histograms() {
        let labels = format!("method=\"{}\",route=\"{}\"", label(&method), label(&route));
        for (bound, c) in LATENCY_BUCKETS.iter().zip(h.cumulative()) {
            let _ = writeln!(
                out,
                "foredeck_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {c}"
            );
        }
        let count = h.count.load(Ordering::Relaxed);
        let sum = h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(
            out,
            "foredeck_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "foredeck_http_request_duration_seconds_sum{{{labels}}} {sum}"
        );
        let _ = writeln!(
            out,
            "foredeck_http_request_duration_seconds_count{{{labels}}} {count}"
        );
    }
    for (name, help, v) in state.metrics.gauge_values() {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        let _ = writeln!(out, "{name} {v}");
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response())
}

/// `GET /api/{v}/metrics/metrics`: the same figures in the shape of
/// Rundeck's (Dropwizard) metrics JSON. Timer quantiles are the upper bounds
/// of the histogram buckets they fall in.
pub(crate) async fn rundeck_json(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
) -> Result<Json<Value>, ApiError> {
    may_read(&state, &subject)?;
    let counts = execution_counts(&state).await?;
    let mut gauges = Map::new();
    for (status, n) in &counts {
        gauges.insert(
            format!("foredeck.executions.{status}"),
            json!({ "value": n }),
        );
    }
    for (name, _, v) in state.metrics.gauge_values() {
        gauges.insert(name, json!({ "value": v }));
    }
    let mut timers = Map::new();
    for ((method, route), h) in state.metrics.histograms() {
        let count = h.count.load(Ordering::Relaxed);
        let mean = if count == 0 {
            0.0
        } else {
            h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9 / count as f64
        };
        timers.insert(
            format!("foredeck.http.{method} {route}"),
            json!({
                "count": count,
                "max": h.max_nanos.load(Ordering::Relaxed) as f64 / 1e9,
                "mean": mean,
                "p50": h.quantile(0.5),
                "p75": h.quantile(0.75),
                "p95": h.quantile(0.95),
                "p98": h.quantile(0.98),
                "p99": h.quantile(0.99),
                "p999": h.quantile(0.999),
                "duration_units": "seconds",
            }),
        );
    }
    Ok(Json(json!({
        "version": "4.0.0",
        "gauges": gauges,
        "counters": {},
        "histograms": {},
        "meters": {},
        "timers": timers,
    })))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn gauges_register_once_and_check_names() {
        let m = Metrics::new();
        let g = m
            .gauge("foredeck_ssh_connections_open", "SSH connections open")
            .unwrap();
        g.add(3.0);
        g.add(-1.0);
        assert_eq!(
            m.gauge("foredeck_ssh_connections_open", "x").unwrap().get(),
            2.0
        );
        for bad in ["", "9lives", "a-b", "a b", "foredeck_executions"] {
            assert!(m.gauge(bad, "x").is_err(), "{bad}");
        }
    }

    #[test]
    fn read_gauges_are_read_at_each_scrape() {
        let m = Metrics::new();
        let open = Arc::new(AtomicU64::new(0));
        m.gauge_fn("foredeck_ssh_connections_open", "SSH connections open", {
            let open = open.clone();
            move || open.load(Ordering::Relaxed) as f64
        })
        .unwrap();
        let value = |m: &Metrics| {
            m.gauge_values()
                .into_iter()
                .find(|(n, _, _)| n == "foredeck_ssh_connections_open")
                .map(|(_, _, v)| v)
        };
        assert_eq!(value(&m), Some(0.0));
        open.store(7, Ordering::Relaxed);
        assert_eq!(value(&m), Some(7.0));
        // one name, one kind
        assert!(m.gauge("foredeck_ssh_connections_open", "x").is_err());
        m.gauge("foredeck_scheduler_lag_seconds", "lag").unwrap();
        assert!(m
            .gauge_fn("foredeck_scheduler_lag_seconds", "lag", || 1.0)
            .is_err());
        assert!(m.gauge_fn("foredeck_executions", "x", || 1.0).is_err());
    }

    #[test]
    fn histogram_buckets_and_quantiles() {
        let h = Histogram::default();
        for ms in [1u64, 2, 3, 20, 700] {
            h.observe(Duration::from_millis(ms));
        }
        assert_eq!(h.cumulative(), vec![1, 2, 3, 3, 4, 4, 4, 4, 4, 5, 5, 5, 5]);
        assert_eq!(h.quantile(0.5), 0.005);
        assert_eq!(h.quantile(0.99), 1.0);
        h.observe(Duration::from_secs(30));
        assert_eq!(h.quantile(1.0), 30.0);
    }
}
