//! The pipeline evaluator: runs a job's workflow over its nodes.
//!
//! [`Engine`] validates options, resolves the node set, records an
//! [`Execution`] in the [`Store`], walks the workflow with the job's strategy
//! (node-first, sequential, parallel), dispatches node steps to
//! [`Executor`]s with the job's thread count (within the engine's caps on
//! running steps, overall and per node), applies error handlers,
//! keepgoing, retries, timeouts and log limits, and records per-node and
//! per-step state the way Rundeck reports it.

mod authz;
mod live;
mod log;
pub(crate) mod options;
pub mod parse;
mod run;
mod slots;
mod state;

pub use authz::{job_resource, node_resource};
pub use live::{LiveError, LiveEvent, LiveLog, LIVE_CAPACITY};
pub use options::{resolve_options, ResolvedOptions};
pub use slots::{DEFAULT_MAX_RUNNING_STEPS, DEFAULT_MAX_STEPS_PER_NODE};

use crate::authorizer::{Authorizer, Subject};
use crate::context::DataContext;
use crate::error::{Error, Result};
use crate::executor::{Executor, NodeOutcome, OutputSink};
use crate::model::{Execution, Job, LogEvent, LogLevel, Node};
use crate::notifier::Notifier;
use crate::store::{RunState, Store};
use crate::vault::SecretSource;
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use tokio_util::sync::CancellationToken;

/// Receives every log event of an execution as it is written (after masking
/// and log limits). Called on the engine's tasks: keep it quick.
#[derive(Clone)]
pub struct LogListener(pub Arc<dyn Fn(&LogEvent) + Send + Sync>);

impl LogListener {
    /// Wraps a closure.
    pub fn new(f: impl Fn(&LogEvent) + Send + Sync + 'static) -> Self {
        LogListener(Arc::new(f))
    }
}

impl fmt::Debug for LogListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogListener")
    }
}

/// A user-supplied step type (`type: my-plugin` in a job). Registered on the
/// engine by name.
#[async_trait]
pub trait StepPlugin: Send + Sync + fmt::Debug {
    /// Runs the step once (workflow step) or on one node (node step).
    async fn run(&self, call: PluginCall) -> Result<NodeOutcome>;
}

/// What a [`StepPlugin`] gets to work with.
#[derive(Debug)]
pub struct PluginCall {
    /// The node, for node steps.
    pub node: Option<Node>,
    /// The step's configuration, with `${...}` references expanded in strings.
    pub configuration: BTreeMap<String, serde_json::Value>,
    /// Options, job and captured data.
    pub context: DataContext,
    /// Where the step's output goes.
    pub out: OutputSink,
    /// Cancelled when the execution is aborted or times out.
    pub abort: CancellationToken,
}

/// How to run a job.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Option values by name (`--option k=v`, argString).
    pub options: BTreeMap<String, String>,
    /// Who runs it (default `foredeck`).
    pub user: Option<String>,
    /// A node filter that replaces the job's.
    pub filter: Option<String>,
    /// The nodes to choose from; by default the project's nodes from the store.
    pub nodes: Option<Vec<Node>>,
    /// Log level that replaces the job's.
    pub loglevel: Option<LogLevel>,
    /// Receives log events live.
    pub listener: Option<LogListener>,
    /// Whose rights the run has: when set and the engine has an
    /// [`Authorizer`], every node the run targets needs `run` for this
    /// subject, and every job reference `run` on the referenced job (at
    /// every depth). `None` runs unchecked (a trusted library caller).
    pub subject: Option<Subject>,
}

impl RunOptions {
    /// Sets one option value.
    pub fn option(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.insert(name.into(), value.into());
        self
    }

    /// Runs on exactly these nodes (still subject to the filter).
    pub fn nodes(mut self, nodes: Vec<Node>) -> Self {
        self.nodes = Some(nodes);
        self
    }

    /// Runs with the rights of `subject` (see [`RunOptions::subject`]).
    pub fn as_subject(mut self, subject: Subject) -> Self {
        self.subject = Some(subject);
        self
    }

    /// Sends log events to a closure as they happen.
    pub fn on_log(mut self, f: impl Fn(&LogEvent) + Send + Sync + 'static) -> Self {
        self.listener = Some(LogListener::new(f));
        self
    }
}

/// Why an execution stopped early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StopReason {
    Abort,
    Timeout,
    LogLimit(Option<String>),
}

/// Abort signal of one job run (all its attempts and job references).
#[derive(Debug, Default)]
pub(crate) struct Control {
    pub cancel: CancellationToken,
    reason: Mutex<Option<StopReason>>,
    /// The user who aborted it, when one did.
    aborted_by: Mutex<Option<String>>,
}

impl Control {
    pub(crate) fn child(parent: &CancellationToken) -> Self {
        Control {
            cancel: parent.child_token(),
            reason: Mutex::new(None),
            aborted_by: Mutex::new(None),
        }
    }

    /// Stops the run; the first reason wins.
    pub(crate) fn stop(&self, reason: StopReason) {
        if let Ok(mut r) = self.reason.lock() {
            r.get_or_insert(reason);
        }
        self.cancel.cancel();
    }

    /// Records who aborts the run (the first one wins), then stops it.
    pub(crate) fn abort_by(&self, user: Option<&str>) {
        if let (Some(u), Ok(mut by)) = (user, self.aborted_by.lock()) {
            by.get_or_insert_with(|| u.to_owned());
        }
        self.stop(StopReason::Abort);
    }

    /// Who aborted the run, when a user did.
    pub(crate) fn aborted_by(&self) -> Option<String> {
        self.aborted_by.lock().ok().and_then(|b| b.clone())
    }

    pub(crate) fn reason(&self) -> Option<StopReason> {
        let own = self.reason.lock().ok().and_then(|r| r.clone());
        match own {
            Some(r) => Some(r),
            // cancelled through a parent: an abort from outside
            None if self.cancel.is_cancelled() => Some(StopReason::Abort),
            None => None,
        }
    }
}

pub(crate) struct Inner {
    pub store: Arc<dyn Store>,
    pub executors: HashMap<String, Arc<dyn Executor>>,
    pub plugins: HashMap<String, Arc<dyn StepPlugin>>,
    pub notifier: Option<Arc<dyn Notifier>>,
    pub server_node: String,
    pub running: Mutex<HashMap<u64, Arc<Control>>>,
    /// Live log feeds of the executions running here.
    pub live: Mutex<HashMap<u64, Arc<live::Feed>>>,
    pub max_depth: u32,
    pub slots: slots::StepSlots,
    /// Checks runs that carry a subject (see [`RunOptions::subject`]).
    pub authorizer: RwLock<Option<Arc<dyn Authorizer>>>,
    /// Reads secure option defaults kept in key storage.
    pub secrets: RwLock<Option<Arc<dyn SecretSource>>>,
    /// Whether this server starts executions (Rundeck's execution mode).
    pub mode: crate::runs::mode::ExecutionMode,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ex: Vec<&String> = self.executors.keys().collect();
        ex.sort();
        f.debug_struct("Engine")
            .field("store", &self.store)
            .field("executors", &ex)
            .field("server_node", &self.server_node)
            .finish_non_exhaustive()
    }
}

/// Runs jobs. Cheap to clone; clones share executors, store and running executions.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

/// Builds an [`Engine`].
#[derive(Debug)]
pub struct EngineBuilder {
    store: Option<Arc<dyn Store>>,
    executors: HashMap<String, Arc<dyn Executor>>,
    plugins: HashMap<String, Arc<dyn StepPlugin>>,
    notifier: Option<Arc<dyn Notifier>>,
    authorizer: Option<Arc<dyn Authorizer>>,
    secrets: Option<Arc<dyn SecretSource>>,
    server_node: String,
    max_running_steps: usize,
    max_steps_per_node: usize,
}

impl Engine {
    /// A builder with the `local` executor registered and an in-memory store.
    pub fn builder() -> EngineBuilder {
        let mut executors: HashMap<String, Arc<dyn Executor>> = HashMap::new();
        executors.insert("local".into(), Arc::new(crate::local::LocalExecutor::new()));
        EngineBuilder {
            store: None,
            executors,
            plugins: HashMap::new(),
            notifier: None,
            authorizer: None,
            secrets: None,
            server_node: "localhost".into(),
            max_running_steps: DEFAULT_MAX_RUNNING_STEPS,
            max_steps_per_node: DEFAULT_MAX_STEPS_PER_NODE,
        }
    }

    /// Checks the runs that carry a subject with `authorizer` from now on
    /// (replacing the one set before).
    pub fn set_authorizer(&self, authorizer: Arc<dyn Authorizer>) {
        if let Ok(mut a) = self.inner.authorizer.write() {
            *a = Some(authorizer);
        }
    }

    /// Reads the key-storage defaults of secure options (`storagePath`)
    /// through `secrets` from now on (replacing the source set before).
    pub fn set_secrets(&self, secrets: Arc<dyn SecretSource>) {
        if let Ok(mut s) = self.inner.secrets.write() {
            *s = Some(secrets);
        }
    }

    /// The authorizer that checks runs carrying a subject, if any.
    pub fn authorizer(&self) -> Option<Arc<dyn Authorizer>> {
        self.inner.authorizer.read().ok().and_then(|a| a.clone())
    }

    /// This server's execution mode, shared by the run service and the
    /// scheduler's launcher: while `passive`, no execution starts.
    pub fn execution_mode(&self) -> &crate::runs::mode::ExecutionMode {
        &self.inner.mode
    }

    /// Names of the node executors registered (`local`, `ssh`, ...), sorted.
    pub fn executor_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.inner.executors.keys().cloned().collect();
        v.sort();
        v
    }

    /// Whether a notifier receives the executions' notifications.
    pub fn has_notifier(&self) -> bool {
        self.inner.notifier.is_some()
    }

    /// Names of the step plugins registered, sorted.
    pub fn step_plugin_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.inner.plugins.keys().cloned().collect();
        v.sort();
        v
    }

    /// The store executions are recorded in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The name of the node that stands for the Foredeck host (jobs without a
    /// node filter run there, with the `local` executor).
    pub fn server_node(&self) -> Node {
        Node::new(self.inner.server_node.clone())
            .with("hostname", "localhost")
            .with("node-executor", "local")
    }

    /// Runs a job to the end (with its retries) and returns the last
    /// execution. Errors are for runs that cannot start (bad options, bad
    /// filter, store failure); a failing workflow is an execution with status
    /// `failed`.
    pub async fn run_job(&self, project: &str, job: &Job, opts: RunOptions) -> Result<Execution> {
        let control = Arc::new(Control::default());
        run::run_with_retries(
            self.clone(),
            project.to_owned(),
            job.clone(),
            opts,
            control,
            0,
            None,
            None,
        )
        .await
    }

    /// Starts a job in the background; returns the first execution's id and
    /// a handle that yields the last execution.
    pub async fn start_job(&self, project: &str, job: &Job, opts: RunOptions) -> Result<RunHandle> {
        self.start(project, job, opts, None).await
    }

    /// Starts, in the background, an execution that is already in the store
    /// (one a schedule trigger created with its fire, in state `running`):
    /// the run fills in that record instead of creating one. The record's
    /// `server_uuid` is kept, and given to its retries. When the run cannot
    /// start (bad options, bad filter) the record is left as it was and the
    /// error returned: the caller decides what to record.
    pub async fn start_execution(
        &self,
        project: &str,
        job: &Job,
        execution: &Execution,
        opts: RunOptions,
    ) -> Result<RunHandle> {
        let existing = run::Existing {
            id: execution.id,
            owner: execution.server_uuid.clone(),
            resume: None,
            execution_type: execution.execution_type,
        };
        self.start(project, job, opts, Some(existing)).await
    }

    /// Continues, in the background, a durable run (a job with `durable:
    /// true`) whose server stopped: `execution` is its record as that
    /// server left it (now owned by this server: its `server_uuid` is kept,
    /// as by [`start_execution`](Self::start_execution)), `state` what the
    /// run recorded after its last step. The run goes on from
    /// `state.next_step` with the data captured before, appending to the
    /// execution's log; the steps before keep their recorded states. When
    /// it cannot start (bad options, bad filter) the record is left as it
    /// was and the error returned.
    pub async fn continue_execution(
        &self,
        project: &str,
        job: &Job,
        execution: &Execution,
        state: RunState,
        opts: RunOptions,
    ) -> Result<RunHandle> {
        let existing = run::Existing {
            id: execution.id,
            owner: execution.server_uuid.clone(),
            resume: Some(Box::new(run::Resumed {
                execution: execution.clone(),
                state,
            })),
            execution_type: execution.execution_type,
        };
        self.start(project, job, opts, Some(existing)).await
    }

    async fn start(
        &self,
        project: &str,
        job: &Job,
        opts: RunOptions,
        existing: Option<run::Existing>,
    ) -> Result<RunHandle> {
        let (id_tx, id_rx) = tokio::sync::oneshot::channel();
        let control = Arc::new(Control::default());
        let engine = self.clone();
        let (project, job) = (project.to_owned(), job.clone());
        let task = tokio::spawn(async move {
            run::run_with_retries(
                engine,
                project,
                job,
                opts,
                control,
                0,
                Some(id_tx),
                existing,
            )
            .await
        });
        match id_rx.await {
            Ok(id) => Ok(RunHandle { id, task }),
            // the run failed before it created an execution: return its error
            Err(_) => match task.await {
                Ok(Err(e)) => Err(e),
                Ok(Ok(e)) => Ok(RunHandle {
                    id: e.id,
                    task: tokio::spawn(async move { Ok(e) }),
                }),
                Err(e) => Err(Error::Executor {
                    node: String::new(),
                    message: format!("execution task failed: {e}"),
                }),
            },
        }
    }

    /// Aborts a running execution (and its retries and referenced jobs).
    /// Returns false when it is not running here.
    pub fn abort(&self, execution_id: u64) -> bool {
        self.abort_by(execution_id, None)
    }

    /// [`abort`](Self::abort), recording `user` as who aborted it (Rundeck's
    /// `abortedby`).
    pub fn abort_by(&self, execution_id: u64, user: Option<&str>) -> bool {
        let control = self
            .inner
            .running
            .lock()
            .ok()
            .and_then(|r| r.get(&execution_id).cloned());
        match control {
            Some(c) => {
                c.abort_by(user);
                true
            }
            None => false,
        }
    }

    /// Follows the log of an execution running in this engine as its
    /// events are written (masked and limited as stored), before they reach
    /// the store. None when it does not run here (another server of a
    /// cluster, or it ended): read the store instead.
    pub fn subscribe_log(&self, execution_id: u64) -> Option<LiveLog> {
        let feed = self
            .inner
            .live
            .lock()
            .ok()
            .and_then(|l| l.get(&execution_id).cloned())?;
        feed.subscribe()
    }

    /// Ids of executions running in this engine.
    pub fn running(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .inner
            .running
            .lock()
            .map(|r| r.keys().copied().collect())
            .unwrap_or_default();
        v.sort_unstable();
        v
    }
}

/// A job started with [`Engine::start_job`].
#[derive(Debug)]
pub struct RunHandle {
    /// Id of the first execution.
    pub id: u64,
    task: tokio::task::JoinHandle<Result<Execution>>,
}

impl RunHandle {
    /// Waits for the run to end and returns its last execution.
    pub async fn wait(self) -> Result<Execution> {
        self.task.await.map_err(|e| Error::Executor {
            node: String::new(),
            message: format!("execution task failed: {e}"),
        })?
    }
}

impl EngineBuilder {
    /// Where executions and logs are recorded (default: a new [`crate::MemoryStore`]).
    pub fn store(mut self, store: impl Store + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// A shared store.
    pub fn shared_store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Registers an executor under a name nodes refer to with `node-executor`.
    pub fn executor(mut self, name: impl Into<String>, executor: impl Executor + 'static) -> Self {
        self.executors.insert(name.into(), Arc::new(executor));
        self
    }

    /// Registers a step plugin under its `type` name.
    pub fn step_plugin(
        mut self,
        name: impl Into<String>,
        plugin: impl StepPlugin + 'static,
    ) -> Self {
        self.plugins.insert(name.into(), Arc::new(plugin));
        self
    }

    /// Sends start/success/failure notifications.
    pub fn notifier(mut self, notifier: impl Notifier + 'static) -> Self {
        self.notifier = Some(Arc::new(notifier));
        self
    }

    /// Checks runs that carry a subject ([`RunOptions::subject`]): `run` on
    /// every node they target and on every job they reference.
    pub fn authorizer(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.authorizer = Some(authorizer);
        self
    }

    /// Reads the key-storage defaults of secure options (`storagePath`).
    /// Without it a run of a job whose secure option has such a default, and
    /// is not given a value, is refused with an error naming the option.
    pub fn secrets(mut self, secrets: Arc<dyn SecretSource>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Name of the node that stands for the Foredeck host (default `localhost`).
    pub fn server_node(mut self, name: impl Into<String>) -> Self {
        self.server_node = name.into();
        self
    }

    /// At most this many node steps (commands, scripts, plugin steps) run at
    /// once in the engine, over all executions (default
    /// [`DEFAULT_MAX_RUNNING_STEPS`], 1,024); more wait for a slot. Minimum 1.
    pub fn max_running_steps(mut self, n: usize) -> Self {
        self.max_running_steps = n;
        self
    }

    /// At most this many steps run at once on one node (by node name), over
    /// all executions (default [`DEFAULT_MAX_STEPS_PER_NODE`], 10: OpenSSH's
    /// default `MaxSessions`); more wait for a slot. Minimum 1. Steps on this
    /// host (nodes run by the `local` executor) are bounded by
    /// [`max_running_steps`](Self::max_running_steps) alone.
    pub fn max_steps_per_node(mut self, n: usize) -> Self {
        self.max_steps_per_node = n;
        self
    }

    /// The engine.
    pub fn build(self) -> Engine {
        Engine {
            inner: Arc::new(Inner {
                store: self
                    .store
                    .unwrap_or_else(|| Arc::new(crate::memory::MemoryStore::new())),
                executors: self.executors,
                plugins: self.plugins,
                notifier: self.notifier,
                server_node: self.server_node,
                running: Mutex::new(HashMap::new()),
                live: Mutex::new(HashMap::new()),
                max_depth: 16,
                slots: slots::StepSlots::new(self.max_running_steps, self.max_steps_per_node),
                authorizer: RwLock::new(self.authorizer),
                secrets: RwLock::new(self.secrets),
                mode: crate::runs::mode::ExecutionMode::default(),
            }),
        }
    }
}
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_authz;
#[cfg(test)]
mod tests_durable;
#[cfg(test)]
mod tests_logfilter;
