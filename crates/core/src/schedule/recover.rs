//! Cluster upkeep: recovery of this server's own unfinished executions
//! after a restart, heartbeats, and takeover of the executions of servers
//! that stopped heartbeating (marked `incomplete`, re-run when their job
//! has retries left, or, for durable runs, continued: `resume.rs`).

use super::durable::{to_chrono, DurableScheduler, TickReport};
use crate::error::{Error, Result};
use crate::model::{Execution, ExecutionStatus, Job};
use crate::runs::mode::mode_name;
use crate::store::{ExecutionClaim, ServerHeartbeat};

/// Executions claimed at once when recovering or taking over.
const CLAIM_CHUNK: usize = 100;

impl DurableScheduler {
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
    pub(super) async fn upkeep(&self, report: &mut TickReport) -> Result<()> {
        let _guard = self.inner.upkeep.lock().await;
        report.recovered += self.recover_locked().await?;
        let now = self.inner.clock.now();
        let cfg = &self.inner.config;
        let interval = to_chrono(cfg.heartbeat_interval);
        let active = self.inner.launcher.accepts_runs();
        let (last, beat_active) = self
            .inner
            .state
            .lock()
            .map(|s| (s.last_beat, s.beat_active))
            .unwrap_or_default();
        // a changed execution mode is told the other servers at once
        if last.is_some_and(|l| now - l < interval) && beat_active == Some(active) {
            return Ok(());
        }
        self.inner
            .store
            .heartbeat(&ServerHeartbeat {
                server: cfg.server.clone(),
                started: self.inner.started,
                last_seen: now,
                info: serde_json::json!({
                    "version": env!("CARGO_PKG_VERSION"),
                    "executionMode": mode_name(active),
                }),
            })
            .await?;
        if let Ok(mut s) = self.inner.state.lock() {
            s.last_beat = Some(now);
            s.beat_active = Some(active);
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
        let lost = self.end_lost_runs().await?;
        if lost > 0 {
            tracing::warn!(
                lost,
                "scheduled runs whose trigger was lost are recorded as failed"
            );
        }
        // durable runs parked by this tick's recovery or takeover, or by a
        // server that stopped before it continued them; a passive server
        // leaves them to an active one
        if !active {
            return Ok(());
        }
        self.continue_waiting(report).await
    }

    /// Whether another live server (heard from within `dead_after`) is in
    /// active execution mode, as its heartbeat tells (a heartbeat that
    /// names no mode is an active server's: older versions had no other).
    pub(super) async fn active_peer(&self, now: chrono::DateTime<chrono::Utc>) -> Result<bool> {
        let cfg = &self.inner.config;
        let dead_after = to_chrono(cfg.dead_after);
        Ok(self.inner.store.list_servers().await?.iter().any(|s| {
            s.server != cfg.server
                && now - s.last_seen <= dead_after
                && s.info.get("executionMode").and_then(|m| m.as_str()) != Some(mode_name(false))
        }))
    }

    /// Claims the running executions of `owner` and marks them incomplete;
    /// durable runs with a recorded state wait to be continued instead;
    /// with `rerun`, re-runs those whose job has retries left. Queued and
    /// waiting executions `owner` had claimed go back to be claimed again;
    /// the aborts of scheduled ones it began are finished.
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
                id: None,
            };
            let batch = store.claim_executions(me, &claim, CLAIM_CHUNK).await?;
            if batch.is_empty() {
                break;
            }
            for e in batch {
                if self.park(&e).await? {
                    continue;
                }
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
        for status in [ExecutionStatus::Queued, ExecutionStatus::Waiting] {
            loop {
                let claim = ExecutionClaim {
                    status: status.clone(),
                    owner: Some(owner.to_owned()),
                    due_by: None,
                    job_id: None,
                    id: None,
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
        }
        // scheduled executions `owner` claimed were being aborted
        let aborted = self.finish_cancels(owner).await?;
        if aborted > 0 {
            tracing::info!(server = %owner, aborted, "finished aborts of scheduled runs a stopped server began");
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

    pub(super) async fn mark_incomplete(&self, mut e: Execution, why: &str) -> Result<()> {
        e.status = ExecutionStatus::Incomplete;
        e.date_ended = Some(self.inner.clock.now());
        e.failure = Some(why.to_owned());
        self.inner.store.update_execution(&e).await
    }
}
