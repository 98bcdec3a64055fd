//! What a durable trigger carries in [`Trigger::spec`](crate::store::Trigger):
//! the pattern and zone, who runs it with which options, and the job's
//! misfire and concurrency policies. Written when a job is scheduled, so
//! firing needs no job lookup.

use crate::error::{Error, Result};
use crate::model::{Job, LogLevel};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Job field (an unknown field to Rundeck, kept on import and export) that
/// chooses the misfire policy: `fire-once-now`, `skip` or `fire-all`.
pub const MISFIRE_POLICY_KEY: &str = "misfirePolicy";
/// Job field capping the runs of the `fire-all` policy.
pub const MISFIRE_LIMIT_KEY: &str = "misfireFireAllLimit";
/// Job field that chooses what a fire does while the job (with
/// `multipleExecutions: false`) is running: `skip`, `queue` or `allow`.
pub const CONCURRENCY_KEY: &str = "multipleExecutionsPolicy";

/// What to do with fire times that passed more than the misfire threshold
/// ago (after downtime or overload).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MisfirePolicy {
    /// Run once now for all of them; the run's log says how many it stands for.
    #[default]
    FireOnceNow,
    /// Run none; keep one `missed` record and send the failure notification.
    Skip,
    /// Run one execution per missed time, oldest first, up to a cap; the
    /// rest get one `missed` record.
    FireAll,
}

impl MisfirePolicy {
    /// The policy's name in job definitions.
    pub fn as_str(self) -> &'static str {
        match self {
            MisfirePolicy::FireOnceNow => "fire-once-now",
            MisfirePolicy::Skip => "skip",
            MisfirePolicy::FireAll => "fire-all",
        }
    }
}

/// What a fire does while the job already runs (jobs with
/// `multipleExecutions: false`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Concurrency {
    /// Start another execution anyway.
    Allow,
    /// Do not run; keep a `missed` record saying why.
    #[default]
    Skip,
    /// Record a `queued` execution, started when the running one ends.
    Queue,
}

/// The scheduler's part of a trigger, stored as JSON in `Trigger::spec`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerSpec {
    /// Quartz or Unix pattern; `None` for a one-off run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// IANA zone of the pattern (resolved when scheduled: the job's, or the
    /// scheduling server's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// `group/name` of the job, for the execution record.
    pub description: String,
    /// Who the executions run as.
    pub user: String,
    /// The roles of `user` when the trigger was made: the runs are
    /// authorized as `user` with these roles. `None` in triggers stored
    /// before roles were recorded (and for schedules made without a
    /// subject): such runs carry no roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Option values (one-off runs); secure values included.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// Names of secure options, masked in execution records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secure: Vec<String>,
    /// Node filter replacing the job's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Log level of the executions.
    #[serde(default)]
    pub loglevel: LogLevel,
    /// Misfire policy.
    #[serde(default)]
    pub misfire: MisfirePolicy,
    /// Cap of the `fire-all` policy.
    #[serde(default = "default_fire_all_limit")]
    pub fire_all_limit: u32,
    /// While another execution of the job runs: `allow` for jobs with
    /// `multipleExecutions: true`.
    #[serde(default)]
    pub concurrency: Concurrency,
    /// A one-off run's execution, recorded `scheduled` when the run was
    /// asked for: the fire starts it (same id) instead of creating one.
    /// `None` for schedules, and for one-off triggers stored before runs
    /// at a later time were recorded at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<u64>,
}

fn default_fire_all_limit() -> u32 {
    DEFAULT_FIRE_ALL_LIMIT
}

/// Default cap of the `fire-all` policy.
pub const DEFAULT_FIRE_ALL_LIMIT: u32 = 10;

impl TriggerSpec {
    /// The spec of a job's triggers (pattern and zone left empty), with the
    /// policies read from the job (see [`MISFIRE_POLICY_KEY`],
    /// [`CONCURRENCY_KEY`]); an error names a bad policy value.
    pub fn for_job(job: &Job, user: &str) -> Result<TriggerSpec> {
        let bad = |field: &str, message: String| Error::InvalidJob {
            job: job.full_name(),
            field: field.into(),
            message,
        };
        let text = |key: &str| -> Result<Option<String>> {
            match job.extra.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.trim().to_owned())),
                Some(v) => Err(bad(key, format!("expected text, found {v}"))),
            }
        };
        let misfire = match text(MISFIRE_POLICY_KEY)?.as_deref() {
            None => MisfirePolicy::default(),
            Some("fire-once-now") => MisfirePolicy::FireOnceNow,
            Some("skip") => MisfirePolicy::Skip,
            Some("fire-all") => MisfirePolicy::FireAll,
            Some(other) => {
                return Err(bad(
                    MISFIRE_POLICY_KEY,
                    format!("`{other}` is not one of fire-once-now, skip, fire-all"),
                ))
            }
        };
        let fire_all_limit = match job.extra.get(MISFIRE_LIMIT_KEY) {
            None | Some(serde_json::Value::Null) => DEFAULT_FIRE_ALL_LIMIT,
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| bad(MISFIRE_LIMIT_KEY, format!("{v} is not a positive count")))?,
        };
        let concurrency = match text(CONCURRENCY_KEY)?.as_deref() {
            _ if job.multiple_executions => Concurrency::Allow,
            None => Concurrency::default(),
            Some("skip") => Concurrency::Skip,
            Some("queue") => Concurrency::Queue,
            Some("allow") => Concurrency::Allow,
            Some(other) => {
                return Err(bad(
                    CONCURRENCY_KEY,
                    format!("`{other}` is not one of skip, queue, allow"),
                ))
            }
        };
        Ok(TriggerSpec {
            cron: None,
            zone: None,
            description: job.full_name(),
            user: user.to_owned(),
            roles: None,
            options: BTreeMap::new(),
            secure: job
                .options
                .iter()
                .filter(|o| o.secure)
                .map(|o| o.name.clone())
                .collect(),
            filter: None,
            loglevel: job.loglevel,
            misfire,
            fire_all_limit,
            concurrency,
            execution: None,
        })
    }

    /// The one-off run's `scheduled` execution a trigger starts, if it
    /// names one.
    pub fn execution_of(t: &crate::store::Trigger) -> Option<u64> {
        serde_json::from_value::<TriggerSpec>(t.spec.clone())
            .ok()
            .and_then(|s| s.execution)
    }

    /// Whose rights the runs have: the user with the recorded roles, when
    /// there are roles recorded.
    pub fn subject(&self) -> Option<crate::authorizer::Subject> {
        self.roles
            .as_ref()
            .map(|r| crate::authorizer::Subject::new(self.user.clone(), r.iter().cloned()))
    }

    /// Option values as an execution record shows them: secure ones masked.
    pub fn masked_options(&self) -> BTreeMap<String, String> {
        crate::engine::options::mask(&self.options, |k| self.secure.iter().any(|s| s == k))
    }
}
