//! Decisions over compiled policies: deny wins, else allow, else reject.

use super::{Context, Doc, Policy, Rule, Who};
use crate::authorizer::{AuthContext, Authorizer, Decision, Resource, Subject};

/// A compiled set of policy files, evaluated in memory.
#[derive(Clone, Debug, Default)]
pub struct AclRules {
    policies: Vec<Policy>,
}

impl AclRules {
    /// Rules from compiled policies.
    pub fn new(policies: Vec<Policy>) -> Self {
        AclRules { policies }
    }

    /// The policies, in the order given.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }
}

/// Values of a set-valued property (`tags: a, b`, `roles`): comma-separated.
fn set(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

impl Rule {
    fn applies(&self, r: &Resource) -> bool {
        let attr = |k: &str| r.attributes.get(k).map(String::as_str);
        self.equals.iter().all(|(k, v)| attr(k) == Some(v.as_str()))
            && self
                .matches
                .iter()
                .all(|(k, res)| attr(k).is_some_and(|v| res.iter().all(|re| re.is_match(v))))
            && self.contains.iter().all(|(k, wanted)| {
                attr(k).is_some_and(|v| wanted.iter().all(|w| set(v).any(|x| x == w)))
            })
            && self.subset.iter().all(|(k, allowed)| {
                attr(k).is_some_and(|v| set(v).all(|x| allowed.iter().any(|a| a == x)))
            })
    }
}

fn names(actions: &[String], action: &str) -> bool {
    actions.iter().any(|a| a == "*" || a == action)
}

impl Who {
    fn matches(&self, s: &Subject) -> bool {
        self.users.iter().any(|re| re.is_match(&s.user))
            || s.groups
                .iter()
                .any(|g| self.groups.iter().any(|re| re.is_match(g)))
            || self.urns.iter().any(|urn| match urn.split_once(':') {
                Some(("user", u)) => u == s.user,
                Some(("group", g)) => s.groups.contains(g),
                _ => false,
            })
    }
}

impl Doc {
    /// Whether the document speaks of this subject in this context; and
    /// whether its allows count (a `notBy:`-only document only denies).
    fn applies(&self, s: &Subject, ctx: &AuthContext) -> Option<bool> {
        let in_context = match (&self.context, ctx) {
            (Context::Application, AuthContext::Application) => true,
            (Context::Project(re), AuthContext::Project(p)) => re.is_match(p),
            _ => false,
        };
        if !in_context {
            return None;
        }
        if self.by.as_ref().is_some_and(|w| !w.matches(s)) {
            return None;
        }
        if self.not_by.as_ref().is_some_and(|w| w.matches(s)) {
            return None;
        }
        Some(self.by.is_some())
    }
}

/// What a set of rules says of every resource of one kind at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Blanket {
    /// A rule without conditions allows the action and none could deny it.
    AllowsAll,
    /// Some rule could deny the action on some resource.
    MayDeny,
    /// Neither: each resource must be decided.
    Undecided,
}

impl Rule {
    fn unconditional(&self) -> bool {
        self.equals.is_empty()
            && self.matches.is_empty()
            && self.contains.is_empty()
            && self.subset.is_empty()
    }
}

impl AclRules {
    /// Whether these rules allow `action` on every resource of `kind`.
    pub(crate) fn blanket(
        &self,
        subject: &Subject,
        action: &str,
        kind: &str,
        context: &AuthContext,
    ) -> Blanket {
        let mut all = false;
        for p in &self.policies {
            for d in &p.docs {
                let Some(rules) = d.rules.get(kind) else {
                    continue;
                };
                let Some(allows_count) = d.applies(subject, context) else {
                    continue;
                };
                for rule in rules {
                    if names(&rule.deny, action) {
                        return Blanket::MayDeny;
                    }
                    all |= allows_count && names(&rule.allow, action) && rule.unconditional();
                }
            }
        }
        if all {
            Blanket::AllowsAll
        } else {
            Blanket::Undecided
        }
    }
}

impl Authorizer for AclRules {
    fn allows_every(
        &self,
        subject: &Subject,
        action: &str,
        kind: &str,
        context: &AuthContext,
    ) -> bool {
        self.blanket(subject, action, kind, context) == Blanket::AllowsAll
    }

    fn decide(
        &self,
        subject: &Subject,
        action: &str,
        resource: &Resource,
        context: &AuthContext,
    ) -> Decision {
        let mut allowed = false;
        for p in &self.policies {
            for d in &p.docs {
                let Some(rules) = d.rules.get(&resource.kind) else {
                    continue;
                };
                let Some(allows_count) = d.applies(subject, context) else {
                    continue;
                };
                for rule in rules {
                    let denies = names(&rule.deny, action);
                    let allows = allows_count && names(&rule.allow, action);
                    if !(denies || allows) || !rule.applies(resource) {
                        continue;
                    }
                    if denies {
                        return Decision::Deny(format!(
                            "denied by {}[{}] ({})",
                            p.name, d.index, d.description
                        ));
                    }
                    allowed = true;
                }
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::Reject
        }
    }
}
