//! [`JobStore`]: job definitions, and the queries that list them.

use super::ProjectStore;
use crate::error::Result;
use crate::model::{Job, JobSummary};
use async_trait::async_trait;
use std::sync::Arc;

/// Persistence of job definitions. Jobs live in projects, so a job store is
/// a project store too (the provided [`uuid_taken`](Self::uuid_taken) asks
/// every project).
#[async_trait]
pub trait JobStore: ProjectStore {
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
}

macro_rules! forward {
    ($($t:tt)*) => {
        #[async_trait]
        impl<T: JobStore + ?Sized> JobStore for $($t)* {
            async fn put_job(&self, p: &str, j: &Job) -> Result<Job> { (**self).put_job(p, j).await }
            async fn get_job(&self, p: &str, id: &str) -> Result<Option<Job>> { (**self).get_job(p, id).await }
            async fn find_job(&self, p: &str, g: Option<&str>, n: &str) -> Result<Option<Job>> { (**self).find_job(p, g, n).await }
            async fn list_jobs(&self, p: &str, q: &JobQuery) -> Result<Vec<Job>> { (**self).list_jobs(p, q).await }
            async fn list_job_summaries(&self, p: &str, q: &JobQuery) -> Result<Vec<JobSummary>> { (**self).list_job_summaries(p, q).await }
            async fn delete_job(&self, p: &str, id: &str) -> Result<()> { (**self).delete_job(p, id).await }
            async fn uuid_taken(&self, u: &str) -> Result<bool> { (**self).uuid_taken(u).await }
            async fn job_revision(&self, p: &str) -> Result<Option<u64>> { (**self).job_revision(p).await }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);

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
