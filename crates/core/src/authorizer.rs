//! The `Authorizer` trait: who may do what to which resource.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Who is asking.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    /// User name.
    pub user: String,
    /// Groups (roles).
    pub groups: BTreeSet<String>,
}

impl Subject {
    /// A subject with groups.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(
        user: impl Into<String>,
        groups: I,
    ) -> Self {
        Subject {
            user: user.into(),
            groups: groups.into_iter().map(Into::into).collect(),
        }
    }
}

/// Where the decision is made: the whole application or inside a project
/// (Rundeck's `context: application` / `context: project`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthContext {
    /// Application-wide.
    Application,
    /// Inside a project.
    Project(String),
}

/// What is acted on: a kind (`job`, `node`, `adhoc`, `project`, `storage`,
/// `apitoken`, or `resource` with a `kind` attribute) and its attributes
/// (`name`, `group`, `uuid`, `tags`, `path`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// Resource type as `.aclpolicy` names it under `for:`.
    pub kind: String,
    /// Attributes matched by policy rules.
    pub attributes: BTreeMap<String, String>,
}

impl Resource {
    /// A resource of a kind with no attributes.
    pub fn new(kind: impl Into<String>) -> Self {
        Resource {
            kind: kind.into(),
            attributes: BTreeMap::new(),
        }
    }

    /// Builder-style attribute.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }
}

/// The outcome of a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// A rule allows it and none denies it.
    Allow,
    /// A rule denies it (deny wins over allow).
    Deny(String),
    /// No rule matched.
    Reject,
}

impl Decision {
    /// Whether the action may proceed.
    pub fn allowed(&self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// Decides `(subject, action, resource, context)`. The built-in one evaluates
/// Rundeck `.aclpolicy` documents.
pub trait Authorizer: Send + Sync + std::fmt::Debug {
    /// Decides one action (`read`, `run`, `create`, `update`, `delete`, `kill`, `admin`, ...).
    fn decide(
        &self,
        subject: &Subject,
        action: &str,
        resource: &Resource,
        context: &AuthContext,
    ) -> Decision;

    /// Whether it is allowed.
    fn allowed(
        &self,
        subject: &Subject,
        action: &str,
        resource: &Resource,
        context: &AuthContext,
    ) -> bool {
        self.decide(subject, action, resource, context).allowed()
    }

    /// Whether `action` is allowed on every resource of `kind` in `context`,
    /// whatever its attributes: lets a caller listing thousands of jobs skip
    /// deciding each one. `false` means "decide each" (the provided answer);
    /// an authorizer answers `true` only when no rule could deny any of them.
    fn allows_every(
        &self,
        _subject: &Subject,
        _action: &str,
        _kind: &str,
        _context: &AuthContext,
    ) -> bool {
        false
    }

    /// Reloads what the authorizer keeps in memory (compiled policies) after
    /// they changed in the store. Authorizers without a cache do nothing.
    fn refresh(&self) -> futures::future::BoxFuture<'_, crate::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

impl<T: Authorizer + ?Sized> Authorizer for Arc<T> {
    fn decide(
        &self,
        subject: &Subject,
        action: &str,
        resource: &Resource,
        context: &AuthContext,
    ) -> Decision {
        (**self).decide(subject, action, resource, context)
    }

    fn allows_every(
        &self,
        subject: &Subject,
        action: &str,
        kind: &str,
        context: &AuthContext,
    ) -> bool {
        (**self).allows_every(subject, action, kind, context)
    }

    fn refresh(&self) -> futures::future::BoxFuture<'_, crate::Result<()>> {
        (**self).refresh()
    }
}
