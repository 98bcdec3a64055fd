//! Rundeck `.aclpolicy` evaluation.
//!
//! A policy file holds YAML documents, each with a `context` (the application,
//! or projects whose name matches a regular expression), `for` rules per
//! resource type (`job`, `node`, `adhoc`, `project`, `project_acl`, `storage`,
//! `apitoken`, or the generic `resource` with a `kind` property) and the
//! subjects it applies to (`by:` / `notBy:` usernames, groups or URNs).
//!
//! A decision looks at every document that applies to the subject and the
//! context, and at every rule for the resource's type whose `equals`, `match`,
//! `contains` and `subset` clauses all hold: a rule denying the action wins,
//! otherwise a rule allowing it allows it, otherwise the action is rejected.
//!
//! [`AclRules`] is a compiled set of policies; [`AclAuthorizer`] keeps the
//! policies of a [`Store`](crate::Store) compiled in memory, with a built-in
//! policy giving the `admin` group every action (Rundeck's default
//! `admin.aclpolicy`), and reloads them when they change.

mod authorizer;
mod eval;
mod parse;
mod yaml;

pub use authorizer::AclAuthorizer;
pub use eval::AclRules;

use regex::Regex;
use serde::Serialize;
use std::collections::HashMap;

/// Largest accepted policy file.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

/// The group given every action by the built-in policy.
pub const ADMIN_GROUP: &str = "admin";

/// Name of the built-in policy.
pub const BUILTIN_ADMIN_POLICY: &str = "admin.aclpolicy (built-in)";

/// The built-in policy: Rundeck's default `admin.aclpolicy`, every action on
/// every resource type for the `admin` group, in every project and the
/// application.
pub const BUILTIN_ADMIN_YAML: &str = r#"description: Admin, all access in every project (built in).
context:
  project: '.*'
for:
  resource: [{allow: '*'}]
  adhoc: [{allow: '*'}]
  job: [{allow: '*'}]
  node: [{allow: '*'}]
  event: [{allow: '*'}]
  webhook: [{allow: '*'}]
  project: [{allow: '*'}]
  storage: [{allow: '*'}]
by:
  group: admin
---
description: Admin, all access to the application (built in).
context:
  application: 'rundeck'
for:
  resource: [{allow: '*'}]
  project: [{allow: '*'}]
  project_acl: [{allow: '*'}]
  storage: [{allow: '*'}]
  apitoken: [{allow: '*'}]
  job: [{allow: '*'}]
  node: [{allow: '*'}]
  adhoc: [{allow: '*'}]
  user: [{allow: '*'}]
  webhook: [{allow: '*'}]
by:
  group: admin
"#;

/// Where a policy file is kept, which decides what its documents may say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyScope {
    /// A system policy: every document needs a `context:`.
    System,
    /// A project's policy: its documents apply to that project only and,
    /// as in Rundeck, name no `context:`.
    Project(String),
}

/// Why a policy file is invalid, per document: Rundeck's
/// `{valid: false, policies: [{policy, errors}]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Validation {
    /// Each invalid document (`name[2]`) or the file (`name`) with its errors.
    pub policies: Vec<PolicyErrors>,
}

impl std::fmt::Display for Validation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .policies
            .iter()
            .map(|p| format!("{}: {}", p.policy, p.errors.join("; ")))
            .collect();
        f.write_str(&parts.join(" | "))
    }
}

impl std::error::Error for Validation {}

/// The errors of one document (or of the whole file).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PolicyErrors {
    /// `name.aclpolicy[N]` (N from 1), or the file name alone.
    pub policy: String,
    /// What is wrong, for people.
    pub errors: Vec<String>,
}

/// A validated, compiled policy file.
#[derive(Clone, Debug)]
pub struct Policy {
    name: String,
    docs: Vec<Doc>,
}

impl Policy {
    /// Parses and validates a policy file. Errors name the file and the
    /// document (`name[2]`) with Rundeck-style messages.
    pub fn parse(name: &str, text: &str, scope: &PolicyScope) -> Result<Policy, Validation> {
        parse::parse(name, text, scope)
    }

    /// The file name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many documents it holds.
    pub fn documents(&self) -> usize {
        self.docs.len()
    }
}

/// One compiled document.
#[derive(Clone, Debug)]
struct Doc {
    /// 1-based position in its file.
    index: usize,
    description: String,
    context: Context,
    /// Rules by resource type.
    rules: HashMap<String, Vec<Rule>>,
    by: Option<Who>,
    not_by: Option<Who>,
}

#[derive(Clone, Debug)]
enum Context {
    Application,
    Project(Regex),
}

/// Who a document names.
#[derive(Clone, Debug, Default)]
struct Who {
    users: Vec<Regex>,
    groups: Vec<Regex>,
    /// `user:NAME`, `group:NAME`, `project:NAME`: exact.
    urns: Vec<String>,
}

/// One rule: all clauses must hold for it to apply.
#[derive(Clone, Debug, Default)]
struct Rule {
    equals: Vec<(String, String)>,
    matches: Vec<(String, Vec<Regex>)>,
    contains: Vec<(String, Vec<String>)>,
    subset: Vec<(String, Vec<String>)>,
    allow: Vec<String>,
    deny: Vec<String>,
}

#[cfg(test)]
mod tests;
