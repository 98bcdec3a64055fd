//! What a step does on a node: its command, script or plugin, expanded
//! for the node, sent to the node's executor under the engine's step caps,
//! its output captured and masked into the log.

use super::super::slots::StepSlot;
use super::super::PluginCall;
use super::runner::{Ran, Run};
use crate::context::MASK;
use crate::context::{
    environment, expand_command, expand_script, expand_script_raw, expand_text, split_args,
    DataContext,
};
use crate::error::{Error, Result};
use crate::executor::{Executor, NodeCommand, NodeRequest, OutputSink};
use crate::logfilter::{Chain, Emitted, Line};
use crate::model::{LogEvent, LogLevel, Node, ScriptTokens, Step, StepKind, Stream};
use chrono::Utc;
use std::collections::BTreeMap;
use std::sync::Arc;

impl Run {
    /// A script's text with its `@group.key@` tokens expanded: quoted for
    /// their context, or raw when the job says `scriptTokens: raw`; the
    /// error's message when a token is refused. Kept out of line: its
    /// locals would otherwise enlarge the step future, which is on the stack
    /// of every nested job reference.
    #[inline(never)]
    fn script_text(
        &self,
        script: &str,
        spec: &crate::model::ScriptSpec,
        dctx: &DataContext,
        node: &Node,
    ) -> std::result::Result<Vec<u8>, String> {
        if self.job.script_tokens == ScriptTokens::Raw {
            return Ok(expand_script_raw(script, dctx, node).into_bytes());
        }
        let interpreter = spec
            .interpreter
            .as_deref()
            .map(|s| expand_text(s, dctx, node));
        expand_script(script, interpreter.as_deref(), dctx, node)
            .map(String::into_bytes)
            .map_err(|e| e.to_string())
    }

    /// Runs one step's action on a node, or once when `node` is `None`.
    pub(super) async fn run_kind(&self, step: &Step, node: Option<&Node>, ctx: &str) -> Ran {
        let filters = match Chain::for_step(&self.job, step) {
            Ok(c) => c,
            Err(e) => return Ran::fail(e),
        };
        let server = self.engine.server_node();
        let target = node.unwrap_or(&server);
        let dctx = self.context_for(target);
        let command = match &step.kind {
            StepKind::Command { exec } => {
                if exec.trim().is_empty() {
                    return Ran::fail("empty command");
                }
                NodeCommand::Shell(expand_command(exec, &dctx, target))
            }
            StepKind::Script { script, spec } => {
                match self.script_text(script, spec, &dctx, target) {
                    Ok(bytes) => script_command(bytes, spec, &dctx, target),
                    Err(m) => return Ran::fail(m),
                }
            }
            StepKind::ScriptFile { path, spec } => {
                let path = expand_text(path, &dctx, target);
                let content = match tokio::fs::read(&path).await {
                    Ok(c) => c,
                    Err(e) => return Ran::fail(format!("cannot read script file {path}: {e}")),
                };
                let content = if spec.expand_tokens {
                    match self.script_text(&String::from_utf8_lossy(&content), spec, &dctx, target)
                    {
                        Ok(bytes) => bytes,
                        Err(m) => return Ran::fail(m),
                    }
                } else {
                    content
                };
                script_command(content, spec, &dctx, target)
            }
            StepKind::ScriptUrl { url, .. } => {
                return Ran::fail(format!(
                    "scripturl steps cannot run: fetching {url} is not supported"
                ));
            }
            StepKind::JobRef(r) => return self.job_ref(r, node, ctx, &dctx).await,
            StepKind::Plugin {
                plugin_type,
                configuration,
                ..
            } => {
                return self
                    .plugin(plugin_type, configuration, node, ctx, dctx, filters)
                    .await
            }
        };
        let executor = match self.executor_for(target) {
            Ok(e) => e,
            Err(e) => return Ran::fail(e.to_string()),
        };
        if self.loglevel == LogLevel::Debug {
            if let NodeCommand::Shell(line) = &command {
                self.message(
                    LogLevel::Debug,
                    Some(&target.name),
                    Some(ctx),
                    &format!("Command: {line}"),
                )
                .await;
            }
        }
        let req = NodeRequest {
            node: target.clone(),
            command,
            env: environment(&dctx, target),
            timeout: None,
        };
        let Some(_slot) = self.step_slot(target).await else {
            return Ran::aborted_waiting();
        };
        let (sink, rx) = OutputSink::channel(256);
        let run = executor.run(req, sink, self.control.cancel.child_token());
        let forward = Box::pin(self.forward(rx, &target.name, ctx, filters));
        let (res, ()) = tokio::join!(run, forward);
        match res {
            Ok(o) => Ran::from_outcome(&o),
            Err(e) => Ran::fail(e.to_string()),
        }
    }

    /// Copies output lines into the log: captures data, masks secrets, then
    /// passes each line through the step's log filters.
    async fn forward(
        &self,
        mut rx: tokio::sync::mpsc::Receiver<crate::executor::OutputLine>,
        node: &str,
        ctx: &str,
        mut filters: Chain,
    ) {
        let mask = filters.mask_replacement().unwrap_or(MASK).to_owned();
        let mut emitted = Vec::new();
        while let Some(line) = rx.recv().await {
            self.capture(node, &line.text);
            let (text, raw) = if self.masker.is_empty() {
                (line.text, line.raw)
            } else {
                let raw = line.raw.map(|r| self.masker.mask_bytes(&r));
                (self.masker.mask_as(&line.text, &mask), raw)
            };
            let level = if line.stream == Stream::Stderr {
                LogLevel::Warn
            } else {
                LogLevel::Info
            };
            let mut out = Line { level, text };
            let mut raw = raw;
            if !filters.is_empty() {
                let before = out.text.len();
                filters.line(&mut out, &mut emitted);
                self.emit(node, ctx, &mut emitted).await;
                if out.text.len() != before {
                    raw = None;
                }
                // Rundeck's log threshold: lines a filter moved below the
                // run's level are left out
                if out.level < LogLevel::Info && out.level < self.loglevel {
                    continue;
                }
            }
            self.log
                .send(LogEvent {
                    time: Utc::now(),
                    level: out.level,
                    stream: line.stream,
                    node: Some(node.to_owned()),
                    stepctx: Some(ctx.to_owned()),
                    text: out.text,
                    raw,
                })
                .await;
        }
        filters.complete(&mut emitted);
        self.emit(node, ctx, &mut emitted).await;
    }

    /// Writes what the log filters produced: their own lines into the log,
    /// captured values into the run's data.
    async fn emit(&self, node: &str, ctx: &str, emitted: &mut Vec<Emitted>) {
        for e in emitted.drain(..) {
            match e {
                Emitted::Data(k, v) => self.put_data(node, k, v),
                Emitted::Log(level, text) => {
                    let stream = if level == LogLevel::Info {
                        Stream::Stdout
                    } else {
                        Stream::System
                    };
                    self.log
                        .send(LogEvent {
                            time: Utc::now(),
                            level,
                            stream,
                            node: Some(node.to_owned()),
                            stepctx: Some(ctx.to_owned()),
                            text,
                            raw: None,
                        })
                        .await;
                }
            }
        }
    }

    /// Name of the executor that runs steps on `node`.
    fn executor_name<'a>(&'a self, node: &'a Node) -> &'a str {
        match node.executor() {
            Some(n) => n,
            None if node.name == self.engine.inner.server_node => "local",
            None => self.default_executor.as_str(),
        }
    }

    fn executor_for(&self, node: &Node) -> Result<Arc<dyn Executor>> {
        let name = self.executor_name(node);
        self.engine
            .inner
            .executors
            .get(name)
            .cloned()
            .ok_or_else(|| {
                let mut registered: Vec<&str> = self
                    .engine
                    .inner
                    .executors
                    .keys()
                    .map(String::as_str)
                    .collect();
                registered.sort_unstable();
                Error::NoExecutor {
                    node: node.name.clone(),
                    executor: name.to_owned(),
                    registered: registered.join(", "),
                }
            })
    }

    async fn plugin(
        &self,
        plugin_type: &str,
        configuration: &BTreeMap<String, serde_json::Value>,
        node: Option<&Node>,
        ctx: &str,
        dctx: DataContext,
        filters: Chain,
    ) -> Ran {
        let Some(plugin) = self.engine.inner.plugins.get(plugin_type).cloned() else {
            return Ran::fail(format!(
                "no step plugin named `{plugin_type}` is registered"
            ));
        };
        let server = self.engine.server_node();
        let target = node.unwrap_or(&server);
        let configuration = configuration
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => {
                        serde_json::Value::String(expand_text(s, &dctx, target))
                    }
                    other => other.clone(),
                };
                (k.clone(), v)
            })
            .collect();
        let Some(_slot) = self.step_slot(target).await else {
            return Ran::aborted_waiting();
        };
        let (sink, rx) = OutputSink::channel(256);
        let call = PluginCall {
            node: node.cloned(),
            configuration,
            context: dctx,
            out: sink,
            abort: self.control.cancel.child_token(),
        };
        let forward = Box::pin(self.forward(rx, &target.name, ctx, filters));
        let (res, ()) = tokio::join!(plugin.run(call), forward);
        match res {
            Ok(o) => Ran::from_outcome(&o),
            Err(e) => Ran::fail(e.to_string()),
        }
    }

    /// Waits for a slot under the engine's step caps: the engine-wide one,
    /// and the per-node one unless `node` runs on this host (`local`
    /// executor), which the engine-wide cap alone bounds. `None` when the
    /// run is stopped while it waits.
    async fn step_slot(&self, node: &Node) -> Option<StepSlot<'_>> {
        let remote = (self.executor_name(node) != "local").then_some(node.name.as_str());
        tokio::select! {
            slot = self.engine.inner.slots.acquire(remote) => Some(slot),
            _ = self.control.cancel.cancelled() => None,
        }
    }
}

/// A script step's command: arguments split and expanded, interpreter expanded.
fn script_command(
    content: Vec<u8>,
    spec: &crate::model::ScriptSpec,
    dctx: &DataContext,
    node: &Node,
) -> NodeCommand {
    NodeCommand::Script {
        content,
        args: spec
            .args
            .as_deref()
            .map(|a| split_args(a, dctx, node))
            .unwrap_or_default(),
        interpreter: spec
            .interpreter
            .as_deref()
            .map(|s| expand_text(s, dctx, node)),
        args_quoted: spec.args_quoted,
        file_extension: spec.file_extension.clone(),
    }
}
