//! [`RunService`]: the rules of starting a run, applied in one place.

use super::launcher::{project_nodes, RunLauncher, SourcesSlot};
use super::mode::{mode_name, parse_mode, EXECUTION_MODE_SETTING};
use super::request::{StartError, StartRun, Started};
use super::rules;
use crate::authorizer::{AuthContext, Subject};
use crate::engine::{job_resource, resolve_options, Engine, LogListener, RunHandle, RunOptions};
use crate::error::{Error, Result};
use crate::filter::NodeFilter;
use crate::model::{Execution, Job, LogLevel, Node};
use crate::nodes::NodeSources;
use crate::schedule::{DurableScheduler, Launcher, RunRequest, Scheduler};
use crate::store::{FireOutcome, Store};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Starts job runs for every front-end, by the rules of the
/// [module](super): the engine that runs them, the scheduler that keeps
/// runs for later (and starts its own through this service's
/// [`RunLauncher`]), and the node sources runs choose their nodes from.
#[derive(Clone, Debug)]
pub struct RunService {
    /// Runs jobs; its authorizer checks the runs started for a subject.
    pub engine: Engine,
    /// Keeps schedules and one-off run times.
    pub scheduler: DurableScheduler,
    sources: SourcesSlot,
}

impl RunService {
    /// A service over an engine with the `local` executor only on `store`,
    /// and a scheduler over it (not ticking until someone runs it).
    pub fn local(store: Arc<dyn Store>) -> Self {
        let engine = Engine::builder().shared_store(store.clone()).build();
        RunService::new(engine, |launcher| {
            DurableScheduler::builder(store, launcher).build()
        })
    }

    /// A service over `engine`; `scheduler` builds the scheduler from the
    /// launcher that runs its executions through this service.
    pub fn new(
        engine: Engine,
        scheduler: impl FnOnce(Arc<dyn Launcher>) -> DurableScheduler,
    ) -> Self {
        let sources: SourcesSlot = Arc::default();
        let launcher = Arc::new(RunLauncher {
            engine: engine.clone(),
            sources: sources.clone(),
        });
        RunService {
            scheduler: scheduler(launcher),
            engine,
            sources,
        }
    }

    /// Takes the nodes of runs from these node sources (refreshed as their
    /// cache says) instead of the store's nodes.
    pub fn use_node_sources(&self, sources: Arc<NodeSources>) {
        if let Ok(mut slot) = self.sources.write() {
            *slot = Some(sources);
        }
    }

    /// Reads this server's execution mode from the store (kept by
    /// [`set_execution_mode`](Self::set_execution_mode)); a server that
    /// never set one is active. A server calls it once when it starts.
    pub async fn load_execution_mode(&self) -> Result<()> {
        let stored = self
            .engine
            .store()
            .get_server_setting(self.scheduler.server(), EXECUTION_MODE_SETTING)
            .await?;
        let active = match stored.as_deref() {
            None => true,
            Some(name) => parse_mode(name).ok_or_else(|| {
                Error::Store(format!(
                    "server {} has execution mode {name:?}, neither active nor passive",
                    self.scheduler.server()
                ))
            })?,
        };
        self.engine.execution_mode().set_active(active);
        Ok(())
    }

    /// Sets this server's execution mode: `active` starts runs, `passive`
    /// starts none (runs under way go on). Kept in the store first, so the
    /// mode survives a restart; then in force at once for the run service,
    /// the ad-hoc runs and the scheduler (which tells the other servers
    /// through its next heartbeat).
    pub async fn set_execution_mode(&self, active: bool) -> Result<()> {
        self.engine
            .store()
            .put_server_setting(
                self.scheduler.server(),
                EXECUTION_MODE_SETTING,
                mode_name(active),
            )
            .await?;
        self.engine.execution_mode().set_active(active);
        Ok(())
    }

    /// The nodes a project's runs choose from: the project's nodes (from
    /// its node sources) and the server's own node, unless a source names a
    /// node the same.
    pub async fn nodes(&self, project: &str) -> Result<Vec<Node>> {
        project_nodes(&self.engine, &self.sources, project).await
    }

    /// Starts (or, with `runAtTime`, schedules) a run of `job` of `project`
    /// for `request.subject`, by the rules of the [module](super). A
    /// scheduled run is recorded at once, with status `scheduled`; at its
    /// time that execution starts.
    pub async fn start_run(
        &self,
        project: &str,
        job: &Job,
        request: StartRun,
    ) -> std::result::Result<Started, StartError> {
        let mut opts = match self.check(project, job, request).await? {
            Checked::Now(opts) => opts,
            Checked::Later { at, run } => {
                let e = self.scheduler.run_at(run, at).await?;
                return Ok(Started::Scheduled(Box::new(e)));
            }
        };
        opts.nodes = Some(self.nodes(project).await?);
        let exec_id = self.launch(project, job, opts).await?.id;
        let e = self
            .engine
            .store()
            .get_execution(exec_id)
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "execution",
                id: exec_id.to_string(),
            })?;
        Ok(Started::Now(Box::new(e)))
    }

    /// Runs `job` of `project` now, by the rules of the [module](super),
    /// and waits for its end: a run its caller follows (the CLI's local
    /// run). It chooses from `nodes` instead of the project's nodes
    /// (`None`: the project's, as [`start_run`](Self::start_run)'s), and
    /// `listener` receives its log events as they happen. Returns its last
    /// execution (retries included); a failing workflow is an execution
    /// with status `failed`. A `runAtTime` is refused: such a run has no end
    /// to wait for here.
    pub async fn run(
        &self,
        project: &str,
        job: &Job,
        request: StartRun,
        nodes: Option<Vec<Node>>,
        listener: Option<LogListener>,
    ) -> std::result::Result<Execution, StartError> {
        let mut opts = match self.check(project, job, request).await? {
            Checked::Now(opts) => opts,
            Checked::Later { .. } => {
                return Err(StartError::Invalid(
                    "runAtTime: a run that is waited for starts now; leave runAtTime blank".into(),
                ))
            }
        };
        opts.nodes = Some(match nodes {
            Some(n) => n,
            None => self.nodes(project).await?,
        });
        opts.listener = listener;
        Ok(self.launch(project, job, opts).await?.wait().await?)
    }

    /// Applies the rules of the [module](super) to `request`: the run to
    /// start now (its nodes left to the caller), or the one to keep for later.
    async fn check(
        &self,
        project: &str,
        job: &Job,
        request: StartRun,
    ) -> std::result::Result<Checked, StartError> {
        let id = job.uuid.clone().unwrap_or_default();
        let subject = request.subject;
        if !self.engine.execution_mode().is_active() {
            return Err(StartError::Passive);
        }
        if !self.may(&subject, "run", project, job) {
            return Err(StartError::Unauthorized {
                action: "run",
                job: id,
            });
        }
        if !rules::job_executions_enabled(job) {
            return Err(StartError::JobDisabled(id));
        }
        if let Some(p) = self.engine.store().get_project(project).await? {
            if rules::project_executions_disabled(&p) {
                return Err(StartError::ProjectDisabled(project.to_owned()));
            }
        }
        let user = match request.as_user.filter(|u| !u.trim().is_empty()) {
            Some(u) => {
                if !self.may(&subject, "runAs", project, job) {
                    return Err(StartError::Unauthorized {
                        action: "runAs",
                        job: id,
                    });
                }
                u
            }
            None => subject.user.clone(),
        };
        let mut options = request.kept_options;
        if let Some(a) = &request.arg_string {
            for (k, v) in parse_arg_string(a)? {
                options.entry(k).or_insert(v);
            }
        }
        options.extend(request.options);
        let loglevel = request
            .loglevel
            .as_deref()
            .map(parse_loglevel)
            .transpose()?;
        let filter = request.filter.filter(|f| !f.trim().is_empty());
        if let Some(f) = &filter {
            NodeFilter::parse(f).map_err(|e| StartError::Invalid(format!("filter: {e}")))?;
        }
        // refuse bad options now, not when a later run starts
        resolve_options(job, &options)?;
        if let Some(at) = request.run_at_time.filter(|s| !s.trim().is_empty()) {
            let at = super::request::parse_run_at_time(&at).ok_or_else(|| {
                StartError::Invalid(format!("runAtTime: {at:?} is not an ISO-8601 time"))
            })?;
            if at <= self.scheduler.now() {
                // Rundeck's rule and words
                return Err(StartError::Invalid(format!(
                    "runAtTime: A job cannot be scheduled for a time in the past ({})",
                    at.to_rfc3339()
                )));
            }
            let run = RunRequest {
                project: project.to_owned(),
                job_id: id,
                options,
                user,
                filter,
                roles: Some(subject.groups.iter().cloned().collect()),
            };
            return Ok(Checked::Later { at, run });
        }
        Ok(Checked::Now(RunOptions {
            options,
            user: Some(user),
            filter,
            nodes: None,
            loglevel,
            listener: None,
            // checked as the caller: `run` on every node the run reaches and
            // on every job it references
            subject: Some(subject),
        }))
    }

    /// Starts `job` in the background as an execution owned by this server
    /// (so that, should the server die, its scheduler or another server's
    /// marks it incomplete); returns its handle. A job that does not
    /// allow multiple executions starts only while none of it runs or waits
    /// (decided in the store's transaction). A run that cannot start (bad
    /// options, bad filter) leaves no record.
    async fn launch(
        &self,
        project: &str,
        job: &Job,
        opts: RunOptions,
    ) -> std::result::Result<RunHandle, StartError> {
        let store = self.engine.store();
        let mut record = Execution::new(
            project,
            job.full_name(),
            opts.user.clone().unwrap_or_else(|| "foredeck".into()),
        );
        record.job_id = job.uuid.clone();
        record.loglevel = opts.loglevel.unwrap_or(job.loglevel);
        record.filter = opts.filter.clone();
        record.server_uuid = Some(self.scheduler.server().to_owned());
        record.id = if job.multiple_executions {
            store.create_execution(&record).await?
        } else {
            match store.create_exclusive_execution(&record).await? {
                FireOutcome::Fired(ids) if ids.len() == 1 => ids[0],
                FireOutcome::Busy(running) => {
                    return Err(StartError::AlreadyRunning {
                        job: job.uuid.clone().unwrap_or_default(),
                        running,
                    })
                }
                other => {
                    return Err(Error::Store(format!(
                        "creating an execution of job {}: unexpected {other:?}",
                        job.full_name()
                    ))
                    .into())
                }
            }
        };
        match self
            .engine
            .start_execution(project, job, &record, opts)
            .await
        {
            Ok(handle) => Ok(handle),
            Err(e) => {
                if let Err(d) = store.delete_execution(record.id).await {
                    tracing::error!(error = %d, id = record.id, "removing the record of a run that did not start");
                }
                Err(e.into())
            }
        }
    }

    /// Whether `subject` may do `action` on `job` of `project`; always, when
    /// the engine has no authorizer (a trusted library caller).
    fn may(&self, subject: &Subject, action: &str, project: &str, job: &Job) -> bool {
        self.engine.authorizer().is_none_or(|a| {
            a.allowed(
                subject,
                action,
                &job_resource(job),
                &AuthContext::Project(project.to_owned()),
            )
        })
    }
}

/// A request that passed the rules.
enum Checked {
    /// A run to start now with these options (`nodes` still to choose).
    Now(RunOptions),
    /// A run the scheduler keeps for `at`.
    Later {
        /// When it runs.
        at: DateTime<Utc>,
        /// What the scheduler runs then.
        run: RunRequest,
    },
}

/// Rundeck's argString: `-name value` pairs, by the engine's parser.
fn parse_arg_string(s: &str) -> std::result::Result<BTreeMap<String, String>, StartError> {
    crate::engine::parse::parse_arg_string(s)
        .map(|pairs| pairs.into_iter().collect())
        .map_err(|e| StartError::Invalid(format!("argString: {e}")))
}

/// A log level by its Rundeck name (`NORMAL` is `INFO`, `WARNING` `WARN`).
fn parse_loglevel(s: &str) -> std::result::Result<LogLevel, StartError> {
    match s.trim().to_ascii_uppercase().as_str() {
        "DEBUG" => Ok(LogLevel::Debug),
        "VERBOSE" => Ok(LogLevel::Verbose),
        "INFO" | "NORMAL" => Ok(LogLevel::Info),
        "WARN" | "WARNING" => Ok(LogLevel::Warn),
        "ERROR" => Ok(LogLevel::Error),
        _ => Err(StartError::Invalid(format!(
            "loglevel: {s:?} is not DEBUG, VERBOSE, INFO, WARN or ERROR"
        ))),
    }
}

#[cfg(test)]
mod tests;
