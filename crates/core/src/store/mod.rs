//! The `Store` trait: everything Foredeck remembers.

use crate::error::Result;
use crate::model::{Execution, ExecutionStatus, Job, JobSummary, LogEvent, Node, Project};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

mod records;

pub use records::{
    AclPolicy, ApiToken, AuditEvent, AuditQuery, ExecutionClaim, FireOutcome, ServerHeartbeat,
    Trigger, TriggerFire, User, Webhook,
};

/// Filters for listing jobs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct JobQuery {
    /// Jobs in this group or below it (`ops` matches `ops` and `ops/db`).
    pub group_path: Option<String>,
    /// Only jobs directly in this group (`""` for top-level jobs).
    pub group_exact: Option<String>,
    /// Name contains this text (case-insensitive).
    pub name_contains: Option<String>,
    /// Exact name.
    pub name_exact: Option<String>,
    /// Only these uuids.
    pub ids: Vec<String>,
}

impl JobQuery {
    /// Whether a job with this uuid, group (`None` or `""` at the top level)
    /// and name matches, as every store filters.
    pub fn matches(&self, uuid: &str, group: Option<&str>, name: &str) -> bool {
        self.matcher().matches(uuid, group, name)
    }

    /// The query prepared for matching many jobs: the name text lowered
    /// and the uuids put in a set once rather than for every job.
    pub fn matcher(&self) -> JobMatcher<'_> {
        JobMatcher {
            query: self,
            name_lower: self.name_contains.as_deref().map(str::to_lowercase),
            ids: (self.ids.len() > 8).then(|| self.ids.iter().map(String::as_str).collect()),
        }
    }
}

/// A [`JobQuery`] prepared by [`JobQuery::matcher`].
#[derive(Debug)]
pub struct JobMatcher<'a> {
    query: &'a JobQuery,
    name_lower: Option<String>,
    ids: Option<std::collections::HashSet<&'a str>>,
}

impl JobMatcher<'_> {
    /// Whether a job with this uuid, group (`None` or `""` at the top level)
    /// and name matches.
    pub fn matches(&self, uuid: &str, group: Option<&str>, name: &str) -> bool {
        let q = self.query;
        let group = group.unwrap_or("");
        q.group_path.as_deref().is_none_or(|p| {
            p.is_empty() || group == p || group.strip_prefix(p).is_some_and(|r| r.starts_with('/'))
        }) && q.group_exact.as_deref().is_none_or(|g| group == g)
            && self
                .name_lower
                .as_deref()
                .is_none_or(|n| contains_lowercase(name, n))
            && q.name_exact.as_deref().is_none_or(|n| name == n)
            && (q.ids.is_empty()
                || match &self.ids {
                    Some(set) => set.contains(uuid),
                    None => q.ids.iter().any(|i| i == uuid),
                })
    }
}

/// Whether `text`, lowered, contains `needle` (already lowered); without an
/// allocation when `text` is ASCII.
fn contains_lowercase(text: &str, needle: &str) -> bool {
    if text.is_ascii() {
        let (t, n) = (text.as_bytes(), needle.as_bytes());
        n.is_empty()
            || (n.len() <= t.len()
                && t.windows(n.len())
                    .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b)))
    } else {
        text.to_lowercase().contains(needle)
    }
}

/// Filters for the execution history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionQuery {
    /// Project.
    pub project: Option<String>,
    /// Job uuid(s).
    pub job_ids: Vec<String>,
    /// Jobs in this group or below.
    pub group_path: Option<String>,
    /// Job name contains this text (case-insensitive).
    pub job_name_contains: Option<String>,
    /// Run by this user.
    pub user: Option<String>,
    /// In this status.
    pub status: Option<ExecutionStatus>,
    /// Started at or after.
    pub begin: Option<DateTime<Utc>>,
    /// Started before.
    pub end: Option<DateTime<Utc>>,
    /// `Some(true)`: ad-hoc only; `Some(false)`: job executions only.
    pub adhoc: Option<bool>,
    /// Page offset.
    pub offset: u64,
    /// Page size (0 = default 20).
    pub max: u64,
}

impl ExecutionQuery {
    /// Rundeck's `recentFilter`: executions started within a period before
    /// `now`, written as a number and a unit: `h` hours, `d` days, `w` weeks,
    /// `m` months (30 days), `y` years (365 days); `30n` for minutes and
    /// `45s` for seconds as Rundeck also accepts. Sets `begin` and clears
    /// `end`.
    pub fn recent(mut self, spec: &str, now: DateTime<Utc>) -> Result<Self> {
        self.begin = Some(now - parse_recent(spec)?);
        self.end = None;
        Ok(self)
    }
}

/// A `recentFilter` period (`2w`, `12h`); an error naming the value otherwise.
pub fn parse_recent(spec: &str) -> Result<chrono::Duration> {
    let bad = |why: &str| {
        crate::Error::format(
            "recentFilter",
            format!("{spec:?}: {why} (expected a number and one of s, n, h, d, w, m, y, as in 2w)"),
        )
    };
    let spec = spec.trim();
    let unit = spec.chars().last().ok_or_else(|| bad("empty"))?;
    let digits = &spec[..spec.len() - unit.len_utf8()];
    let n: i64 = digits
        .parse()
        .ok()
        .filter(|n| *n >= 0 && digits.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| bad("not a whole number"))?;
    let seconds_per = match unit {
        's' => 1,
        'n' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        'm' => 30 * 86_400,
        'y' => 365 * 86_400,
        _ => return Err(bad("unknown unit")),
    };
    n.checked_mul(seconds_per)
        .and_then(chrono::Duration::try_seconds)
        .ok_or_else(|| bad("too long"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod recent_tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn recent_periods() {
        let now = Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap();
        for (spec, secs) in [
            ("2w", 14 * 86_400),
            ("1d", 86_400),
            ("12h", 43_200),
            ("30n", 1_800),
            ("45s", 45),
            ("1m", 30 * 86_400),
            ("1y", 365 * 86_400),
            (" 3d ", 3 * 86_400),
            ("0h", 0),
        ] {
            let q = ExecutionQuery {
                end: Some(now),
                ..Default::default()
            }
            .recent(spec, now)
            .unwrap();
            assert_eq!(
                q.begin,
                Some(now - chrono::Duration::seconds(secs)),
                "{spec}"
            );
            assert_eq!(q.end, None);
        }
        for bad in [
            "",
            "w",
            "2",
            "2x",
            "-2d",
            "+2d",
            "1.5d",
            "99999999999999999y",
            "２d",
        ] {
            let e = parse_recent(bad).unwrap_err().to_string();
            assert!(e.contains("recentFilter"), "{bad}: {e}");
        }
    }
}

/// A page of results.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Matching items in all pages.
    pub total: u64,
    /// Offset of the first item.
    pub offset: u64,
    /// Page size asked for.
    pub max: u64,
}

/// A slice of an execution's log.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogPage {
    /// Events from `offset` on.
    pub events: Vec<LogEvent>,
    /// Offset to read from next.
    pub next_offset: u64,
}

/// What a key-storage entry holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// A private key: never readable through any API.
    Private,
    /// A public key: readable.
    Public,
    /// A password: never readable through any API.
    Password,
}

/// A key-storage entry as stored: ciphertext only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey {
    /// Path (`keys/project/ops/db.pem`).
    pub path: String,
    /// Kind of secret.
    pub key_type: KeyType,
    /// Encrypted content, bound to `path`.
    pub ciphertext: Vec<u8>,
    /// Created.
    pub created: DateTime<Utc>,
    /// Last modified.
    pub modified: DateTime<Utc>,
}

/// Persistence of projects, nodes, jobs, executions, logs and keys.
/// Implemented in memory (`MemoryStore`) and on SQL databases (foredeck-store).
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Creates a project; a conflict if it exists.
    async fn create_project(&self, project: &Project) -> Result<()>;
    /// Replaces a project's description and configuration.
    async fn update_project(&self, project: &Project) -> Result<()>;
    /// A project by name.
    async fn get_project(&self, name: &str) -> Result<Option<Project>>;
    /// All projects, by name.
    async fn list_projects(&self) -> Result<Vec<Project>>;
    /// Deletes a project with its nodes, jobs and executions.
    async fn delete_project(&self, name: &str) -> Result<()>;

    /// Replaces the nodes that one source contributes to a project.
    async fn replace_nodes(&self, project: &str, source: &str, nodes: &[Node]) -> Result<()>;
    /// The project's nodes: sources in name order, a later source's node
    /// replacing an earlier one of the same name; sorted by node name.
    async fn list_nodes(&self, project: &str) -> Result<Vec<Node>>;

    /// Creates or replaces a job (by uuid; a uuid is assigned if missing) and
    /// returns it as stored.
    async fn put_job(&self, project: &str, job: &Job) -> Result<Job>;
    /// A job by uuid.
    async fn get_job(&self, project: &str, id: &str) -> Result<Option<Job>>;
    /// A job by group and name.
    async fn find_job(&self, project: &str, group: Option<&str>, name: &str)
        -> Result<Option<Job>>;
    /// Jobs matching a query, by group then name.
    async fn list_jobs(&self, project: &str, query: &JobQuery) -> Result<Vec<Job>>;
    /// The summaries of the jobs matching a query, by group then name: what
    /// job lists and access checks need, without whole definitions. The
    /// provided method summarizes [`list_jobs`](Self::list_jobs); stores
    /// override it when they can answer without building every job.
    async fn list_job_summaries(&self, project: &str, query: &JobQuery) -> Result<Vec<JobSummary>> {
        Ok(self
            .list_jobs(project, query)
            .await?
            .iter()
            .map(Job::summary)
            .collect())
    }
    /// Deletes a job (its executions stay).
    async fn delete_job(&self, project: &str, id: &str) -> Result<()>;
    /// Whether a job of any project has this uuid: job uuids are unique
    /// across projects, so an import can refuse a taken uuid without reading
    /// (or naming) the project that holds it. The provided method asks every
    /// project; stores override it with one lookup.
    async fn uuid_taken(&self, uuid: &str) -> Result<bool> {
        for p in self.list_projects().await? {
            if self.get_job(&p.name, uuid).await?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }
    /// A number raised with every change to a project's jobs, and never
    /// lowered (a project deleted and made again under its name goes on
    /// from it), read in one cheap step: what a caller derives from the
    /// project's jobs at one revision holds while it stays. `None`: the
    /// store keeps no revision (the provided method), so nothing derived
    /// from its jobs may be kept.
    async fn job_revision(&self, project: &str) -> Result<Option<u64>> {
        let _ = project;
        Ok(None)
    }

    /// Stores a new execution and returns its id.
    async fn create_execution(&self, execution: &Execution) -> Result<u64>;
    /// Replaces an execution record (status, state, end time).
    async fn update_execution(&self, execution: &Execution) -> Result<()>;
    /// An execution by id.
    async fn get_execution(&self, id: u64) -> Result<Option<Execution>>;
    /// Executions matching a query, newest first: by start time, then by id,
    /// both descending.
    async fn query_executions(&self, query: &ExecutionQuery) -> Result<Page<Execution>>;
    /// Deletes an execution and its log.
    async fn delete_execution(&self, id: u64) -> Result<()>;

    /// Appends log events to an execution's log, all or none.
    async fn append_log(&self, id: u64, events: &[LogEvent]) -> Result<()>;
    /// Reads up to `limit` events from `offset` (an event index); fewer
    /// than `limit` only where the stored log ends.
    async fn read_log(&self, id: u64, offset: u64, limit: usize) -> Result<LogPage>;
    /// Number of events in an execution's log (not-found when the execution
    /// does not exist). The provided method finds it with O(log n) one-event
    /// reads; stores that count appends override it.
    async fn log_length(&self, id: u64) -> Result<u64> {
        log_length_by_reads(self, id).await
    }
    /// The last `n` events of an execution's log (all of it when shorter),
    /// `next_offset` where the log ends (not-found when the execution does
    /// not exist). The provided method reads the length, then the events;
    /// stores that can find both in one read override it.
    async fn read_log_tail(&self, id: u64, n: usize) -> Result<LogPage> {
        let len = self.log_length(id).await?;
        if n == 0 {
            return Ok(LogPage {
                events: Vec::new(),
                next_offset: len,
            });
        }
        self.read_log(id, len.saturating_sub(n as u64), n).await
    }

    /// Stores or replaces a key-storage entry.
    async fn put_key(&self, key: &StoredKey) -> Result<()>;
    /// A key-storage entry by path.
    async fn get_key(&self, path: &str) -> Result<Option<StoredKey>>;
    /// Entries under a path prefix (ciphertext included; callers must not return it).
    async fn list_keys(&self, prefix: &str) -> Result<Vec<StoredKey>>;
    /// Deletes an entry; not-found if missing.
    async fn delete_key(&self, path: &str) -> Result<()>;

    /// The known host key of `host` (`host` or `[host]:port`), OpenSSH text.
    async fn get_known_host(&self, host: &str) -> Result<Option<String>>;
    /// Records (or replaces) the key of `host`.
    async fn put_known_host(&self, host: &str, key: &str) -> Result<()>;
    /// Forgets the learned key of `host`; whether there was one.
    async fn delete_known_host(&self, host: &str) -> Result<bool>;

    /// Creates or replaces a trigger (any claim on it is dropped).
    async fn put_trigger(&self, trigger: &Trigger) -> Result<()>;
    /// A trigger by id.
    async fn get_trigger(&self, id: &str) -> Result<Option<Trigger>>;
    /// Triggers of a project (all with `None`), by next fire time.
    async fn list_triggers(&self, project: Option<&str>) -> Result<Vec<Trigger>>;
    /// Deletes a trigger; not-found if missing.
    async fn delete_trigger(&self, id: &str) -> Result<()>;
    /// Claims for `server`, until `now + lease`, up to `limit` enabled
    /// triggers due at `now` that no one else holds a live claim on, earliest
    /// first. With several servers on one database each due trigger goes to
    /// exactly one of them.
    async fn claim_due_triggers(
        &self,
        server: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Trigger>>;
    /// Drops `server`'s claim on a trigger without firing it.
    async fn release_trigger(&self, id: &str, server: &str) -> Result<()>;
    /// Fires a claimed trigger in one transaction: creates the executions,
    /// then advances (or deletes) the trigger and drops the claim. Changes
    /// nothing and says why ([`FireOutcome::Lost`]) when `server` no longer
    /// holds the claim or the trigger's fire time is no longer
    /// `fire.fire_time`, or ([`FireOutcome::Busy`]) when `fire.exclusive` is
    /// set and the trigger's job has a running or queued execution.
    async fn fire_trigger(&self, fire: &TriggerFire) -> Result<FireOutcome>;

    /// Records a server's heartbeat (creating or replacing its row).
    async fn heartbeat(&self, beat: &ServerHeartbeat) -> Result<()>;
    /// Every server that has heartbeated and not been removed.
    async fn list_servers(&self) -> Result<Vec<ServerHeartbeat>>;
    /// Removes a server's row (after its work was taken over).
    async fn delete_server(&self, server: &str) -> Result<()>;
    /// Makes `server` the owner of up to `limit` executions that match
    /// `claim`, oldest first, and returns them as claimed. Each matching
    /// execution goes to exactly one claimer.
    async fn claim_executions(
        &self,
        server: &str,
        claim: &ExecutionClaim,
        limit: usize,
    ) -> Result<Vec<Execution>>;

    /// Creates or replaces a user.
    async fn put_user(&self, user: &User) -> Result<()>;
    /// A user by login.
    async fn get_user(&self, login: &str) -> Result<Option<User>>;
    /// All users, by login.
    async fn list_users(&self) -> Result<Vec<User>>;
    /// Deletes a user (and their tokens); not-found if missing.
    async fn delete_user(&self, login: &str) -> Result<()>;

    /// Stores a new token; a conflict if its id or hash exists.
    async fn create_token(&self, token: &ApiToken) -> Result<()>;
    /// The token whose secret hashes to `token_hash`.
    async fn find_token(&self, token_hash: &str) -> Result<Option<ApiToken>>;
    /// Tokens of a user (all with `None`), by creation time.
    async fn list_tokens(&self, user: Option<&str>) -> Result<Vec<ApiToken>>;
    /// Deletes a token by id; not-found if missing.
    async fn delete_token(&self, id: &str) -> Result<()>;

    /// Creates or replaces an ACL policy.
    async fn put_acl_policy(&self, policy: &AclPolicy) -> Result<()>;
    /// An ACL policy by project (`None`: system) and name.
    async fn get_acl_policy(&self, project: Option<&str>, name: &str) -> Result<Option<AclPolicy>>;
    /// The policies of a project (`None`: system policies), by name.
    async fn list_acl_policies(&self, project: Option<&str>) -> Result<Vec<AclPolicy>>;
    /// Deletes an ACL policy; not-found if missing.
    async fn delete_acl_policy(&self, project: Option<&str>, name: &str) -> Result<()>;

    /// Appends an audit event and returns its id.
    async fn append_audit(&self, event: &AuditEvent) -> Result<u64>;
    /// Audit events matching a query, newest first.
    async fn query_audit(&self, query: &AuditQuery) -> Result<Page<AuditEvent>>;

    /// Creates or replaces a webhook (by id); a conflict when another
    /// webhook of the project has its name or any webhook its token hash.
    async fn put_webhook(&self, hook: &Webhook) -> Result<()>;
    /// A webhook by id.
    async fn get_webhook(&self, id: &str) -> Result<Option<Webhook>>;
    /// The webhook whose token hashes to `token_hash`.
    async fn find_webhook(&self, token_hash: &str) -> Result<Option<Webhook>>;
    /// The webhooks of a project, by name.
    async fn list_webhooks(&self, project: &str) -> Result<Vec<Webhook>>;
    /// Deletes a webhook; not-found if missing.
    async fn delete_webhook(&self, id: &str) -> Result<()>;
}

/// The number of events in a log found with one-event reads only: doubling,
/// then bisection (O(log n) reads). The provided
/// [`Store::log_length`].
pub async fn log_length_by_reads<S: Store + ?Sized>(store: &S, id: u64) -> Result<u64> {
    let has = |i: u64| async move {
        Ok::<_, crate::Error>(!store.read_log(id, i, 1).await?.events.is_empty())
    };
    // a missing execution is not-found here, as in read_log
    if !has(0).await? {
        return Ok(0);
    }
    // invariant: an event at `lo`, none at `hi`
    let (mut lo, mut hi) = (0u64, 1u64);
    while has(hi).await? {
        lo = hi;
        hi = hi.saturating_mul(2);
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if has(mid).await? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(hi)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod log_length_tests {
    use super::*;
    use crate::model::LogLevel;
    use crate::MemoryStore;

    #[tokio::test]
    async fn bisection_finds_every_length() {
        let s = MemoryStore::new();
        let id = s
            .create_execution(&Execution::new("ops", "x", "alice"))
            .await
            .unwrap();
        for n in 0..70u64 {
            assert_eq!(log_length_by_reads(&s, id).await.unwrap(), n);
            assert_eq!(s.log_length(id).await.unwrap(), n);
            let ev = LogEvent::system(LogLevel::Info, None, None, format!("line {n}"));
            s.append_log(id, &[ev]).await.unwrap();
        }
        assert!(log_length_by_reads(&s, 999).await.is_err());
    }
}

macro_rules! forward_store {
    ($($t:tt)*) => {
        #[async_trait]
        impl<T: Store + ?Sized> Store for $($t)* {
            async fn create_project(&self, p: &Project) -> Result<()> { (**self).create_project(p).await }
            async fn update_project(&self, p: &Project) -> Result<()> { (**self).update_project(p).await }
            async fn get_project(&self, n: &str) -> Result<Option<Project>> { (**self).get_project(n).await }
            async fn list_projects(&self) -> Result<Vec<Project>> { (**self).list_projects().await }
            async fn delete_project(&self, n: &str) -> Result<()> { (**self).delete_project(n).await }
            async fn replace_nodes(&self, p: &str, s: &str, n: &[Node]) -> Result<()> { (**self).replace_nodes(p, s, n).await }
            async fn list_nodes(&self, p: &str) -> Result<Vec<Node>> { (**self).list_nodes(p).await }
            async fn put_job(&self, p: &str, j: &Job) -> Result<Job> { (**self).put_job(p, j).await }
            async fn get_job(&self, p: &str, id: &str) -> Result<Option<Job>> { (**self).get_job(p, id).await }
            async fn find_job(&self, p: &str, g: Option<&str>, n: &str) -> Result<Option<Job>> { (**self).find_job(p, g, n).await }
            async fn list_jobs(&self, p: &str, q: &JobQuery) -> Result<Vec<Job>> { (**self).list_jobs(p, q).await }
            async fn list_job_summaries(&self, p: &str, q: &JobQuery) -> Result<Vec<JobSummary>> { (**self).list_job_summaries(p, q).await }
            async fn delete_job(&self, p: &str, id: &str) -> Result<()> { (**self).delete_job(p, id).await }
            async fn uuid_taken(&self, u: &str) -> Result<bool> { (**self).uuid_taken(u).await }
            async fn job_revision(&self, p: &str) -> Result<Option<u64>> { (**self).job_revision(p).await }
            async fn create_execution(&self, e: &Execution) -> Result<u64> { (**self).create_execution(e).await }
            async fn update_execution(&self, e: &Execution) -> Result<()> { (**self).update_execution(e).await }
            async fn get_execution(&self, id: u64) -> Result<Option<Execution>> { (**self).get_execution(id).await }
            async fn query_executions(&self, q: &ExecutionQuery) -> Result<Page<Execution>> { (**self).query_executions(q).await }
            async fn delete_execution(&self, id: u64) -> Result<()> { (**self).delete_execution(id).await }
            async fn append_log(&self, id: u64, e: &[LogEvent]) -> Result<()> { (**self).append_log(id, e).await }
            async fn read_log(&self, id: u64, o: u64, l: usize) -> Result<LogPage> { (**self).read_log(id, o, l).await }
            async fn log_length(&self, id: u64) -> Result<u64> { (**self).log_length(id).await }
            async fn read_log_tail(&self, id: u64, n: usize) -> Result<LogPage> { (**self).read_log_tail(id, n).await }
            async fn put_key(&self, k: &StoredKey) -> Result<()> { (**self).put_key(k).await }
            async fn get_key(&self, p: &str) -> Result<Option<StoredKey>> { (**self).get_key(p).await }
            async fn list_keys(&self, p: &str) -> Result<Vec<StoredKey>> { (**self).list_keys(p).await }
            async fn delete_key(&self, p: &str) -> Result<()> { (**self).delete_key(p).await }
            async fn get_known_host(&self, h: &str) -> Result<Option<String>> { (**self).get_known_host(h).await }
            async fn put_known_host(&self, h: &str, k: &str) -> Result<()> { (**self).put_known_host(h, k).await }
            async fn delete_known_host(&self, h: &str) -> Result<bool> { (**self).delete_known_host(h).await }
            async fn put_trigger(&self, t: &Trigger) -> Result<()> { (**self).put_trigger(t).await }
            async fn get_trigger(&self, id: &str) -> Result<Option<Trigger>> { (**self).get_trigger(id).await }
            async fn list_triggers(&self, p: Option<&str>) -> Result<Vec<Trigger>> { (**self).list_triggers(p).await }
            async fn delete_trigger(&self, id: &str) -> Result<()> { (**self).delete_trigger(id).await }
            async fn claim_due_triggers(&self, s: &str, n: DateTime<Utc>, l: Duration, m: usize) -> Result<Vec<Trigger>> { (**self).claim_due_triggers(s, n, l, m).await }
            async fn release_trigger(&self, id: &str, s: &str) -> Result<()> { (**self).release_trigger(id, s).await }
            async fn fire_trigger(&self, f: &TriggerFire) -> Result<FireOutcome> { (**self).fire_trigger(f).await }
            async fn heartbeat(&self, b: &ServerHeartbeat) -> Result<()> { (**self).heartbeat(b).await }
            async fn list_servers(&self) -> Result<Vec<ServerHeartbeat>> { (**self).list_servers().await }
            async fn delete_server(&self, s: &str) -> Result<()> { (**self).delete_server(s).await }
            async fn claim_executions(&self, s: &str, c: &ExecutionClaim, l: usize) -> Result<Vec<Execution>> { (**self).claim_executions(s, c, l).await }
            async fn put_user(&self, u: &User) -> Result<()> { (**self).put_user(u).await }
            async fn get_user(&self, l: &str) -> Result<Option<User>> { (**self).get_user(l).await }
            async fn list_users(&self) -> Result<Vec<User>> { (**self).list_users().await }
            async fn delete_user(&self, l: &str) -> Result<()> { (**self).delete_user(l).await }
            async fn create_token(&self, t: &ApiToken) -> Result<()> { (**self).create_token(t).await }
            async fn find_token(&self, h: &str) -> Result<Option<ApiToken>> { (**self).find_token(h).await }
            async fn list_tokens(&self, u: Option<&str>) -> Result<Vec<ApiToken>> { (**self).list_tokens(u).await }
            async fn delete_token(&self, id: &str) -> Result<()> { (**self).delete_token(id).await }
            async fn put_acl_policy(&self, p: &AclPolicy) -> Result<()> { (**self).put_acl_policy(p).await }
            async fn get_acl_policy(&self, p: Option<&str>, n: &str) -> Result<Option<AclPolicy>> { (**self).get_acl_policy(p, n).await }
            async fn list_acl_policies(&self, p: Option<&str>) -> Result<Vec<AclPolicy>> { (**self).list_acl_policies(p).await }
            async fn delete_acl_policy(&self, p: Option<&str>, n: &str) -> Result<()> { (**self).delete_acl_policy(p, n).await }
            async fn append_audit(&self, e: &AuditEvent) -> Result<u64> { (**self).append_audit(e).await }
            async fn query_audit(&self, q: &AuditQuery) -> Result<Page<AuditEvent>> { (**self).query_audit(q).await }
            async fn put_webhook(&self, h: &Webhook) -> Result<()> { (**self).put_webhook(h).await }
            async fn get_webhook(&self, id: &str) -> Result<Option<Webhook>> { (**self).get_webhook(id).await }
            async fn find_webhook(&self, h: &str) -> Result<Option<Webhook>> { (**self).find_webhook(h).await }
            async fn list_webhooks(&self, p: &str) -> Result<Vec<Webhook>> { (**self).list_webhooks(p).await }
            async fn delete_webhook(&self, id: &str) -> Result<()> { (**self).delete_webhook(id).await }
        }
    };
}

forward_store!(Arc<T>);
forward_store!(Box<T>);

#[cfg(test)]
mod job_query_tests {
    use super::*;

    #[test]
    fn names_match_case_insensitively_in_any_script() {
        let q = |n: &str| JobQuery {
            name_contains: Some(n.into()),
            ..JobQuery::default()
        };
        let cases = [
            ("Deploy-Web", "deploy", true),
            ("Deploy-Web", "LOY-w", true),
            ("Deploy-Web", "", true),
            ("Deploy-Web", "webs", false),
            ("web", "deploy-web", false),
            ("Größe prüfen", "GRÖSSE", false),
            ("Größe prüfen", "GRÖ", true),
            ("Größe prüfen", "PRÜF", true),
            ("plain ascii", "Ü", false),
            ("ÄRGER", "ärger", true),
        ];
        for (name, needle, want) in cases {
            assert_eq!(
                q(needle).matches("u", None, name),
                want,
                "{name:?} / {needle:?}"
            );
        }
    }

    #[test]
    fn ids_match_in_small_and_large_sets() {
        for n in [1, 8, 9, 50] {
            let q = JobQuery {
                ids: (0..n).map(|i| format!("id-{i}")).collect(),
                ..JobQuery::default()
            };
            let m = q.matcher();
            assert!(m.matches("id-0", None, "x"), "{n} ids");
            assert!(m.matches(&format!("id-{}", n - 1), None, "x"), "{n} ids");
            assert!(!m.matches(&format!("id-{n}"), None, "x"), "{n} ids");
            assert!(!m.matches("", None, "x"), "{n} ids");
        }
        let all = JobQuery::default();
        assert!(all.matches("anything", Some("a/b"), "x"));
    }

    #[test]
    fn groups_match_at_and_below_the_path() {
        let q = JobQuery {
            group_path: Some("ops".into()),
            ..JobQuery::default()
        };
        assert!(q.matches("u", Some("ops"), "x"));
        assert!(q.matches("u", Some("ops/db"), "x"));
        assert!(!q.matches("u", Some("opsx"), "x"));
        assert!(!q.matches("u", None, "x"));
    }
}
