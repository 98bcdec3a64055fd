//! [`DurableScheduler`]: its state, its builder and the tick that drives
//! it. What a tick does lives beside this file: cluster upkeep in
//! `recover.rs`, firing claimed triggers in `fire.rs`, starting executions
//! in `start.rs`, queued executions and one-off runs in `queue.rs`, and the
//! [`Scheduler`](crate::Scheduler) methods that write job schedules in
//! `triggers.rs`.

use super::clock::{Clock, SystemClock};
use super::launcher::Launcher;
use super::SchedulerConfig;
use crate::cron::CronSchedule;
use crate::error::Result;
use crate::notifier::Notifier;
use crate::store::Store;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

/// Trigger id of a job's schedule.
pub(super) fn job_trigger_id(job_id: &str) -> String {
    format!("job:{job_id}")
}

/// What one [`DurableScheduler::tick`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Triggers claimed.
    pub claimed: usize,
    /// Triggers fired (advanced or deleted).
    pub fired: usize,
    /// Claimed triggers another server fired or changed first (no effect).
    pub lost: usize,
    /// Executions started.
    pub started: usize,
    /// `missed` records written (misfire `skip`, fires beyond the `fire-all`
    /// cap, fires skipped because the job was running).
    pub missed: usize,
    /// Executions queued behind a running one.
    pub queued: usize,
    /// Fires dropped because the project disables schedules or executions,
    /// or because this server is passive and no active server is left to
    /// fire them.
    pub disabled: usize,
    /// This server's own unfinished executions marked `incomplete` at start.
    pub recovered: usize,
    /// Dead servers' executions marked `incomplete`.
    pub taken_over: usize,
    /// Dead servers' executions re-run (the job had retries left).
    pub rerun: usize,
    /// Durable runs of stopped servers (this one's earlier process, or dead
    /// servers) continued from their recorded state instead of marked
    /// `incomplete`.
    pub continued: usize,
    /// Triggers that failed to fire (store errors; retried after the lease).
    pub errors: usize,
    /// How late the latest of this tick's fires was: the time from a fire
    /// time to its fire, the largest of the tick (`None`: nothing fired).
    pub lag: Option<std::time::Duration>,
}

impl TickReport {
    fn add(&mut self, o: &TickReport) {
        self.claimed += o.claimed;
        self.fired += o.fired;
        self.lost += o.lost;
        self.started += o.started;
        self.missed += o.missed;
        self.queued += o.queued;
        self.disabled += o.disabled;
        self.recovered += o.recovered;
        self.taken_over += o.taken_over;
        self.rerun += o.rerun;
        self.continued += o.continued;
        self.errors += o.errors;
        self.lag = self.lag.max(o.lag);
    }
}

/// What the scheduler's ticks and tasks change.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) recovered: bool,
    pub(super) last_beat: Option<DateTime<Utc>>,
    /// The execution mode the last heartbeat told (`true`: active).
    pub(super) beat_active: Option<bool>,
    pub(super) tasks: Vec<JoinHandle<()>>,
}

/// Told the [`TickReport::lag`] of each tick that fired something.
type LagObserver = Arc<dyn Fn(std::time::Duration) + Send + Sync>;

/// What the clones of a [`DurableScheduler`] share.
pub(super) struct Inner {
    pub(super) store: Arc<dyn Store>,
    pub(super) launcher: Arc<dyn Launcher>,
    pub(super) notifier: Option<Arc<dyn Notifier>>,
    on_lag: Option<LagObserver>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) config: SchedulerConfig,
    pub(super) started: DateTime<Utc>,
    pub(super) state: Mutex<State>,
    /// Parsed patterns by (pattern, zone).
    pub(super) patterns: Mutex<HashMap<(String, String), Arc<CronSchedule>>>,
    /// Serialises recovery and upkeep between concurrent ticks.
    pub(super) upkeep: tokio::sync::Mutex<()>,
    /// Slots for running executions (`max_running`).
    pub(super) slots: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableScheduler")
            .field("server", &self.config.server)
            .field("store", &self.store)
            .field("launcher", &self.launcher)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// A [`Scheduler`](crate::Scheduler) whose triggers live in the [`Store`]: see the
/// [module docs](super). Cheap to clone; clones share state.
#[derive(Clone, Debug)]
pub struct DurableScheduler {
    pub(super) inner: Arc<Inner>,
}

/// Builds a [`DurableScheduler`].
pub struct DurableSchedulerBuilder {
    store: Arc<dyn Store>,
    launcher: Arc<dyn Launcher>,
    notifier: Option<Arc<dyn Notifier>>,
    on_lag: Option<LagObserver>,
    clock: Arc<dyn Clock>,
    config: SchedulerConfig,
}

impl std::fmt::Debug for DurableSchedulerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableSchedulerBuilder")
            .field("server", &self.config.server)
            .field("store", &self.store)
            .field("launcher", &self.launcher)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl DurableSchedulerBuilder {
    /// Settings (default: [`SchedulerConfig::new`] with a random server uuid).
    pub fn config(mut self, config: SchedulerConfig) -> Self {
        self.config = config;
        self
    }

    /// Where the time comes from (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Receives the failure notification of fires recorded as `missed`.
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Calls `observe` after each tick that fired something, with how late
    /// its latest fire was ([`TickReport::lag`]): a server exports it as its
    /// scheduler-lag gauge. It runs on the ticking task: keep it quick.
    pub fn on_lag(mut self, observe: impl Fn(std::time::Duration) + Send + Sync + 'static) -> Self {
        self.on_lag = Some(Arc::new(observe));
        self
    }

    /// The scheduler. It does nothing until ticked ([`DurableScheduler::tick`]
    /// or [`DurableScheduler::run`]).
    pub fn build(self) -> DurableScheduler {
        let started = self.clock.now();
        let slots = Arc::new(tokio::sync::Semaphore::new(self.config.max_running.max(1)));
        DurableScheduler {
            inner: Arc::new(Inner {
                store: self.store,
                launcher: self.launcher,
                notifier: self.notifier,
                on_lag: self.on_lag,
                clock: self.clock,
                config: self.config,
                started,
                state: Mutex::new(State::default()),
                patterns: Mutex::new(HashMap::new()),
                upkeep: tokio::sync::Mutex::new(()),
                slots,
            }),
        }
    }
}

impl DurableScheduler {
    /// A builder over a store and a launcher.
    pub fn builder(store: Arc<dyn Store>, launcher: Arc<dyn Launcher>) -> DurableSchedulerBuilder {
        DurableSchedulerBuilder {
            store,
            launcher,
            notifier: None,
            on_lag: None,
            clock: Arc::new(SystemClock),
            config: SchedulerConfig::new(uuid::Uuid::new_v4().to_string()),
        }
    }

    /// This server's uuid.
    pub fn server(&self) -> &str {
        &self.inner.config.server
    }

    /// The time on this scheduler's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The most executions this scheduler runs at once (its `max_running`).
    pub fn max_running(&self) -> usize {
        self.inner.config.max_running.max(1)
    }

    /// Whether executions may start here now (the launcher's word: `false`
    /// while the server is in passive execution mode).
    pub fn accepts_runs(&self) -> bool {
        self.inner.launcher.accepts_runs()
    }

    /// Ticks until `shutdown` completes, waking at each whole second of the
    /// clock (cron's finest unit). Tick errors are logged, not fatal.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(e) = self.tick().await {
                tracing::warn!(server = %self.server(), error = %e, "scheduler tick failed");
            }
            let nanos = u64::from(self.inner.clock.now().timestamp_subsec_nanos());
            let wait = std::time::Duration::from_nanos(1_000_000_000u64.saturating_sub(nanos));
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One step: recovery (first call only), heartbeat and takeover when
    /// due, then every due trigger fired and its executions started, then
    /// queued executions started where their job is idle. Returns what it
    /// did; the started executions run on in the background
    /// ([`wait_idle`](Self::wait_idle) waits for them).
    pub async fn tick(&self) -> Result<TickReport> {
        let mut report = TickReport::default();
        self.upkeep(&mut report).await?;
        let now = self.inner.clock.now();
        let cfg = &self.inner.config;
        // passive: no run starts here; due fires are left to an active
        // server, or, with none left, dropped as Rundeck's passive server
        // skips them
        let passive = !self.inner.launcher.accepts_runs();
        if passive && self.active_peer(now).await? {
            return Ok(report);
        }
        loop {
            let claimed = self
                .inner
                .store
                .claim_due_triggers(&cfg.server, now, cfg.lease, cfg.batch)
                .await?;
            let n = claimed.len();
            if n == 0 {
                break;
            }
            report.claimed += n;
            let mut flags = self.project_flags(&claimed).await?;
            if passive {
                for f in flags.values_mut() {
                    f.1 = true;
                }
            }
            let results: Vec<(String, Result<TickReport>)> = stream::iter(claimed)
                .map(|t| {
                    let flags = &flags;
                    async move {
                        let id = t.id.clone();
                        (id, self.fire_one(t, now, flags).await)
                    }
                })
                .buffer_unordered(cfg.fire_concurrency.max(1))
                .collect()
                .await;
            for (id, r) in results {
                match r {
                    Ok(r) => report.add(&r),
                    Err(e) => {
                        tracing::warn!(trigger = %id, error = %e, "firing a trigger failed; it is retried when its claim lapses");
                        report.errors += 1;
                    }
                }
            }
            // fired triggers may be due again (catching up after a lapsed
            // claim): claim until nothing is due; each fire moves a trigger
            // forward, so this ends
        }
        if let (Some(lag), Some(observe)) = (report.lag, &self.inner.on_lag) {
            observe(lag);
        }
        if !passive {
            self.drain_queues(&mut report).await?;
        }
        if let Ok(mut s) = self.inner.state.lock() {
            s.tasks.retain(|t| !t.is_finished());
        }
        Ok(report)
    }

    /// Waits until every execution this scheduler started has ended.
    pub async fn wait_idle(&self) {
        loop {
            let tasks = match self.inner.state.lock() {
                Ok(mut s) => std::mem::take(&mut s.tasks),
                Err(_) => return,
            };
            if tasks.is_empty() {
                return;
            }
            for t in tasks {
                let _ = t.await;
            }
        }
    }
}

/// A std duration as chrono's, the largest one for what does not fit.
pub(super) fn to_chrono(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}
