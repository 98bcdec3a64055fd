//! Run-time authorization of what a run reaches: the nodes it targets and
//! the jobs its job-reference steps run.
//!
//! Checked only when the engine has an [`Authorizer`] and the run carries a
//! [`Subject`] ([`RunOptions::subject`](super::RunOptions)): a library
//! caller that sets neither runs what it asks. Node checks are action `run`
//! on resource kind `node` (its attributes, `nodename`, `name`, `tags`) in
//! the project context, as for ad-hoc commands; job references need `read`
//! on the referenced project (application context) and `run` on the
//! referenced job (`name`, `group`, `uuid`) in its project.

use super::Engine;
use crate::authorizer::{AuthContext, Authorizer, Resource, Subject};
use crate::error::{Error, Result};
use crate::model::{Job, Node};
use std::sync::Arc;

/// The `node` resource `.aclpolicy` rules match: the node's attributes,
/// with `nodename`, `name` and `tags`.
pub fn node_resource(n: &Node) -> Resource {
    let mut r = Resource::new("node");
    for (k, v) in &n.attributes {
        r.attributes.insert(k.clone(), v.clone());
    }
    r.attributes.insert("nodename".into(), n.name.clone());
    r.attributes.insert("name".into(), n.name.clone());
    r.attributes.insert("tags".into(), n.tags_string());
    r
}

/// The `job` resource: `name`, `group` and `uuid`.
pub fn job_resource(job: &Job) -> Resource {
    Resource::new("job")
        .with("name", job.name.clone())
        .with("group", job.group.clone().unwrap_or_default())
        .with("uuid", job.uuid.clone().unwrap_or_default())
}

/// Who a run is checked as, and by what: `None` when the engine has no
/// authorizer or the run no subject.
pub(crate) fn checker<'a>(
    engine: &Engine,
    subject: Option<&'a Subject>,
) -> Option<(Arc<dyn Authorizer>, &'a Subject)> {
    let subject = subject?;
    let authorizer = engine.inner.authorizer.read().ok()?.clone()?;
    Some((authorizer, subject))
}

/// Most node names a refusal lists before it says how many more there are.
const LISTED: usize = 10;

/// Refuses the run when the subject may not `run` on every one of `nodes`
/// in `project`, naming the nodes refused.
pub(crate) fn check_nodes(
    engine: &Engine,
    subject: Option<&Subject>,
    project: &str,
    nodes: &[Node],
) -> Result<()> {
    let Some((authorizer, subject)) = checker(engine, subject) else {
        return Ok(());
    };
    let ctx = AuthContext::Project(project.to_owned());
    let refused: Vec<&str> = nodes
        .iter()
        .filter(|n| !authorizer.allowed(subject, "run", &node_resource(n), &ctx))
        .map(|n| n.name.as_str())
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    let mut names = refused
        .iter()
        .take(LISTED)
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if refused.len() > LISTED {
        names.push_str(&format!(" and {} more", refused.len() - LISTED));
    }
    Err(Error::Forbidden(format!(
        "user {:?} may not run on node{} {names} in project {project:?} \
         (no `run` grant for node); narrow the node filter or ask for the grant",
        subject.user,
        if refused.len() == 1 { "" } else { "s" },
    )))
}

/// Whether the subject may read `project` (application context); an error
/// message for the step log when not.
pub(crate) fn check_project_read(
    engine: &Engine,
    subject: Option<&Subject>,
    project: &str,
) -> std::result::Result<(), String> {
    let Some((authorizer, subject)) = checker(engine, subject) else {
        return Ok(());
    };
    let r = Resource::new("project").with("name", project);
    if authorizer.allowed(subject, "read", &r, &AuthContext::Application) {
        Ok(())
    } else {
        Err(format!(
            "not authorized: user {:?} may not read project {project:?}, \
             so it cannot run a job referenced there",
            subject.user
        ))
    }
}

/// What a job-reference check found.
pub(crate) enum JobRefCheck {
    /// May run it.
    Allowed,
    /// Sees the job but may not run it.
    Refused(String),
    /// May neither run nor see it: answer as if it did not exist.
    Hidden,
}

/// Whether the subject may `run` the referenced `job` of `project`.
pub(crate) fn check_job_ref(
    engine: &Engine,
    subject: Option<&Subject>,
    project: &str,
    job: &Job,
) -> JobRefCheck {
    let Some((authorizer, subject)) = checker(engine, subject) else {
        return JobRefCheck::Allowed;
    };
    let r = job_resource(job);
    let ctx = AuthContext::Project(project.to_owned());
    if authorizer.allowed(subject, "run", &r, &ctx) {
        return JobRefCheck::Allowed;
    }
    if authorizer.allowed(subject, "read", &r, &ctx)
        || authorizer.allowed(subject, "view", &r, &ctx)
    {
        return JobRefCheck::Refused(format!(
            "not authorized: user {:?} may not run referenced job {:?} in project {project:?}",
            subject.user,
            job.full_name()
        ));
    }
    JobRefCheck::Hidden
}
