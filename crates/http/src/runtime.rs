//! What runs jobs for the API: the [`Engine`] and the [`DurableScheduler`],
//! and the node set a project's executions choose from.

use async_trait::async_trait;
use foredeck_core::authorizer::Subject;
use foredeck_core::engine::{Engine, RunOptions};
use foredeck_core::nodes::NodeSources;
use foredeck_core::schedule::{DurableScheduler, Launcher};
use foredeck_core::{Execution, Job, Node, Result, Store};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// Where a project's nodes come from: its node sources once the state has
/// them (see [`Runtime::use_node_sources`]), else the store's nodes.
type SourcesSlot = Arc<RwLock<Option<Arc<NodeSources>>>>;

/// The engine and scheduler the API starts executions with.
#[derive(Clone, Debug)]
pub struct Runtime {
    /// Runs jobs.
    pub engine: Engine,
    /// Keeps schedules and one-off run times.
    pub scheduler: DurableScheduler,
    sources: SourcesSlot,
}

impl Runtime {
    /// An engine with the `local` executor only, and a scheduler over it
    /// (not ticking until someone runs it).
    pub fn local(store: Arc<dyn Store>) -> Self {
        let engine = Engine::builder().shared_store(store.clone()).build();
        Runtime::new(engine, |launcher| {
            DurableScheduler::builder(store, launcher).build()
        })
    }

    /// A runtime over `engine`; `scheduler` builds the scheduler from the
    /// launcher that runs its executions on this engine with the project's
    /// nodes and the server's own node.
    pub fn new(
        engine: Engine,
        scheduler: impl FnOnce(Arc<dyn Launcher>) -> DurableScheduler,
    ) -> Self {
        let sources: SourcesSlot = Arc::default();
        let launcher = Arc::new(ServerLauncher {
            engine: engine.clone(),
            sources: sources.clone(),
        });
        Runtime {
            scheduler: scheduler(launcher),
            engine,
            sources,
        }
    }

    /// Takes the nodes of API and scheduled runs from these node sources
    /// (refreshed as their cache says).
    pub fn use_node_sources(&self, sources: Arc<NodeSources>) {
        if let Ok(mut slot) = self.sources.write() {
            *slot = Some(sources);
        }
    }

    /// Starts `job` in the background as an execution owned by this server
    /// (so that, should the server die, its scheduler or another server's
    /// marks it incomplete); returns the execution id. A run that cannot
    /// start (bad options, bad filter) leaves no record.
    pub async fn start(&self, project: &str, job: &Job, opts: RunOptions) -> Result<u64> {
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
        record.id = store.create_execution(&record).await?;
        match self
            .engine
            .start_execution(project, job, &record, opts)
            .await
        {
            Ok(handle) => Ok(handle.id),
            Err(e) => {
                if let Err(d) = store.delete_execution(record.id).await {
                    tracing::error!(error = %d, id = record.id, "removing the record of a run that did not start");
                }
                Err(e)
            }
        }
    }

    /// The nodes a project's executions choose from: the project's nodes
    /// (from its node sources) and the server's own node, unless a source
    /// names a node the same.
    pub async fn nodes(&self, project: &str) -> Result<Vec<Node>> {
        project_nodes(&self.engine, &self.sources, project).await
    }
}

async fn project_nodes(engine: &Engine, sources: &SourcesSlot, project: &str) -> Result<Vec<Node>> {
    let from_sources = sources.read().ok().and_then(|s| s.clone());
    let mut nodes = match from_sources {
        Some(s) => s.nodes(project).await?.as_ref().clone(),
        None => engine.store().list_nodes(project).await?,
    };
    let server = engine.server_node();
    if !nodes.iter().any(|n| n.name == server.name) {
        nodes.push(server);
    }
    Ok(nodes)
}

/// Runs scheduled executions on the engine with the same nodes as API runs.
#[derive(Clone, Debug)]
pub struct ServerLauncher {
    engine: Engine,
    sources: SourcesSlot,
}

#[async_trait]
impl Launcher for ServerLauncher {
    async fn run(
        &self,
        project: &str,
        job: &Job,
        execution: Execution,
        options: BTreeMap<String, String>,
    ) -> Result<Execution> {
        self.run_as(project, job, execution, options, None).await
    }

    /// Runs as `subject`, or, when the trigger recorded none (one stored
    /// before subjects were), as the execution's user with no roles: a
    /// scheduled run never has more rights than its recorded user.
    async fn run_as(
        &self,
        project: &str,
        job: &Job,
        execution: Execution,
        options: BTreeMap<String, String>,
        subject: Option<Subject>,
    ) -> Result<Execution> {
        let subject =
            subject.unwrap_or_else(|| Subject::new(execution.user.clone(), Vec::<String>::new()));
        let opts = RunOptions {
            options,
            user: Some(execution.user.clone()),
            filter: execution.filter.clone(),
            loglevel: Some(execution.loglevel),
            nodes: Some(project_nodes(&self.engine, &self.sources, project).await?),
            subject: Some(subject),
            ..RunOptions::default()
        };
        self.engine
            .start_execution(project, job, &execution, opts)
            .await?
            .wait()
            .await
    }
}
