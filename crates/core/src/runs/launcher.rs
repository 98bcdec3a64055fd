//! [`RunLauncher`]: how the scheduler's executions start, on the same nodes
//! and with the same rights as runs started through the service; and the
//! node set runs choose from.

use crate::authorizer::Subject;
use crate::engine::Engine;
use crate::error::Result;
use crate::model::{Execution, Job, Node};
use crate::nodes::NodeSources;
use crate::schedule::launcher::{continue_recorded, run_recorded};
use crate::schedule::Launcher;
use crate::store::RunState;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// Where a project's nodes come from: its node sources once the service has
/// them ([`RunService::use_node_sources`](super::RunService::use_node_sources)),
/// else the store's nodes.
pub(super) type SourcesSlot = Arc<RwLock<Option<Arc<NodeSources>>>>;

/// The nodes a project's runs choose from: the project's nodes (from its
/// node sources) and the server's own node, unless a source names a node
/// the same.
pub(super) async fn project_nodes(
    engine: &Engine,
    sources: &SourcesSlot,
    project: &str,
) -> Result<Vec<Node>> {
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

/// Runs scheduled executions on the engine with the same nodes as the
/// service's runs.
#[derive(Clone, Debug)]
pub struct RunLauncher {
    pub(super) engine: Engine,
    pub(super) sources: SourcesSlot,
}

#[async_trait]
impl Launcher for RunLauncher {
    fn accepts_runs(&self) -> bool {
        self.engine.execution_mode().is_active()
    }

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
        let nodes = project_nodes(&self.engine, &self.sources, project).await?;
        run_recorded(
            &self.engine,
            project,
            job,
            &execution,
            options,
            Some(subject),
            Some(nodes),
        )
        .await
    }

    fn continues_runs(&self) -> bool {
        true
    }

    /// Continues as `subject`, or as the execution's user with no roles,
    /// on the service's nodes, as [`run_as`](Launcher::run_as) runs.
    async fn continue_run(
        &self,
        project: &str,
        job: &Job,
        execution: Execution,
        state: RunState,
        subject: Option<Subject>,
    ) -> Result<Execution> {
        let subject =
            subject.unwrap_or_else(|| Subject::new(execution.user.clone(), Vec::<String>::new()));
        let nodes = project_nodes(&self.engine, &self.sources, project).await?;
        continue_recorded(
            &self.engine,
            project,
            job,
            &execution,
            state,
            Some(subject),
            Some(nodes),
        )
        .await
    }
}
