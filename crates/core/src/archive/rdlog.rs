//! Rundeck's log file format (`text/x-rundeck-log-v2.0`, the
//! `output-<id>.rdlog` of an archive): a header line, one
//! `^date|type|level|{meta}|message^` record per event, `^END^`.
//!
//! Foredeck's events map onto it as: the node and step context in the
//! metadata keys Rundeck uses (`node`, `stepctx`), its level by Rundeck's
//! name (`NORMAL` written as the empty default), and what Rundeck has no
//! field for in metadata of its own, which Rundeck keeps and ignores:
//! `foredeck.time` (the exact time; the date field has seconds only),
//! `foredeck.stream` (`stderr`, `system`) and `foredeck.raw` (a line's bytes
//! in base64 when they are not UTF-8). Records of other types than `log`
//! (Rundeck's `stepbegin`, `nodeend`...) are skipped on reading: Foredeck
//! keeps step and node state with the execution, not in its log.

use crate::model::{LogEvent, LogLevel, Stream};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

const HEAD: &str = "^text/x-rundeck-log-v2.0^";
const END: &str = "^END^";

fn level_name(l: LogLevel) -> &'static str {
    match l {
        LogLevel::Debug => "DEBUG",
        LogLevel::Verbose => "VERBOSE",
        LogLevel::Info => "",
        LogLevel::Warn => "WARN",
        LogLevel::Error => "ERROR",
    }
}

fn parse_level(s: &str) -> Result<LogLevel, String> {
    Ok(match s {
        "" | "NORMAL" | "INFO" => LogLevel::Info,
        "DEBUG" => LogLevel::Debug,
        "VERBOSE" => LogLevel::Verbose,
        "WARN" | "WARNING" => LogLevel::Warn,
        "ERR" | "ERROR" => LogLevel::Error,
        other => return Err(format!("unknown log level {other:?}")),
    })
}

fn push_escaped(out: &mut String, s: &str, special: &str) {
    for c in s.chars() {
        if c == '\\' || special.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// The log as an rdlog file.
pub fn write(events: &[LogEvent]) -> String {
    let mut out = String::with_capacity(64 + events.len() * 96);
    out.push_str(HEAD);
    out.push('\n');
    for e in events {
        let mut meta: BTreeMap<&str, String> = BTreeMap::new();
        if let Some(n) = &e.node {
            meta.insert("node", n.clone());
        }
        if let Some(s) = &e.stepctx {
            meta.insert("stepctx", s.clone());
        }
        meta.insert(
            "foredeck.time",
            e.time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        );
        match e.stream {
            Stream::Stdout => {}
            Stream::Stderr => {
                meta.insert("foredeck.stream", "stderr".into());
            }
            Stream::System => {
                meta.insert("foredeck.stream", "system".into());
            }
        }
        if let Some(raw) = &e.raw {
            meta.insert(
                "foredeck.raw",
                base64::engine::general_purpose::STANDARD.encode(raw),
            );
        }
        out.push('^');
        out.push_str(&e.time.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        out.push_str("||");
        out.push_str(level_name(e.level));
        out.push_str("|{");
        for (i, (k, v)) in meta.iter().enumerate() {
            if i > 0 {
                out.push('|');
            }
            push_escaped(&mut out, k, "=|}");
            out.push('=');
            push_escaped(&mut out, v, "=|}");
        }
        out.push_str("}|");
        push_escaped(&mut out, &e.text, "^");
        out.push_str("^\n");
    }
    out.push_str(END);
    out.push('\n');
    out
}

/// Reads an rdlog file's log events; an error names the record (1-based).
pub fn parse(text: &str) -> Result<Vec<LogEvent>, String> {
    let rest = text
        .strip_prefix('\u{feff}')
        .unwrap_or(text)
        .strip_prefix(HEAD)
        .ok_or("not a Rundeck log file (no ^text/x-rundeck-log-v2.0^ header)")?;
    let mut chars = rest.char_indices().peekable();
    let mut events = Vec::new();
    let mut n = 0usize;
    loop {
        // skip line breaks between records
        while matches!(chars.peek(), Some((_, '\n' | '\r'))) {
            chars.next();
        }
        let Some((start, c)) = chars.next() else {
            break;
        };
        if c != '^' {
            return Err(format!("record {}: does not start with ^", n + 1));
        }
        // the record runs to the next unescaped ^
        let mut escaped = false;
        let mut end = None;
        for (i, c) in chars.by_ref() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '^') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or_else(|| format!("record {}: no closing ^", n + 1))?;
        let body = &rest[start + 1..end];
        if body == "END" {
            break;
        }
        n += 1;
        if let Some(e) = record(body).map_err(|e| format!("record {n}: {e}"))? {
            events.push(e);
        }
    }
    Ok(events)
}

/// One record's body (between the carets); `None` for records that are
/// not log lines.
fn record(body: &str) -> Result<Option<LogEvent>, String> {
    let mut parts = body.splitn(3, '|');
    let date = parts.next().unwrap_or_default();
    let kind = parts.next().ok_or("no event type field")?;
    let rest = parts.next().ok_or("no level field")?;
    let (level, rest) = rest.split_once('|').ok_or("no metadata field")?;
    let mut meta = BTreeMap::new();
    let message = if let Some(m) = rest.strip_prefix('{') {
        let (fields, after) = until_unescaped(m, '}').ok_or("metadata without a closing }")?;
        for field in split_unescaped(fields, '|') {
            if field.is_empty() {
                continue;
            }
            let (k, v) = split_once_unescaped(field, '=').ok_or("metadata field without =")?;
            meta.insert(unescape(k), unescape(v));
        }
        after.strip_prefix('|').ok_or("no | after the metadata")?
    } else {
        rest.strip_prefix('|').unwrap_or(rest)
    };
    if !(kind.is_empty() || kind == "log") {
        return Ok(None);
    }
    let time = match meta.get("foredeck.time") {
        Some(t) => DateTime::parse_from_rfc3339(t)
            .map_err(|e| format!("foredeck.time {t:?}: {e}"))?
            .with_timezone(&Utc),
        None => DateTime::parse_from_rfc3339(date)
            .map_err(|e| format!("date {date:?}: {e}"))?
            .with_timezone(&Utc),
    };
    let stream = match meta.get("foredeck.stream").map(String::as_str) {
        None | Some("stdout") => Stream::Stdout,
        Some("stderr") => Stream::Stderr,
        Some("system") => Stream::System,
        Some(other) => return Err(format!("unknown foredeck.stream {other:?}")),
    };
    let raw = match meta.get("foredeck.raw") {
        Some(b) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_err(|e| format!("foredeck.raw: {e}"))?,
        ),
        None => None,
    };
    Ok(Some(LogEvent {
        time,
        level: parse_level(level)?,
        stream,
        node: meta.remove("node"),
        stepctx: meta.remove("stepctx"),
        text: unescape(message),
        raw,
    }))
}

fn until_unescaped(s: &str, stop: char) -> Option<(&str, &str)> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, c) if c == stop => return Some((&s[..i], &s[i + 1..])),
            _ => {}
        }
    }
    None
}

fn split_once_unescaped(s: &str, at: char) -> Option<(&str, &str)> {
    until_unescaped(s, at)
}

fn split_unescaped(s: &str, at: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some((head, tail)) = until_unescaped(rest, at) {
        out.push(head);
        rest = tail;
    }
    out.push(rest);
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn event(text: &str) -> LogEvent {
        LogEvent {
            time: DateTime::parse_from_rfc3339("2026-12-04T10:11:12.345678Z")
                .unwrap()
                .with_timezone(&Utc),
            level: LogLevel::Info,
            stream: Stream::Stdout,
            node: Some("web|1".into()),
            stepctx: Some("1/2".into()),
            text: text.into(),
            raw: None,
        }
    }

    #[test]
    fn events_read_back_as_written() {
        let mut warn = event("careful ^ with \\ carets^");
        warn.level = LogLevel::Warn;
        warn.stream = Stream::Stderr;
        let mut raw = event("bad \u{fffd}");
        raw.raw = Some(vec![b'b', b'a', b'd', b' ', 0xff]);
        let mut sys = event("step=1}{|");
        sys.stream = Stream::System;
        sys.node = None;
        sys.level = LogLevel::Debug;
        let events = vec![event("hello"), warn, raw, sys, event("")];
        let text = write(&events);
        assert!(text.starts_with("^text/x-rundeck-log-v2.0^\n^2026-12-04T10:11:12Z||"));
        assert_eq!(parse(&text).unwrap(), events);
    }

    #[test]
    fn rundeck_written_logs_are_read() {
        let text = "^text/x-rundeck-log-v2.0^\n\
            ^2014-11-04T21:48:08Z|stepbegin||{node=n1|step=1|stepctx=1|user=admin}|^\n\
            ^2014-11-04T21:48:08Z||NORMAL|{node=n1|stepctx=1|user=admin}|hello\nworld^\n\
            ^2014-11-04T21:48:09Z||ERROR|{node=n1|stepctx=1}|boom \\^^\n\
            ^2014-11-04T21:48:09Z||||no meta^\n\
            ^END^";
        let events = parse(text).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].text, "hello\nworld");
        assert_eq!(events[0].node.as_deref(), Some("n1"));
        assert_eq!(events[1].level, LogLevel::Error);
        assert_eq!(events[1].text, "boom ^");
        assert_eq!(events[2].text, "no meta");
    }

    #[test]
    fn broken_logs_name_the_record() {
        assert!(parse("plain text").unwrap_err().contains("header"));
        let e = parse("^text/x-rundeck-log-v2.0^\n^2014-11-04T21:48:08Z||NORMAL|{}|ok^\n^bad")
            .unwrap_err();
        assert!(e.starts_with("record 2"), "{e}");
        let e = parse("^text/x-rundeck-log-v2.0^\n^yesterday||||x^").unwrap_err();
        assert!(e.starts_with("record 1: date"), "{e}");
    }
}
