//! Schedule triggers and their claims of the [`MemoryStore`]: its [`TriggerStore`] impl.

use super::{not_found, Inner, MemoryStore};
use crate::error::Result;
use crate::model::{Execution, ExecutionStatus};
use crate::store::{FireOutcome, Trigger, TriggerFire, TriggerStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

#[async_trait]
impl TriggerStore for MemoryStore {
    async fn put_trigger(&self, trigger: &Trigger) -> Result<()> {
        let mut t = trigger.clone();
        t.claimed_by = None;
        t.claim_expires = None;
        self.write()?.triggers.insert(t.id.clone(), t);
        Ok(())
    }

    async fn get_trigger(&self, id: &str) -> Result<Option<Trigger>> {
        Ok(self.read()?.triggers.get(id).cloned())
    }

    async fn list_triggers(&self, project: Option<&str>) -> Result<Vec<Trigger>> {
        let mut list: Vec<Trigger> = self
            .read()?
            .triggers
            .values()
            .filter(|t| project.is_none_or(|p| p == t.project))
            .cloned()
            .collect();
        list.sort_by(|a, b| (a.next_fire, &a.id).cmp(&(b.next_fire, &b.id)));
        Ok(list)
    }

    async fn delete_trigger(&self, id: &str) -> Result<()> {
        self.write()?
            .triggers
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| not_found("trigger", id))
    }

    async fn claim_due_triggers(
        &self,
        server: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Trigger>> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let mut inner = self.write()?;
        let mut due: Vec<&mut Trigger> = inner
            .triggers
            .values_mut()
            .filter(|t| {
                t.enabled
                    && t.next_fire <= now
                    && (t.claimed_by.is_none() || t.claim_expires.is_none_or(|x| x < now))
            })
            .collect();
        due.sort_by(|a, b| (a.next_fire, &a.id).cmp(&(b.next_fire, &b.id)));
        Ok(due
            .into_iter()
            .take(limit)
            .map(|t| {
                t.claimed_by = Some(server.to_owned());
                t.claim_expires = Some(until);
                t.clone()
            })
            .collect())
    }

    async fn release_trigger(&self, id: &str, server: &str) -> Result<()> {
        if let Some(t) = self.write()?.triggers.get_mut(id) {
            if t.claimed_by.as_deref() == Some(server) {
                t.claimed_by = None;
                t.claim_expires = None;
            }
        }
        Ok(())
    }

    async fn fire_trigger(&self, fire: &TriggerFire) -> Result<FireOutcome> {
        let mut inner = self.write()?;
        let Some(t) = inner.triggers.get(&fire.trigger_id).filter(|t| {
            t.claimed_by.as_deref() == Some(fire.server.as_str()) && t.next_fire == fire.fire_time
        }) else {
            return Ok(FireOutcome::Lost);
        };
        if fire.exclusive {
            if let Some(job_id) = t.job_id.as_deref() {
                // the write lock is held: nothing starts a run in between
                if let Some(busy) = busy_execution(&inner, job_id) {
                    return Ok(FireOutcome::Busy(busy));
                }
            }
        }
        let mut plans = fire.executions.iter();
        let mut ids = Vec::with_capacity(fire.executions.len());
        if let Some(id) = fire.scheduled {
            let waiting = inner
                .executions
                .get(&id)
                .is_some_and(|e| e.status == ExecutionStatus::Scheduled && e.server_uuid.is_none());
            match plans.next() {
                Some(first) if waiting => {
                    let mut e = first.clone();
                    e.id = id;
                    inner.executions.insert(id, e);
                    ids.push(id);
                }
                // taken (aborted) before its time: nothing to run
                _ => plans = [].iter(),
            }
        }
        ids.extend(plans.map(|e| inner.insert_execution(e)));
        match fire.next_fire {
            Some(next) => {
                if let Some(t) = inner.triggers.get_mut(&fire.trigger_id) {
                    t.next_fire = next;
                    t.claimed_by = None;
                    t.claim_expires = None;
                }
            }
            None => {
                inner.triggers.remove(&fire.trigger_id);
            }
        }
        Ok(FireOutcome::Fired(ids))
    }

    async fn create_exclusive_execution(&self, execution: &Execution) -> Result<FireOutcome> {
        let mut inner = self.write()?;
        if let Some(job_id) = execution.job_id.as_deref() {
            // the write lock is held: nothing starts a run in between
            if let Some(busy) = busy_execution(&inner, job_id) {
                return Ok(FireOutcome::Busy(busy));
            }
        }
        Ok(FireOutcome::Fired(vec![inner.insert_execution(execution)]))
    }
}

/// The lowest-numbered running, queued or waiting execution of a job.
fn busy_execution(inner: &Inner, job_id: &str) -> Option<u64> {
    inner
        .executions
        .values()
        .find(|e| {
            e.job_id.as_deref() == Some(job_id)
                && matches!(
                    e.status,
                    ExecutionStatus::Running | ExecutionStatus::Queued | ExecutionStatus::Waiting
                )
        })
        .map(|e| e.id)
}
