//! Job reference steps: the referenced job found, checked (read access,
//! `run` on it, its executions enabled by the run rules) and run as a child
//! execution, its output copied into this log when it is of the same
//! project.

use super::super::parse::parse_arg_string;
use super::super::{Control, RunOptions};
use super::run_with_retries;
use super::runner::{Ran, Run};
use crate::context::{expand_text, DataContext};
use crate::error::{Error, Result};
use crate::model::{Execution, ExecutionStatus, JobRef, LogEvent, LogLevel, Node};
use crate::runs::rules;
use std::collections::BTreeMap;
use std::sync::Arc;

impl Run {
    /// Runs a referenced job; on a node for node-step references. Boxed with
    /// its `Send` bound spelled out: the run it starts may reach this again.
    pub(super) fn job_ref<'a>(
        &'a self,
        r: &'a JobRef,
        node: Option<&'a Node>,
        ctx: &'a str,
        dctx: &'a DataContext,
    ) -> futures::future::BoxFuture<'a, Ran> {
        Box::pin(self.run_job_ref(r, node, ctx, dctx))
    }

    async fn run_job_ref(
        &self,
        r: &JobRef,
        node: Option<&Node>,
        ctx: &str,
        dctx: &DataContext,
    ) -> Ran {
        if self.depth + 1 >= self.engine.inner.max_depth {
            return Ran::fail(format!(
                "job reference nested deeper than {} levels (does a job reference itself?)",
                self.engine.inner.max_depth
            ));
        }
        let store = &self.engine.inner.store;
        let project = r
            .project
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| self.project.clone());
        if let Err(m) =
            super::super::authz::check_project_read(&self.engine, self.subject.as_ref(), &project)
        {
            return Ran::fail(m);
        }
        let found = match (&r.uuid, r.name.is_empty()) {
            (Some(id), _) if !id.is_empty() => store.get_job(&project, id).await,
            (_, false) => store.find_job(&project, r.group.as_deref(), &r.name).await,
            _ => return Ran::fail("job reference names no job (needs uuid or name)"),
        };
        let described = match &r.uuid {
            Some(id) if !id.is_empty() => id.clone(),
            _ => match r.group.as_deref().filter(|g| !g.is_empty()) {
                Some(g) => format!("{g}/{}", r.name),
                None => r.name.clone(),
            },
        };
        let not_found = || {
            Ran::fail(format!(
                "referenced job {described:?} not found in project {project:?}"
            ))
        };
        let child = match found {
            Ok(Some(j)) => j,
            Ok(None) => return not_found(),
            Err(e) => return Ran::fail(format!("referenced job {described:?}: {e}")),
        };
        match super::super::authz::check_job_ref(
            &self.engine,
            self.subject.as_ref(),
            &project,
            &child,
        ) {
            super::super::authz::JobRefCheck::Allowed => {}
            super::super::authz::JobRefCheck::Refused(m) => return Ran::fail(m),
            // a job the subject may not even see is answered as missing
            super::super::authz::JobRefCheck::Hidden => return not_found(),
        }
        if !rules::job_executions_enabled(&child) {
            if r.fail_on_disable {
                return Ran::fail(format!(
                    "referenced job {described:?} has execution disabled"
                ));
            }
            self.message(
                LogLevel::Info,
                node.map(|n| n.name.as_str()),
                Some(ctx),
                &format!("Skipped {described:?}: execution disabled"),
            )
            .await;
            return Ran {
                ok: true,
                exit_code: None,
                failure: None,
                aborted: false,
            };
        }
        let server = self.engine.server_node();
        let target = node.unwrap_or(&server);
        let mut options: BTreeMap<String, String> = BTreeMap::new();
        if r.import_options {
            for o in &child.options {
                if let Some(v) = self.base.options.get(&o.name) {
                    options.insert(o.name.clone(), v.clone());
                }
            }
        }
        if let Some(args) = &r.args {
            match parse_arg_string(&expand_text(args, dctx, target)) {
                Ok(pairs) => options.extend(pairs),
                Err(m) => return Ran::fail(format!("job reference arguments: {m}")),
            }
        }
        let (nodes, filter) = if let Some(n) = node {
            (vec![n.clone()], Some(".*".to_owned()))
        } else if r.child_nodes {
            (self.nodes.clone(), Some(".*".to_owned()))
        } else {
            let f = r
                .nodefilters
                .as_ref()
                .and_then(|n| n.filter.clone())
                .map(|f| expand_text(&f, dctx, target));
            (self.universe.clone(), f)
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<LogEvent>();
        let prefix = ctx.to_owned();
        // The output of a job of another project belongs to that project's
        // ACL: it stays in the referenced execution's own log, which this
        // log points to, instead of being copied here.
        let same_project = project == self.project;
        let opts = RunOptions {
            options,
            user: Some(self.user.clone()),
            filter,
            nodes: Some(nodes),
            loglevel: Some(self.loglevel),
            listener: same_project.then(|| {
                super::super::LogListener::new(move |ev: &LogEvent| {
                    let mut ev = ev.clone();
                    ev.stepctx = Some(match ev.stepctx {
                        Some(c) => format!("{prefix}/{c}"),
                        None => prefix.clone(),
                    });
                    let _ = tx.send(ev);
                })
            }),
            subject: self.subject.clone(),
        };
        let log = self.log.clone();
        let pump = tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                log.send(ev).await;
            }
        });
        let parent = Arc::new(Control::child(&self.control.cancel));
        // On its own task: nested references do not grow this task's stack.
        let child_run: futures::future::BoxFuture<'static, Result<Execution>> =
            Box::pin(run_with_retries(
                self.engine.clone(),
                project.clone(),
                child.clone(),
                opts,
                parent,
                self.depth + 1,
                None,
                None,
            ));
        let result = match tokio::spawn(child_run).await {
            Ok(r) => r,
            Err(e) => Err(Error::Executor {
                node: String::new(),
                message: format!("referenced job task failed: {e}"),
            }),
        };
        let _ = pump.await;
        if let (false, Ok(e)) = (same_project, &result) {
            self.message(
                LogLevel::Info,
                node.map(|n| n.name.as_str()),
                Some(ctx),
                &format!(
                    "Referenced job {:?} ran as execution #{} of project {project:?}; \
                     its output is in that execution's log",
                    child.full_name(),
                    e.id
                ),
            )
            .await;
        }
        match result {
            Ok(e) if e.status == ExecutionStatus::Succeeded => Ran {
                ok: true,
                exit_code: None,
                failure: None,
                aborted: false,
            },
            Ok(e) => Ran {
                ok: false,
                exit_code: None,
                failure: Some(format!(
                    "referenced job {:?} execution #{} {}",
                    child.full_name(),
                    e.id,
                    e.status
                )),
                aborted: e.status == ExecutionStatus::Aborted,
            },
            Err(e) => Ran::fail(format!("referenced job {:?}: {e}", child.full_name())),
        }
    }
}
