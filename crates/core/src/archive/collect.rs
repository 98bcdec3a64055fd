//! Reading a project out of a store into a [`ProjectArchive`].

use super::{Parts, ProjectArchive};
use crate::error::{Error, Result};
use crate::store::{ExecutionQuery, JobQuery, Store};

/// Executions read from the store at a time.
const PAGE: u64 = 500;
/// Log events read at a time.
const LOG_PAGE: usize = 5_000;

/// What [`collect`] puts in the archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    /// Which parts.
    pub parts: Parts,
    /// Only these executions (and then nothing else, as Rundeck's
    /// `executionIds`); `None` for all of the project's.
    pub execution_ids: Option<Vec<u64>>,
}

/// The parts of `project` that `what` asks for, as the store holds them.
/// Executions that have not ended are left out: their logs are not
/// complete yet.
pub async fn collect(store: &dyn Store, project: &str, what: &Export) -> Result<ProjectArchive> {
    let p = store
        .get_project(project)
        .await?
        .ok_or_else(|| Error::NotFound {
            kind: "project",
            id: project.to_owned(),
        })?;
    let mut out = ProjectArchive {
        project: project.to_owned(),
        ..ProjectArchive::default()
    };
    let parts = match &what.execution_ids {
        Some(_) => Parts {
            jobs: false,
            executions: true,
            config: false,
            acls: false,
            readmes: false,
        },
        None => what.parts,
    };
    if parts.jobs {
        out.jobs = store.list_jobs(project, &JobQuery::default()).await?;
    }
    if parts.config {
        let mut config = p.config.clone();
        config.insert("project.name".into(), project.to_owned());
        if let Some(d) = &p.description {
            config
                .entry("project.description".into())
                .or_insert_with(|| d.clone());
        }
        out.config = Some(config);
    }
    if parts.readmes {
        out.readme = p.readme.clone();
        out.motd = p.motd.clone();
    }
    if parts.acls {
        out.acls = store
            .list_acl_policies(Some(project))
            .await?
            .into_iter()
            .map(|a| (a.name, a.content))
            .collect();
    }
    if parts.executions {
        let mut execs = Vec::new();
        match &what.execution_ids {
            Some(ids) => {
                for id in ids {
                    if let Some(e) = store.get_execution(*id).await? {
                        if e.project == project {
                            execs.push(e);
                        }
                    }
                }
            }
            None => {
                let mut offset = 0;
                loop {
                    let page = store
                        .query_executions(&ExecutionQuery {
                            project: Some(project.to_owned()),
                            offset,
                            max: PAGE,
                            ..ExecutionQuery::default()
                        })
                        .await?;
                    let n = page.items.len() as u64;
                    execs.extend(page.items);
                    offset += n;
                    if n < PAGE || offset >= page.total {
                        break;
                    }
                }
            }
        }
        execs.retain(|e| e.status.is_final());
        execs.sort_by_key(|e| e.id);
        execs.dedup_by_key(|e| e.id);
        for e in execs {
            let mut log = Vec::new();
            loop {
                let page = store.read_log(e.id, log.len() as u64, LOG_PAGE).await?;
                let n = page.events.len();
                log.extend(page.events);
                if n < LOG_PAGE {
                    break;
                }
            }
            out.push_execution(e, log);
        }
    }
    Ok(out)
}
