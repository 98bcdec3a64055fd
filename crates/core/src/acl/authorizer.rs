//! [`AclAuthorizer`]: the policies of a store, compiled and kept in memory.

use super::{AclRules, Policy, PolicyScope, BUILTIN_ADMIN_POLICY, BUILTIN_ADMIN_YAML};
use crate::authorizer::{AuthContext, Authorizer, Decision, Resource, Subject};
use crate::{Result, Store};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// What is loaded: application and system rules, and each project's own.
#[derive(Debug, Default)]
struct Loaded {
    /// The built-in admin policy and the system policies.
    system: AclRules,
    /// Policies stored with a project, by project.
    projects: HashMap<String, AclRules>,
}

/// Evaluates the `.aclpolicy` documents kept in a [`Store`] (system policies
/// and each project's), plus a built-in policy giving the `admin` group every
/// action. Decisions are made on a compiled in-memory copy; [`refresh`]
/// reloads it (the HTTP API calls it after every policy change, and
/// [`spawn_refresh`](AclAuthorizer::spawn_refresh) picks up changes made by
/// other servers on the same database).
///
/// Stored policies that no longer validate are skipped with an error in the
/// log, so one bad file cannot lock everyone out.
///
/// [`refresh`]: Authorizer::refresh
#[derive(Debug)]
pub struct AclAuthorizer {
    store: Arc<dyn Store>,
    builtin: Policy,
    loaded: RwLock<Arc<Loaded>>,
    /// Serializes reloads so that an older load never replaces a newer one.
    reloading: tokio::sync::Mutex<()>,
}

impl AclAuthorizer {
    /// Loads and compiles the store's policies.
    pub async fn load(store: Arc<dyn Store>) -> Result<Arc<Self>> {
        // The built-in text is a constant checked by the tests.
        let builtin = Policy::parse(
            BUILTIN_ADMIN_POLICY,
            BUILTIN_ADMIN_YAML,
            &PolicyScope::System,
        )
        .map_err(|e| crate::Error::format(BUILTIN_ADMIN_POLICY, e.to_string()))?;
        let me = Arc::new(AclAuthorizer {
            store,
            builtin,
            loaded: RwLock::new(Arc::default()),
            reloading: tokio::sync::Mutex::new(()),
        });
        me.reload().await?;
        Ok(me)
    }

    /// Reads every policy from the store again.
    pub async fn reload(&self) -> Result<()> {
        let _one_at_a_time = self.reloading.lock().await;
        let mut system = vec![self.builtin.clone()];
        for p in self.store.list_acl_policies(None).await? {
            if let Some(policy) = compile(&p.name, &p.content, &PolicyScope::System) {
                system.push(policy);
            }
        }
        let mut projects = HashMap::new();
        for project in self.store.list_projects().await? {
            let scope = PolicyScope::Project(project.name.clone());
            let policies: Vec<Policy> = self
                .store
                .list_acl_policies(Some(&project.name))
                .await?
                .iter()
                .filter_map(|p| compile(&p.name, &p.content, &scope))
                .collect();
            if !policies.is_empty() {
                projects.insert(project.name, AclRules::new(policies));
            }
        }
        let loaded = Arc::new(Loaded {
            system: AclRules::new(system),
            projects,
        });
        match self.loaded.write() {
            Ok(mut g) => *g = loaded,
            Err(poisoned) => *poisoned.into_inner() = loaded,
        }
        Ok(())
    }

    /// Reloads every `every` until the authorizer is dropped, so that
    /// changes made through another server reach this one.
    pub fn spawn_refresh(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(me) = weak.upgrade() else { return };
                if let Err(e) = me.reload().await {
                    tracing::error!(error = %e, "reloading ACL policies failed; keeping the previous ones");
                }
            }
        })
    }

    fn current(&self) -> Arc<Loaded> {
        match self.loaded.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

fn compile(name: &str, text: &str, scope: &PolicyScope) -> Option<Policy> {
    match Policy::parse(name, text, scope) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::error!(policy = name, scope = ?scope, errors = %e, "skipping an invalid ACL policy");
            None
        }
    }
}

impl Authorizer for AclAuthorizer {
    fn decide(
        &self,
        subject: &Subject,
        action: &str,
        resource: &Resource,
        context: &AuthContext,
    ) -> Decision {
        let loaded = self.current();
        let system = loaded.system.decide(subject, action, resource, context);
        let project = match context {
            AuthContext::Project(p) => loaded.projects.get(p),
            AuthContext::Application => None,
        };
        let Some(project) = project else {
            return system;
        };
        match (system, project.decide(subject, action, resource, context)) {
            (d @ Decision::Deny(_), _) | (_, d @ Decision::Deny(_)) => d,
            (Decision::Allow, _) | (_, Decision::Allow) => Decision::Allow,
            _ => Decision::Reject,
        }
    }

    fn allows_every(
        &self,
        subject: &Subject,
        action: &str,
        kind: &str,
        context: &AuthContext,
    ) -> bool {
        use super::eval::Blanket;
        let loaded = self.current();
        let project = match context {
            AuthContext::Project(p) => loaded.projects.get(p),
            AuthContext::Application => None,
        };
        let system = loaded.system.blanket(subject, action, kind, context);
        let project = project.map_or(Blanket::Undecided, |p| {
            p.blanket(subject, action, kind, context)
        });
        match (system, project) {
            (Blanket::MayDeny, _) | (_, Blanket::MayDeny) => false,
            (a, b) => a == Blanket::AllowsAll || b == Blanket::AllowsAll,
        }
    }

    fn refresh(&self) -> futures::future::BoxFuture<'_, Result<()>> {
        Box::pin(self.reload())
    }
}
