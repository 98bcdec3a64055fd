//! Firing claimed triggers: what one fire does (the misfire policy, the
//! concurrency policy, the project switches), recorded with
//! [`Store::fire_trigger`] in one transaction, and the executions it
//! created handed to [`launch`](DurableScheduler::launch).

use super::durable::{to_chrono, DurableScheduler, TickReport};
use super::spec::{Concurrency, MisfirePolicy, TriggerSpec};
use crate::cron::CronSchedule;
use crate::error::Result;
use crate::model::{Execution, ExecutionStatus, Job};
use crate::notifier::NotificationTrigger;
use crate::runs::rules;
use crate::store::{FireOutcome, Trigger, TriggerFire};
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Most missed fire times counted one by one after an outage; beyond it the
/// record says "at least".
const MISSED_COUNT_LIMIT: usize = 100_000;

/// One execution a fire creates, and what to do with it once stored.
struct Planned {
    execution: Execution,
    /// A note written to the log of a started execution.
    note: Option<String>,
}

impl DurableScheduler {
    /// `(schedules disabled, executions disabled)` of the triggers' projects.
    pub(super) async fn project_flags(
        &self,
        triggers: &[Trigger],
    ) -> Result<HashMap<String, (bool, bool)>> {
        let names: BTreeSet<&str> = triggers.iter().map(|t| t.project.as_str()).collect();
        let mut out = HashMap::new();
        for name in names {
            let flags = match self.inner.store.get_project(name).await? {
                Some(p) => (
                    rules::project_schedules_disabled(&p),
                    rules::project_executions_disabled(&p),
                ),
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
    pub(super) async fn fire_one(
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
                    scheduled: None,
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
        // a one-off run was checked when it was asked for, and is checked
        // again at its time: what changed since keeps it from running, and
        // its record says why
        let mut job: Option<Job> = None;
        let mut refused = None;
        if spec.cron.is_none() {
            job = self.inner.store.get_job(&t.project, &job_id).await?;
            refused = match &job {
                _ if exec_off => Some(format!("executions of project {} are disabled", t.project)),
                None => Some("the job no longer exists".to_owned()),
                Some(j) if !rules::job_executions_enabled(j) => {
                    Some("executions of the job are disabled (executionEnabled: false)".to_owned())
                }
                Some(_) => None,
            };
        }

        let mut plans: Vec<Planned> = Vec::new();
        let next_fire;
        if let Some(why) = refused {
            next_fire = None;
            report.disabled += 1;
            let why = format!("not run at its time: {why}");
            let mut p = self.plan_missed(&t, &spec, &job_id, fire_time, now, why);
            p.execution.status = ExecutionStatus::Failed;
            plans.push(p);
        } else if exec_off || (sched_off && spec.cron.is_some()) {
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
            scheduled: spec.execution,
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
        if let (Some(id), true) = (spec.execution, ids.is_empty()) {
            tracing::info!(trigger = %t.id, execution = id, "a one-off run was aborted before its time: nothing to run");
        }
        // a clock behind the fire time (another server's) is no lag
        report.lag = Some(
            (self.inner.clock.now() - fire_time)
                .to_std()
                .unwrap_or_default(),
        );
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
                    // refused one-off runs were counted as such
                    if e.status == ExecutionStatus::Missed {
                        report.missed += 1;
                    }
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

    /// The record of a fire of `t` at `at`: running, owned by this server.
    pub(super) fn record(
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
        // a run a user asked for at a later time carries its execution
        e.execution_type = if spec.execution.is_some() {
            crate::model::ExecutionType::UserScheduled
        } else {
            crate::model::ExecutionType::Scheduled
        };
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
