//! Workflow steps and the workflow that sequences them.

use super::dispatch::NodeFilters;
use super::flex::{self, Flexed, Spelled, Written};
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
#[serde(from = "RawWorkflow", into = "RawWorkflow")]
pub struct Workflow {
    /// Keep running later steps after a step fails (the job still fails).
    pub keepgoing: bool,
    /// Node-first, sequential or parallel.
    pub strategy: Strategy,
    /// The steps, in order.
    pub commands: Vec<Step>,
    /// Workflow-level plugin settings (log filters), kept as written.
    pub plugin_config: Option<serde_json::Value>,
    /// How its flags were written, to write them back alike.
    pub written: Written,
    /// Fields this version does not know, kept for export.
    pub extra: Extra,
}

/// [`Workflow`] as documents write it, `keepgoing` in its written form.
#[derive(Serialize, Deserialize)]
struct RawWorkflow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keepgoing: Option<Flexed<bool>>,
    #[serde(default)]
    strategy: Spelled<Strategy>,
    #[serde(default)]
    commands: Vec<Step>,
    #[serde(
        rename = "pluginConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    plugin_config: Option<serde_json::Value>,
    #[serde(flatten)]
    extra: Extra,
}

impl From<RawWorkflow> for Workflow {
    fn from(r: RawWorkflow) -> Self {
        let mut w = Written::default();
        Workflow {
            keepgoing: w.read("keepgoing", r.keepgoing).unwrap_or(false),
            strategy: w.read_spelled("strategy", r.strategy),
            commands: r.commands,
            plugin_config: r.plugin_config,
            written: w,
            extra: r.extra,
        }
    }
}

impl From<Workflow> for RawWorkflow {
    fn from(v: Workflow) -> Self {
        let w = &v.written;
        RawWorkflow {
            keepgoing: w.write("keepgoing", v.keepgoing, true),
            strategy: w.write_spelled("strategy", v.strategy),
            commands: v.commands,
            plugin_config: v.plugin_config,
            extra: v.extra,
        }
    }
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
    /// How its flags were written, to write them back alike.
    pub written: Written,
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
            written: Written::default(),
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
#[serde(from = "RawJobRef", into = "RawJobRef")]
pub struct JobRef {
    /// Name of the referenced job.
    pub name: String,
    /// Group of the referenced job.
    pub group: Option<String>,
    /// UUID of the referenced job (takes precedence over name).
    pub uuid: Option<String>,
    /// Project of the referenced job (default: the same project).
    pub project: Option<String>,
    /// Argument string: `-opt value -other "two words"`.
    pub args: Option<String>,
    /// Run once per node of the calling job, on that node.
    pub node_step: bool,
    /// Override of the referenced job's node filter.
    pub nodefilters: Option<NodeFilters>,
    /// Fail when the referenced job has execution disabled.
    pub fail_on_disable: bool,
    /// Use the calling job's nodes.
    pub child_nodes: bool,
    /// Pass the calling job's options through.
    pub import_options: bool,
    /// Do not send the referenced job's notifications.
    pub ignore_notifications: bool,
    /// How its flags were written, to write them back alike.
    pub written: Written,
    /// Fields this version does not know, kept for export.
    pub extra: Extra,
}

/// [`JobRef`] as documents write it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawJobRef {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    project: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    args: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    node_step: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nodefilters: Option<NodeFilters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fail_on_disable: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    child_nodes: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    import_options: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ignore_notifications: Option<Flexed<bool>>,
    #[serde(flatten)]
    extra: Extra,
}

impl From<RawJobRef> for JobRef {
    fn from(r: RawJobRef) -> Self {
        let mut w = Written::default();
        JobRef {
            name: r.name,
            group: r.group,
            uuid: r.uuid,
            project: r.project,
            args: r.args,
            node_step: w.read("nodeStep", r.node_step).unwrap_or(false),
            nodefilters: r.nodefilters,
            fail_on_disable: w.read("failOnDisable", r.fail_on_disable).unwrap_or(false),
            child_nodes: w.read("childNodes", r.child_nodes).unwrap_or(false),
            import_options: w.read("importOptions", r.import_options).unwrap_or(false),
            ignore_notifications: w
                .read("ignoreNotifications", r.ignore_notifications)
                .unwrap_or(false),
            written: w,
            extra: r.extra,
        }
    }
}

impl From<JobRef> for RawJobRef {
    fn from(j: JobRef) -> Self {
        let w = &j.written;
        let flag = |field: &str, v: bool| w.write(field, v, v);
        RawJobRef {
            node_step: flag("nodeStep", j.node_step),
            fail_on_disable: flag("failOnDisable", j.fail_on_disable),
            child_nodes: flag("childNodes", j.child_nodes),
            import_options: flag("importOptions", j.import_options),
            ignore_notifications: flag("ignoreNotifications", j.ignore_notifications),
            name: j.name,
            group: j.group,
            uuid: j.uuid,
            project: j.project,
            args: j.args,
            nodefilters: j.nodefilters,
            extra: j.extra,
        }
    }
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    interpreter_args_quoted: Option<Flexed<bool>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    file_extension: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expand_token_in_script_file: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jobref: Option<JobRef>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    plugin_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    node_step: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    configuration: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    errorhandler: Option<Box<Step>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keepgoing_on_success: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plugins: Option<serde_json::Value>,
    #[serde(flatten)]
    extra: Extra,
}

impl TryFrom<RawStep> for Step {
    type Error = String;

    fn try_from(r: RawStep) -> Result<Step, String> {
        let mut w = Written::default();
        let spec = ScriptSpec {
            args: r.args.clone(),
            interpreter: r.script_interpreter,
            args_quoted: w
                .read("interpreterArgsQuoted", r.interpreter_args_quoted)
                .unwrap_or(false),
            file_extension: r.file_extension,
            expand_tokens: w
                .read("expandTokenInScriptFile", r.expand_token_in_script_file)
                .unwrap_or(true),
        };
        let node_step = w.read("nodeStep", r.node_step);
        let keepgoing_on_success = w.read("keepgoingOnSuccess", r.keepgoing_on_success);
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
            if let Some(ns) = node_step {
                jr.node_step = jr.node_step || ns;
            }
            kinds.push(StepKind::JobRef(jr));
        }
        if let Some(plugin_type) = r.plugin_type {
            kinds.push(StepKind::Plugin {
                plugin_type,
                node_step: node_step.unwrap_or(true),
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
            keepgoing_on_success: keepgoing_on_success.unwrap_or(false),
            plugins: r.plugins,
            written: w,
            extra: r.extra,
        })
    }
}

impl From<Step> for RawStep {
    fn from(s: Step) -> RawStep {
        let w = s.written;
        let mut r = RawStep {
            description: s.description,
            errorhandler: s.errorhandler,
            keepgoing_on_success: w.write(
                "keepgoingOnSuccess",
                s.keepgoing_on_success,
                s.keepgoing_on_success,
            ),
            plugins: s.plugins,
            extra: s.extra,
            ..RawStep::default()
        };
        let set_spec = |r: &mut RawStep, spec: ScriptSpec| {
            r.args = spec.args;
            r.script_interpreter = spec.interpreter;
            r.interpreter_args_quoted =
                w.write("interpreterArgsQuoted", spec.args_quoted, spec.args_quoted);
            r.file_extension = spec.file_extension;
            r.expand_token_in_script_file = w.write(
                "expandTokenInScriptFile",
                spec.expand_tokens,
                !spec.expand_tokens,
            );
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
            StepKind::JobRef(jr) => {
                // `nodeStep` written beside `jobref` rather than inside it
                r.node_step = w.write("nodeStep", jr.node_step, false);
                r.jobref = Some(jr);
            }
            StepKind::Plugin {
                plugin_type,
                node_step,
                configuration,
            } => {
                r.plugin_type = Some(plugin_type);
                r.node_step = w.write("nodeStep", node_step, true);
                r.configuration = (!configuration.is_empty()).then_some(configuration);
            }
        }
        r
    }
}
