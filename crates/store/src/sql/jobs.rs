//! Job definitions on SQL: the [`JobStore`] impl, with the per-project
//! caches of parsed jobs and summaries that keep listing cheap.

use super::{begin_write, group_condition, in_group, SqlStore, INSERT_BATCH};
use crate::entity::{executions, job_revisions, jobs};
use crate::error::{codec, db};
use crate::time;
use async_trait::async_trait;
use foredeck_core::model::{Job, JobSummary};
use foredeck_core::store::{JobQuery, JobStore};
use foredeck_core::{Error, Result};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[async_trait]
impl JobStore for SqlStore {
    async fn put_job(&self, project: &str, job: &Job) -> Result<Job> {
        let mut job = job.clone();
        let id = job
            .uuid
            .get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
            .clone();
        job.project = Some(project.into());
        let group = job.group.clone().unwrap_or_default();
        let definition = serde_yaml_ng::to_string(&job).map_err(|e| codec("job definition", e))?;
        let now = time::to_db(chrono::Utc::now())?;

        let txn = begin_write(&self.db).await?;
        let other = jobs::Entity::find()
            .filter(jobs::Column::Project.eq(project))
            .filter(jobs::Column::GroupPath.eq(&group))
            .filter(jobs::Column::Name.eq(&job.name))
            .filter(jobs::Column::Uuid.ne(&id))
            .one(&txn)
            .await
            .map_err(db)?;
        let conflict = |uuid: &str| {
            Error::Conflict(format!(
                "job {:?} already exists with uuid {uuid}",
                job.full_name()
            ))
        };
        if let Some(other) = other {
            return Err(conflict(&other.uuid));
        }
        let existing = jobs::Entity::find_by_id(id.clone())
            .one(&txn)
            .await
            .map_err(db)?;
        let result = match existing {
            // the other project is not named: the caller may not read it
            Some(m) if m.project != project => {
                return Err(Error::Conflict(format!(
                    "job uuid {id} is taken by a job of another project"
                )))
            }
            Some(m) => {
                let mut row: jobs::ActiveModel = m.into();
                row.group_path = Set(group.clone());
                row.name = Set(job.name.clone());
                row.definition = Set(definition);
                row.updated = Set(now);
                row.update(&txn).await.map(|_| ())
            }
            None => jobs::Entity::insert(jobs::ActiveModel {
                uuid: Set(id.clone()),
                project: Set(project.to_owned()),
                group_path: Set(group.clone()),
                name: Set(job.name.clone()),
                definition: Set(definition),
                created: Set(now),
                updated: Set(now),
            })
            .exec_without_returning(&txn)
            .await
            .map(|_| ()),
        };
        match result.map_err(db) {
            Ok(()) => {}
            Err(Error::Conflict(_)) => return Err(conflict("(another, created concurrently)")),
            Err(e) => return Err(e),
        }
        executions::Entity::update_many()
            .col_expr(executions::Column::JobGroup, Expr::value(group))
            .col_expr(executions::Column::JobName, Expr::value(job.name.clone()))
            .col_expr(
                executions::Column::JobNameLower,
                Expr::value(job.name.to_lowercase()),
            )
            .filter(executions::Column::JobId.eq(&id))
            .filter(executions::Column::Project.eq(project))
            .exec(&txn)
            .await
            .map_err(db)?;
        bump_job_revision(&txn, project).await?;
        txn.commit().await.map_err(db)?;
        Ok(job)
    }

    async fn get_job(&self, project: &str, id: &str) -> Result<Option<Job>> {
        jobs::Entity::find_by_id(id.to_owned())
            .filter(jobs::Column::Project.eq(project))
            .one(&self.db)
            .await
            .map_err(db)?
            .map(|m| job_from(&m))
            .transpose()
    }

    async fn uuid_taken(&self, uuid: &str) -> Result<bool> {
        Ok(jobs::Entity::find_by_id(uuid.to_owned())
            .one(&self.db)
            .await
            .map_err(db)?
            .is_some())
    }

    async fn find_job(
        &self,
        project: &str,
        group: Option<&str>,
        name: &str,
    ) -> Result<Option<Job>> {
        jobs::Entity::find()
            .filter(jobs::Column::Project.eq(project))
            .filter(jobs::Column::GroupPath.eq(group.unwrap_or("")))
            .filter(jobs::Column::Name.eq(name))
            .one(&self.db)
            .await
            .map_err(db)?
            .map(|m| job_from(&m))
            .transpose()
    }

    async fn list_jobs(&self, project: &str, query: &JobQuery) -> Result<Vec<Job>> {
        let jobs = self.cached_jobs(project, query).await?;
        Ok(jobs.iter().map(|j| Job::clone(j)).collect())
    }

    async fn list_job_summaries(&self, project: &str, query: &JobQuery) -> Result<Vec<JobSummary>> {
        // the revision first: a change after it makes the next list reload
        let mut rev = job_revision(&self.db, project).await?;
        let all = match self.summaries.get(project, rev) {
            Some(all) => all,
            None => {
                let _loading = self.summaries.loading.lock().await;
                // another request may have loaded it while this one waited
                rev = job_revision(&self.db, project).await?;
                match self.summaries.get(project, rev) {
                    Some(all) => all,
                    None => {
                        let jobs = self.cached_jobs(project, &JobQuery::default()).await?;
                        let all =
                            Arc::new(Summaries::new(jobs.iter().map(|j| j.summary()).collect()));
                        self.summaries.put(project, rev, Arc::clone(&all));
                        all
                    }
                }
            }
        };
        Ok(all.matching(query))
    }

    async fn job_revision(&self, project: &str) -> Result<Option<u64>> {
        let rev = job_revision(&self.db, project).await?;
        Ok(Some(u64::try_from(rev).unwrap_or(0)))
    }

    async fn delete_job(&self, project: &str, id: &str) -> Result<()> {
        let txn = begin_write(&self.db).await?;
        let res = jobs::Entity::delete_many()
            .filter(jobs::Column::Project.eq(project))
            .filter(jobs::Column::Uuid.eq(id))
            .exec(&txn)
            .await
            .map_err(db)?;
        if res.rows_affected == 0 {
            return Err(Error::NotFound {
                kind: "job",
                id: id.into(),
            });
        }
        // Its executions stay, but no longer match group or name filters.
        executions::Entity::update_many()
            .col_expr(executions::Column::JobGroup, Expr::value(None::<String>))
            .col_expr(executions::Column::JobName, Expr::value(None::<String>))
            .col_expr(
                executions::Column::JobNameLower,
                Expr::value(None::<String>),
            )
            .filter(executions::Column::JobId.eq(id))
            .filter(executions::Column::Project.eq(project))
            .exec(&txn)
            .await
            .map_err(db)?;
        bump_job_revision(&txn, project).await?;
        txn.commit().await.map_err(db)
    }
}

impl SqlStore {
    /// The jobs matching a query, by group then name, shared with the cache.
    async fn cached_jobs(&self, project: &str, query: &JobQuery) -> Result<Vec<Arc<Job>>> {
        let mut select = jobs::Entity::find().filter(jobs::Column::Project.eq(project));
        if let Some(g) = &query.group_exact {
            select = select.filter(jobs::Column::GroupPath.eq(g));
        }
        if let Some(p) = &query.group_path {
            select = select.filter(group_condition(jobs::Column::GroupPath, p));
        }
        if let Some(n) = &query.name_exact {
            select = select.filter(jobs::Column::Name.eq(n));
        }
        if !query.ids.is_empty() {
            select = select.filter(jobs::Column::Uuid.is_in(query.ids.iter().cloned()));
        }
        let needle = query.name_contains.as_ref().map(|n| n.to_lowercase());
        let rows: Vec<(String, String, String, i64)> = select
            .select_only()
            .column(jobs::Column::Uuid)
            .column(jobs::Column::GroupPath)
            .column(jobs::Column::Name)
            .column(jobs::Column::Updated)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(db)?;
        let rows: Vec<(String, i64)> = rows
            .into_iter()
            // Exact re-checks in Rust: case folding must match MemoryStore.
            .filter(|(_, group, name, _)| {
                !(query
                    .group_path
                    .as_ref()
                    .is_some_and(|p| !in_group(group, p))
                    || needle
                        .as_ref()
                        .is_some_and(|n| !name.to_lowercase().contains(n.as_str())))
            })
            .map(|(uuid, _, _, updated)| (uuid, updated))
            .collect();
        let stale: Vec<String> = {
            let cache = self.jobs.lock();
            rows.iter()
                .filter(|(uuid, updated)| cache.get(uuid).is_none_or(|(u, _)| u != updated))
                .map(|(uuid, _)| uuid.clone())
                .collect()
        };
        let mut parsed = Vec::with_capacity(stale.len());
        for ids in stale.chunks(INSERT_BATCH) {
            for m in jobs::Entity::find()
                .filter(jobs::Column::Uuid.is_in(ids.iter().cloned()))
                .all(&self.db)
                .await
                .map_err(db)?
            {
                parsed.push((m.uuid.clone(), m.updated, Arc::new(job_from(&m)?)));
            }
        }
        let mut cache = self.jobs.lock();
        if cache.len() + parsed.len() > JOB_CACHE_MAX {
            cache.clear();
        }
        let mut list = Vec::with_capacity(rows.len());
        let wanted: HashMap<&str, i64> = rows.iter().map(|(u, up)| (u.as_str(), *up)).collect();
        for (uuid, updated, job) in parsed {
            // A job changed between the two reads: return what was read.
            if wanted.get(uuid.as_str()) == Some(&updated) {
                cache.insert(uuid, (updated, job));
            } else {
                list.push(job);
            }
        }
        for (uuid, updated) in &rows {
            if let Some((u, job)) = cache.get(uuid) {
                if u == updated {
                    list.push(Arc::clone(job));
                }
            }
        }
        drop(cache);
        list.sort_by(|a, b| (&a.group, &a.name).cmp(&(&b.group, &b.name)));
        Ok(list)
    }
}

/// Each project's job summaries, sorted as listed, with the project's job
/// revision they were read at: a list reads one row to check it.
/// One load at a time: requests that all find the list out of date (at
/// start, after a job change) wait for the one that reads it instead of each
/// reading and parsing every job.
#[derive(Clone, Debug, Default)]
pub(super) struct SummaryCache {
    lists: Arc<Mutex<HashMap<String, RevisedSummaries>>>,
    loading: Arc<tokio::sync::Mutex<()>>,
}

/// A project's job revision and its summaries at that revision.
type RevisedSummaries = (i64, Arc<Summaries>);

/// A project's job summaries in list order, with their positions by uuid.
#[derive(Debug)]
struct Summaries {
    list: Vec<JobSummary>,
    by_uuid: HashMap<String, usize>,
}

impl Summaries {
    fn new(list: Vec<JobSummary>) -> Self {
        let by_uuid = list
            .iter()
            .enumerate()
            .map(|(i, j)| (j.uuid.clone(), i))
            .collect();
        Summaries { list, by_uuid }
    }

    /// Those matching `query`, in list order; a query by uuids looks them
    /// up rather than comparing every job's.
    fn matching(&self, query: &JobQuery) -> Vec<JobSummary> {
        let m = query.matcher();
        if query.ids.is_empty() {
            return self
                .list
                .iter()
                .filter(|j| m.matches(&j.uuid, j.group.as_deref(), &j.name))
                .cloned()
                .collect();
        }
        let mut at: Vec<usize> = query
            .ids
            .iter()
            .filter_map(|id| self.by_uuid.get(id).copied())
            .collect();
        at.sort_unstable();
        at.dedup();
        at.into_iter()
            .map(|i| &self.list[i])
            .filter(|j| m.matches(&j.uuid, j.group.as_deref(), &j.name))
            .cloned()
            .collect()
    }
}

impl SummaryCache {
    fn get(&self, project: &str, rev: i64) -> Option<Arc<Summaries>> {
        let map = self.lists.lock().unwrap_or_else(|p| p.into_inner());
        map.get(project)
            .filter(|(r, _)| *r == rev)
            .map(|(_, v)| Arc::clone(v))
    }

    fn put(&self, project: &str, rev: i64, list: Arc<Summaries>) {
        let mut map = self.lists.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(project.to_owned(), (rev, list));
    }
}

/// Parsed job definitions by uuid, with the `updated` stamp they were parsed
/// at: listing thousands of jobs then reads three short columns and parses
/// only what changed since (in any process) instead of every YAML text.
#[derive(Clone, Debug, Default)]
pub(super) struct JobCache(Arc<Mutex<CachedJobs>>);

/// uuid -> (`updated` stamp, parsed job).
type CachedJobs = HashMap<String, (i64, Arc<Job>)>;

/// Entries kept at most; past that the cache starts over.
const JOB_CACHE_MAX: usize = 100_000;

impl JobCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, CachedJobs> {
        // A panic while holding the lock leaves a consistent map.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn job_from(m: &jobs::Model) -> Result<Job> {
    serde_yaml_ng::from_str(&m.definition)
        .map_err(|e| codec(&format!("job {} definition", m.uuid), e))
}

/// A project's job revision (0 before its first job change).
async fn job_revision<C: ConnectionTrait>(c: &C, project: &str) -> Result<i64> {
    Ok(job_revisions::Entity::find_by_id(project.to_owned())
        .select_only()
        .column(job_revisions::Column::Rev)
        .into_tuple::<i64>()
        .one(c)
        .await
        .map_err(db)?
        .unwrap_or(0))
}

/// Raises a project's job revision, inside the transaction that changes its
/// jobs.
pub(super) async fn bump_job_revision<C: ConnectionTrait>(c: &C, project: &str) -> Result<()> {
    use job_revisions::Column as R;
    let mut insert = Query::insert();
    insert
        .into_table(job_revisions::Entity)
        .columns([R::Project, R::Rev])
        .values([project.into(), 1i64.into()])
        .map_err(|e| codec("job revision", e))?
        .on_conflict(
            OnConflict::column(R::Project)
                .value(R::Rev, Expr::col((job_revisions::Entity, R::Rev)).add(1))
                .to_owned(),
        );
    c.execute(c.get_database_backend().build(&insert))
        .await
        .map_err(db)?;
    Ok(())
}
