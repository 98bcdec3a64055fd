//! Who is calling, what they may see, and the audit trail of what they did.
//!
//! Jobs are authorized as Rundeck does: resource kind `job` with the job's
//! `name`, `group` and `uuid`, in the job's project context; ad-hoc
//! executions as kind `adhoc`. A job the caller may neither `read` nor
//! `view` is answered as missing (404), so its name never leaks; a visible
//! job lacking the asked action is answered 403.

use crate::error::ApiError;
use crate::extract::Caller;
use crate::ApiState;
use foredeck_core::authorizer::{AuthContext, Resource, Subject};
use foredeck_core::{Execution, Job, JobSummary};
use std::sync::Arc;

/// A job as `.aclpolicy` rules match it (kind `job` with `name`, `group`
/// and `uuid`): a whole definition or its summary.
pub(crate) trait AclJob {
    /// The `job` resource.
    fn resource(&self) -> Resource;
}

impl AclJob for Job {
    fn resource(&self) -> Resource {
        Resource::new("job")
            .with("name", self.name.clone())
            .with("group", self.group.clone().unwrap_or_default())
            .with("uuid", self.uuid.clone().unwrap_or_default())
    }
}

impl AclJob for JobSummary {
    fn resource(&self) -> Resource {
        Resource::new("job")
            .with("name", self.name.clone())
            .with("group", self.group.clone().unwrap_or_default())
            .with("uuid", self.uuid.clone())
    }
}

impl ApiState {
    /// Whether the caller may read the project at all (application context).
    pub(crate) fn may_read_project(&self, subject: &Subject, project: &str) -> bool {
        let r = Resource::new("project").with("name", project);
        self.authorizer
            .allowed(subject, "read", &r, &AuthContext::Application)
    }

    /// Whether the caller may do `action` to `job` of `project`.
    pub(crate) fn may_job(
        &self,
        subject: &Subject,
        action: &str,
        project: &str,
        job: &impl AclJob,
    ) -> bool {
        self.authorizer.allowed(
            subject,
            action,
            &job.resource(),
            &AuthContext::Project(project.to_owned()),
        )
    }

    /// Whether the job exists for the caller: project readable and the job
    /// readable or viewable.
    pub(crate) fn sees_job(&self, subject: &Subject, project: &str, job: &impl AclJob) -> bool {
        self.may_read_project(subject, project) && self.sees_job_in(subject, project, job)
    }

    /// Whether the caller may do `action` on every job of `project`, so
    /// lists need not decide each (the caller reads the project).
    pub(crate) fn may_every_job(&self, subject: &Subject, action: &str, project: &str) -> bool {
        self.authorizer.allows_every(
            subject,
            action,
            "job",
            &AuthContext::Project(project.to_owned()),
        )
    }

    /// Whether every job of `project` exists for the caller (who reads the
    /// project): all readable or all viewable.
    pub(crate) fn sees_every_job(&self, subject: &Subject, project: &str) -> bool {
        self.may_every_job(subject, "read", project) || self.may_every_job(subject, "view", project)
    }

    /// [`sees_job`](Self::sees_job) for a caller already known to read the
    /// project: one resource and context built for both actions.
    pub(crate) fn sees_job_in(&self, subject: &Subject, project: &str, job: &impl AclJob) -> bool {
        let r = job.resource();
        let ctx = AuthContext::Project(project.to_owned());
        self.authorizer.allowed(subject, "read", &r, &ctx)
            || self.authorizer.allowed(subject, "view", &r, &ctx)
    }

    /// Whether the caller may do `action` on an ad-hoc execution of `project`.
    pub(crate) fn may_adhoc(&self, subject: &Subject, action: &str, project: &str) -> bool {
        self.authorizer.allowed(
            subject,
            action,
            &Resource::new("adhoc"),
            &AuthContext::Project(project.to_owned()),
        )
    }

    /// A job by uuid in any project the caller may see it in; 404 (naming
    /// only the id the caller sent) otherwise.
    pub(crate) async fn visible_job(
        &self,
        subject: &Subject,
        id: &str,
    ) -> Result<(String, Job), ApiError> {
        let missing = || ApiError::not_found("Job ID", id);
        if id.is_empty() || id.len() > 255 {
            return Err(missing());
        }
        for p in self.store.list_projects().await? {
            if let Some(job) = self.store.get_job(&p.name, id).await? {
                if self.sees_job(subject, &p.name, &job) {
                    return Ok((p.name, job));
                }
                return Err(missing());
            }
        }
        Err(missing())
    }

    /// [`visible_job`](Self::visible_job), then 403 unless `action` is allowed.
    pub(crate) async fn job_for(
        &self,
        subject: &Subject,
        id: &str,
        action: &str,
    ) -> Result<(String, Job), ApiError> {
        let (project, job) = self.visible_job(subject, id).await?;
        if !self.may_job(subject, action, &project, &job) {
            return Err(ApiError::unauthorized(action, &format!("Job ID {id}")));
        }
        Ok((project, job))
    }

    /// What an execution is authorized as: its job (the stored one, or one
    /// rebuilt from the record's `group/name` when the job was deleted), or
    /// `None` for ad-hoc executions.
    pub(crate) async fn execution_job(
        &self,
        e: &Execution,
    ) -> Result<Option<JobSummary>, ApiError> {
        let Some(id) = &e.job_id else {
            return Ok(None);
        };
        let mut found = self.job_summaries(&e.project, [id.clone()]).await?;
        Ok(Some(
            found
                .remove(id)
                .unwrap_or_else(|| deleted_job(e, id.clone())),
        ))
    }

    /// The summaries of the jobs with these uuids in `project`, by uuid (one
    /// store query however many).
    pub(crate) async fn job_summaries(
        &self,
        project: &str,
        ids: impl IntoIterator<Item = String>,
    ) -> Result<std::collections::HashMap<String, JobSummary>, ApiError> {
        let query = foredeck_core::JobQuery {
            ids: ids.into_iter().collect(),
            ..Default::default()
        };
        if query.ids.is_empty() {
            return Ok(Default::default());
        }
        Ok(self
            .store
            .list_job_summaries(project, &query)
            .await?
            .into_iter()
            .map(|j| (j.uuid.clone(), j))
            .collect())
    }

    /// Whether the caller may do `action` (`read` to see it, `kill`) on an
    /// execution; seeing needs `read` or `view` on its job.
    pub(crate) async fn may_execution(
        &self,
        subject: &Subject,
        action: &str,
        e: &Execution,
    ) -> Result<bool, ApiError> {
        if !self.may_read_project(subject, &e.project) {
            return Ok(false);
        }
        // A caller allowed this on every job of the project (a deleted
        // job's rebuilt summary included) needs no job read to decide.
        let every = match action {
            "read" => self.sees_every_job(subject, &e.project),
            _ => self.may_every_job(subject, action, &e.project),
        };
        if every && e.job_id.is_some() {
            return Ok(true);
        }
        Ok(match self.execution_job(e).await? {
            Some(job) if action == "read" => self.sees_job(subject, &e.project, &job),
            Some(job) => self.may_job(subject, action, &e.project, &job),
            None => self.may_adhoc(subject, action, &e.project),
        })
    }

    /// An execution the caller may see; 404 naming only the id otherwise,
    /// 403 when it is visible but `action` is not allowed.
    pub(crate) async fn execution_for(
        &self,
        subject: &Subject,
        id: &str,
        action: &str,
    ) -> Result<Execution, ApiError> {
        let missing = || ApiError::not_found("Execution ID", id);
        let n: u64 = id.parse().map_err(|_| missing())?;
        let e = self.store.get_execution(n).await?.ok_or_else(missing)?;
        if !self.may_execution(subject, "read", &e).await? {
            return Err(missing());
        }
        if action != "read" && !self.may_execution(subject, action, &e).await? {
            return Err(ApiError::unauthorized(
                action,
                &format!("Execution ID {id}"),
            ));
        }
        Ok(e)
    }

    /// [`execution_for`](Self::execution_for) `read`, for a route whose own
    /// log read then confirms that the execution still exists (its log is
    /// deleted with it): a finished execution, which no longer changes, is
    /// taken from those this server read recently. Whether the caller may
    /// see it is decided on every call.
    pub(crate) async fn finished_execution_for(
        &self,
        subject: &Subject,
        id: &str,
    ) -> Result<Arc<Execution>, ApiError> {
        let missing = || ApiError::not_found("Execution ID", id);
        let n: u64 = id.parse().map_err(|_| missing())?;
        let e = match self.finished.get(&n) {
            Some(e) => e,
            None => {
                let e = Arc::new(self.store.get_execution(n).await?.ok_or_else(missing)?);
                if e.status.is_final() {
                    self.finished.put(n, Arc::clone(&e));
                }
                e
            }
        };
        if !self.may_execution(subject, "read", &e).await? {
            return Err(missing());
        }
        Ok(e)
    }

    /// [`execution_job`](Self::execution_job) for a page of executions, with
    /// one store query for all their jobs; in the order of `page`.
    pub(crate) async fn execution_jobs(
        &self,
        page: &[Execution],
    ) -> Result<Vec<Option<JobSummary>>, ApiError> {
        let mut by_project: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for e in page {
            if let Some(id) = &e.job_id {
                by_project.entry(&e.project).or_default().push(id.clone());
            }
        }
        let mut found = std::collections::HashMap::new();
        for (project, ids) in by_project {
            for (id, job) in self.job_summaries(project, ids).await? {
                found.insert((project.to_owned(), id), job);
            }
        }
        Ok(page
            .iter()
            .map(|e| {
                let id = e.job_id.clone()?;
                Some(
                    found
                        .get(&(e.project.clone(), id.clone()))
                        .cloned()
                        .unwrap_or_else(|| deleted_job(e, id)),
                )
            })
            .collect())
    }

    /// Records who did what; a failure to record is logged (the change is
    /// already made).
    pub(crate) async fn audit(
        &self,
        caller: &Caller,
        action: &str,
        resource_type: &str,
        resource: &str,
        project: Option<&str>,
        detail: serde_json::Value,
    ) {
        let change = crate::audit::Change {
            action,
            resource_type,
            resource,
            project,
            detail,
        };
        crate::audit::append(self, &caller.subject.user, caller.source.clone(), change).await;
    }
}

/// A deleted job as its execution remembers it: `group/name` from the
/// record's description.
fn deleted_job(e: &Execution, uuid: String) -> JobSummary {
    let (group, name) = match e.description.rsplit_once('/') {
        Some((g, n)) => (Some(g.to_owned()), n.to_owned()),
        None => (None, e.description.clone()),
    };
    JobSummary {
        uuid,
        name,
        group,
        ..JobSummary::default()
    }
}
