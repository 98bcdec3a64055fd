//! `MemoryStore`: a complete [`Store`] kept in process memory. Used by the CLI
//! for one-off runs, by embedders who need no persistence, and by tests.

use crate::error::{Error, Result};
use crate::model::{Execution, ExecutionStatus, Job, JobSummary, LogEvent, Node, Project};
use crate::store::{
    AclPolicy, ApiToken, AuditEvent, AuditQuery, ExecutionClaim, ExecutionQuery, FireOutcome,
    JobQuery, LogPage, Page, ServerHeartbeat, Store, StoredKey, Trigger, TriggerFire, User,
    Webhook,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::Duration;

#[derive(Debug, Default)]
struct Inner {
    projects: BTreeMap<String, Project>,
    /// project -> source -> nodes
    nodes: BTreeMap<String, BTreeMap<String, Vec<Node>>>,
    /// project -> uuid -> job
    jobs: BTreeMap<String, BTreeMap<String, Job>>,
    executions: BTreeMap<u64, Execution>,
    logs: BTreeMap<u64, Vec<LogEvent>>,
    keys: BTreeMap<String, StoredKey>,
    next_execution: u64,
    known_hosts: BTreeMap<String, String>,
    triggers: BTreeMap<String, Trigger>,
    servers: BTreeMap<String, ServerHeartbeat>,
    users: BTreeMap<String, User>,
    /// id -> token
    tokens: BTreeMap<String, ApiToken>,
    /// (project, name) -> policy
    acl: BTreeMap<(Option<String>, String), AclPolicy>,
    audit: Vec<AuditEvent>,
    /// id -> webhook
    webhooks: BTreeMap<String, Webhook>,
    /// project -> job revision (kept when the project is deleted)
    job_revisions: BTreeMap<String, u64>,
}

impl Inner {
    fn raise_job_revision(&mut self, project: &str) {
        *self.job_revisions.entry(project.to_owned()).or_default() += 1;
    }

    fn insert_execution(&mut self, execution: &Execution) -> u64 {
        self.next_execution += 1;
        let id = self.next_execution;
        let mut e = execution.clone();
        e.id = id;
        self.executions.insert(id, e);
        self.logs.insert(id, Vec::new());
        id
    }
}

fn not_found(kind: &'static str, id: &str) -> Error {
    Error::NotFound {
        kind,
        id: id.into(),
    }
}

fn page_of<T: Clone>(all: Vec<&T>, offset: u64, max: u64) -> Page<T> {
    let max = if max == 0 { 20 } else { max };
    Page {
        total: all.len() as u64,
        items: all
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(max).unwrap_or(usize::MAX))
            .cloned()
            .collect(),
        offset,
        max,
    }
}

/// A [`Store`] in memory. Cheap to create; everything is lost when dropped.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, Inner>> {
        self.inner
            .read()
            .map_err(|_| Error::Store("memory store lock poisoned".into()))
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, Inner>> {
        self.inner
            .write()
            .map_err(|_| Error::Store("memory store lock poisoned".into()))
    }
}

fn job_matches(job: &Job, q: &JobQuery) -> bool {
    match &job.uuid {
        Some(u) => q.matches(u, job.group.as_deref(), &job.name),
        None => q.ids.is_empty() && q.matches("", job.group.as_deref(), &job.name),
    }
}

fn execution_matches(inner: &Inner, e: &Execution, q: &ExecutionQuery) -> bool {
    if q.project.as_ref().is_some_and(|p| p != &e.project) {
        return false;
    }
    if !q.job_ids.is_empty() && !e.job_id.as_ref().is_some_and(|j| q.job_ids.contains(j)) {
        return false;
    }
    if let Some(adhoc) = q.adhoc {
        if adhoc != e.job_id.is_none() {
            return false;
        }
    }
    if q.user.as_ref().is_some_and(|u| u != &e.user) {
        return false;
    }
    if q.status.as_ref().is_some_and(|s| s != &e.status) {
        return false;
    }
    if q.begin.is_some_and(|b| e.date_started < b) || q.end.is_some_and(|x| e.date_started >= x) {
        return false;
    }
    if q.group_path.is_some() || q.job_name_contains.is_some() {
        let job = e
            .job_id
            .as_ref()
            .and_then(|id| inner.jobs.get(&e.project).and_then(|js| js.get(id)));
        let Some(job) = job else { return false };
        if let Some(p) = &q.group_path {
            let q = JobQuery {
                group_path: Some(p.clone()),
                ..JobQuery::default()
            };
            if !q.matches("", job.group.as_deref(), &job.name) {
                return false;
            }
        }
        if let Some(n) = &q.job_name_contains {
            if !job.name.to_lowercase().contains(&n.to_lowercase()) {
                return false;
            }
        }
    }
    true
}

#[async_trait]
impl Store for MemoryStore {
    async fn create_project(&self, project: &Project) -> Result<()> {
        let mut inner = self.write()?;
        if inner.projects.contains_key(&project.name) {
            return Err(Error::Conflict(format!(
                "project {:?} exists",
                project.name
            )));
        }
        inner.projects.insert(project.name.clone(), project.clone());
        Ok(())
    }

    async fn update_project(&self, project: &Project) -> Result<()> {
        let mut inner = self.write()?;
        match inner.projects.get_mut(&project.name) {
            Some(p) => {
                *p = project.clone();
                Ok(())
            }
            None => Err(Error::NotFound {
                kind: "project",
                id: project.name.clone(),
            }),
        }
    }

    async fn get_project(&self, name: &str) -> Result<Option<Project>> {
        Ok(self.read()?.projects.get(name).cloned())
    }

    async fn list_projects(&self) -> Result<Vec<Project>> {
        Ok(self.read()?.projects.values().cloned().collect())
    }

    async fn delete_project(&self, name: &str) -> Result<()> {
        let mut inner = self.write()?;
        if inner.projects.remove(name).is_none() {
            return Err(Error::NotFound {
                kind: "project",
                id: name.into(),
            });
        }
        inner.nodes.remove(name);
        inner.jobs.remove(name);
        inner.raise_job_revision(name);
        inner.triggers.retain(|_, t| t.project != name);
        inner.acl.retain(|(p, _), _| p.as_deref() != Some(name));
        inner.webhooks.retain(|_, w| w.project != name);
        let ids: Vec<u64> = inner
            .executions
            .values()
            .filter(|e| e.project == name)
            .map(|e| e.id)
            .collect();
        for id in ids {
            inner.executions.remove(&id);
            inner.logs.remove(&id);
        }
        Ok(())
    }

    async fn replace_nodes(&self, project: &str, source: &str, nodes: &[Node]) -> Result<()> {
        self.write()?
            .nodes
            .entry(project.into())
            .or_default()
            .insert(source.into(), nodes.to_vec());
        Ok(())
    }

    async fn list_nodes(&self, project: &str) -> Result<Vec<Node>> {
        let inner = self.read()?;
        let mut merged: BTreeMap<String, Node> = BTreeMap::new();
        if let Some(sources) = inner.nodes.get(project) {
            for nodes in sources.values() {
                for n in nodes {
                    merged.insert(n.name.clone(), n.clone());
                }
            }
        }
        Ok(merged.into_values().collect())
    }

    async fn put_job(&self, project: &str, job: &Job) -> Result<Job> {
        let mut job = job.clone();
        let id = job
            .uuid
            .get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
            .clone();
        job.project = Some(project.into());
        let mut inner = self.write()?;
        // uuids are unique across projects, as in the SQL store
        if inner
            .jobs
            .iter()
            .any(|(p, js)| p != project && js.contains_key(&id))
        {
            return Err(Error::Conflict(format!(
                "job uuid {id} is taken by a job of another project"
            )));
        }
        let jobs = inner.jobs.entry(project.into()).or_default();
        if let Some(other) = jobs
            .values()
            .find(|j| j.uuid.as_deref() != Some(&id) && j.name == job.name && j.group == job.group)
        {
            return Err(Error::Conflict(format!(
                "job {:?} already exists with uuid {}",
                job.full_name(),
                other.uuid.as_deref().unwrap_or("")
            )));
        }
        jobs.insert(id, job.clone());
        inner.raise_job_revision(project);
        Ok(job)
    }

    async fn uuid_taken(&self, uuid: &str) -> Result<bool> {
        Ok(self.read()?.jobs.values().any(|js| js.contains_key(uuid)))
    }

    async fn get_job(&self, project: &str, id: &str) -> Result<Option<Job>> {
        Ok(self
            .read()?
            .jobs
            .get(project)
            .and_then(|j| j.get(id))
            .cloned())
    }

    async fn find_job(
        &self,
        project: &str,
        group: Option<&str>,
        name: &str,
    ) -> Result<Option<Job>> {
        let group = group.filter(|g| !g.is_empty());
        Ok(self.read()?.jobs.get(project).and_then(|js| {
            js.values()
                .find(|j| j.name == name && j.group.as_deref().filter(|g| !g.is_empty()) == group)
                .cloned()
        }))
    }

    async fn list_jobs(&self, project: &str, query: &JobQuery) -> Result<Vec<Job>> {
        let inner = self.read()?;
        let mut jobs: Vec<Job> = inner
            .jobs
            .get(project)
            .map(|js| {
                js.values()
                    .filter(|j| job_matches(j, query))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        jobs.sort_by(|a, b| (&a.group, &a.name).cmp(&(&b.group, &b.name)));
        Ok(jobs)
    }

    async fn list_job_summaries(&self, project: &str, query: &JobQuery) -> Result<Vec<JobSummary>> {
        let inner = self.read()?;
        let mut jobs: Vec<&Job> = inner
            .jobs
            .get(project)
            .map(|js| js.values().filter(|j| job_matches(j, query)).collect())
            .unwrap_or_default();
        jobs.sort_by(|a, b| (&a.group, &a.name).cmp(&(&b.group, &b.name)));
        Ok(jobs.into_iter().map(Job::summary).collect())
    }

    async fn delete_job(&self, project: &str, id: &str) -> Result<()> {
        let mut inner = self.write()?;
        inner
            .jobs
            .get_mut(project)
            .and_then(|js| js.remove(id))
            .ok_or_else(|| Error::NotFound {
                kind: "job",
                id: id.into(),
            })?;
        inner.raise_job_revision(project);
        Ok(())
    }

    async fn job_revision(&self, project: &str) -> Result<Option<u64>> {
        Ok(Some(
            self.read()?
                .job_revisions
                .get(project)
                .copied()
                .unwrap_or(0),
        ))
    }

    async fn create_execution(&self, execution: &Execution) -> Result<u64> {
        Ok(self.write()?.insert_execution(execution))
    }

    async fn update_execution(&self, execution: &Execution) -> Result<()> {
        let mut inner = self.write()?;
        match inner.executions.get_mut(&execution.id) {
            Some(e) => {
                *e = execution.clone();
                Ok(())
            }
            None => Err(Error::NotFound {
                kind: "execution",
                id: execution.id.to_string(),
            }),
        }
    }

    async fn get_execution(&self, id: u64) -> Result<Option<Execution>> {
        Ok(self.read()?.executions.get(&id).cloned())
    }

    async fn query_executions(&self, query: &ExecutionQuery) -> Result<Page<Execution>> {
        let inner = self.read()?;
        let max = if query.max == 0 { 20 } else { query.max };
        let mut matching: Vec<&Execution> = inner
            .executions
            .values()
            .filter(|e| execution_matches(&inner, e, query))
            .collect();
        matching.sort_by_key(|e| std::cmp::Reverse((e.date_started, e.id)));
        let total = matching.len() as u64;
        let items = matching
            .into_iter()
            .skip(query.offset as usize)
            .take(max as usize)
            .cloned()
            .collect();
        Ok(Page {
            items,
            total,
            offset: query.offset,
            max,
        })
    }

    async fn delete_execution(&self, id: u64) -> Result<()> {
        let mut inner = self.write()?;
        inner.logs.remove(&id);
        inner
            .executions
            .remove(&id)
            .map(|_| ())
            .ok_or_else(|| Error::NotFound {
                kind: "execution",
                id: id.to_string(),
            })
    }

    async fn append_log(&self, id: u64, events: &[LogEvent]) -> Result<()> {
        let mut inner = self.write()?;
        let log = inner.logs.get_mut(&id).ok_or_else(|| Error::NotFound {
            kind: "execution",
            id: id.to_string(),
        })?;
        log.extend_from_slice(events);
        Ok(())
    }

    async fn read_log(&self, id: u64, offset: u64, limit: usize) -> Result<LogPage> {
        let inner = self.read()?;
        let log = inner.logs.get(&id).ok_or_else(|| Error::NotFound {
            kind: "execution",
            id: id.to_string(),
        })?;
        let start = (offset as usize).min(log.len());
        let events: Vec<LogEvent> = log[start..].iter().take(limit).cloned().collect();
        Ok(LogPage {
            next_offset: (start + events.len()) as u64,
            events,
        })
    }

    async fn log_length(&self, id: u64) -> Result<u64> {
        let inner = self.read()?;
        let log = inner.logs.get(&id).ok_or_else(|| Error::NotFound {
            kind: "execution",
            id: id.to_string(),
        })?;
        Ok(log.len() as u64)
    }

    async fn put_key(&self, key: &StoredKey) -> Result<()> {
        self.write()?.keys.insert(key.path.clone(), key.clone());
        Ok(())
    }

    async fn get_key(&self, path: &str) -> Result<Option<StoredKey>> {
        Ok(self.read()?.keys.get(path).cloned())
    }

    async fn list_keys(&self, prefix: &str) -> Result<Vec<StoredKey>> {
        Ok(self
            .read()?
            .keys
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect())
    }

    async fn delete_key(&self, path: &str) -> Result<()> {
        self.write()?
            .keys
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| Error::NotFound {
                kind: "key",
                id: path.into(),
            })
    }

    async fn get_known_host(&self, host: &str) -> Result<Option<String>> {
        Ok(self.read()?.known_hosts.get(host).cloned())
    }

    async fn put_known_host(&self, host: &str, key: &str) -> Result<()> {
        self.write()?
            .known_hosts
            .insert(host.to_owned(), key.to_owned());
        Ok(())
    }

    async fn delete_known_host(&self, host: &str) -> Result<bool> {
        Ok(self.write()?.known_hosts.remove(host).is_some())
    }

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
                let busy = inner.executions.values().find(|e| {
                    e.job_id.as_deref() == Some(job_id)
                        && matches!(e.status, ExecutionStatus::Running | ExecutionStatus::Queued)
                });
                if let Some(e) = busy {
                    return Ok(FireOutcome::Busy(e.id));
                }
            }
        }
        let ids = fire
            .executions
            .iter()
            .map(|e| inner.insert_execution(e))
            .collect();
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

    async fn heartbeat(&self, beat: &ServerHeartbeat) -> Result<()> {
        self.write()?
            .servers
            .insert(beat.server.clone(), beat.clone());
        Ok(())
    }

    async fn list_servers(&self) -> Result<Vec<ServerHeartbeat>> {
        Ok(self.read()?.servers.values().cloned().collect())
    }

    async fn delete_server(&self, server: &str) -> Result<()> {
        self.write()?
            .servers
            .remove(server)
            .map(|_| ())
            .ok_or_else(|| not_found("server", server))
    }

    async fn claim_executions(
        &self,
        server: &str,
        claim: &ExecutionClaim,
        limit: usize,
    ) -> Result<Vec<Execution>> {
        let mut inner = self.write()?;
        Ok(inner
            .executions
            .values_mut()
            .filter(|e| {
                e.status == claim.status
                    && e.server_uuid == claim.owner
                    && claim.due_by.is_none_or(|d| e.date_started <= d)
                    && claim
                        .job_id
                        .as_ref()
                        .is_none_or(|j| e.job_id.as_ref() == Some(j))
            })
            .take(limit)
            .map(|e| {
                e.server_uuid = Some(server.to_owned());
                e.clone()
            })
            .collect())
    }

    async fn put_user(&self, user: &User) -> Result<()> {
        self.write()?.users.insert(user.login.clone(), user.clone());
        Ok(())
    }

    async fn get_user(&self, login: &str) -> Result<Option<User>> {
        Ok(self.read()?.users.get(login).cloned())
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        Ok(self.read()?.users.values().cloned().collect())
    }

    async fn delete_user(&self, login: &str) -> Result<()> {
        let mut inner = self.write()?;
        inner
            .users
            .remove(login)
            .ok_or_else(|| not_found("user", login))?;
        inner.tokens.retain(|_, t| t.user != login);
        Ok(())
    }

    async fn create_token(&self, token: &ApiToken) -> Result<()> {
        let mut inner = self.write()?;
        if inner.tokens.contains_key(&token.id)
            || inner
                .tokens
                .values()
                .any(|t| t.token_hash == token.token_hash)
        {
            return Err(Error::Conflict(format!("token {:?} exists", token.id)));
        }
        inner.tokens.insert(token.id.clone(), token.clone());
        Ok(())
    }

    async fn find_token(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        Ok(self
            .read()?
            .tokens
            .values()
            .find(|t| t.token_hash == token_hash)
            .cloned())
    }

    async fn list_tokens(&self, user: Option<&str>) -> Result<Vec<ApiToken>> {
        let mut list: Vec<ApiToken> = self
            .read()?
            .tokens
            .values()
            .filter(|t| user.is_none_or(|u| u == t.user))
            .cloned()
            .collect();
        list.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(list)
    }

    async fn delete_token(&self, id: &str) -> Result<()> {
        self.write()?
            .tokens
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| not_found("token", id))
    }

    async fn put_acl_policy(&self, policy: &AclPolicy) -> Result<()> {
        self.write()?.acl.insert(
            (policy.project.clone(), policy.name.clone()),
            policy.clone(),
        );
        Ok(())
    }

    async fn get_acl_policy(&self, project: Option<&str>, name: &str) -> Result<Option<AclPolicy>> {
        Ok(self
            .read()?
            .acl
            .get(&(project.map(str::to_owned), name.to_owned()))
            .cloned())
    }

    async fn list_acl_policies(&self, project: Option<&str>) -> Result<Vec<AclPolicy>> {
        Ok(self
            .read()?
            .acl
            .values()
            .filter(|p| p.project.as_deref() == project)
            .cloned()
            .collect())
    }

    async fn delete_acl_policy(&self, project: Option<&str>, name: &str) -> Result<()> {
        self.write()?
            .acl
            .remove(&(project.map(str::to_owned), name.to_owned()))
            .map(|_| ())
            .ok_or_else(|| not_found("ACL policy", name))
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<u64> {
        let mut inner = self.write()?;
        let id = inner.audit.len() as u64 + 1;
        let mut e = event.clone();
        e.id = id;
        inner.audit.push(e);
        Ok(id)
    }

    async fn query_audit(&self, q: &AuditQuery) -> Result<Page<AuditEvent>> {
        let inner = self.read()?;
        let all: Vec<&AuditEvent> = inner
            .audit
            .iter()
            .rev()
            .filter(|e| {
                q.user.as_ref().is_none_or(|x| x == &e.user)
                    && q.project
                        .as_ref()
                        .is_none_or(|x| e.project.as_ref() == Some(x))
                    && q.action.as_ref().is_none_or(|x| x == &e.action)
                    && q.resource_type
                        .as_ref()
                        .is_none_or(|x| x == &e.resource_type)
                    && q.resource.as_ref().is_none_or(|x| x == &e.resource)
                    && q.since.is_none_or(|x| e.time >= x)
                    && q.until.is_none_or(|x| e.time < x)
            })
            .collect();
        Ok(page_of(all, q.offset, q.max))
    }

    async fn put_webhook(&self, hook: &Webhook) -> Result<()> {
        let mut inner = self.write()?;
        if let Some(other) = inner.webhooks.values().find(|w| {
            w.id != hook.id
                && ((w.project == hook.project && w.name == hook.name)
                    || w.token_hash == hook.token_hash)
        }) {
            let why = if other.token_hash == hook.token_hash {
                "its token is taken".to_owned()
            } else {
                format!(
                    "project {} has a webhook named {:?}",
                    hook.project, hook.name
                )
            };
            return Err(Error::Conflict(format!("webhook {}: {why}", hook.id)));
        }
        inner.webhooks.insert(hook.id.clone(), hook.clone());
        Ok(())
    }

    async fn get_webhook(&self, id: &str) -> Result<Option<Webhook>> {
        Ok(self.read()?.webhooks.get(id).cloned())
    }

    async fn find_webhook(&self, token_hash: &str) -> Result<Option<Webhook>> {
        Ok(self
            .read()?
            .webhooks
            .values()
            .find(|w| w.token_hash == token_hash)
            .cloned())
    }

    async fn list_webhooks(&self, project: &str) -> Result<Vec<Webhook>> {
        let mut list: Vec<Webhook> = self
            .read()?
            .webhooks
            .values()
            .filter(|w| w.project == project)
            .cloned()
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(list)
    }

    async fn delete_webhook(&self, id: &str) -> Result<()> {
        self.write()?
            .webhooks
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| not_found("webhook", id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Step, Workflow};

    #[tokio::test]
    async fn jobs_executions_and_logs() -> Result<()> {
        let s = MemoryStore::new();
        s.create_project(&Project::new("ops")).await?;
        assert!(s.create_project(&Project::new("ops")).await.is_err());
        let mut job = Job::new("deploy", Workflow::new(vec![Step::command("true")]));
        job.group = Some("web/prod".into());
        let stored = s.put_job("ops", &job).await?;
        let id = stored.uuid.clone().unwrap_or_default();
        assert!(s.put_job("ops", &job).await.is_err(), "same name, new uuid");
        // uuids are unique across projects, as in the SQL store
        assert!(s.uuid_taken(&id).await?);
        assert!(!s.uuid_taken("no-such-uuid").await?);
        match s.put_job("dev", &stored).await {
            Err(err @ Error::Conflict(_)) => {
                assert!(!err.to_string().contains("ops"), "{err}")
            }
            other => panic!("another project's uuid: {other:?}"),
        }
        assert!(s.get_job("dev", &id).await?.is_none());
        let q = JobQuery {
            group_path: Some("web".into()),
            ..JobQuery::default()
        };
        assert_eq!(s.list_jobs("ops", &q).await?.len(), 1);
        assert!(s
            .find_job("ops", Some("web/prod"), "deploy")
            .await?
            .is_some());

        let mut e = Execution::new("ops", "web/prod/deploy", "alice");
        e.job_id = Some(id);
        let eid = s.create_execution(&e).await?;
        let ev = LogEvent::system(crate::model::LogLevel::Info, None, None, "hello");
        s.append_log(eid, &[ev.clone(), ev.clone(), ev]).await?;
        let page = s.read_log(eid, 1, 10).await?;
        assert_eq!((page.events.len(), page.next_offset), (2, 3));
        let q = ExecutionQuery {
            job_name_contains: Some("DEP".into()),
            ..ExecutionQuery::default()
        };
        assert_eq!(s.query_executions(&q).await?.total, 1);
        s.delete_project("ops").await?;
        assert!(s.get_execution(eid).await?.is_none());
        Ok(())
    }
}
