//! One run of a job: node resolution, workflow strategies, node dispatch,
//! error handlers, job references, retries, timeouts and the final record.

use super::log::{LogLimits, LogTx};
use super::options;
use super::parse::{
    avg_duration_limit, format_arg_string, parse_arg_string, parse_duration, LogLimit,
};
use super::slots::StepSlot;
use super::{
    resolve_options, state, Control, Engine, PluginCall, ResolvedOptions, RunOptions, StopReason,
};
use crate::context::{
    environment, expand_command, expand_script, expand_script_raw, expand_text, split_args,
    DataContext, SecretMasker,
};
use crate::error::{Error, Result};
use crate::executor::{Executor, NodeCommand, NodeOutcome, NodeRequest, OutputSink};
use crate::filter::NodeFilter;
use crate::model::{
    ExecState, Execution, ExecutionStatus, Job, JobRef, LogEvent, LogLevel, LogLimitAction, Node,
    RankOrder, ScriptTokens, Step, StepKind, Strategy, Stream,
};
use crate::notifier::NotificationTrigger;
use chrono::Utc;
use futures::stream::{self, StreamExt};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// Prefix of key-value capture lines (`RUNDECK:DATA:key=value`).
pub const DATA_PREFIX: &str = "RUNDECK:DATA:";

fn invalid(job: &Job, field: &str, message: impl Into<String>) -> Error {
    Error::InvalidJob {
        job: job.full_name(),
        field: field.into(),
        message: message.into(),
    }
}

/// An execution record made before the run (by a schedule trigger): its id
/// (0: none, create one) and the server that owns it and its retries.
#[derive(Clone, Debug, Default)]
pub(crate) struct Existing {
    pub id: u64,
    pub owner: Option<String>,
}

/// Runs a job and its retries; returns the last execution.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_with_retries(
    engine: Engine,
    project: String,
    job: Job,
    opts: RunOptions,
    parent: Arc<Control>,
    depth: u32,
    mut id_tx: Option<oneshot::Sender<u64>>,
    existing: Option<Existing>,
) -> Result<Execution> {
    let owner = existing.as_ref().and_then(|e| e.owner.clone());
    let mut existing_id = existing.map(|e| e.id);
    let secrets = engine.inner.secrets.read().ok().and_then(|s| s.clone());
    let given = Box::pin(options::with_stored_defaults(
        &job,
        &opts.options,
        secrets.as_deref(),
    ))
    .await?;
    let resolved = resolve_options(&job, &given)?;
    drop(given);
    let plain = plain_context(&job, &resolved);
    let server = engine.server_node();
    let (retries, delay) = match &job.retry {
        None => (0, Duration::ZERO),
        Some(r) => {
            let count = expand_text(&r.retry, &plain, &server);
            let count: u32 = count.trim().parse().map_err(|_| {
                invalid(
                    &job,
                    "retry",
                    format!("{count:?} is not a number of retries"),
                )
            })?;
            let delay = match &r.delay {
                Some(d) => parse_duration(&expand_text(d, &plain, &server))
                    .map_err(|m| invalid(&job, "retry.delay", m))?,
                None => Duration::ZERO,
            };
            (count, delay)
        }
    };
    let mut attempt = 0;
    let mut retry_of = None;
    loop {
        let mut exec = run_once(
            &engine,
            &project,
            &job,
            &opts,
            &resolved,
            &parent,
            depth,
            attempt,
            retry_of,
            id_tx.take(),
            Existing {
                id: existing_id.take().unwrap_or(0),
                owner: owner.clone(),
            },
        )
        .await?;
        let retryable = matches!(
            exec.status,
            ExecutionStatus::Failed | ExecutionStatus::TimedOut
        );
        if retryable && attempt < retries && !parent.cancel.is_cancelled() {
            exec.status = ExecutionStatus::FailedWithRetry;
            engine.inner.store.update_execution(&exec).await?;
            notify(&engine, NotificationTrigger::RetryableFailure, &job, &exec).await;
            if !delay.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = parent.cancel.cancelled() => return Ok(exec),
                }
            }
            attempt += 1;
            retry_of = Some(exec.id);
            continue;
        }
        let trigger = if exec.status == ExecutionStatus::Succeeded {
            NotificationTrigger::Success
        } else {
            NotificationTrigger::Failure
        };
        notify(&engine, trigger, &job, &exec).await;
        return Ok(exec);
    }
}

/// Successful runs the average duration is taken over (the most recent).
const AVG_DURATION_RUNS: u64 = 30;

/// For a job with an `onavgduration` notification: a task that fires it
/// when the execution is still running at the job's average duration of its
/// recent successful runs plus `notifyAvgDurationThreshold`. None when the
/// job has no such notification or no successful run to average.
async fn watch_avg_duration(
    engine: &Engine,
    job: &Job,
    exec: &Execution,
    ctx: &DataContext,
) -> Option<tokio::task::JoinHandle<()>> {
    let notifier = engine.inner.notifier.clone()?;
    job.notification.as_ref()?.onavgduration.as_ref()?;
    let query = crate::store::ExecutionQuery {
        job_ids: vec![job.uuid.clone()?],
        status: Some(ExecutionStatus::Succeeded),
        max: AVG_DURATION_RUNS,
        ..Default::default()
    };
    let past = match engine.inner.store.query_executions(&query).await {
        Ok(p) => p.items,
        Err(e) => {
            tracing::warn!(execution = exec.id, error = %e, "cannot read past durations");
            return None;
        }
    };
    let durations: Vec<Duration> = past
        .iter()
        .filter_map(|e| (e.date_ended? - e.date_started).to_std().ok())
        .collect();
    let runs = u32::try_from(durations.len()).ok().filter(|n| *n > 0)?;
    let average = durations.iter().sum::<Duration>() / runs;
    let threshold = job
        .notify_avg_duration_threshold
        .as_deref()
        .map(|t| expand_text(t, ctx, &engine.server_node()));
    let limit = match avg_duration_limit(average, threshold.as_deref()) {
        Ok(l) => l,
        Err(m) => {
            tracing::warn!(execution = exec.id, "notifyAvgDurationThreshold: {m}");
            return None;
        }
    };
    let (job, exec) = (job.clone(), exec.clone());
    Some(tokio::spawn(async move {
        tokio::time::sleep(limit).await;
        if let Err(e) = notifier
            .notify(NotificationTrigger::AvgDuration, &job, &exec)
            .await
        {
            tracing::warn!(execution = exec.id, trigger = "onavgduration", error = %e, "notification failed");
        }
    }))
}

async fn notify(engine: &Engine, trigger: NotificationTrigger, job: &Job, exec: &Execution) {
    if let Some(n) = &engine.inner.notifier {
        if let Err(e) = n.notify(trigger, job, exec).await {
            tracing::warn!(execution = exec.id, trigger = trigger.as_str(), error = %e, "notification failed");
        }
    }
}

fn plain_context(job: &Job, resolved: &ResolvedOptions) -> DataContext {
    let mut ctx = DataContext {
        options: resolved.values.clone(),
        secure_options: resolved.secure.clone(),
        ..DataContext::default()
    };
    ctx.job.insert("name".into(), job.name.clone());
    ctx.job
        .insert("group".into(), job.group.clone().unwrap_or_default());
    ctx.job
        .insert("id".into(), job.uuid.clone().unwrap_or_default());
    ctx
}

/// Chooses the nodes: the filter over the candidate nodes, in rank order.
async fn target_nodes(
    engine: &Engine,
    project: &str,
    job: &Job,
    opts: &RunOptions,
    ctx: &DataContext,
) -> Result<(Vec<Node>, Option<String>, Vec<Node>)> {
    let server = engine.server_node();
    let dispatch = job
        .nodefilters
        .as_ref()
        .map(|n| n.dispatch.clone())
        .unwrap_or_default();
    let filter = opts
        .filter
        .clone()
        .or_else(|| job.nodefilters.as_ref().and_then(|n| n.filter.clone()))
        .map(|f| expand_text(&f, ctx, &server))
        .filter(|f| !f.trim().is_empty());
    let universe = match &opts.nodes {
        Some(n) => n.clone(),
        None => engine.inner.store.list_nodes(project).await?,
    };
    let Some(f) = filter else {
        return Ok((vec![server], None, universe));
    };
    let parsed = NodeFilter::parse(&f)?;
    let mut nodes: Vec<Node> = parsed
        .select(&universe, dispatch.exclude_precedence)
        .into_iter()
        .cloned()
        .collect();
    let rank = dispatch.rank_attribute.clone().filter(|r| !r.is_empty());
    nodes.sort_by(|a, b| {
        let key = |n: &Node| {
            rank.as_deref()
                .map(|r| n.attribute(r).map(|v| v.into_owned()))
        };
        match (key(a), key(b)) {
            (Some(Some(x)), Some(Some(y))) => x.cmp(&y).then_with(|| a.name.cmp(&b.name)),
            (Some(Some(_)), Some(None)) => std::cmp::Ordering::Less,
            (Some(None), Some(Some(_))) => std::cmp::Ordering::Greater,
            _ => a.name.cmp(&b.name),
        }
    });
    if dispatch.rank_order == RankOrder::Descending {
        nodes.reverse();
    }
    Ok((nodes, Some(f), universe))
}

#[allow(clippy::too_many_arguments)]
async fn run_once(
    engine: &Engine,
    project: &str,
    job: &Job,
    opts: &RunOptions,
    resolved: &ResolvedOptions,
    parent: &Arc<Control>,
    depth: u32,
    attempt: u32,
    retry_of: Option<u64>,
    id_tx: Option<oneshot::Sender<u64>>,
    record: Existing,
) -> Result<Execution> {
    let store = engine.inner.store.clone();
    let user = opts.user.clone().unwrap_or_else(|| "foredeck".into());
    let loglevel = opts.loglevel.unwrap_or(job.loglevel);
    let mut base = plain_context(job, resolved);
    base.job.insert("project".into(), project.into());
    base.job.insert("username".into(), user.clone());
    base.job.insert("user.name".into(), user.clone());
    base.job.insert("loglevel".into(), loglevel.as_str().into());
    base.job.insert("retryAttempt".into(), attempt.to_string());
    base.job
        .insert("wasRetry".into(), (attempt > 0).to_string());
    let server = engine.server_node();

    let (nodes, filter, universe) = target_nodes(engine, project, job, opts, &base).await?;
    // every node the run reaches (stored filter, override, retry, job
    // reference) needs `run` for the subject, before anything is recorded
    super::authz::check_nodes(engine, opts.subject.as_ref(), project, &nodes)?;
    let timeout = match &job.timeout {
        Some(t) if !t.trim().is_empty() => Some(
            parse_duration(&expand_text(t, &base, &server))
                .map_err(|m| invalid(job, "timeout", m))?,
        ),
        _ => None,
    };
    let limits = match &job.loglimit {
        Some(l) if !l.trim().is_empty() => Some(LogLimits {
            limit: LogLimit::parse(l).map_err(|m| invalid(job, "loglimit", m))?,
            action: job.loglimit_action.unwrap_or(LogLimitAction::Halt),
            status: job.loglimit_status.clone().filter(|s| !s.is_empty()),
        }),
        _ => None,
    };
    let default_executor = store
        .get_project(project)
        .await?
        .map(|p| p.default_node_executor().to_owned())
        .unwrap_or_else(|| "ssh".into());

    let mut exec = Execution::new(project, job.full_name(), user.clone());
    exec.job_id = job.uuid.clone();
    let masked = resolved.masked();
    exec.arg_string = format_arg_string(masked.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    exec.options = masked;
    exec.filter = filter.clone();
    exec.loglevel = loglevel;
    exec.retry_attempt = attempt;
    exec.retry_of = retry_of;
    let node_steps: Vec<bool> = job
        .sequence
        .commands
        .iter()
        .map(Step::is_node_step)
        .collect();
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    state::init(&mut exec, &node_steps, &names, &engine.inner.server_node);
    exec.server_uuid = record.owner;
    // a record made before the run may hold events already (a misfire note)
    let (id, log_base) = if record.id == 0 {
        (store.create_execution(&exec).await?, 0)
    } else {
        exec.id = record.id;
        store.update_execution(&exec).await?;
        (record.id, log_length(store.as_ref(), record.id).await?)
    };
    exec.id = id;
    base.job.insert("execid".into(), id.to_string());
    // followable from the moment the caller knows the id
    let feed = super::live::Feed::new(log_base);
    if let Ok(mut l) = engine.inner.live.lock() {
        l.insert(id, feed.clone());
    }
    if let Some(tx) = id_tx {
        let _ = tx.send(id);
    }

    let control = Arc::new(Control::child(&parent.cancel));
    if let Ok(mut r) = engine.inner.running.lock() {
        r.insert(id, control.clone());
    }
    let (log, writer) = super::log::start(
        store.clone(),
        id,
        limits,
        opts.listener.clone(),
        control.clone(),
        feed,
    );
    notify(engine, NotificationTrigger::Start, job, &exec).await;
    let avg_watch = watch_avg_duration(engine, job, &exec, &base).await;
    let timer = timeout.map(|d| {
        let c = control.clone();
        tokio::spawn(async move {
            tokio::time::sleep(d).await;
            c.stop(StopReason::Timeout);
        })
    });

    let secrets = resolved
        .secure
        .iter()
        .filter_map(|k| resolved.values.get(k).cloned());
    let run = Arc::new(Run {
        engine: engine.clone(),
        project: project.into(),
        job: job.clone(),
        depth,
        exec: Mutex::new(exec),
        base,
        data: Mutex::new(Captured::default()),
        masker: SecretMasker::new(secrets),
        log,
        control: control.clone(),
        nodes,
        universe,
        loglevel,
        default_executor,
        user,
        subject: opts.subject.clone(),
    });

    if job.script_tokens == ScriptTokens::Raw {
        // sent without waiting (the log is new and empty): an await here
        // grows the future that every nested job reference keeps on the stack
        run.log.try_send(LogEvent::system(
            LogLevel::Warn,
            None,
            None,
            String::from("scriptTokens: raw: @option@ tokens are pasted into this job's scripts unquoted, so a value can run as code"),
        ));
    }
    let dispatch_empty = run.nodes.is_empty();
    let outcome = if dispatch_empty {
        let ok = job
            .nodefilters
            .as_ref()
            .is_some_and(|n| n.dispatch.success_on_empty_node_filter);
        let msg = format!(
            "No nodes matched the filter: {}",
            filter.as_deref().unwrap_or("")
        );
        run.message(LogLevel::Error, None, None, &msg).await;
        WorkflowOutcome {
            failed: !ok,
            failure: (!ok).then_some(msg),
        }
    } else {
        run.clone().workflow().await
    };

    if let Some(t) = timer {
        t.abort();
    }
    if let Some(w) = avg_watch {
        w.abort();
    }
    let reason = control.reason();
    let (status, overall) = match &reason {
        Some(StopReason::Abort) => (ExecutionStatus::Aborted, ExecState::Aborted),
        Some(StopReason::Timeout) => (ExecutionStatus::TimedOut, ExecState::Aborted),
        Some(StopReason::LogLimit(s)) => (
            s.as_deref()
                .map(ExecutionStatus::parse)
                .unwrap_or(ExecutionStatus::Failed),
            ExecState::Failed,
        ),
        None if outcome.failed => (ExecutionStatus::Failed, ExecState::Failed),
        None => (ExecutionStatus::Succeeded, ExecState::Succeeded),
    };
    let failure = match &reason {
        Some(StopReason::Abort) => Some("aborted".to_owned()),
        Some(StopReason::Timeout) => Some(format!(
            "job timed out after {}",
            job.timeout.as_deref().unwrap_or("")
        )),
        Some(StopReason::LogLimit(_)) => Some("log output limit exceeded".to_owned()),
        None => outcome.failure,
    };
    if let Some(f) = &failure {
        if reason.is_some() {
            run.message(
                LogLevel::Error,
                None,
                None,
                &format!("Execution {status}: {f}"),
            )
            .await;
        }
    }
    let mut exec = run.snapshot();
    state::finalize(&mut exec, overall);
    exec.status = status;
    exec.failure = failure;
    exec.date_ended = Some(Utc::now());
    drop(run);
    // all senders are gone once the Run is dropped: the writer flushes and ends
    match writer.await {
        Ok(Some(e)) => tracing::warn!(execution = id, error = %e, "log append failed"),
        Ok(None) => {}
        Err(e) => tracing::warn!(execution = id, error = %e, "log writer failed"),
    }
    if let Ok(mut l) = engine.inner.live.lock() {
        l.remove(&id);
    }
    let saved = store.update_execution(&exec).await;
    if let Ok(mut r) = engine.inner.running.lock() {
        r.remove(&id);
    }
    saved?;
    Ok(exec)
}

/// Number of events in the log of `id`.
async fn log_length(store: &dyn crate::store::Store, id: u64) -> Result<u64> {
    let mut n = 0u64;
    loop {
        let page = store.read_log(id, n, 2_000).await?;
        if page.events.is_empty() {
            return Ok(n);
        }
        n += page.events.len() as u64;
    }
}

#[derive(Debug, Default)]
struct Captured {
    global: BTreeMap<String, String>,
    per_node: BTreeMap<String, BTreeMap<String, String>>,
}

struct WorkflowOutcome {
    failed: bool,
    failure: Option<String>,
}

/// Result of a step on one node (or of a workflow step).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StepResult {
    /// Succeeded without help.
    Ok,
    /// Failed, and its error handler succeeded.
    Recovered,
    /// Failed.
    Failed,
    /// Not run (stopped before it started).
    NotRun,
}

/// What running one command produced.
struct Ran {
    ok: bool,
    exit_code: Option<i32>,
    failure: Option<String>,
    aborted: bool,
}

impl Ran {
    fn fail(msg: impl Into<String>) -> Ran {
        Ran {
            ok: false,
            exit_code: None,
            failure: Some(msg.into()),
            aborted: false,
        }
    }

    fn aborted_waiting() -> Ran {
        Ran {
            aborted: true,
            ..Ran::fail("stopped while waiting for a free step slot")
        }
    }

    fn from_outcome(o: &NodeOutcome) -> Ran {
        Ran {
            ok: o.success(),
            exit_code: o.exit_code,
            failure: o.failure_reason(),
            aborted: o.aborted,
        }
    }
}

struct Run {
    engine: Engine,
    project: String,
    job: Job,
    depth: u32,
    exec: Mutex<Execution>,
    base: DataContext,
    data: Mutex<Captured>,
    masker: SecretMasker,
    log: LogTx,
    control: Arc<Control>,
    nodes: Vec<Node>,
    universe: Vec<Node>,
    loglevel: LogLevel,
    default_executor: String,
    user: String,
    subject: Option<crate::authorizer::Subject>,
}

impl Run {
    fn snapshot(&self) -> Execution {
        match self.exec.lock() {
            Ok(e) => e.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn with_exec(&self, f: impl FnOnce(&mut Execution)) {
        match self.exec.lock() {
            Ok(mut e) => f(&mut e),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    async fn persist(&self) {
        let snapshot = self.snapshot();
        if let Err(e) = self.engine.inner.store.update_execution(&snapshot).await {
            tracing::warn!(execution = snapshot.id, error = %e, "could not save execution state");
        }
    }

    fn stopped(&self) -> bool {
        self.control.cancel.is_cancelled()
    }

    async fn message(
        &self,
        level: LogLevel,
        node: Option<&str>,
        stepctx: Option<&str>,
        text: &str,
    ) {
        if level >= self.loglevel || level >= LogLevel::Warn {
            let text = self.masker.mask(text);
            self.log
                .send(LogEvent::system(level, node, stepctx, text))
                .await;
        }
    }

    fn context_for(&self, node: &Node) -> DataContext {
        let mut ctx = self.base.clone();
        if let Ok(d) = self.data.lock() {
            ctx.data = d.global.clone();
            if let Some(own) = d.per_node.get(&node.name) {
                ctx.data
                    .extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            ctx.node_data = d.per_node.clone();
        }
        ctx
    }

    fn capture(&self, node: &str, line: &str) {
        let Some(rest) = line.trim_end().strip_prefix(DATA_PREFIX) else {
            return;
        };
        let Some((k, v)) = rest.split_once('=') else {
            return;
        };
        let k = k.trim();
        if k.is_empty()
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return;
        }
        if let Ok(mut d) = self.data.lock() {
            d.global.insert(k.to_owned(), v.to_owned());
            d.per_node
                .entry(node.to_owned())
                .or_default()
                .insert(k.to_owned(), v.to_owned());
        }
    }

    // ----- workflow strategies -----

    async fn workflow(self: Arc<Self>) -> WorkflowOutcome {
        let strategy = self.job.sequence.strategy;
        match strategy {
            Strategy::Sequential => self.sequential().await,
            Strategy::Parallel => self.parallel().await,
            Strategy::NodeFirst => self.node_first().await,
        }
    }

    /// Whether the workflow goes on after a step with this result; sets `failed`.
    fn proceed(
        &self,
        step: &Step,
        r: StepResult,
        failed: &mut bool,
        failure: &mut Option<String>,
        ctx: &str,
    ) -> bool {
        let keepgoing = self.job.sequence.keepgoing;
        match r {
            StepResult::Ok => true,
            StepResult::NotRun => false,
            StepResult::Failed => {
                *failed = true;
                failure.get_or_insert_with(|| format!("step {ctx} failed"));
                keepgoing
            }
            StepResult::Recovered => {
                let on_success = step
                    .errorhandler
                    .as_ref()
                    .is_some_and(|h| h.keepgoing_on_success);
                if keepgoing || on_success {
                    true
                } else {
                    *failed = true;
                    failure.get_or_insert_with(|| {
                        format!(
                            "step {ctx} failed (its error handler succeeded; the workflow stops)"
                        )
                    });
                    false
                }
            }
        }
    }

    async fn sequential(self: Arc<Self>) -> WorkflowOutcome {
        let (mut failed, mut failure) = (false, None);
        for (i, step) in self.job.sequence.commands.iter().enumerate() {
            if self.stopped() {
                break;
            }
            let r = self.clone().step_everywhere(i).await;
            self.persist().await;
            if !self.proceed(step, r, &mut failed, &mut failure, &(i + 1).to_string()) {
                break;
            }
        }
        WorkflowOutcome { failed, failure }
    }

    async fn parallel(self: Arc<Self>) -> WorkflowOutcome {
        let n = self.job.sequence.commands.len();
        let results =
            futures::future::join_all((0..n).map(|i| self.clone().step_everywhere(i))).await;
        let (mut failed, mut failure) = (false, None);
        for (i, r) in results.into_iter().enumerate() {
            let step = &self.job.sequence.commands[i];
            self.proceed(step, r, &mut failed, &mut failure, &(i + 1).to_string());
        }
        WorkflowOutcome { failed, failure }
    }

    async fn node_first(self: Arc<Self>) -> WorkflowOutcome {
        let steps = &self.job.sequence.commands;
        let (mut failed, mut failure) = (false, None);
        let mut i = 0;
        while i < steps.len() {
            if self.stopped() {
                break;
            }
            if !steps[i].is_node_step() {
                let r = self.clone().step_everywhere(i).await;
                self.persist().await;
                if !self.proceed(
                    &steps[i],
                    r,
                    &mut failed,
                    &mut failure,
                    &(i + 1).to_string(),
                ) {
                    break;
                }
                i += 1;
                continue;
            }
            let end = (i..steps.len())
                .find(|&j| !steps[j].is_node_step())
                .unwrap_or(steps.len());
            let this = self.clone();
            let range = i..end;
            let per_node = self
                .dispatch(move |node| {
                    let this = this.clone();
                    let range = range.clone();
                    async move { this.steps_on_node(range, node).await }
                })
                .await;
            self.persist().await;
            let segment_failed = per_node.iter().any(|r| matches!(r, Some(false)));
            let some_not_run = per_node.iter().any(Option::is_none);
            if segment_failed || (some_not_run && !self.stopped()) {
                failed = true;
                failure.get_or_insert_with(|| "one or more nodes failed".to_owned());
                if !self.job.sequence.keepgoing {
                    break;
                }
            }
            i = end;
        }
        WorkflowOutcome { failed, failure }
    }

    /// Runs node steps `range` in order on one node (node-first); true when the node succeeded.
    async fn steps_on_node(&self, range: std::ops::Range<usize>, node: Node) -> bool {
        let (mut failed, mut failure) = (false, None);
        for i in range {
            if self.stopped() {
                return false;
            }
            let step = &self.job.sequence.commands[i];
            let r = self.node_step(i, step, &node).await;
            if !self.proceed(step, r, &mut failed, &mut failure, &(i + 1).to_string()) {
                break;
            }
        }
        !failed
    }

    /// Runs step `i` on all target nodes (node step) or once (workflow step).
    async fn step_everywhere(self: Arc<Self>, i: usize) -> StepResult {
        let step = &self.job.sequence.commands[i];
        if !step.is_node_step() {
            let server = self.engine.inner.server_node.clone();
            return self.workflow_step(i, step, &server).await;
        }
        let this = self.clone();
        let results = self
            .dispatch(move |node| {
                let this = this.clone();
                async move {
                    let step = &this.job.sequence.commands[i];
                    let r = this.node_step(i, step, &node).await;
                    matches!(r, StepResult::Ok | StepResult::Recovered).then_some(r)
                }
            })
            .await;
        self.with_exec(|e| state::settle_step(e, i));
        if results.iter().any(|r| r.is_none()) {
            StepResult::Failed
        } else if results.contains(&Some(Some(StepResult::Recovered))) {
            StepResult::Recovered
        } else if results
            .iter()
            .all(|r| matches!(r, Some(Some(StepResult::Ok))))
        {
            StepResult::Ok
        } else {
            StepResult::Failed
        }
    }

    /// Runs `f` for each target node with the job's thread count. A result of
    /// `None` means the node was not started. Without dispatch keepgoing, the
    /// first failure (a `None`-ish or false result) stops starting new nodes.
    async fn dispatch<F, Fut, T>(&self, f: F) -> Vec<Option<T>>
    where
        F: Fn(Node) -> Fut,
        Fut: std::future::Future<Output = T>,
        T: Succeeded,
    {
        let dispatch = self
            .job
            .nodefilters
            .as_ref()
            .map(|n| n.dispatch.clone())
            .unwrap_or_default();
        let threads = dispatch.threadcount.max(1) as usize;
        let keepgoing = dispatch.keepgoing;
        let halt = AtomicBool::new(false);
        let halt = &halt;
        let f = &f;
        let mut out: Vec<(usize, Option<T>)> = stream::iter(self.nodes.iter().cloned().enumerate())
            .map(|(idx, node)| async move {
                if halt.load(Ordering::SeqCst) || self.stopped() {
                    return (idx, None);
                }
                let r = f(node).await;
                if !r.succeeded() && !keepgoing {
                    halt.store(true, Ordering::SeqCst);
                }
                (idx, Some(r))
            })
            .buffer_unordered(threads)
            .collect()
            .await;
        out.sort_by_key(|(i, _)| *i);
        out.into_iter().map(|(_, r)| r).collect()
    }

    // ----- single steps -----

    /// Runs a node step on one node with its error handler; records state.
    async fn node_step(&self, i: usize, step: &Step, node: &Node) -> StepResult {
        if self.stopped() {
            return StepResult::NotRun;
        }
        let ctx = (i + 1).to_string();
        self.with_exec(|e| state::start(e, i, &node.name, ExecState::Running));
        self.message(
            LogLevel::Debug,
            Some(&node.name),
            Some(&ctx),
            &format!("Step {ctx} on {}", node.name),
        )
        .await;
        let ran = self.run_kind(step, Some(node), &ctx).await;
        self.conclude(i, step, &node.name, Some(node), &ctx, ran)
            .await
    }

    /// Runs a workflow step once; records state under the server node.
    async fn workflow_step(&self, i: usize, step: &Step, server: &str) -> StepResult {
        if self.stopped() {
            return StepResult::NotRun;
        }
        let ctx = (i + 1).to_string();
        self.with_exec(|e| state::start(e, i, server, ExecState::Running));
        let ran = self.run_kind(step, None, &ctx).await;
        let r = self.conclude(i, step, server, None, &ctx, ran).await;
        self.with_exec(|e| state::settle_step(e, i));
        r
    }

    /// Applies the error handler and records the step's end on `name`.
    async fn conclude(
        &self,
        i: usize,
        step: &Step,
        name: &str,
        node: Option<&Node>,
        ctx: &str,
        ran: Ran,
    ) -> StepResult {
        let nagios = self.job.nagios;
        if ran.ok {
            self.with_exec(|e| {
                state::finish(
                    e,
                    i,
                    name,
                    ExecState::Succeeded,
                    ran.exit_code,
                    None,
                    false,
                    nagios,
                )
            });
            return StepResult::Ok;
        }
        let why = ran.failure.clone().unwrap_or_else(|| "failed".into());
        if ran.aborted || self.stopped() {
            self.with_exec(|e| {
                state::finish(
                    e,
                    i,
                    name,
                    ExecState::Aborted,
                    ran.exit_code,
                    Some(why),
                    false,
                    nagios,
                )
            });
            return StepResult::Failed;
        }
        self.message(
            LogLevel::Error,
            Some(name),
            Some(ctx),
            &format!("Failed: {why}"),
        )
        .await;
        let Some(handler) = &step.errorhandler else {
            self.with_exec(|e| {
                state::finish(
                    e,
                    i,
                    name,
                    ExecState::Failed,
                    ran.exit_code,
                    Some(why),
                    false,
                    nagios,
                )
            });
            return StepResult::Failed;
        };
        self.with_exec(|e| state::start(e, i, name, ExecState::RunningHandler));
        self.message(
            LogLevel::Info,
            Some(name),
            Some(ctx),
            "Executing error handler",
        )
        .await;
        let handled = Box::pin(self.run_kind(handler, node, ctx)).await;
        if handled.ok {
            // the handler's result becomes the step's result
            self.with_exec(|e| {
                state::finish(
                    e,
                    i,
                    name,
                    ExecState::Succeeded,
                    ran.exit_code,
                    Some(why),
                    true,
                    nagios,
                )
            });
            StepResult::Recovered
        } else {
            let state = if handled.aborted || self.stopped() {
                ExecState::Aborted
            } else {
                ExecState::Failed
            };
            let hwhy = handled.failure.unwrap_or_else(|| "failed".into());
            self.message(
                LogLevel::Error,
                Some(name),
                Some(ctx),
                &format!("Error handler failed: {hwhy}"),
            )
            .await;
            self.with_exec(|e| {
                state::finish(
                    e,
                    i,
                    name,
                    state,
                    ran.exit_code,
                    Some(format!("{why}; error handler: {hwhy}")),
                    true,
                    nagios,
                )
            });
            StepResult::Failed
        }
    }

    /// A script's text with its `@group.key@` tokens expanded: quoted for
    /// their context, or raw when the job says `scriptTokens: raw`; the
    /// error's message when a token is refused. Kept out of line: its
    /// locals would otherwise enlarge the step future, which is on the stack
    /// of every nested job reference.
    #[inline(never)]
    fn script_text(
        &self,
        script: &str,
        spec: &crate::model::ScriptSpec,
        dctx: &DataContext,
        node: &Node,
    ) -> std::result::Result<Vec<u8>, String> {
        if self.job.script_tokens == ScriptTokens::Raw {
            return Ok(expand_script_raw(script, dctx, node).into_bytes());
        }
        let interpreter = spec
            .interpreter
            .as_deref()
            .map(|s| expand_text(s, dctx, node));
        expand_script(script, interpreter.as_deref(), dctx, node)
            .map(String::into_bytes)
            .map_err(|e| e.to_string())
    }

    /// Runs one step's action on a node, or once when `node` is `None`.
    async fn run_kind(&self, step: &Step, node: Option<&Node>, ctx: &str) -> Ran {
        let server = self.engine.server_node();
        let target = node.unwrap_or(&server);
        let dctx = self.context_for(target);
        let command = match &step.kind {
            StepKind::Command { exec } => {
                if exec.trim().is_empty() {
                    return Ran::fail("empty command");
                }
                NodeCommand::Shell(expand_command(exec, &dctx, target))
            }
            StepKind::Script { script, spec } => {
                match self.script_text(script, spec, &dctx, target) {
                    Ok(bytes) => script_command(bytes, spec, &dctx, target),
                    Err(m) => return Ran::fail(m),
                }
            }
            StepKind::ScriptFile { path, spec } => {
                let path = expand_text(path, &dctx, target);
                let content = match tokio::fs::read(&path).await {
                    Ok(c) => c,
                    Err(e) => return Ran::fail(format!("cannot read script file {path}: {e}")),
                };
                let content = if spec.expand_tokens {
                    match self.script_text(&String::from_utf8_lossy(&content), spec, &dctx, target)
                    {
                        Ok(bytes) => bytes,
                        Err(m) => return Ran::fail(m),
                    }
                } else {
                    content
                };
                script_command(content, spec, &dctx, target)
            }
            StepKind::ScriptUrl { url, .. } => {
                return Ran::fail(format!(
                    "scripturl steps cannot run: fetching {url} is not supported"
                ));
            }
            StepKind::JobRef(r) => return self.job_ref(r, node, ctx, &dctx).await,
            StepKind::Plugin {
                plugin_type,
                configuration,
                ..
            } => {
                return self
                    .plugin(plugin_type, configuration, node, ctx, dctx)
                    .await
            }
        };
        let executor = match self.executor_for(target) {
            Ok(e) => e,
            Err(e) => return Ran::fail(e.to_string()),
        };
        if self.loglevel == LogLevel::Debug {
            if let NodeCommand::Shell(line) = &command {
                self.message(
                    LogLevel::Debug,
                    Some(&target.name),
                    Some(ctx),
                    &format!("Command: {line}"),
                )
                .await;
            }
        }
        let req = NodeRequest {
            node: target.clone(),
            command,
            env: environment(&dctx, target),
            timeout: None,
        };
        let Some(_slot) = self.step_slot(target).await else {
            return Ran::aborted_waiting();
        };
        let (sink, rx) = OutputSink::channel(256);
        let run = executor.run(req, sink, self.control.cancel.child_token());
        let (res, ()) = tokio::join!(run, self.forward(rx, &target.name, ctx));
        match res {
            Ok(o) => Ran::from_outcome(&o),
            Err(e) => Ran::fail(e.to_string()),
        }
    }

    /// Copies output lines into the log: captures data, masks secrets.
    async fn forward(
        &self,
        mut rx: tokio::sync::mpsc::Receiver<crate::executor::OutputLine>,
        node: &str,
        ctx: &str,
    ) {
        while let Some(line) = rx.recv().await {
            self.capture(node, &line.text);
            let (text, raw) = if self.masker.is_empty() {
                (line.text, line.raw)
            } else {
                let raw = line.raw.map(|r| self.masker.mask_bytes(&r));
                (self.masker.mask(&line.text), raw)
            };
            let level = if line.stream == Stream::Stderr {
                LogLevel::Warn
            } else {
                LogLevel::Info
            };
            self.log
                .send(LogEvent {
                    time: Utc::now(),
                    level,
                    stream: line.stream,
                    node: Some(node.to_owned()),
                    stepctx: Some(ctx.to_owned()),
                    text,
                    raw,
                })
                .await;
        }
    }

    /// Name of the executor that runs steps on `node`.
    fn executor_name<'a>(&'a self, node: &'a Node) -> &'a str {
        match node.executor() {
            Some(n) => n,
            None if node.name == self.engine.inner.server_node => "local",
            None => self.default_executor.as_str(),
        }
    }

    fn executor_for(&self, node: &Node) -> Result<Arc<dyn Executor>> {
        let name = self.executor_name(node);
        self.engine
            .inner
            .executors
            .get(name)
            .cloned()
            .ok_or_else(|| {
                let mut registered: Vec<&str> = self
                    .engine
                    .inner
                    .executors
                    .keys()
                    .map(String::as_str)
                    .collect();
                registered.sort_unstable();
                Error::NoExecutor {
                    node: node.name.clone(),
                    executor: name.to_owned(),
                    registered: registered.join(", "),
                }
            })
    }

    async fn plugin(
        &self,
        plugin_type: &str,
        configuration: &BTreeMap<String, serde_json::Value>,
        node: Option<&Node>,
        ctx: &str,
        dctx: DataContext,
    ) -> Ran {
        let Some(plugin) = self.engine.inner.plugins.get(plugin_type).cloned() else {
            return Ran::fail(format!(
                "no step plugin named `{plugin_type}` is registered"
            ));
        };
        let server = self.engine.server_node();
        let target = node.unwrap_or(&server);
        let configuration = configuration
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => {
                        serde_json::Value::String(expand_text(s, &dctx, target))
                    }
                    other => other.clone(),
                };
                (k.clone(), v)
            })
            .collect();
        let Some(_slot) = self.step_slot(target).await else {
            return Ran::aborted_waiting();
        };
        let (sink, rx) = OutputSink::channel(256);
        let call = PluginCall {
            node: node.cloned(),
            configuration,
            context: dctx,
            out: sink,
            abort: self.control.cancel.child_token(),
        };
        let (res, ()) = tokio::join!(plugin.run(call), self.forward(rx, &target.name, ctx));
        match res {
            Ok(o) => Ran::from_outcome(&o),
            Err(e) => Ran::fail(e.to_string()),
        }
    }

    /// Waits for a slot under the engine's step caps: the engine-wide one,
    /// and the per-node one unless `node` runs on this host (`local`
    /// executor), which the engine-wide cap alone bounds. `None` when the
    /// run is stopped while it waits.
    async fn step_slot(&self, node: &Node) -> Option<StepSlot<'_>> {
        let remote = (self.executor_name(node) != "local").then_some(node.name.as_str());
        tokio::select! {
            slot = self.engine.inner.slots.acquire(remote) => Some(slot),
            _ = self.control.cancel.cancelled() => None,
        }
    }

    /// Runs a referenced job; on a node for node-step references. Boxed with
    /// its `Send` bound spelled out: the run it starts may reach this again.
    fn job_ref<'a>(
        &'a self,
        r: &'a JobRef,
        node: Option<&'a Node>,
        ctx: &'a str,
        dctx: &'a DataContext,
    ) -> futures::future::BoxFuture<'a, Ran> {
        Box::pin(self.run_job_ref(r, node, ctx, dctx))
    }

    async fn run_job_ref(
        &self,
        r: &JobRef,
        node: Option<&Node>,
        ctx: &str,
        dctx: &DataContext,
    ) -> Ran {
        if self.depth + 1 >= self.engine.inner.max_depth {
            return Ran::fail(format!(
                "job reference nested deeper than {} levels (does a job reference itself?)",
                self.engine.inner.max_depth
            ));
        }
        let store = &self.engine.inner.store;
        let project = r
            .project
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| self.project.clone());
        if let Err(m) =
            super::authz::check_project_read(&self.engine, self.subject.as_ref(), &project)
        {
            return Ran::fail(m);
        }
        let found = match (&r.uuid, r.name.is_empty()) {
            (Some(id), _) if !id.is_empty() => store.get_job(&project, id).await,
            (_, false) => store.find_job(&project, r.group.as_deref(), &r.name).await,
            _ => return Ran::fail("job reference names no job (needs uuid or name)"),
        };
        let described = match &r.uuid {
            Some(id) if !id.is_empty() => id.clone(),
            _ => match r.group.as_deref().filter(|g| !g.is_empty()) {
                Some(g) => format!("{g}/{}", r.name),
                None => r.name.clone(),
            },
        };
        let not_found = || {
            Ran::fail(format!(
                "referenced job {described:?} not found in project {project:?}"
            ))
        };
        let child = match found {
            Ok(Some(j)) => j,
            Ok(None) => return not_found(),
            Err(e) => return Ran::fail(format!("referenced job {described:?}: {e}")),
        };
        match super::authz::check_job_ref(&self.engine, self.subject.as_ref(), &project, &child) {
            super::authz::JobRefCheck::Allowed => {}
            super::authz::JobRefCheck::Refused(m) => return Ran::fail(m),
            // a job the subject may not even see is answered as missing
            super::authz::JobRefCheck::Hidden => return not_found(),
        }
        if !crate::runs::rules::job_executions_enabled(&child) {
            if r.fail_on_disable {
                return Ran::fail(format!(
                    "referenced job {described:?} has execution disabled"
                ));
            }
            self.message(
                LogLevel::Info,
                node.map(|n| n.name.as_str()),
                Some(ctx),
                &format!("Skipped {described:?}: execution disabled"),
            )
            .await;
            return Ran {
                ok: true,
                exit_code: None,
                failure: None,
                aborted: false,
            };
        }
        let server = self.engine.server_node();
        let target = node.unwrap_or(&server);
        let mut options: BTreeMap<String, String> = BTreeMap::new();
        if r.import_options {
            for o in &child.options {
                if let Some(v) = self.base.options.get(&o.name) {
                    options.insert(o.name.clone(), v.clone());
                }
            }
        }
        if let Some(args) = &r.args {
            match parse_arg_string(&expand_text(args, dctx, target)) {
                Ok(pairs) => options.extend(pairs),
                Err(m) => return Ran::fail(format!("job reference arguments: {m}")),
            }
        }
        let (nodes, filter) = if let Some(n) = node {
            (vec![n.clone()], Some(".*".to_owned()))
        } else if r.child_nodes {
            (self.nodes.clone(), Some(".*".to_owned()))
        } else {
            let f = r
                .nodefilters
                .as_ref()
                .and_then(|n| n.filter.clone())
                .map(|f| expand_text(&f, dctx, target));
            (self.universe.clone(), f)
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<LogEvent>();
        let prefix = ctx.to_owned();
        // The output of a job of another project belongs to that project's
        // ACL: it stays in the referenced execution's own log, which this
        // log points to, instead of being copied here.
        let same_project = project == self.project;
        let opts = RunOptions {
            options,
            user: Some(self.user.clone()),
            filter,
            nodes: Some(nodes),
            loglevel: Some(self.loglevel),
            listener: same_project.then(|| {
                super::LogListener::new(move |ev: &LogEvent| {
                    let mut ev = ev.clone();
                    ev.stepctx = Some(match ev.stepctx {
                        Some(c) => format!("{prefix}/{c}"),
                        None => prefix.clone(),
                    });
                    let _ = tx.send(ev);
                })
            }),
            subject: self.subject.clone(),
        };
        let log = self.log.clone();
        let pump = tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                log.send(ev).await;
            }
        });
        let parent = Arc::new(Control::child(&self.control.cancel));
        // On its own task: nested references do not grow this task's stack.
        let child_run: futures::future::BoxFuture<'static, Result<Execution>> =
            Box::pin(run_with_retries(
                self.engine.clone(),
                project.clone(),
                child.clone(),
                opts,
                parent,
                self.depth + 1,
                None,
                None,
            ));
        let result = match tokio::spawn(child_run).await {
            Ok(r) => r,
            Err(e) => Err(Error::Executor {
                node: String::new(),
                message: format!("referenced job task failed: {e}"),
            }),
        };
        let _ = pump.await;
        if let (false, Ok(e)) = (same_project, &result) {
            self.message(
                LogLevel::Info,
                node.map(|n| n.name.as_str()),
                Some(ctx),
                &format!(
                    "Referenced job {:?} ran as execution #{} of project {project:?}; \
                     its output is in that execution's log",
                    child.full_name(),
                    e.id
                ),
            )
            .await;
        }
        match result {
            Ok(e) if e.status == ExecutionStatus::Succeeded => Ran {
                ok: true,
                exit_code: None,
                failure: None,
                aborted: false,
            },
            Ok(e) => Ran {
                ok: false,
                exit_code: None,
                failure: Some(format!(
                    "referenced job {:?} execution #{} {}",
                    child.full_name(),
                    e.id,
                    e.status
                )),
                aborted: e.status == ExecutionStatus::Aborted,
            },
            Err(e) => Ran::fail(format!("referenced job {:?}: {e}", child.full_name())),
        }
    }
}

/// A script step's command: arguments split and expanded, interpreter expanded.
fn script_command(
    content: Vec<u8>,
    spec: &crate::model::ScriptSpec,
    dctx: &DataContext,
    node: &Node,
) -> NodeCommand {
    NodeCommand::Script {
        content,
        args: spec
            .args
            .as_deref()
            .map(|a| split_args(a, dctx, node))
            .unwrap_or_default(),
        interpreter: spec
            .interpreter
            .as_deref()
            .map(|s| expand_text(s, dctx, node)),
        args_quoted: spec.args_quoted,
        file_extension: spec.file_extension.clone(),
    }
}

/// Whether a dispatched unit succeeded (for dispatch keepgoing).
trait Succeeded {
    fn succeeded(&self) -> bool;
}

impl Succeeded for bool {
    fn succeeded(&self) -> bool {
        *self
    }
}

impl Succeeded for Option<StepResult> {
    fn succeeded(&self) -> bool {
        self.is_some()
    }
}
