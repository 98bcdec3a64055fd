//! Projects: the namespace of nodes, jobs and executions, with settings.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A project: a namespace for nodes, jobs and executions, with settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// Project name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Project configuration (Rundeck `project.*` / `resources.source.*` keys).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// `readme.md`: Markdown shown with the project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readme: Option<String>,
    /// `motd.md`: the project's message of the day (Markdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motd: Option<String>,
}

impl Project {
    /// A project with no configuration.
    pub fn new(name: impl Into<String>) -> Self {
        Project {
            name: name.into(),
            ..Project::default()
        }
    }

    /// Executor used for nodes without a `node-executor` attribute
    /// (`project.default.node-executor`, else `ssh`; the Foredeck host is always `local`).
    pub fn default_node_executor(&self) -> &str {
        self.config
            .get("project.default.node-executor")
            .map(String::as_str)
            .unwrap_or("ssh")
    }
}
