//! Rundeck's built-in log filters, applied to a step's output as it is
//! read.
//!
//! A job configures them as Rundeck does: on a step,
//! `plugins: {LogFilter: [{type, config}]}`, and for every step of the
//! workflow, `sequence.pluginConfig: {LogFilter: [...]}`. The workflow's
//! filters apply first, then the step's, in the order written. Each
//! filter sees one step's output on one node, from its first line to the
//! step's end, and always sees it with secure option values already masked.
//!
//! | type | what it does |
//! |---|---|
//! | `key-value-data` | captures `${data.KEY}` from lines matching a regex (default `^RUNDECK:DATA:\s*([^\s]+?)\s*=\s*(.+)$`) |
//! | `key-value-data-multilines` | captures every matching line's value under one key (or one key per line) |
//! | `mask-passwords` | sets the text that replaces secure option values (default `[SECURE]`), with an optional colour |
//! | `quiet-output` | moves matching (or non-matching) lines to another log level (default `verbose`) |
//! | `highlight-output` | wraps matches (or their groups) in ANSI colour and mode codes |
//! | `render-datatype` | gathers the lines between `#BEGIN:RUNDECK:DATATYPE:<type>` and `#END:RUNDECK:DATATYPE` (or the whole output) into one event |
//!
//! Settings are read as Rundeck reads them: booleans may be written as
//! `true` or `'true'`. Regular expressions use the `regex` crate's syntax,
//! which has no look-around or back-references; a pattern it cannot
//! compile is refused with the setting's name. A filter type that is not
//! one of these, or a setting Rundeck would refuse (a key-value pattern
//! without a group, one group without `name`), fails the step with a
//! message naming the filter, before the step runs; [`problems`] finds the
//! same faults in a job at import.
//!
//! Lines a filter moves below the execution's log level (`quiet-output`'s
//! `verbose`, the raw lines `render-datatype` gathers) are left out of the
//! log, as Rundeck's log threshold leaves them out. `render-datatype`'s
//! gathered event carries no content-type mark: Foredeck's log events
//! have no metadata, so the data arrives as one multi-line event.

mod capture;
mod style;

use crate::model::{Job, LogLevel, Step};
use serde_json::{Map, Value};

/// The log filter types Foredeck runs.
pub const KNOWN: &[&str] = &[
    "highlight-output",
    "key-value-data",
    "key-value-data-multilines",
    "mask-passwords",
    "quiet-output",
    "render-datatype",
];

/// One configured filter: its `type` and its `config`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FilterSpec {
    /// The filter's type (`key-value-data`).
    pub kind: String,
    /// Its settings as written.
    pub config: Map<String, Value>,
}

/// The `LogFilter` list of a step's `plugins` or a workflow's
/// `pluginConfig`, in order; empty when there is none.
pub fn specs(plugins: Option<&Value>) -> Result<Vec<FilterSpec>, String> {
    let Some(list) = plugins.and_then(|p| p.get("LogFilter")) else {
        return Ok(Vec::new());
    };
    let list = match list {
        Value::Null => return Ok(Vec::new()),
        Value::Array(a) => a,
        _ => return Err("LogFilter: expected a list of {type, config}".into()),
    };
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            let kind = item
                .get("type")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("LogFilter[{i}]: `type` is missing"))?;
            let config = match item.get("config") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(m)) => m.clone(),
                Some(_) => return Err(format!("LogFilter[{i}] ({kind}): `config` is not a map")),
            };
            Ok(FilterSpec {
                kind: kind.to_owned(),
                config,
            })
        })
        .collect()
}

/// A line passing through the filters.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Its level: output is INFO, standard error WARN.
    pub level: LogLevel,
    /// Its text, secure values already masked.
    pub text: String,
}

/// What the filters produce besides the lines they pass on.
#[derive(Clone, Debug, PartialEq)]
pub enum Emitted {
    /// A log event of the filter's own, written before the line that
    /// caused it (or at the step's end).
    Log(LogLevel, String),
    /// A captured value: `${data.KEY}` for the rest of the run.
    Data(String, String),
}

/// One filter's behaviour.
trait Filter: Send {
    /// Sees (and may change) one line.
    fn line(&mut self, line: &mut Line, out: &mut Vec<Emitted>);
    /// The step's output has ended.
    fn complete(&mut self, _out: &mut Vec<Emitted>) {}
}

/// The filters of one step on one node, in order.
#[derive(Default)]
pub struct Chain {
    filters: Vec<Box<dyn Filter>>,
    mask: Option<String>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("filters", &self.filters.len())
            .field("mask", &self.mask)
            .finish()
    }
}

impl Chain {
    /// The filters these specs configure; an error names the first
    /// filter that cannot run and why.
    pub fn build(specs: &[FilterSpec]) -> Result<Chain, String> {
        let mut chain = Chain::default();
        for spec in specs {
            let filter: Box<dyn Filter> = match spec.kind.as_str() {
                "key-value-data" => Box::new(capture::KeyValue::new(&spec.config)?),
                "key-value-data-multilines" => Box::new(capture::Multiline::new(&spec.config)?),
                "quiet-output" => Box::new(style::Quiet::new(&spec.config)?),
                "highlight-output" => Box::new(style::Highlight::new(&spec.config)?),
                "render-datatype" => Box::new(style::RenderDatatype::new(&spec.config)),
                "mask-passwords" => {
                    chain.mask = Some(style::mask_replacement(&spec.config)?);
                    continue;
                }
                other => {
                    return Err(format!(
                        "log filter `{other}` is not available (known: {})",
                        KNOWN.join(", ")
                    ))
                }
            };
            chain.filters.push(filter);
        }
        Ok(chain)
    }

    /// The filters of `step` in `job`: the workflow's, then the step's.
    pub fn for_step(job: &Job, step: &Step) -> Result<Chain, String> {
        let mut all = specs(job.sequence.plugin_config.as_ref())
            .map_err(|e| format!("workflow log filters: {e}"))?;
        all.extend(specs(step.plugins.as_ref())?);
        Chain::build(&all)
    }

    /// True when no filter is configured.
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty() && self.mask.is_none()
    }

    /// The text that replaces secure values, when `mask-passwords` sets one.
    pub fn mask_replacement(&self) -> Option<&str> {
        self.mask.as_deref()
    }

    /// Passes one line through every filter.
    pub fn line(&mut self, line: &mut Line, out: &mut Vec<Emitted>) {
        for f in &mut self.filters {
            f.line(line, out);
        }
    }

    /// Ends the step's output: what the filters gathered comes out.
    pub fn complete(&mut self, out: &mut Vec<Emitted>) {
        for f in &mut self.filters {
            f.complete(out);
        }
    }
}

/// What would stop a job's log filters from running: unknown filter
/// types and settings Rundeck refuses, each naming where it is
/// (`workflow`, `step 2`, `step 2 error handler`).
pub fn problems(job: &Job) -> Vec<String> {
    let mut out = Vec::new();
    match specs(job.sequence.plugin_config.as_ref()) {
        Ok(s) => {
            if let Err(e) = Chain::build(&s) {
                out.push(format!("workflow: {e}"));
            }
        }
        Err(e) => out.push(format!("workflow: {e}")),
    }
    for (i, step) in job.sequence.commands.iter().enumerate() {
        let mut check = |where_: String, step: &Step| {
            if let Err(e) = specs(step.plugins.as_ref()).and_then(|s| Chain::build(&s).map(drop)) {
                out.push(format!("{where_}: {e}"));
            }
        };
        check(format!("step {}", i + 1), step);
        if let Some(h) = &step.errorhandler {
            check(format!("step {} error handler", i + 1), h);
        }
    }
    out
}

/// A setting as a string, when set and not blank.
fn setting<'a>(config: &'a Map<String, Value>, key: &str) -> Option<std::borrow::Cow<'a, str>> {
    match config.get(key)? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s)),
        Value::Null => None,
        other => Some(std::borrow::Cow::Owned(other.to_string())),
    }
}

/// A boolean setting (`true`, `'true'`), `default` when unset.
fn flag(config: &Map<String, Value>, key: &str, default: bool) -> bool {
    match config.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().eq_ignore_ascii_case("true"),
        _ => default,
    }
}

/// A regex setting, compiled; the error names the filter and the setting.
fn pattern(kind: &str, key: &str, src: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(src)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("log filter `{kind}`: `{key}` is not a valid regular expression: {e}"))
}

/// A Rundeck log level name (`error`, `warn`, `normal`, `verbose`,
/// `debug`).
fn level_named(kind: &str, key: &str, name: &str) -> Result<LogLevel, String> {
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "error" => LogLevel::Error,
        "warn" | "warning" => LogLevel::Warn,
        "normal" | "info" => LogLevel::Info,
        "verbose" => LogLevel::Verbose,
        "debug" => LogLevel::Debug,
        other => {
            return Err(format!(
                "log filter `{kind}`: `{key}` is `{other}`, not one of error, warn, normal, verbose, debug"
            ))
        }
    })
}

#[cfg(test)]
mod tests;
