//! Semantic checks of a job definition, beyond what deserialization enforces.

use crate::names;
use crate::{Error, Job, NodeFilters, Result, Step, StepKind, Strategy};
use regex::Regex;
use std::collections::HashSet;

/// Checks a job for mistakes Rundeck would refuse: an empty name or one with
/// `/`, no steps, bad option names or duplicates, option regexes that do not
/// compile, defaults outside enforced values or not matching the regex,
/// empty commands or scripts, job references without a target, a thread
/// count of 0, an option `valuesUrl` that is not a URL (Rundeck's "Not a
/// valid URL"; one with `${...}` references is taken), and unparsable `timeout`, `retry`, `loglimit` or
/// `notifyAvgDurationThreshold` values, and a durable parallel workflow.
///
/// The error is [`Error::InvalidJob`] naming the job and the field path.
/// Option regexes are Rust [`regex`] syntax, so Java-only constructs such as
/// look-around are refused.
pub fn validate_job(job: &Job) -> Result<()> {
    validate_job_at(job, None)
}

/// [`validate_job`] for the job at 1-based `position` of a document, which
/// names the job when it has no name.
pub(crate) fn validate_job_at(job: &Job, position: Option<usize>) -> Result<()> {
    let label = if job.name.trim().is_empty() {
        match position {
            Some(n) => format!("#{n}"),
            None => "(unnamed)".to_owned(),
        }
    } else if job.name.chars().count() > 64 {
        // an over-long name is the error: not echoed whole
        let head: String = job.name.chars().take(64).collect();
        format!("{head}…")
    } else {
        job.name.clone()
    };
    check(job).map_err(|(field, message)| Error::InvalidJob {
        job: label,
        field,
        message,
    })
}

type Check = std::result::Result<(), (String, String)>;

fn fail(field: impl Into<String>, message: impl Into<String>) -> Check {
    Err((field.into(), message.into()))
}

fn check(job: &Job) -> Check {
    if job.name.trim().is_empty() {
        return fail("name", "a job needs a name");
    }
    if job.name.contains('/') {
        return fail("name", "a job name may not contain `/` (use `group`)");
    }
    names::check_length("job name", &job.name, names::JOB_NAME_MAX).or_else(|m| fail("name", m))?;
    if let Some(group) = &job.group {
        names::check_length("job group", group, names::GROUP_MAX).or_else(|m| fail("group", m))?;
    }
    check_options(job)?;
    if job.sequence.commands.is_empty() {
        return fail("sequence.commands", "a job needs at least one step");
    }
    for (i, step) in job.sequence.commands.iter().enumerate() {
        check_step(step, &format!("sequence.commands[{i}]"))?;
        if let Some(h) = &step.errorhandler {
            check_step(h, &format!("sequence.commands[{i}].errorhandler"))?;
        }
    }
    if let Some(nf) = &job.nodefilters {
        check_nodefilters(nf, "nodefilters")?;
    }
    if job.durable && job.sequence.strategy == Strategy::Parallel {
        return fail(
            "durable",
            "a durable job needs the sequential or node-first strategy (a parallel workflow has no position between its steps)",
        );
    }
    if let Some(t) = &job.timeout {
        if !is_duration(t) {
            return fail(
                "timeout",
                format!("`{t}` is not a duration (seconds, `1d2h3m4s` or `${{option.name}}`)"),
            );
        }
    }
    if let Some(r) = &job.retry {
        let count = r.retry.trim();
        if !(is_number(count) || is_option_ref(count)) {
            return fail(
                "retry",
                format!("`{count}` is not a retry count (a number or `${{option.name}}`)"),
            );
        }
        if let Some(d) = &r.delay {
            if !is_duration(d) {
                return fail(
                    "retry.delay",
                    format!("`{d}` is not a duration (seconds, `1d2h3m4s` or `${{option.name}}`)"),
                );
            }
        }
    }
    if let Some(t) = &job.notify_avg_duration_threshold {
        if !t.contains("${")
            && crate::engine::parse::avg_duration_limit(std::time::Duration::ZERO, Some(t)).is_err()
        {
            return fail(
                "notifyAvgDurationThreshold",
                format!("`{t}` is not a threshold (`20%`, `+30s` or a duration like `5m`)"),
            );
        }
    }
    if let Some(l) = &job.loglimit {
        if !is_loglimit(l) {
            return fail(
                "loglimit",
                format!("`{l}` is not a log limit (`100`, `100/node` or a size like `10MB`)"),
            );
        }
    }
    Ok(())
}

fn check_options(job: &Job) -> Check {
    let mut seen = HashSet::new();
    for (i, opt) in job.options.iter().enumerate() {
        let at = |f: &str| format!("options[{i}].{f}");
        names::check_length("option name", &opt.name, names::OPTION_NAME_MAX)
            .or_else(|m| fail(at("name"), m))?;
        if !is_option_name(&opt.name) {
            return fail(
                at("name"),
                format!("option name `{}` must match [A-Za-z0-9_.-]+", opt.name),
            );
        }
        if !seen.insert(opt.name.as_str()) {
            return fail(
                at("name"),
                format!("option `{}` is defined twice", opt.name),
            );
        }
        let default = opt.default.as_deref().filter(|d| !d.is_empty());
        // A multivalued default holds several values joined by the delimiter.
        let parts: Vec<&str> = match (default, opt.multivalued) {
            (None, _) => Vec::new(),
            (Some(d), true) => {
                let delim = opt
                    .delimiter
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .unwrap_or(",");
                d.split(delim).map(str::trim).collect()
            }
            (Some(d), false) => vec![d],
        };
        if let Some(re) = &opt.regex {
            // As Rundeck's `EditOptsController._validateOption` (run by its
            // import through `ScheduledExecutionService
            // .validateDefinitionOptions`): the allowed values and the
            // default must each contain a match of the regex (Groovy's
            // `=~`); a value given at run time must match it whole
            let found = Regex::new(re)
                .map_err(|e| (at("regex"), format!("`{re}` does not compile: {e}")))?;
            if let Some(v) = opt.values.iter().find(|v| !found.is_match(v)) {
                return fail(
                    at("values"),
                    format!(
                        "allowed value `{v}` of option `{}` does not match the regex `{re}`",
                        opt.name
                    ),
                );
            }
            if let Some(d) = default.filter(|d| !found.is_match(d)) {
                return fail(
                    at("value"),
                    format!(
                        "default `{d}` of option `{}` does not match the regex `{re}`",
                        opt.name
                    ),
                );
            }
        }
        if let Some(u) = &opt.values_url {
            // Rundeck's `option.valuesUrl.invalid.message`; a URL with
            // `${...}` references is checked once they are expanded
            if !u.contains("${") && url::Url::parse(u.trim()).is_err() {
                return fail(at("valuesUrl"), format!("Not a valid URL: `{u}`"));
            }
        }
        if opt.enforced && opt.values_url.is_none() {
            if let Some(p) = parts.iter().find(|p| !opt.values.iter().any(|v| v == *p)) {
                return fail(
                    at("value"),
                    format!(
                        "default `{p}` of enforced option `{}` is not one of its values",
                        opt.name
                    ),
                );
            }
        }
    }
    Ok(())
}

fn check_step(step: &Step, at: &str) -> Check {
    match &step.kind {
        StepKind::Command { exec } if exec.trim().is_empty() => {
            fail(format!("{at}.exec"), "the command is empty")
        }
        StepKind::Script { script, .. } if script.trim().is_empty() => {
            fail(format!("{at}.script"), "the script is empty")
        }
        StepKind::ScriptFile { path, .. } if path.trim().is_empty() => {
            fail(format!("{at}.scriptfile"), "the script path is empty")
        }
        StepKind::ScriptUrl { url, .. } if url.trim().is_empty() => {
            fail(format!("{at}.scripturl"), "the script URL is empty")
        }
        StepKind::JobRef(r) => {
            let no_uuid = r.uuid.as_deref().is_none_or(|u| u.trim().is_empty());
            if r.name.trim().is_empty() && no_uuid {
                return fail(
                    format!("{at}.jobref"),
                    "a job reference needs a `name` or a `uuid`",
                );
            }
            match &r.nodefilters {
                Some(nf) => check_nodefilters(nf, &format!("{at}.jobref.nodefilters")),
                None => Ok(()),
            }
        }
        StepKind::Plugin { plugin_type, .. } if plugin_type.trim().is_empty() => {
            fail(format!("{at}.type"), "the plugin type is empty")
        }
        _ => Ok(()),
    }
}

fn check_nodefilters(nf: &NodeFilters, at: &str) -> Check {
    if nf.dispatch.threadcount == 0 {
        return fail(
            format!("{at}.dispatch.threadcount"),
            "the thread count must be at least 1",
        );
    }
    Ok(())
}

fn is_option_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
}

/// Exactly one `${option.NAME}` reference.
fn is_option_ref(s: &str) -> bool {
    s.strip_prefix("${option.")
        .and_then(|r| r.strip_suffix('}'))
        .is_some_and(is_option_name)
}

/// Replaces every `${option.NAME}` with `1`; `None` when a `${` is not a
/// well-formed option reference.
fn substitute_refs(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        if !is_option_ref(&rest[start..=end]) {
            return None;
        }
        out.push('1');
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Rundeck durations: seconds (`120`), units (`1d2h3m4s`, `6h 30m`), or
/// option references standing for numbers.
fn is_duration(s: &str) -> bool {
    let Some(s) = substitute_refs(s.trim()) else {
        return false;
    };
    let mut chars = s.chars().peekable();
    let mut parts = 0;
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return parts > 0;
        }
        let mut digits = 0;
        while chars.next_if(char::is_ascii_digit).is_some() {
            digits += 1;
        }
        if digits == 0 {
            return false;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        chars.next_if(|c| matches!(c.to_ascii_lowercase(), 's' | 'm' | 'h' | 'd' | 'w' | 'y'));
        parts += 1;
    }
}

/// `100` lines, `100/node`, or a size `10B`/`10KB`/`10MB`/`10GB`.
fn is_loglimit(s: &str) -> bool {
    let s = s.trim();
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let unit = s[digits..].trim().to_ascii_lowercase();
    matches!(unit.as_str(), "" | "/node" | "b" | "kb" | "mb" | "gb")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for ok in [
            "120",
            "1d2h3m4s",
            "6h 30m",
            "${option.t}",
            "${option.t}m",
            " 10 s ",
        ] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in ["", "abc", "1x", "${option.}", "${foo}", "1h-", "${option.t"] {
            assert!(!is_duration(bad), "{bad}");
        }
    }

    #[test]
    fn loglimits() {
        for ok in ["100", "100/node", "10MB", "10kb", "1GB", "5B"] {
            assert!(is_loglimit(ok), "{ok}");
        }
        for bad in ["", "MB", "10TB", "10/nodes", "-1"] {
            assert!(!is_loglimit(bad), "{bad}");
        }
    }
}
