//! Workflow steps and the workflow that sequences them.

use super::dispatch::NodeFilters;
use super::flex;
use super::Extra;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a workflow walks its steps across nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Strategy {
    /// Every step on one node before moving to the next node.
    #[default]
    #[serde(rename = "node-first")]
    NodeFirst,
    /// Each step on every node before the next step (Rundeck's "step-first").
    #[serde(rename = "sequential", alias = "step-first")]
    Sequential,
    /// All steps at once, each on every node.
    #[serde(rename = "parallel")]
    Parallel,
}

/// A workflow: Rundeck's `sequence`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    /// Keep running later steps after a step fails (the job still fails).
    #[serde(default, deserialize_with = "flex::bool")]
    pub keepgoing: bool,
    /// Node-first, sequential or parallel.
    #[serde(default)]
    pub strategy: Strategy,
    /// The steps, in order.
    #[serde(default)]
    pub commands: Vec<Step>,
    /// Workflow-level plugin settings (log filters), kept as written.
    #[serde(
        rename = "pluginConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub plugin_config: Option<serde_json::Value>,
    /// Fields this version does not know, kept for export.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Workflow {
    /// A workflow of these steps, node-first, stopping at the first failure.
    pub fn new(commands: Vec<Step>) -> Self {
        Workflow {
            commands,
            ..Workflow::default()
        }
    }
}

/// One workflow step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawStep", into = "RawStep")]
pub struct Step {
    /// What the step does.
    pub kind: StepKind,
    /// Free text shown in logs and the UI.
    pub description: Option<String>,
    /// Runs when the step fails; its result becomes the step's result.
    pub errorhandler: Option<Box<Step>>,
    /// On an error handler: when it succeeds, the workflow continues even
    /// without `keepgoing`.
    pub keepgoing_on_success: bool,
    /// Step-level plugins (log filters), kept as written.
    pub plugins: Option<serde_json::Value>,
    /// Fields this version does not know, kept for export.
    pub extra: Extra,
}

impl Step {
    /// A step of the given kind with nothing else set.
    pub fn new(kind: StepKind) -> Self {
        Step {
            kind,
            description: None,
            errorhandler: None,
            keepgoing_on_success: false,
            plugins: None,
            extra: Extra::new(),
        }
    }

    /// A shell command step.
    pub fn command(exec: impl Into<String>) -> Self {
        Step::new(StepKind::Command { exec: exec.into() })
    }

    /// Builder-style error handler.
    pub fn with_handler(mut self, handler: Step) -> Self {
        self.errorhandler = Some(Box::new(handler));
        self
    }

    /// Whether the step runs once per node (true) or once per workflow.
    pub fn is_node_step(&self) -> bool {
        match &self.kind {
            StepKind::JobRef(r) => r.node_step,
            StepKind::Plugin { node_step, .. } => *node_step,
            _ => true,
        }
    }
}

/// Where a script's content comes from and how it is started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptSpec {
    /// Arguments, expanded and split like a shell line.
    pub args: Option<String>,
    /// Interpreter line (`bash -c`, `python3`), prefixed to the script path.
    pub interpreter: Option<String>,
    /// Pass script and args as one quoted argument to the interpreter.
    pub args_quoted: bool,
    /// Extension for the temporary script file (`.ps1`, `.py`).
    pub file_extension: Option<String>,
    /// Expand `@option.x@` tokens in the script body (default on).
    pub expand_tokens: bool,
}

/// The kinds of steps.
#[allow(clippy::large_enum_variant)] // steps are few; boxing would only complicate matching
#[derive(Clone, Debug, PartialEq)]
pub enum StepKind {
    /// `exec`: a command line run by the node's shell.
    Command {
        /// The command line.
        exec: String,
    },
    /// `script`: an inline script.
    Script {
        /// The script body.
        script: String,
        /// Arguments and interpreter.
        spec: ScriptSpec,
    },
    /// `scriptfile`: a script file on the Foredeck host, copied to the node.
    ScriptFile {
        /// Path of the script on the Foredeck host.
        path: String,
        /// Arguments and interpreter.
        spec: ScriptSpec,
    },
    /// `scripturl`: a script fetched from a URL (stored; fetching needs a front-end).
    ScriptUrl {
        /// The URL.
        url: String,
        /// Arguments and interpreter.
        spec: ScriptSpec,
    },
    /// `jobref`: run another job.
    JobRef(JobRef),
    /// A step provided by a user-registered plugin.
    Plugin {
        /// Plugin name.
        plugin_type: String,
        /// Runs once per node.
        node_step: bool,
        /// Plugin configuration as written.
        configuration: BTreeMap<String, serde_json::Value>,
    },
}

/// A reference to another job.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRef {
    /// Name of the referenced job.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Group of the referenced job.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    pub group: Option<String>,
    /// UUID of the referenced job (takes precedence over name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// Project of the referenced job (default: the same project).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Argument string: `-opt value -other "two words"`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    pub args: Option<String>,
    /// Run once per node of the calling job, on that node.
    #[serde(
        default,
        skip_serializing_if = "flex::is_false",
        deserialize_with = "flex::bool"
    )]
    pub node_step: bool,
    /// Override of the referenced job's node filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodefilters: Option<NodeFilters>,
    /// Fail when the referenced job has execution disabled.
    #[serde(
        default,
        skip_serializing_if = "flex::is_false",
        deserialize_with = "flex::bool"
    )]
    pub fail_on_disable: bool,
    /// Use the calling job's nodes.
    #[serde(
        default,
        skip_serializing_if = "flex::is_false",
        deserialize_with = "flex::bool"
    )]
    pub child_nodes: bool,
    /// Pass the calling job's options through.
    #[serde(
        default,
        skip_serializing_if = "flex::is_false",
        deserialize_with = "flex::bool"
    )]
    pub import_options: bool,
    /// Do not send the referenced job's notifications.
    #[serde(
        default,
        skip_serializing_if = "flex::is_false",
        deserialize_with = "flex::bool"
    )]
    pub ignore_notifications: bool,
    /// Fields this version does not know, kept for export.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The flat shape of a step in Rundeck files; converted to [`Step`].
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStep {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    description: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    exec: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    script: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    scriptfile: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    scripturl: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    args: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    script_interpreter: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_bool"
    )]
    interpreter_args_quoted: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    file_extension: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_bool"
    )]
    expand_token_in_script_file: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jobref: Option<JobRef>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    plugin_type: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_bool"
    )]
    node_step: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    configuration: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    errorhandler: Option<Box<Step>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_bool"
    )]
    keepgoing_on_success: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plugins: Option<serde_json::Value>,
    #[serde(flatten)]
    extra: Extra,
}

impl TryFrom<RawStep> for Step {
    type Error = String;

    fn try_from(r: RawStep) -> Result<Step, String> {
        let spec = ScriptSpec {
            args: r.args.clone(),
            interpreter: r.script_interpreter,
            args_quoted: r.interpreter_args_quoted.unwrap_or(false),
            file_extension: r.file_extension,
            expand_tokens: r.expand_token_in_script_file.unwrap_or(true),
        };
        let mut kinds = Vec::new();
        if let Some(exec) = r.exec {
            kinds.push(StepKind::Command { exec });
        }
        if let Some(script) = r.script {
            kinds.push(StepKind::Script {
                script,
                spec: spec.clone(),
            });
        }
        if let Some(path) = r.scriptfile {
            kinds.push(StepKind::ScriptFile {
                path,
                spec: spec.clone(),
            });
        }
        if let Some(url) = r.scripturl {
            kinds.push(StepKind::ScriptUrl {
                url,
                spec: spec.clone(),
            });
        }
        if let Some(mut jr) = r.jobref {
            if let Some(ns) = r.node_step {
                jr.node_step = jr.node_step || ns;
            }
            kinds.push(StepKind::JobRef(jr));
        }
        if let Some(plugin_type) = r.plugin_type {
            kinds.push(StepKind::Plugin {
                plugin_type,
                node_step: r.node_step.unwrap_or(true),
                configuration: r.configuration.unwrap_or_default(),
            });
        }
        let kind = match kinds.len() {
            1 => kinds.remove(0),
            0 => {
                return Err(
                    "a step needs one of `exec`, `script`, `scriptfile`, `scripturl`, `jobref` or `type`"
                        .into(),
                )
            }
            _ => {
                return Err(
                    "a step may have only one of `exec`, `script`, `scriptfile`, `scripturl`, `jobref`, `type`"
                        .into(),
                )
            }
        };
        if let Some(h) = &r.errorhandler {
            if h.errorhandler.is_some() {
                return Err("an error handler cannot have its own `errorhandler`".into());
            }
        }
        Ok(Step {
            kind,
            description: r.description,
            errorhandler: r.errorhandler,
            keepgoing_on_success: r.keepgoing_on_success.unwrap_or(false),
            plugins: r.plugins,
            extra: r.extra,
        })
    }
}

impl From<Step> for RawStep {
    fn from(s: Step) -> RawStep {
        let mut r = RawStep {
            description: s.description,
            errorhandler: s.errorhandler,
            keepgoing_on_success: s.keepgoing_on_success.then_some(true),
            plugins: s.plugins,
            extra: s.extra,
            ..RawStep::default()
        };
        let set_spec = |r: &mut RawStep, spec: ScriptSpec| {
            r.args = spec.args;
            r.script_interpreter = spec.interpreter;
            r.interpreter_args_quoted = spec.args_quoted.then_some(true);
            r.file_extension = spec.file_extension;
            r.expand_token_in_script_file = (!spec.expand_tokens).then_some(false);
        };
        match s.kind {
            StepKind::Command { exec } => r.exec = Some(exec),
            StepKind::Script { script, spec } => {
                r.script = Some(script);
                set_spec(&mut r, spec);
            }
            StepKind::ScriptFile { path, spec } => {
                r.scriptfile = Some(path);
                set_spec(&mut r, spec);
            }
            StepKind::ScriptUrl { url, spec } => {
                r.scripturl = Some(url);
                set_spec(&mut r, spec);
            }
            StepKind::JobRef(jr) => r.jobref = Some(jr),
            StepKind::Plugin {
                plugin_type,
                node_step,
                configuration,
            } => {
                r.plugin_type = Some(plugin_type);
                r.node_step = Some(node_step);
                r.configuration = (!configuration.is_empty()).then_some(configuration);
            }
        }
        r
    }
}
