//! The data context of an execution and how its values reach commands.
//!
//! A [`DataContext`] holds what Rundeck calls the data context: option values,
//! job metadata and captured key-values. The functions here expand Rundeck
//! property references with it:
//!
//! | function | tokens | unresolved reference | quoting |
//! |---|---|---|---|
//! | [`expand_command`] | `${group.key}` | blank | context-aware shell quoting |
//! | [`expand_text`] | `${group.key}` | `${option.*}` blank, others kept | none |
//! | [`expand_script`] | `@group.key@` | blank | per context in shell scripts; plain strings in Python; else refused |
//! | [`expand_script_raw`] | `@group.key@` | blank | none (Rundeck; `scriptTokens: raw`) |
//! | [`split_args`] | `${group.key}` per word | as `expand_text` | none, words become argv |
//!
//! Groups: `option`, `node`, `job`, `data` (and `unquotedoption`, see
//! [`expand_command`]). The key is everything after the first dot, so option
//! names with dots and dashes (`${option.db.host-name}`) work.
//!
//! * `${node.name}`, `hostname`, `username`, `description`, `tags` (comma
//!   list), `os-family`, `os-name`, `os-arch`, `os-version` always resolve
//!   (blank when unset, as Rundeck's node data does); any other
//!   `${node.attr}` resolves when the node has that attribute.
//! * `${data.k}` reads the value captured on the current node first, then the
//!   global one; `${data.k@web1}` reads node `web1`'s value; `${data.k*}`
//!   joins every node's value with `,` (`${data.k*;}` joins with `;`).

mod expand;
mod masker;
mod script;
mod shell;

pub use expand::{expand_command, expand_text, split_args};
pub use masker::{SecretMasker, MASK};
pub use script::{expand_script, expand_script_raw, script_language, ScriptLanguage};
pub use shell::{shell_quote, Dialect};

use crate::model::Node;
use std::collections::{BTreeMap, BTreeSet};

/// The values a step's commands, scripts and arguments may refer to.
#[derive(Clone, Debug, Default)]
pub struct DataContext {
    /// Option name -> value (`${option.name}`).
    pub options: BTreeMap<String, String>,
    /// Names of secure options; their values are masked in logs.
    pub secure_options: BTreeSet<String>,
    /// Job metadata (`${job.name}`): `name`, `group`, `id`, `execid`,
    /// `project`, `username`, `loglevel`, `user.name`, `retryAttempt`...
    pub job: BTreeMap<String, String>,
    /// Captured key-values visible to every node (`${data.k}`).
    pub data: BTreeMap<String, String>,
    /// Captured key-values per node name (`${data.k@node}`); on a node, its
    /// own values take precedence over [`DataContext::data`].
    pub node_data: BTreeMap<String, BTreeMap<String, String>>,
}

impl DataContext {
    /// Values of the secure options that have one, for a [`SecretMasker`].
    pub fn secrets(&self) -> Vec<String> {
        self.secure_options
            .iter()
            .filter_map(|name| self.options.get(name))
            .filter(|v| !v.is_empty())
            .cloned()
            .collect()
    }

    /// A masker for this context's secure option values.
    pub fn masker(&self) -> SecretMasker {
        SecretMasker::new(self.secrets())
    }

    /// Resolves `group.key` (without `${}`); `None` when unresolved.
    pub fn resolve(&self, group: &str, key: &str, node: &Node) -> Option<String> {
        match group {
            "option" | "unquotedoption" => self.options.get(key).cloned(),
            "job" => self.job.get(key).cloned(),
            "node" => node_value(node, key),
            "data" => self.data_value(key, node),
            _ => None,
        }
    }

    fn data_value(&self, key: &str, node: &Node) -> Option<String> {
        if let Some((k, sep)) = key.split_once('*') {
            let sep = if sep.is_empty() { "," } else { sep };
            let values: Vec<&str> = self
                .node_data
                .values()
                .filter_map(|m| m.get(k).map(String::as_str))
                .collect();
            return (!values.is_empty()).then(|| values.join(sep));
        }
        if let Some((k, on)) = key.rsplit_once('@') {
            return self.node_data.get(on).and_then(|m| m.get(k)).cloned();
        }
        self.node_data
            .get(&node.name)
            .and_then(|m| m.get(key))
            .or_else(|| self.data.get(key))
            .cloned()
    }
}

/// Node attributes that always resolve, blank when unset (Rundeck's node data).
const NODE_STANDARD: &[&str] = &[
    "name",
    "hostname",
    "username",
    "description",
    "tags",
    "os-family",
    "os-name",
    "os-arch",
    "os-version",
];

fn node_value(node: &Node, key: &str) -> Option<String> {
    match node.attribute(key) {
        Some(v) => Some(v.into_owned()),
        None if NODE_STANDARD.contains(&key) => Some(String::new()),
        None => None,
    }
}

/// Every `${node.*}` key with its value: the standard ones (blank when unset)
/// and every attribute under its own name.
fn node_entries(node: &Node) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for key in NODE_STANDARD {
        out.insert((*key).to_owned(), node_value(node, key).unwrap_or_default());
    }
    for (k, v) in &node.attributes {
        // the os attributes are already there under their dashed names
        if !matches!(k.as_str(), "osFamily" | "osName" | "osArch" | "osVersion") {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    out
}

/// Environment variable name for a context entry: `RD_` + `GROUP_KEY`
/// upper-cased, every character outside `[A-Z0-9_]` replaced by `_`.
pub fn env_name(group: &str, key: &str) -> String {
    let mut name = String::from("RD_");
    for c in group.chars().chain(std::iter::once('.')).chain(key.chars()) {
        let c = c.to_ascii_uppercase();
        name.push(if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        });
    }
    name
}

/// The environment a step's process gets: `RD_OPTION_*`, `RD_NODE_*`,
/// `RD_JOB_*` and `RD_DATA_*` (the node's own captured values over global
/// ones), sorted by name. When two entries map to the same name, the later
/// group in that order wins. Secure options are included like any option
/// (the caller decides which options the context holds).
pub fn environment(ctx: &DataContext, node: &Node) -> Vec<(String, String)> {
    let mut env = BTreeMap::new();
    for (k, v) in &ctx.options {
        env.insert(env_name("option", k), v.clone());
    }
    for (k, v) in node_entries(node) {
        env.insert(env_name("node", &k), v);
    }
    for (k, v) in &ctx.job {
        env.insert(env_name("job", k), v.clone());
    }
    let own = ctx.node_data.get(&node.name);
    for (k, v) in ctx.data.iter().chain(own.into_iter().flatten()) {
        env.insert(env_name("data", k), v.clone());
    }
    env.into_iter().collect()
}

#[cfg(test)]
mod script_tests;
#[cfg(test)]
mod tests;
