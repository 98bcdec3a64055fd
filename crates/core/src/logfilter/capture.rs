//! The data-capture filters: `key-value-data` and
//! `key-value-data-multilines`.

use super::{flag, pattern, setting, Emitted, Filter, Line};
use crate::model::LogLevel;
use regex::Regex;
use serde_json::{Map, Value};

/// Rundeck's default `key-value-data` pattern.
pub(crate) const DEFAULT_PATTERN: &str = r"^RUNDECK:DATA:\s*([^\s]+?)\s*=\s*(.+)$";
/// Characters replaced in captured keys unless the job says otherwise:
/// white space, `$`, `{`, `}` and `\`.
const INVALID_KEY: &str = r"\s|\$|\{|\}|\\";
/// What Rundeck logs when a key had characters replaced.
pub(crate) const REPLACED: &str = "Key contains not valid value which will be replaced";

/// The pattern's group count, checked as Rundeck checks it: at least one,
/// and `name` when there is only one.
fn groups(kind: &str, re: &Regex, name: Option<&str>) -> Result<usize, String> {
    let n = re.captures_len() - 1;
    if n == 0 {
        return Err(format!(
            "log filter `{kind}`: `regex`: Pattern must have at least one group"
        ));
    }
    if n == 1 && name.is_none() {
        return Err(format!(
            "log filter `{kind}`: The Name field must be defined when only one capture group is specified"
        ));
    }
    Ok(n)
}

/// Captured values as one JSON object, in capture order (what `logData`
/// writes at the step's end).
fn json_object(entries: &[(String, String)]) -> String {
    let quoted = |s: &str| Value::String(s.to_owned()).to_string();
    let body: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}:{}", quoted(k), quoted(v)))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// Sets `key` in `entries`, keeping the place of an earlier value.
fn put(entries: &mut Vec<(String, String)>, key: String, value: String) {
    match entries.iter_mut().find(|(k, _)| *k == key) {
        Some(e) => e.1 = value,
        None => entries.push((key, value)),
    }
}

/// `key-value-data`.
pub(super) struct KeyValue {
    whole: Regex,
    find: Regex,
    name: Option<String>,
    groups: usize,
    log_data: bool,
    substrings: bool,
    multiple: bool,
    invalid: Option<Regex>,
    replacement: String,
    all: Vec<(String, String)>,
}

impl KeyValue {
    pub(super) fn new(config: &Map<String, Value>) -> Result<Self, String> {
        const KIND: &str = "key-value-data";
        let src = setting(config, "regex").unwrap_or(DEFAULT_PATTERN.into());
        let find = pattern(KIND, "regex", &src)?;
        let whole = pattern(KIND, "regex", &format!("^(?:{src})$"))?;
        let name = setting(config, "name").map(|s| s.into_owned());
        let groups = groups(KIND, &find, name.as_deref())?;
        let invalid = match config.get("invalidKeyPattern") {
            None | Some(Value::Null) => Some(INVALID_KEY.to_owned()),
            Some(Value::String(s)) if s.is_empty() => None,
            Some(_) => setting(config, "invalidKeyPattern").map(|s| s.into_owned()),
        };
        let invalid = invalid
            .map(|p| pattern(KIND, "invalidKeyPattern", &p))
            .transpose()?;
        let replacement = if flag(config, "replaceFilteredResult", false) {
            match config.get("invalidCharactersReplacement") {
                Some(Value::String(s)) => s.clone(),
                _ => String::new(),
            }
        } else {
            "_".to_owned()
        };
        Ok(KeyValue {
            whole,
            find,
            name,
            groups,
            log_data: flag(config, "logData", false),
            substrings: flag(config, "matchSubstrings", false),
            multiple: flag(config, "allowMultipleMatches", false),
            invalid,
            replacement,
            all: Vec::new(),
        })
    }

    fn take(&mut self, caps: &regex::Captures<'_>, out: &mut Vec<Emitted>) {
        let text = |i: usize| caps.get(i).map_or("", |m| m.as_str()).to_owned();
        let (key, value) = match (&self.name, self.groups) {
            (Some(name), 1) => (name.clone(), text(1)),
            _ => (text(1), text(2)),
        };
        if key.is_empty() {
            return;
        }
        let key = match &self.invalid {
            Some(re) => {
                let valid = re
                    .replace_all(&key, regex::NoExpand(&self.replacement))
                    .into_owned();
                if valid != key {
                    out.push(Emitted::Log(LogLevel::Warn, REPLACED.to_owned()));
                }
                valid
            }
            None => key,
        };
        put(&mut self.all, key.clone(), value.clone());
        out.push(Emitted::Data(key, value));
    }
}

impl Filter for KeyValue {
    fn line(&mut self, line: &mut Line, out: &mut Vec<Emitted>) {
        if line.level != LogLevel::Info || line.text.is_empty() {
            return;
        }
        let text = line.text.clone();
        if self.substrings && self.multiple {
            let found: Vec<_> = self.find.captures_iter(&text).collect();
            for caps in &found {
                self.take(caps, out);
            }
            return;
        }
        let re = if self.substrings {
            &self.find
        } else {
            &self.whole
        };
        if let Some(caps) = re.captures(&text) {
            self.take(&caps, out);
        }
    }

    fn complete(&mut self, out: &mut Vec<Emitted>) {
        if self.log_data && !self.all.is_empty() {
            out.push(Emitted::Log(LogLevel::Info, json_object(&self.all)));
        }
    }
}

/// `key-value-data-multilines`: every matching line's value, joined with
/// newlines under one key (`name`, or the first line's key); with
/// `captureMultipleKeysValues` and two groups, one key per line. The
/// values are set when the step's output ends.
pub(super) struct Multiline {
    re: Regex,
    name: Option<String>,
    groups: usize,
    hide: bool,
    log_data: bool,
    per_line: bool,
    key: Option<String>,
    values: Vec<String>,
    pairs: Vec<(String, String)>,
}

impl Multiline {
    pub(super) fn new(config: &Map<String, Value>) -> Result<Self, String> {
        const KIND: &str = "key-value-data-multilines";
        let src = setting(config, "regex")
            .ok_or_else(|| format!("log filter `{KIND}`: `regex` is required"))?;
        let re = pattern(KIND, "regex", &src)?;
        let name = setting(config, "name").map(|s| s.into_owned());
        let groups = groups(KIND, &re, name.as_deref())?;
        Ok(Multiline {
            re,
            name,
            groups,
            hide: flag(config, "hideOutput", false),
            log_data: flag(config, "logData", false),
            per_line: flag(config, "captureMultipleKeysValues", false),
            key: None,
            values: Vec::new(),
            pairs: Vec::new(),
        })
    }
}

impl Filter for Multiline {
    fn line(&mut self, line: &mut Line, _out: &mut Vec<Emitted>) {
        if line.level != LogLevel::Info || line.text.is_empty() {
            return;
        }
        if let Some(caps) = self.re.captures(&line.text) {
            let text = |i: usize| caps.get(i).map_or("", |m| m.as_str()).to_owned();
            if self.groups == 1 {
                self.values.push(text(1));
            } else if self.per_line {
                put(&mut self.pairs, text(1), text(2));
            } else {
                if self.key.is_none() {
                    self.key = Some(self.name.clone().unwrap_or_else(|| text(1)));
                }
                self.values.push(text(2));
            }
        }
        if self.hide {
            line.level = LogLevel::Debug;
        }
    }

    fn complete(&mut self, out: &mut Vec<Emitted>) {
        let mut captured = std::mem::take(&mut self.pairs);
        if !self.values.is_empty() {
            let key = self.key.take().or_else(|| self.name.clone());
            if let Some(key) = key.filter(|k| !k.is_empty()) {
                put(&mut captured, key, self.values.join("\n"));
            }
            self.values.clear();
        }
        for (k, v) in &captured {
            out.push(Emitted::Data(k.clone(), v.clone()));
        }
        if self.log_data && !captured.is_empty() {
            out.push(Emitted::Log(LogLevel::Info, json_object(&captured)));
        }
    }
}
