//! Projects and their nodes of the [`MemoryStore`]: its [`ProjectStore`] impl.

use super::MemoryStore;
use crate::error::{Error, Result};
use crate::model::{Node, Project};
use crate::store::ProjectStore;
use async_trait::async_trait;
use std::collections::BTreeMap;

#[async_trait]
impl ProjectStore for MemoryStore {
    async fn create_project(&self, project: &Project) -> Result<()> {
        let mut inner = self.write()?;
        if inner.projects.contains_key(&project.name) {
            return Err(Error::Conflict(format!(
                "project {:?} exists",
                project.name
            )));
        }
        inner.projects.insert(project.name.clone(), project.clone());
        Ok(())
    }

    async fn update_project(&self, project: &Project) -> Result<()> {
        let mut inner = self.write()?;
        match inner.projects.get_mut(&project.name) {
            Some(p) => {
                *p = project.clone();
                Ok(())
            }
            None => Err(Error::NotFound {
                kind: "project",
                id: project.name.clone(),
            }),
        }
    }

    async fn get_project(&self, name: &str) -> Result<Option<Project>> {
        Ok(self.read()?.projects.get(name).cloned())
    }

    async fn list_projects(&self) -> Result<Vec<Project>> {
        Ok(self.read()?.projects.values().cloned().collect())
    }

    async fn delete_project(&self, name: &str) -> Result<()> {
        let mut inner = self.write()?;
        if inner.projects.remove(name).is_none() {
            return Err(Error::NotFound {
                kind: "project",
                id: name.into(),
            });
        }
        inner.nodes.remove(name);
        inner.jobs.remove(name);
        inner.raise_job_revision(name);
        inner.triggers.retain(|_, t| t.project != name);
        inner.acl.retain(|(p, _), _| p.as_deref() != Some(name));
        inner.webhooks.retain(|_, w| w.project != name);
        let ids: Vec<u64> = inner
            .executions
            .values()
            .filter(|e| e.project == name)
            .map(|e| e.id)
            .collect();
        for id in ids {
            inner.executions.remove(&id);
            inner.logs.remove(&id);
            inner.run_states.remove(&id);
        }
        Ok(())
    }

    async fn replace_nodes(&self, project: &str, source: &str, nodes: &[Node]) -> Result<()> {
        self.write()?
            .nodes
            .entry(project.into())
            .or_default()
            .insert(source.into(), nodes.to_vec());
        Ok(())
    }

    async fn list_nodes(&self, project: &str) -> Result<Vec<Node>> {
        let inner = self.read()?;
        let mut merged: BTreeMap<String, Node> = BTreeMap::new();
        if let Some(sources) = inner.nodes.get(project) {
            for nodes in sources.values() {
                for n in nodes {
                    merged.insert(n.name.clone(), n.clone());
                }
            }
        }
        Ok(merged.into_values().collect())
    }
}
