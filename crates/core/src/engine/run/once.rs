//! One attempt of a run: its nodes, its execution record, its workflow and
//! its final state.

use super::super::log::LogLimits;
use super::super::parse::{format_arg_string, parse_duration, LogLimit};
use super::super::{state, Control, Engine, ResolvedOptions, RunOptions, StopReason};
use super::durable::{carry_state, forget};
use super::notify::{notify, watch_avg_duration};
use super::progress::Progress;
use super::runner::{Captured, Run, WorkflowOutcome};
use super::{invalid, plain_context, Existing};
use crate::context::{expand_text, DataContext, SecretMasker};
use crate::error::Result;
use crate::filter::NodeFilter;
use crate::model::{
    ExecState, Execution, ExecutionStatus, Job, LogEvent, LogLevel, LogLimitAction, Node,
    RankOrder, ScriptTokens, Step,
};
use crate::notifier::NotificationTrigger;
use chrono::Utc;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

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
pub(super) async fn run_once(
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
    super::super::authz::check_nodes(engine, opts.subject.as_ref(), project, &nodes)?;
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
    exec.execution_type = record.execution_type;
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
    // a continued durable run: the steps that ran stay as they were, the
    // rest start from the recorded state with the data captured before
    let (progress, captured, resumed_at) = match record.resume {
        Some(r) => {
            exec.date_started = r.execution.date_started;
            carry_state(&mut exec, &r.execution.state, r.state.next_step as usize);
            let p = Progress::resumed(&r.state);
            (p, Captured::resumed(&r.state), Some(r.state.next_step))
        }
        None => (Progress::default(), Captured::default(), None),
    };
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
    let feed = super::super::live::Feed::new(log_base);
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
    let (log, writer) = super::super::log::start(
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
        data: Mutex::new(captured),
        progress: Mutex::new(progress),
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
    if let Some(next) = resumed_at {
        // sent without waiting, as above
        run.log.try_send(LogEvent::system(
            LogLevel::Info,
            None,
            None,
            format!(
                "Durable run continued from step {} with the data recorded before its server stopped",
                next + 1
            ),
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
        // boxed: the workflow's future (strategies, steps, dispatch) is the
        // largest part of this one, which every nested job reference keeps
        Box::pin(run.clone().workflow()).await
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
    if reason == Some(StopReason::Abort) {
        // aborted by id (this run's control) or through the run it is an
        // attempt or a job reference of
        exec.aborted_by = control.aborted_by().or_else(|| parent.aborted_by());
    }
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
    if job.durable && saved.is_ok() {
        Box::pin(forget(store.as_ref(), id)).await;
    }
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
