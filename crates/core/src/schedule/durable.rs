//! [`DurableScheduler`]: the tick that claims, fires and starts, the
//! [`Scheduler`] methods that write triggers, and cluster upkeep (restart
//! recovery, heartbeats, takeover of dead servers).

use super::clock::{Clock, SystemClock};
use super::launcher::Launcher;
use super::spec::{Concurrency, MisfirePolicy, TriggerSpec};
use super::{SchedulerConfig, PROJECT_DISABLE_EXECUTIONS, PROJECT_DISABLE_SCHEDULE};
use crate::cron::CronSchedule;
use crate::error::{Error, Result};
use crate::model::{Execution, ExecutionStatus, Job, LogEvent, LogLevel};
use crate::notifier::{NotificationTrigger, Notifier};
use crate::scheduler::{RunRequest, Scheduler};
use crate::store::{
    ExecutionClaim, ExecutionQuery, FireOutcome, ServerHeartbeat, Store, Trigger, TriggerFire,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

/// Most missed fire times counted one by one after an outage; beyond it the
/// record says "at least".
const MISSED_COUNT_LIMIT: usize = 100_000;
/// Executions claimed at once when recovering or taking over.
const CLAIM_CHUNK: usize = 100;

/// Trigger id of a job's schedule.
fn job_trigger_id(job_id: &str) -> String {
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
    /// Fires dropped because the project disables schedules or executions.
    pub disabled: usize,
    /// This server's own unfinished executions marked `incomplete` at start.
    pub recovered: usize,
    /// Dead servers' executions marked `incomplete`.
    pub taken_over: usize,
    /// Dead servers' executions re-run (the job had retries left).
    pub rerun: usize,
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
        self.errors += o.errors;
        self.lag = self.lag.max(o.lag);
    }
}

#[derive(Debug, Default)]
struct State {
    recovered: bool,
    last_beat: Option<DateTime<Utc>>,
    tasks: Vec<JoinHandle<()>>,
}

/// Told the [`TickReport::lag`] of each tick that fired something.
type LagObserver = Arc<dyn Fn(std::time::Duration) + Send + Sync>;

struct Inner {
    store: Arc<dyn Store>,
    launcher: Arc<dyn Launcher>,
    notifier: Option<Arc<dyn Notifier>>,
    on_lag: Option<LagObserver>,
    clock: Arc<dyn Clock>,
    config: SchedulerConfig,
    started: DateTime<Utc>,
    state: Mutex<State>,
    /// Parsed patterns by (pattern, zone).
    patterns: Mutex<HashMap<(String, String), Arc<CronSchedule>>>,
    /// Serialises recovery and upkeep between concurrent ticks.
    upkeep: tokio::sync::Mutex<()>,
    /// Slots for running executions (`max_running`).
    slots: Arc<tokio::sync::Semaphore>,
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

/// A [`Scheduler`] whose triggers live in the [`Store`]: see the
/// [module docs](super). Cheap to clone; clones share state.
#[derive(Clone, Debug)]
pub struct DurableScheduler {
    inner: Arc<Inner>,
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

/// One execution a fire creates, and what to do with it once stored.
struct Planned {
    execution: Execution,
    /// A note written to the log of a started execution.
    note: Option<String>,
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
            let flags = self.project_flags(&claimed).await?;
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
        self.drain_queues(&mut report).await?;
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

    /// Marks this server's unfinished executions (left by a crash or kill
    /// of an earlier process with the same server uuid) `incomplete`,
    /// returns them to the queue when they were queued, and drops the
    /// trigger claims that process held. The first tick does
    /// this; call it earlier to learn the count before anything fires.
    pub async fn recover(&self) -> Result<usize> {
        let _guard = self.inner.upkeep.lock().await;
        self.recover_locked().await
    }

    async fn recover_locked(&self) -> Result<usize> {
        if self
            .inner
            .state
            .lock()
            .map(|s| s.recovered)
            .unwrap_or(false)
        {
            return Ok(0);
        }
        let me = self.server().to_owned();
        let why = format!("server {me} restarted before the execution ended");
        let n = self.settle(&me, &why, false).await?.0;
        // claims the earlier process held and never fired: due again now,
        // rather than when their lease lapses
        for t in self.inner.store.list_triggers(None).await? {
            if t.claimed_by.as_deref() == Some(me.as_str()) {
                self.inner.store.release_trigger(&t.id, &me).await?;
            }
        }
        if let Ok(mut s) = self.inner.state.lock() {
            s.recovered = true;
        }
        Ok(n)
    }

    /// Recovery, heartbeat and takeover, each when due.
    async fn upkeep(&self, report: &mut TickReport) -> Result<()> {
        let _guard = self.inner.upkeep.lock().await;
        report.recovered += self.recover_locked().await?;
        let now = self.inner.clock.now();
        let cfg = &self.inner.config;
        let interval = to_chrono(cfg.heartbeat_interval);
        let last = self.inner.state.lock().ok().and_then(|s| s.last_beat);
        if last.is_some_and(|l| now - l < interval) {
            return Ok(());
        }
        self.inner
            .store
            .heartbeat(&ServerHeartbeat {
                server: cfg.server.clone(),
                started: self.inner.started,
                last_seen: now,
                info: serde_json::json!({ "version": env!("CARGO_PKG_VERSION") }),
            })
            .await?;
        if let Ok(mut s) = self.inner.state.lock() {
            s.last_beat = Some(now);
        }
        let dead_after = to_chrono(cfg.dead_after);
        for server in self.inner.store.list_servers().await? {
            if server.server == cfg.server || now - server.last_seen <= dead_after {
                continue;
            }
            let why = format!(
                "server {} stopped heartbeating (last seen {})",
                server.server, server.last_seen
            );
            let (incomplete, rerun) = self.settle(&server.server, &why, true).await?;
            report.taken_over += incomplete;
            report.rerun += rerun;
            match self.inner.store.delete_server(&server.server).await {
                Ok(()) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
            tracing::info!(dead = %server.server, incomplete, rerun, "took over a dead server's executions");
        }
        Ok(())
    }

    /// Claims the running executions of `owner` and marks them incomplete;
    /// with `rerun`, re-runs those whose job has retries left. Queued
    /// executions `owner` had claimed go back to the queue.
    async fn settle(&self, owner: &str, why: &str, rerun: bool) -> Result<(usize, usize)> {
        let store = &self.inner.store;
        let me = self.server();
        let (mut incomplete, mut reruns) = (0, 0);
        loop {
            let claim = ExecutionClaim {
                status: ExecutionStatus::Running,
                owner: Some(owner.to_owned()),
                due_by: None,
                job_id: None,
            };
            let batch = store.claim_executions(me, &claim, CLAIM_CHUNK).await?;
            if batch.is_empty() {
                break;
            }
            for e in batch {
                let retry = if rerun {
                    self.retry_of(&e).await?
                } else {
                    None
                };
                if let Some(job) = retry {
                    // the retry first: a crash between the two writes leaves
                    // both running and owned by this server, so its restart
                    // marks both incomplete rather than losing the run
                    let now = self.inner.clock.now();
                    let mut next = e.clone();
                    next.id = 0;
                    next.status = ExecutionStatus::Running;
                    next.retry_attempt = e.retry_attempt + 1;
                    next.retry_of = Some(e.id);
                    next.date_started = now;
                    next.date_ended = None;
                    next.failure = None;
                    next.state = Default::default();
                    next.server_uuid = Some(me.to_owned());
                    next.id = store.create_execution(&next).await?;
                    self.mark_incomplete(e, why).await?;
                    let options = next.options.clone();
                    let subject = self.stored_subject(&next).await;
                    self.launch(job, next, options, None, false, subject);
                    reruns += 1;
                } else {
                    self.mark_incomplete(e, why).await?;
                    incomplete += 1;
                }
            }
        }
        loop {
            let claim = ExecutionClaim {
                status: ExecutionStatus::Queued,
                owner: Some(owner.to_owned()),
                due_by: None,
                job_id: None,
            };
            let batch = store.claim_executions(me, &claim, CLAIM_CHUNK).await?;
            if batch.is_empty() {
                break;
            }
            for mut e in batch {
                e.server_uuid = None;
                store.update_execution(&e).await?;
            }
        }
        Ok((incomplete, reruns))
    }

    /// The job of `e`, when it has retries left for a re-run.
    async fn retry_of(&self, e: &Execution) -> Result<Option<Job>> {
        let Some(job_id) = &e.job_id else {
            return Ok(None);
        };
        let Some(job) = self.inner.store.get_job(&e.project, job_id).await? else {
            return Ok(None);
        };
        let retries: u32 = job
            .retry
            .as_ref()
            .and_then(|r| r.retry.trim().parse().ok())
            .unwrap_or(0);
        Ok((e.retry_attempt < retries).then_some(job))
    }

    async fn mark_incomplete(&self, mut e: Execution, why: &str) -> Result<()> {
        e.status = ExecutionStatus::Incomplete;
        e.date_ended = Some(self.inner.clock.now());
        e.failure = Some(why.to_owned());
        self.inner.store.update_execution(&e).await
    }

    /// `(schedules disabled, executions disabled)` of the triggers' projects.
    async fn project_flags(&self, triggers: &[Trigger]) -> Result<HashMap<String, (bool, bool)>> {
        let names: BTreeSet<&str> = triggers.iter().map(|t| t.project.as_str()).collect();
        let mut out = HashMap::new();
        for name in names {
            let flags = match self.inner.store.get_project(name).await? {
                Some(p) => {
                    let on = |k: &str| p.config.get(k).is_some_and(|v| v.trim() == "true");
                    (on(PROJECT_DISABLE_SCHEDULE), on(PROJECT_DISABLE_EXECUTIONS))
                }
                None => (false, false),
            };
            out.insert(name.to_owned(), flags);
        }
        Ok(out)
    }

    fn pattern(
        &self,
        expr: &str,
        zone: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Arc<CronSchedule>> {
        let key = (expr.to_owned(), zone.unwrap_or("").to_owned());
        if let Some(p) = self
            .inner
            .patterns
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            return Ok(p);
        }
        let parsed = Arc::new(CronSchedule::parse_at(expr, zone, now)?);
        if let Ok(mut m) = self.inner.patterns.lock() {
            m.insert(key, parsed.clone());
        }
        Ok(parsed)
    }

    /// Works out and applies one claimed trigger's fire.
    async fn fire_one(
        &self,
        t: Trigger,
        now: DateTime<Utc>,
        flags: &HashMap<String, (bool, bool)>,
    ) -> Result<TickReport> {
        let mut report = TickReport::default();
        let cfg = &self.inner.config;
        let fire_time = t.next_fire;
        let spec = serde_json::from_value::<TriggerSpec>(t.spec.clone())
            .map_err(|e| e.to_string())
            .and_then(|s| match &t.job_id {
                Some(_) => Ok(s),
                None => Err("the trigger names no job".to_owned()),
            });
        let spec = match spec {
            Ok(s) => s,
            Err(e) => {
                // unusable: consume it rather than retry it forever
                tracing::error!(trigger = %t.id, error = %e, "dropping a trigger this scheduler cannot read");
                let fire = TriggerFire {
                    trigger_id: t.id.clone(),
                    server: cfg.server.clone(),
                    fire_time,
                    next_fire: None,
                    executions: Vec::new(),
                    exclusive: false,
                };
                self.inner.store.fire_trigger(&fire).await?;
                return Ok(report);
            }
        };
        let job_id = t.job_id.clone().unwrap_or_default();
        let pattern = match &spec.cron {
            Some(expr) => match self.pattern(expr, spec.zone.as_deref(), fire_time) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!(trigger = %t.id, error = %e, "pattern no longer fires; this is its last fire");
                    None
                }
            },
            None => None,
        };
        let next_after = |after: DateTime<Utc>| pattern.as_ref().and_then(|p| p.next_after(after));
        let late = now - fire_time > to_chrono(cfg.misfire_threshold);
        let (sched_off, exec_off) = flags.get(&t.project).copied().unwrap_or((false, false));

        let mut plans: Vec<Planned> = Vec::new();
        let next_fire;
        if exec_off || (sched_off && spec.cron.is_some()) {
            next_fire = next_after(if late { now } else { fire_time });
            report.disabled += 1;
        } else if !late {
            next_fire = next_after(fire_time);
            plans.push(self.plan_run(&t, &spec, &job_id, fire_time, None));
        } else {
            // every fire time from the first missed one up to now
            let mut missed = vec![fire_time];
            let mut total = 1usize;
            let mut last = fire_time;
            while total < MISSED_COUNT_LIMIT {
                match next_after(last) {
                    Some(n) if n <= now => {
                        total += 1;
                        last = n;
                        if missed.len() <= spec.fire_all_limit as usize {
                            missed.push(n);
                        }
                    }
                    _ => break,
                }
            }
            let at_least = if total >= MISSED_COUNT_LIMIT {
                "at least "
            } else {
                ""
            };
            next_fire = next_after(now.max(last));
            match spec.misfire {
                MisfirePolicy::FireOnceNow => {
                    let note = format!(
                        "Misfire: this run stands for {at_least}{total} fire time(s) from {fire_time} to {last} \
                         that passed while no scheduler could run them (policy fire-once-now)"
                    );
                    plans.push(self.plan_run(&t, &spec, &job_id, now, Some(note)));
                }
                MisfirePolicy::Skip => {
                    let why = format!(
                        "missed {at_least}{total} fire time(s) from {fire_time} to {last} (misfire policy skip)"
                    );
                    plans.push(self.plan_missed(&t, &spec, &job_id, fire_time, now, why));
                }
                MisfirePolicy::FireAll => {
                    let cap = spec.fire_all_limit as usize;
                    for at in missed.iter().take(cap) {
                        plans.push(self.plan_run(&t, &spec, &job_id, *at, None));
                    }
                    if total > cap {
                        let first = missed.get(cap).copied().unwrap_or(last);
                        let why = format!(
                            "missed {at_least}{} fire time(s) from {first} to {last}: beyond the fire-all limit of {cap}",
                            total - cap
                        );
                        plans.push(self.plan_missed(&t, &spec, &job_id, first, now, why));
                    }
                }
            }
        }

        // one execution at a time, for jobs that ask for it: of this fire's
        // runs the first may start, the others wait or are skipped; whether
        // the first may start, the store decides in the fire's transaction
        let exclusive = spec.concurrency != Concurrency::Allow;
        let mut first_run = true;
        for p in &mut plans {
            if exclusive && p.execution.status == ExecutionStatus::Running {
                if !first_run {
                    hold_back(p, spec.concurrency, "an earlier fire of this trigger", now);
                }
                first_run = false;
            }
        }
        let mut fire = TriggerFire {
            trigger_id: t.id.clone(),
            server: cfg.server.clone(),
            fire_time,
            next_fire,
            executions: Vec::new(),
            exclusive: exclusive && !first_run,
        };
        fire.executions = plans.iter().map(|p| p.execution.clone()).collect();
        let ids = match self.inner.store.fire_trigger(&fire).await? {
            FireOutcome::Fired(ids) => ids,
            FireOutcome::Lost => {
                report.lost += 1;
                return Ok(report);
            }
            FireOutcome::Busy(other) => {
                // the job runs elsewhere: no run starts now, so the second
                // attempt needs no check (a `Lost` still wins)
                let running = format!("execution {other}");
                for p in &mut plans {
                    if p.execution.status == ExecutionStatus::Running {
                        hold_back(p, spec.concurrency, &running, now);
                    }
                }
                fire.exclusive = false;
                fire.executions = plans.iter().map(|p| p.execution.clone()).collect();
                match self.inner.store.fire_trigger(&fire).await? {
                    FireOutcome::Fired(ids) => ids,
                    FireOutcome::Lost | FireOutcome::Busy(_) => {
                        report.lost += 1;
                        return Ok(report);
                    }
                }
            }
        };
        report.fired += 1;
        // a clock behind the fire time (another server's) is no lag
        report.lag = Some(
            (self.inner.clock.now() - fire_time)
                .to_std()
                .unwrap_or_default(),
        );
        let mut job: Option<Job> = None;
        for (id, p) in ids.into_iter().zip(plans) {
            let mut e = p.execution;
            e.id = id;
            match e.status {
                ExecutionStatus::Running => {
                    let j = match &job {
                        Some(j) => j.clone(),
                        None => match self.inner.store.get_job(&t.project, &job_id).await? {
                            Some(j) => {
                                job = Some(j.clone());
                                j
                            }
                            None => {
                                self.fail(e, "the job no longer exists").await;
                                continue;
                            }
                        },
                    };
                    self.launch(
                        j,
                        e,
                        spec.options.clone(),
                        p.note,
                        spec.concurrency == Concurrency::Queue,
                        spec.subject(),
                    );
                    report.started += 1;
                }
                ExecutionStatus::Queued => report.queued += 1,
                _ => {
                    report.missed += 1;
                    if let Some(n) = &self.inner.notifier {
                        if let Some(j) = self.inner.store.get_job(&t.project, &job_id).await? {
                            if let Err(err) = n.notify(NotificationTrigger::Failure, &j, &e).await {
                                tracing::warn!(execution = e.id, error = %err, "missed-run notification failed");
                            }
                        }
                    }
                }
            }
        }
        Ok(report)
    }

    fn record(
        &self,
        t: &Trigger,
        spec: &TriggerSpec,
        job_id: &str,
        at: DateTime<Utc>,
    ) -> Execution {
        let mut e = Execution::new(
            t.project.clone(),
            spec.description.clone(),
            spec.user.clone(),
        );
        e.job_id = Some(job_id.to_owned());
        e.options = spec.masked_options();
        e.arg_string = crate::engine::parse::format_arg_string(
            e.options.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        e.filter = spec.filter.clone();
        e.loglevel = spec.loglevel;
        e.date_started = at;
        e.server_uuid = Some(self.server().to_owned());
        e
    }

    fn plan_run(
        &self,
        t: &Trigger,
        spec: &TriggerSpec,
        job_id: &str,
        at: DateTime<Utc>,
        note: Option<String>,
    ) -> Planned {
        Planned {
            execution: self.record(t, spec, job_id, at),
            note,
        }
    }

    fn plan_missed(
        &self,
        t: &Trigger,
        spec: &TriggerSpec,
        job_id: &str,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        why: String,
    ) -> Planned {
        let mut e = self.record(t, spec, job_id, at);
        e.status = ExecutionStatus::Missed;
        e.date_ended = Some(now);
        e.failure = Some(why);
        Planned {
            execution: e,
            note: None,
        }
    }

    /// Records an execution that could not start as failed.
    async fn fail(&self, mut e: Execution, why: &str) {
        e.status = ExecutionStatus::Failed;
        e.date_ended = Some(self.inner.clock.now());
        e.failure = Some(why.to_owned());
        if let Err(err) = self.inner.store.update_execution(&e).await {
            tracing::error!(execution = e.id, error = %err, "recording a failed start failed");
        }
    }

    /// Whose rights a queued or re-run execution has: its user with the
    /// roles its job's schedule recorded for that user; `None` when none
    /// were recorded for them.
    async fn stored_subject(&self, e: &Execution) -> Option<crate::authorizer::Subject> {
        let job_id = e.job_id.as_deref()?;
        let t = match self.inner.store.get_trigger(&job_trigger_id(job_id)).await {
            Ok(t) => t?,
            Err(err) => {
                tracing::warn!(execution = e.id, error = %err, "reading the schedule's subject failed");
                return None;
            }
        };
        let spec: TriggerSpec = serde_json::from_value(t.spec).ok()?;
        (spec.user == e.user).then(|| spec.subject()).flatten()
    }

    /// Starts an execution in the background with the rights of `subject`;
    /// with `drain`, starts the job's next queued execution when it ends.
    fn launch(
        &self,
        job: Job,
        e: Execution,
        options: BTreeMap<String, String>,
        note: Option<String>,
        drain: bool,
        subject: Option<crate::authorizer::Subject>,
    ) {
        let this = self.clone();
        let task = tokio::spawn(async move {
            // the semaphore is never closed, so this waits for a slot
            let _slot = this.inner.slots.clone().acquire_owned().await;
            let (project, id) = (e.project.clone(), e.id);
            if let Some(note) = note {
                let event = LogEvent::system(LogLevel::Info, None, None, note);
                if let Err(err) = this.inner.store.append_log(id, &[event]).await {
                    tracing::warn!(execution = id, error = %err, "writing the misfire note failed");
                }
            }
            if let Err(err) = this
                .inner
                .launcher
                .run_as(&project, &job, e.clone(), options, subject)
                .await
            {
                this.fail(e, &format!("could not start: {err}")).await;
            }
            if drain {
                if let Some(job_id) = job.uuid.as_deref() {
                    let mut report = TickReport::default();
                    if let Err(err) = this.drain_job(&project, job_id, &mut report).await {
                        tracing::warn!(job = %job_id, error = %err, "starting a queued execution failed");
                    }
                }
            }
        });
        if let Ok(mut s) = self.inner.state.lock() {
            s.tasks.push(task);
        }
    }

    /// Starts queued executions of jobs that are not running.
    async fn drain_queues(&self, report: &mut TickReport) -> Result<()> {
        let page = self
            .inner
            .store
            .query_executions(&ExecutionQuery {
                status: Some(ExecutionStatus::Queued),
                max: 100,
                ..ExecutionQuery::default()
            })
            .await?;
        let jobs: BTreeSet<(String, String)> = page
            .items
            .into_iter()
            .filter(|e| e.server_uuid.is_none())
            .filter_map(|e| e.job_id.map(|j| (e.project, j)))
            .collect();
        for (project, job_id) in jobs {
            self.drain_job(&project, &job_id, report).await?;
        }
        Ok(())
    }

    /// Starts the oldest queued execution of a job when none of it runs.
    async fn drain_job(&self, project: &str, job_id: &str, report: &mut TickReport) -> Result<()> {
        let store = &self.inner.store;
        if !self.running_ids(project, job_id).await?.is_empty() {
            return Ok(());
        }
        let claim = ExecutionClaim {
            status: ExecutionStatus::Queued,
            owner: None,
            due_by: None,
            job_id: Some(job_id.to_owned()),
        };
        let Some(mut e) = store
            .claim_executions(self.server(), &claim, 1)
            .await?
            .pop()
        else {
            return Ok(());
        };
        e.status = ExecutionStatus::Running;
        e.date_started = self.inner.clock.now();
        store.update_execution(&e).await?;
        // two servers may have each claimed one: the lowest id runs, the
        // others go back to the queue
        if self
            .running_ids(project, job_id)
            .await?
            .iter()
            .any(|other| *other < e.id)
        {
            e.status = ExecutionStatus::Queued;
            e.server_uuid = None;
            store.update_execution(&e).await?;
            return Ok(());
        }
        let Some(job) = store.get_job(project, job_id).await? else {
            self.fail(e, "the job no longer exists").await;
            return Ok(());
        };
        let options = e.options.clone();
        let subject = self.stored_subject(&e).await;
        self.launch(job, e, options, None, true, subject);
        report.started += 1;
        Ok(())
    }

    async fn running_ids(&self, project: &str, job_id: &str) -> Result<Vec<u64>> {
        Ok(self
            .inner
            .store
            .query_executions(&ExecutionQuery {
                project: Some(project.to_owned()),
                job_ids: vec![job_id.to_owned()],
                status: Some(ExecutionStatus::Running),
                max: 1000,
                ..ExecutionQuery::default()
            })
            .await?
            .items
            .into_iter()
            .map(|e| e.id)
            .collect())
    }
}

/// Turns a planned run into a `missed` record (`skip`) or a `queued`
/// execution (`queue`) because `running` of its job has not ended.
fn hold_back(p: &mut Planned, concurrency: Concurrency, running: &str, now: DateTime<Utc>) {
    if concurrency == Concurrency::Skip {
        p.execution.status = ExecutionStatus::Missed;
        p.execution.date_ended = Some(now);
        p.execution.failure = Some(format!(
            "skipped: {running} of this job is still running (multipleExecutions: false)"
        ));
        p.note = None;
    } else {
        p.execution.status = ExecutionStatus::Queued;
        p.execution.server_uuid = None;
    }
}

fn to_chrono(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[async_trait]
impl Scheduler for DurableScheduler {
    async fn schedule_job(&self, project: &str, job: &Job) -> Result<Option<DateTime<Utc>>> {
        self.schedule_job_with(project, job, None).await
    }

    async fn unschedule_job(&self, project: &str, job_id: &str) -> Result<()> {
        let store = &self.inner.store;
        for t in store.list_triggers(Some(project)).await? {
            if t.job_id.as_deref() == Some(job_id) {
                match store.delete_trigger(&t.id).await {
                    Ok(()) | Err(Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    async fn run_at(&self, request: RunRequest, at: DateTime<Utc>) -> Result<()> {
        self.run_at_impl(request, at).await
    }

    async fn next_fire_time(&self, project: &str, job_id: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .inner
            .store
            .list_triggers(Some(project))
            .await?
            .into_iter()
            .filter(|t| t.enabled && t.job_id.as_deref() == Some(job_id))
            .map(|t| t.next_fire)
            .min())
    }
}

impl DurableScheduler {
    /// [`Scheduler::schedule_job`], with the runs acting as `subject` (the
    /// job's owner: who saved the schedule) with its roles, authorized as
    /// such when they run.
    pub async fn schedule_job_as(
        &self,
        project: &str,
        job: &Job,
        subject: &crate::authorizer::Subject,
    ) -> Result<Option<DateTime<Utc>>> {
        self.schedule_job_with(project, job, Some(subject)).await
    }

    async fn schedule_job_with(
        &self,
        project: &str,
        job: &Job,
        subject: Option<&crate::authorizer::Subject>,
    ) -> Result<Option<DateTime<Utc>>> {
        let invalid = |field: &str, message: &str| Error::InvalidJob {
            job: job.full_name(),
            field: field.into(),
            message: message.into(),
        };
        let store = &self.inner.store;
        let job_id = job
            .uuid
            .as_deref()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| invalid("uuid", "a scheduled job needs a uuid (store it first)"))?;
        let id = job_trigger_id(job_id);
        let schedule = match &job.schedule {
            Some(s) if job.schedule_enabled && job.execution_enabled => s,
            _ => {
                match store.delete_trigger(&id).await {
                    Ok(()) | Err(Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
                return Ok(None);
            }
        };
        let now = self.inner.clock.now();
        let zone = job
            .time_zone
            .as_deref()
            .map(str::trim)
            .filter(|z| !z.is_empty())
            .or(self.inner.config.zone.as_deref());
        let cron = CronSchedule::parse_at(&schedule.to_quartz(), zone, now)?;
        let mut spec = match subject {
            Some(s) => {
                let mut spec = TriggerSpec::for_job(job, &s.user)?;
                spec.roles = Some(s.groups.iter().cloned().collect());
                spec
            }
            None => TriggerSpec::for_job(job, &self.inner.config.user)?,
        };
        spec.cron = Some(cron.expr().to_owned());
        spec.zone = Some(cron.zone().to_owned());
        let spec_json = serde_json::to_value(&spec)
            .map_err(|e| Error::Store(format!("trigger spec of {}: {e}", job.full_name())))?;
        // an unchanged schedule keeps its trigger, and with it a pending fire
        if let Some(t) = store.get_trigger(&id).await? {
            if t.enabled && t.spec == spec_json && t.project == project {
                return Ok(Some(t.next_fire));
            }
        }
        let next = cron.next_after(now).ok_or_else(|| Error::InvalidSchedule {
            expr: cron.expr().to_owned(),
            message: "it never fires after now".into(),
        })?;
        let mut t = Trigger::new(id, project, Some(job_id.to_owned()), next);
        t.spec = spec_json;
        store.put_trigger(&t).await?;
        Ok(Some(next))
    }

    async fn run_at_impl(&self, request: RunRequest, at: DateTime<Utc>) -> Result<()> {
        let store = &self.inner.store;
        let job = store
            .get_job(&request.project, &request.job_id)
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "job",
                id: request.job_id.clone(),
            })?;
        if !job.execution_enabled {
            return Err(Error::InvalidJob {
                job: job.full_name(),
                field: "executionEnabled".into(),
                message: "executions of this job are disabled".into(),
            });
        }
        let user = if request.user.is_empty() {
            self.inner.config.user.clone()
        } else {
            request.user.clone()
        };
        let mut spec = TriggerSpec::for_job(&job, &user)?;
        // The trigger waits in the store (and may fire on another cluster
        // member): a secure value given now would be kept there in clear.
        if let Some(name) = spec
            .secure
            .iter()
            .find(|s| request.options.contains_key(*s))
        {
            return Err(Error::InvalidJob {
                job: job.full_name(),
                field: format!("options.{name}"),
                message: "a secure option value is not kept for a run at a later time; \
                          run now, or give the option a key storage default (storagePath)"
                    .into(),
            });
        }
        spec.options = request.options;
        spec.filter = request.filter;
        spec.roles = request.roles;
        let id = format!("once:{}:{}", request.job_id, uuid::Uuid::new_v4().simple());
        let mut t = Trigger::new(id, request.project, Some(request.job_id), at);
        t.spec = serde_json::to_value(&spec)
            .map_err(|e| Error::Store(format!("trigger spec of {}: {e}", job.full_name())))?;
        store.put_trigger(&t).await
    }
}
