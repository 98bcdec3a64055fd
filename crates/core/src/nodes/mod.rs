//! Node sources: where a project's nodes come from.
//!
//! A project's configuration names its sources with Rundeck's keys:
//!
//! | key | meaning |
//! |---|---|
//! | `resources.source.N.type` | `file` or `script` |
//! | `resources.source.N.config.file` | absolute path of the resource file, or of the script |
//! | `resources.source.N.config.format` | `resourceyaml` or `resourcejson` (files: else from the extension; scripts: default `resourceyaml`) |
//! | `resources.source.N.config.command` | script: a shell command line (`/bin/sh -c`) instead of `config.file` |
//! | `resources.source.N.config.interpreter` | script: program that runs `config.file` (`python3 -u`) |
//! | `resources.source.N.config.args` | script: arguments (`'quoted words'` kept together, nothing expanded) |
//! | `project.nodeCache.enabled`, `project.nodeCache.delay` | cache (default on, 30 s) |
//!
//! [`NodeSources::refresh`] reads every source and stores each one's nodes
//! with [`Store::replace_nodes`] under its own name
//! (`resources.source.0001`, ...), so the store's merge makes a later source's
//! node replace an earlier one of the same name. The server node is stored
//! under [`SERVER_SOURCE`], which comes first: a source may redefine it, and
//! it is there even when no source is configured. A source that fails
//! (missing file, bad YAML, a YAML bomb, a script that hangs, exits non-zero
//! or prints garbage) keeps the nodes it last stored; the failure is kept,
//! named by its key, for [`NodeSources::errors`].
//!
//! [`NodeSources::nodes`] answers from the store and refreshes first when the
//! project's cache is older than `project.nodeCache.delay`. After a
//! configuration change call [`NodeSources::config_changed`]: it drops the
//! nodes of removed sources and of changed sources that no longer load, and
//! refreshes.

mod config;
mod load;

pub use config::{
    cache_delay, script_sources_changed, source_entries, sources_from_config, store_name,
    SourceKind, SourceSpec, MAX_SOURCE_INDEX, SERVER_SOURCE, SOURCE_PREFIX,
};
pub use load::{load, LoadLimits};

use crate::{Node, Project, Result, Store};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// Why one source could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceError {
    /// `N` of `resources.source.N`.
    pub index: u32,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node source {}{}: {}",
            SOURCE_PREFIX, self.index, self.message
        )
    }
}

/// What one refresh did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// Sources read and stored, with their node counts.
    pub stored: Vec<(u32, usize)>,
    /// Sources that failed; their previous nodes were kept.
    pub errors: Vec<SourceError>,
}

/// Held while a project's configuration change is applied; see
/// [`NodeSources::begin_change`].
#[derive(Debug)]
pub struct ChangeLock {
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

#[derive(Debug, Default)]
struct ProjectState {
    refreshed: Option<Instant>,
    /// The merged node list as read from the store after the last refresh.
    cached: Option<Arc<Vec<Node>>>,
    /// Bumped whenever the stored nodes may have changed.
    generation: u64,
    errors: Vec<SourceError>,
    /// Serializes refreshes of one project.
    gate: Arc<tokio::sync::Mutex<()>>,
}

/// The node sources of every project, with a refresh cache.
#[derive(Debug)]
pub struct NodeSources {
    store: Arc<dyn Store>,
    server_node: Node,
    limits: LoadLimits,
    state: Mutex<HashMap<String, ProjectState>>,
}

impl NodeSources {
    /// Sources reading into `store`; `server_node` is in every project.
    pub fn new(store: Arc<dyn Store>, server_node: Node) -> Self {
        NodeSources {
            store,
            server_node,
            limits: LoadLimits::default(),
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Other bounds on file size and script time.
    pub fn with_limits(mut self, limits: LoadLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The server node.
    pub fn server_node(&self) -> &Node {
        &self.server_node
    }

    fn with_state<T>(&self, project: &str, f: impl FnOnce(&mut ProjectState) -> T) -> T {
        // A poisoned lock only means another thread panicked while holding
        // it; the map is still consistent (every update is one assignment).
        let mut map = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(map.entry(project.to_owned()).or_default())
    }

    /// The errors of the project's last refresh.
    pub fn errors(&self, project: &str) -> Vec<SourceError> {
        self.with_state(project, |s| s.errors.clone())
    }

    /// Forgets a deleted project's cache.
    pub fn forget(&self, project: &str) {
        let mut map = self.state.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(project);
    }

    /// Reads every source of `project` now and stores what loads.
    pub async fn refresh(&self, project: &Project) -> Result<RefreshReport> {
        let gate = self.with_state(&project.name, |s| s.gate.clone());
        let _held = gate.lock().await;
        self.refresh_locked(project).await
    }

    async fn refresh_locked(&self, project: &Project) -> Result<RefreshReport> {
        let specs = sources_from_config(&project.config);
        let loads = specs.iter().map(|spec| async move {
            let result = match &spec.kind {
                Ok(kind) => load(kind, self.limits).await,
                Err(e) => Err(e.clone()),
            };
            (spec, result)
        });
        let results = futures::future::join_all(loads).await;
        let mut report = RefreshReport::default();
        self.store
            .replace_nodes(
                &project.name,
                SERVER_SOURCE,
                std::slice::from_ref(&self.server_node),
            )
            .await?;
        for (spec, result) in results {
            match result {
                Ok(nodes) => {
                    self.store
                        .replace_nodes(&project.name, &spec.store_name(), &nodes)
                        .await?;
                    report.stored.push((spec.index, nodes.len()));
                }
                Err(message) => {
                    let e = SourceError {
                        index: spec.index,
                        message,
                    };
                    tracing::warn!(project = %project.name, "{e}; keeping its previous nodes");
                    report.errors.push(e);
                }
            }
        }
        let errors = report.errors.clone();
        self.with_state(&project.name, |s| {
            s.refreshed = Some(Instant::now());
            s.errors = errors;
            s.cached = None;
            s.generation += 1;
        });
        Ok(report)
    }

    /// Reads source `index` of `project` now, storing nothing: `None` when
    /// the project has no such source, else its nodes or why it did not
    /// load.
    pub async fn read_source(
        &self,
        project: &Project,
        index: u32,
    ) -> Option<std::result::Result<Vec<Node>, String>> {
        let spec = sources_from_config(&project.config)
            .into_iter()
            .find(|s| s.index == index)?;
        Some(match &spec.kind {
            Ok(kind) => load(kind, self.limits).await,
            Err(e) => Err(e.clone()),
        })
    }

    /// The project's nodes, refreshing the sources first when the cache is
    /// older than `project.nodeCache.delay` (or always, with the cache
    /// disabled). Between refreshes the merged list is kept in memory, so
    /// repeated reads cost no store query beyond the project's. A not-found
    /// error when the project does not exist.
    pub async fn nodes(&self, project: &str) -> Result<Arc<Vec<Node>>> {
        let p = self
            .store
            .get_project(project)
            .await?
            .ok_or_else(|| crate::Error::NotFound {
                kind: "project",
                id: project.to_owned(),
            })?;
        let stale = |s: &ProjectState| match (s.refreshed, cache_delay(&p.config)) {
            (None, _) | (_, None) => true,
            (Some(at), Some(delay)) => at.elapsed() >= delay,
        };
        let (is_stale, ever, gate) = self.with_state(project, |s| {
            (stale(s), s.refreshed.is_some(), s.gate.clone())
        });
        if is_stale {
            // While another request refreshes, answer with the nodes stored
            // so far rather than wait for a slow script; only the very first
            // read waits.
            let held = match gate.clone().try_lock_owned() {
                Ok(held) => Some(held),
                Err(_) if ever => None,
                Err(_) => Some(gate.lock_owned().await),
            };
            // Someone else may have refreshed while this one waited.
            if held.is_some() && self.with_state(project, |s| stale(s)) {
                self.refresh_locked(&p).await?;
            }
        }
        let caching = cache_delay(&p.config).is_some();
        let (cached, generation) = self.with_state(project, |s| (s.cached.clone(), s.generation));
        if let (true, Some(nodes)) = (caching, cached) {
            return Ok(nodes);
        }
        let nodes = Arc::new(self.store.list_nodes(project).await?);
        if caching {
            self.with_state(project, |s| {
                // Only if no refresh happened while the store was read.
                if s.generation == generation {
                    s.cached = Some(nodes.clone());
                }
            });
        }
        Ok(nodes)
    }

    /// Applies a configuration change: the nodes of sources that were
    /// removed are dropped; a source whose settings changed and that no
    /// longer loads has its old nodes dropped too (they came from the old
    /// settings); then everything is refreshed.
    pub async fn config_changed(
        &self,
        old: &BTreeMap<String, String>,
        project: &Project,
    ) -> Result<RefreshReport> {
        let lock = self.begin_change(&project.name).await;
        self.apply_change(lock, old, project).await
    }

    /// The first half of [`config_changed`](Self::config_changed), for
    /// callers that apply the change in the background: waits for any
    /// refresh of the project to end and marks its nodes stale, so that
    /// readers wait for the change instead of seeing the old sources.
    pub async fn begin_change(&self, project: &str) -> ChangeLock {
        let gate = self.with_state(project, |s| {
            s.refreshed = None;
            s.cached = None;
            s.generation += 1;
            s.gate.clone()
        });
        let held = gate.lock_owned().await;
        // A refresh that ended while this waited read the old settings.
        self.with_state(project, |s| {
            s.refreshed = None;
            s.cached = None;
            s.generation += 1;
        });
        ChangeLock { _guard: held }
    }

    /// The second half of [`config_changed`](Self::config_changed).
    pub async fn apply_change(
        &self,
        lock: ChangeLock,
        old: &BTreeMap<String, String>,
        project: &Project,
    ) -> Result<RefreshReport> {
        let _held = lock;
        let before: Vec<u32> = sources_from_config(old).iter().map(|s| s.index).collect();
        let now: Vec<u32> = sources_from_config(&project.config)
            .iter()
            .map(|s| s.index)
            .collect();
        for i in before.iter().filter(|i| !now.contains(i)) {
            self.store
                .replace_nodes(&project.name, &store_name(*i), &[])
                .await?;
        }
        let report = self.refresh_locked(project).await?;
        for e in &report.errors {
            if before.contains(&e.index)
                && source_entries(old, e.index) != source_entries(&project.config, e.index)
            {
                self.store
                    .replace_nodes(&project.name, &store_name(e.index), &[])
                    .await?;
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests;
