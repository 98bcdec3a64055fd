//! The filters that change how output reads: `mask-passwords`,
//! `quiet-output`, `highlight-output` and `render-datatype`.

use super::{flag, level_named, pattern, setting, Emitted, Filter, Line};
use crate::model::LogLevel;
use regex::Regex;
use serde_json::{Map, Value};

const ESC: &str = "\u{1b}";
const RESET: &str = "\u{1b}[0m";

fn foreground(kind: &str, name: &str) -> Result<&'static str, String> {
    Ok(match name {
        "red" => "31",
        "green" => "32",
        "yellow" => "33",
        "blue" => "34",
        "magenta" => "35",
        "cyan" => "36",
        "white" => "37",
        other => {
            return Err(format!(
                "log filter `{kind}`: colour `{other}` is not one of green, red, yellow, blue, magenta, cyan, white"
            ))
        }
    })
}

/// The text `mask-passwords` puts in place of a secure value: its
/// `replacement` (default `[SECURE]`), in its `color` when it has one.
pub(super) fn mask_replacement(config: &Map<String, Value>) -> Result<String, String> {
    let text = setting(config, "replacement")
        .map(|s| s.into_owned())
        .unwrap_or_else(|| crate::context::MASK.to_owned());
    Ok(match setting(config, "color") {
        Some(c) => format!("{ESC}[{}m{text}{RESET}", foreground("mask-passwords", &c)?),
        None => text,
    })
}

/// `quiet-output`: lines that match `regex` (or, by default, those that do
/// not) move to `loglevel` (default `verbose`); only lines at
/// `matchLoglevel` (default `normal`, `all` for any) are tested.
pub(super) struct Quiet {
    re: Option<Regex>,
    only: Option<LogLevel>,
    quiet_match: bool,
    to: LogLevel,
}

impl Quiet {
    pub(super) fn new(config: &Map<String, Value>) -> Result<Self, String> {
        const KIND: &str = "quiet-output";
        let re = setting(config, "regex")
            .map(|s| pattern(KIND, "regex", &s))
            .transpose()?;
        let only = match setting(config, "matchLoglevel").as_deref() {
            None => Some(LogLevel::Info),
            Some("all") | Some("any") => None,
            Some(l) => Some(level_named(KIND, "matchLoglevel", l)?),
        };
        let to = match setting(config, "loglevel") {
            Some(l) => level_named(KIND, "loglevel", &l)?,
            None => LogLevel::Verbose,
        };
        Ok(Quiet {
            re,
            only,
            quiet_match: flag(config, "quietMatch", false),
            to,
        })
    }
}

impl Filter for Quiet {
    fn line(&mut self, line: &mut Line, _out: &mut Vec<Emitted>) {
        if self.only.is_some_and(|l| l != line.level) {
            return;
        }
        let matches = self.re.as_ref().is_none_or(|re| re.is_match(&line.text));
        if matches == self.quiet_match {
            line.level = self.to;
        }
    }
}

/// `highlight-output`: wraps each match of `regex` (or each of its groups)
/// in the ANSI codes of `fgcolor`, `bgcolor` and `mode`.
pub(super) struct Highlight {
    re: Regex,
    mark: String,
}

impl Highlight {
    pub(super) fn new(config: &Map<String, Value>) -> Result<Self, String> {
        const KIND: &str = "highlight-output";
        let src = setting(config, "regex")
            .ok_or_else(|| format!("log filter `{KIND}`: `regex` is required"))?;
        let re = pattern(KIND, "regex", &src)?;
        let mut codes = Vec::new();
        if let Some(c) = setting(config, "fgcolor") {
            codes.push(foreground(KIND, &c)?);
        }
        if let Some(c) = setting(config, "bgcolor") {
            codes.push(match c.as_ref() {
                "black" => "40",
                "red" => "41",
                "green" => "42",
                "yellow" => "43",
                "blue" => "44",
                "magenta" => "45",
                "cyan" => "46",
                "white" => "47",
                other => {
                    return Err(format!(
                        "log filter `{KIND}`: `bgcolor` `{other}` is not one of black, red, green, yellow, blue, magenta, cyan"
                    ))
                }
            });
        }
        if let Some(m) = setting(config, "mode") {
            codes.push(match m.as_ref() {
                "bold" => "1",
                "underline" => "4",
                "blink" => "5",
                "reverse" => "7",
                other => {
                    return Err(format!(
                        "log filter `{KIND}`: `mode` `{other}` is not one of bold, underline, blink, reverse"
                    ))
                }
            });
        }
        let mark = if codes.is_empty() {
            String::new()
        } else {
            format!("{ESC}[{}m", codes.join(";"))
        };
        Ok(Highlight { re, mark })
    }
}

impl Filter for Highlight {
    fn line(&mut self, line: &mut Line, _out: &mut Vec<Emitted>) {
        if line.level != LogLevel::Info || line.text.is_empty() {
            return;
        }
        let text = &line.text;
        let mut out = String::with_capacity(text.len() + 16);
        let mut at = 0;
        let mut found = false;
        for caps in self.re.captures_iter(text) {
            found = true;
            let spans: Vec<regex::Match<'_>> = if caps.len() > 1 {
                caps.iter().skip(1).flatten().collect()
            } else {
                caps.get(0).into_iter().collect()
            };
            for m in spans {
                if m.start() < at {
                    continue;
                }
                out.push_str(&text[at..m.start()]);
                out.push_str(&self.mark);
                out.push_str(m.as_str());
                out.push_str(RESET);
                at = m.end();
            }
        }
        if found {
            out.push_str(&text[at..]);
            line.text = out;
        }
    }
}

const START: &str = "#BEGIN:RUNDECK:DATATYPE:";
const END: &str = "#END:RUNDECK:DATATYPE";

/// `render-datatype`: the lines between `#BEGIN:RUNDECK:DATATYPE:<type>`
/// and `#END:RUNDECK:DATATYPE` (or, with `datatype` set, from the first
/// line) become one event at the end marker or the step's end; the marker
/// lines and the gathered lines themselves drop to DEBUG.
pub(super) struct RenderDatatype {
    started: bool,
    buffer: Vec<String>,
}

impl RenderDatatype {
    pub(super) fn new(config: &Map<String, Value>) -> Self {
        RenderDatatype {
            started: setting(config, "datatype").is_some(),
            buffer: Vec::new(),
        }
    }

    fn emit(&mut self, out: &mut Vec<Emitted>) {
        if self.started && !self.buffer.is_empty() {
            out.push(Emitted::Log(LogLevel::Info, self.buffer.join("\n")));
        }
        self.buffer.clear();
        self.started = false;
    }
}

impl Filter for RenderDatatype {
    fn line(&mut self, line: &mut Line, out: &mut Vec<Emitted>) {
        if line.level != LogLevel::Info {
            return;
        }
        if !self.started {
            if let Some(kind) = line.text.strip_prefix(START) {
                self.started = !kind.trim().is_empty();
                line.level = LogLevel::Debug;
            }
        } else if line.text.starts_with(END) {
            line.level = LogLevel::Debug;
            self.emit(out);
        } else {
            self.buffer.push(line.text.clone());
            line.level = LogLevel::Debug;
        }
    }

    fn complete(&mut self, out: &mut Vec<Emitted>) {
        self.emit(out);
    }
}
