//! How the scheduler starts the executions it created: the [`Launcher`]
//! trait, and [`EngineLauncher`], which runs them through the [`Engine`].

use crate::authorizer::Subject;
use crate::engine::{Engine, RunOptions};
use crate::error::Result;
use crate::model::{Execution, Job, Node};
use async_trait::async_trait;
use std::collections::BTreeMap;

/// Runs an execution that the scheduler has already recorded (status
/// `running`, owned by this server) to its end.
#[async_trait]
pub trait Launcher: Send + Sync + std::fmt::Debug {
    /// Runs `execution` of `job` with these option values (secure values
    /// included, unlike the record's) and returns its final record. An error
    /// means it could not start; the scheduler then records it as failed.
    async fn run(
        &self,
        project: &str,
        job: &Job,
        execution: Execution,
        options: BTreeMap<String, String>,
    ) -> Result<Execution>;

    /// [`run`](Self::run) with the rights of `subject`, the user (and roles)
    /// the trigger was recorded with, when known. The provided method
    /// ignores the subject.
    async fn run_as(
        &self,
        project: &str,
        job: &Job,
        execution: Execution,
        options: BTreeMap<String, String>,
        subject: Option<Subject>,
    ) -> Result<Execution> {
        let _ = subject;
        self.run(project, job, execution, options).await
    }
}

/// Runs scheduled executions through an [`Engine`] sharing the scheduler's store.
#[derive(Clone, Debug)]
pub struct EngineLauncher(pub Engine);

#[async_trait]
impl Launcher for EngineLauncher {
    async fn run(
        &self,
        project: &str,
        job: &Job,
        execution: Execution,
        options: BTreeMap<String, String>,
    ) -> Result<Execution> {
        self.run_as(project, job, execution, options, None).await
    }

    async fn run_as(
        &self,
        project: &str,
        job: &Job,
        execution: Execution,
        options: BTreeMap<String, String>,
        subject: Option<Subject>,
    ) -> Result<Execution> {
        run_recorded(&self.0, project, job, &execution, options, subject, None).await
    }
}

/// Runs an execution the scheduler recorded to its end, as the record says
/// (user, node filter, log level), with the rights of `subject` and on
/// `nodes` (`None`: the project's nodes in the store). What every
/// [`Launcher`] of the engine does.
pub(crate) async fn run_recorded(
    engine: &Engine,
    project: &str,
    job: &Job,
    execution: &Execution,
    options: BTreeMap<String, String>,
    subject: Option<Subject>,
    nodes: Option<Vec<Node>>,
) -> Result<Execution> {
    let opts = RunOptions {
        options,
        user: Some(execution.user.clone()),
        filter: execution.filter.clone(),
        loglevel: Some(execution.loglevel),
        nodes,
        subject,
        ..RunOptions::default()
    };
    engine
        .start_execution(project, job, execution, opts)
        .await?
        .wait()
        .await
}
