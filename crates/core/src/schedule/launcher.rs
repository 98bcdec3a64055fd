//! How the scheduler starts the executions it created: the [`Launcher`]
//! trait, and [`EngineLauncher`], which runs them through the [`Engine`].

use crate::authorizer::Subject;
use crate::engine::{Engine, RunOptions};
use crate::error::{Error, Result};
use crate::model::{Execution, Job, Node};
use crate::store::RunState;
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

    /// Whether executions may start now: `false` while the server is in
    /// passive execution mode, when the scheduler claims no trigger (or,
    /// with no active server left to fire them, drops their fires) and
    /// starts no queued execution. The provided method: always.
    fn accepts_runs(&self) -> bool {
        true
    }

    /// Whether this launcher [continues](Self::continue_run) durable runs.
    /// When it does not (the provided method), the durable runs of stopped
    /// servers are marked `incomplete` like any other.
    fn continues_runs(&self) -> bool {
        false
    }

    /// Continues a durable run whose server stopped, from its recorded
    /// `state`, with the rights of `subject`, and returns its final record:
    /// `execution` is waiting and owned by this server. An error means it
    /// could not start; the scheduler then records it as failed. The
    /// provided method cannot (see [`continues_runs`](Self::continues_runs)).
    async fn continue_run(
        &self,
        project: &str,
        job: &Job,
        execution: Execution,
        state: RunState,
        subject: Option<Subject>,
    ) -> Result<Execution> {
        let _ = (project, state, subject);
        Err(Error::InvalidJob {
            job: job.full_name(),
            field: "durable".into(),
            message: format!(
                "execution {} cannot be continued: this launcher does not continue runs",
                execution.id
            ),
        })
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

    fn accepts_runs(&self) -> bool {
        self.0.execution_mode().is_active()
    }

    fn continues_runs(&self) -> bool {
        true
    }

    async fn continue_run(
        &self,
        project: &str,
        job: &Job,
        execution: Execution,
        state: RunState,
        subject: Option<Subject>,
    ) -> Result<Execution> {
        continue_recorded(&self.0, project, job, &execution, state, subject, None).await
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

/// Continues a durable run from its recorded `state` to its end, as its
/// record says (user, node filter, log level, option values), with the
/// rights of `subject` and on `nodes` (`None`: the project's nodes in the
/// store). Secure option values were never recorded: they come from their
/// key-storage defaults, and a required one without a default stops the
/// run from starting. What every [`Launcher`] of the engine does.
pub(crate) async fn continue_recorded(
    engine: &Engine,
    project: &str,
    job: &Job,
    execution: &Execution,
    state: RunState,
    subject: Option<Subject>,
    nodes: Option<Vec<Node>>,
) -> Result<Execution> {
    let options = execution
        .options
        .iter()
        .filter(|(name, _)| !job.option(name).is_some_and(|o| o.secure))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
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
        .continue_execution(project, job, execution, state, opts)
        .await?
        .wait()
        .await
}
