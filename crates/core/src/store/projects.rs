//! [`ProjectStore`]: projects and the nodes their sources contribute.

use crate::error::Result;
use crate::model::{Node, Project};
use async_trait::async_trait;
use std::sync::Arc;

/// Persistence of projects and their nodes.
#[async_trait]
pub trait ProjectStore: Send + Sync {
    /// Creates a project; a conflict if it exists.
    async fn create_project(&self, project: &Project) -> Result<()>;
    /// Replaces a project's description and configuration.
    async fn update_project(&self, project: &Project) -> Result<()>;
    /// A project by name.
    async fn get_project(&self, name: &str) -> Result<Option<Project>>;
    /// All projects, by name.
    async fn list_projects(&self) -> Result<Vec<Project>>;
    /// Deletes a project with its nodes, jobs and executions.
    async fn delete_project(&self, name: &str) -> Result<()>;

    /// Replaces the nodes that one source contributes to a project.
    async fn replace_nodes(&self, project: &str, source: &str, nodes: &[Node]) -> Result<()>;
    /// The project's nodes: sources in name order, a later source's node
    /// replacing an earlier one of the same name; sorted by node name.
    async fn list_nodes(&self, project: &str) -> Result<Vec<Node>>;
}

macro_rules! forward {
    ($($t:tt)*) => {
        #[async_trait]
        impl<T: ProjectStore + ?Sized> ProjectStore for $($t)* {
            async fn create_project(&self, p: &Project) -> Result<()> { (**self).create_project(p).await }
            async fn update_project(&self, p: &Project) -> Result<()> { (**self).update_project(p).await }
            async fn get_project(&self, n: &str) -> Result<Option<Project>> { (**self).get_project(n).await }
            async fn list_projects(&self) -> Result<Vec<Project>> { (**self).list_projects().await }
            async fn delete_project(&self, n: &str) -> Result<()> { (**self).delete_project(n).await }
            async fn replace_nodes(&self, p: &str, s: &str, n: &[Node]) -> Result<()> { (**self).replace_nodes(p, s, n).await }
            async fn list_nodes(&self, p: &str) -> Result<Vec<Node>> { (**self).list_nodes(p).await }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
