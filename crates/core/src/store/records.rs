//! Records the [`Store`](super::Store) keeps besides projects, jobs and
//! executions: schedule triggers, server heartbeats, users, API tokens, ACL
//! policies, audit events, webhooks.

use crate::model::{Execution, ExecutionStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A durable schedule trigger: when a job fires next.
///
/// Scheduler instances claim due triggers with
/// [`Store::claim_due_triggers`](super::TriggerStore::claim_due_triggers) and fire
/// them with [`Store::fire_trigger`](super::TriggerStore::fire_trigger), which creates
/// the execution(s) and advances the trigger in one transaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    /// Unique id (for example `job:<uuid>` or `once:<uuid>:<time>`).
    pub id: String,
    /// Project.
    pub project: String,
    /// Job it runs, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Next fire time.
    pub next_fire: DateTime<Utc>,
    /// Disabled triggers are never claimed.
    pub enabled: bool,
    /// What the scheduler needs to compute later fire times (pattern, zone,
    /// misfire policy, options); opaque to the store.
    #[serde(default)]
    pub spec: serde_json::Value,
    /// Server holding the claim, while one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    /// When that claim lapses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_expires: Option<DateTime<Utc>>,
}

impl Trigger {
    /// An enabled, unclaimed trigger.
    pub fn new(
        id: impl Into<String>,
        project: impl Into<String>,
        job_id: Option<String>,
        next_fire: DateTime<Utc>,
    ) -> Self {
        Trigger {
            id: id.into(),
            project: project.into(),
            job_id,
            next_fire,
            enabled: true,
            spec: serde_json::Value::Null,
            claimed_by: None,
            claim_expires: None,
        }
    }
}

/// Firing a claimed trigger: applied all or nothing.
#[derive(Clone, Debug, PartialEq)]
pub struct TriggerFire {
    /// The trigger.
    pub trigger_id: String,
    /// Server that holds the claim.
    pub server: String,
    /// The fire time being handled: must still be the trigger's `next_fire`.
    pub fire_time: DateTime<Utc>,
    /// The following fire time; `None` deletes the trigger (one-off runs,
    /// patterns that never fire again).
    pub next_fire: Option<DateTime<Utc>>,
    /// Executions to create (none, one, several for `fire-all`, or `missed`
    /// records).
    pub executions: Vec<Execution>,
    /// A one-off run's execution, recorded as `scheduled` when the run was
    /// asked for: the first of [`executions`](Self::executions) is written
    /// over it (keeping its id) instead of being created, while it is still
    /// `scheduled` and claimed by no server. When it is not (an abort took
    /// it first), the fire changes no execution, creates none, and still
    /// advances or deletes the trigger: [`FireOutcome::Fired`] with no ids.
    pub scheduled: Option<u64>,
    /// Fire only while the trigger's job has no `running` or `queued`
    /// execution (`multipleExecutions: false`). The store checks this in the
    /// fire's transaction, serialised per job, so two servers firing
    /// different triggers of one job at the same instant cannot both start a
    /// run; when the job is busy nothing changes and the outcome is
    /// [`FireOutcome::Busy`].
    pub exclusive: bool,
}

/// What [`Store::fire_trigger`](super::TriggerStore::fire_trigger) did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FireOutcome {
    /// The executions were created (their ids, in the order given; a
    /// [`scheduled`](TriggerFire::scheduled) one first, with its own id) and
    /// the trigger advanced or deleted.
    Fired(Vec<u64>),
    /// Nothing changed: the server no longer holds the claim, or the
    /// trigger's fire time is no longer the one handled, or it is gone.
    Lost,
    /// Nothing changed: the fire was `exclusive` and the trigger's job has
    /// this `running`, `queued` or `waiting` execution.
    Busy(u64),
}

/// A server's heartbeat, for cluster membership and takeover.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerHeartbeat {
    /// Server uuid.
    pub server: String,
    /// When it started.
    pub started: DateTime<Utc>,
    /// Its last heartbeat.
    pub last_seen: DateTime<Utc>,
    /// Host name, version and the like.
    #[serde(default)]
    pub info: serde_json::Value,
}

/// Which executions [`Store::claim_executions`](super::Store::claim_executions)
/// may take.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionClaim {
    /// In this status.
    pub status: ExecutionStatus,
    /// Owned by this server (`None`: owned by none).
    pub owner: Option<String>,
    /// Started (or due) at or before this time.
    pub due_by: Option<DateTime<Utc>>,
    /// Of this job only.
    pub job_id: Option<String>,
    /// This execution only.
    pub id: Option<u64>,
}

/// A user of the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Login name.
    pub login: String,
    /// Password hash (PHC string); `None` for users who cannot log in with a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// Roles (groups in ACL policies).
    #[serde(default)]
    pub roles: Vec<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Created.
    pub created: DateTime<Utc>,
    /// Last modified.
    pub modified: DateTime<Utc>,
}

/// An API token as stored: the hash of its secret, never the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    /// Public id.
    pub id: String,
    /// Hash of the secret (hex SHA-256).
    pub token_hash: String,
    /// User it acts as.
    pub user: String,
    /// Roles it carries.
    #[serde(default)]
    pub roles: Vec<String>,
    /// A name given by its creator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Who created it.
    pub creator: String,
    /// Created.
    pub created: DateTime<Utc>,
    /// Expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<DateTime<Utc>>,
}

/// A webhook: requests to `/api/{v}/webhook/{token}` run what it says (its
/// `event_plugin`, Rundeck's `webhook-run-job` runs a job) as its user and
/// roles, without an API token. Only the hash of its token is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// Unique id.
    pub id: String,
    /// Project it belongs to.
    pub project: String,
    /// Name, unique in the project.
    pub name: String,
    /// Hash of its token (hex SHA-256), unique.
    pub token_hash: String,
    /// The user requests act as.
    pub user: String,
    /// Roles requests carry.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Disabled webhooks refuse requests.
    pub enabled: bool,
    /// What a request does (`webhook-run-job`).
    pub event_plugin: String,
    /// The plugin's settings (`jobId`, `argString`, `nodeFilter`).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Created.
    pub created: DateTime<Utc>,
}

/// An ACL policy document (`.aclpolicy` YAML), system-wide or per project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AclPolicy {
    /// Project, or `None` for a system policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// File name (`admin.aclpolicy`).
    pub name: String,
    /// The YAML text.
    pub content: String,
    /// Last modified.
    pub modified: DateTime<Utc>,
}

/// One audited change or run: who, what, when, from where.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// Assigned by the store.
    pub id: u64,
    /// When.
    pub time: DateTime<Utc>,
    /// Who.
    pub user: String,
    /// What was done (`create`, `update`, `delete`, `run`, `login`, ...).
    pub action: String,
    /// Kind of thing it was done to (`job`, `project`, `key`, `token`, ...).
    pub resource_type: String,
    /// Which one (job uuid, key path, ...).
    pub resource: String,
    /// Project, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// From where (client address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// More detail; never secrets.
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// Filters for the audit log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// By this user.
    pub user: Option<String>,
    /// In this project.
    pub project: Option<String>,
    /// This action.
    pub action: Option<String>,
    /// This kind of resource.
    pub resource_type: Option<String>,
    /// This resource.
    pub resource: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
    /// Page offset.
    pub offset: u64,
    /// Page size (0 = default 20).
    pub max: u64,
}
