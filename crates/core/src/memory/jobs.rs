//! Job definitions of the [`MemoryStore`]: its [`JobStore`] impl.

use super::MemoryStore;
use crate::error::{Error, Result};
use crate::model::{Job, JobSummary};
use crate::store::{JobQuery, JobStore};
use async_trait::async_trait;

#[async_trait]
impl JobStore for MemoryStore {
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
}

fn job_matches(job: &Job, q: &JobQuery) -> bool {
    match &job.uuid {
        Some(u) => q.matches(u, job.group.as_deref(), &job.name),
        None => q.ids.is_empty() && q.matches("", job.group.as_deref(), &job.name),
    }
}
