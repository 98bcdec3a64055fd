//! An execution as Rundeck's archive keeps it (`execution-<id>.xml`):
//! `<executions><execution id=".."><jobId/><dateStarted/>...`.
//!
//! Foredeck writes the fields Rundeck reads (job, dates, status, nodes,
//! argString, log level, user, filter, retry, the log file's name) and,
//! in a `foredeckExecution` element Rundeck ignores, the whole record as
//! JSON (options, per-node and per-step state, failure reason, exact
//! times), which it prefers when it reads the file back. From a file
//! Rundeck wrote, it takes what the Rundeck fields say.

use super::xml_tree::{self, escape, Element};
use crate::model::{Execution, ExecutionStatus, LogLevel};
use chrono::{DateTime, Utc};

/// An execution read from an archive, with the ids it had there.
#[derive(Clone, Debug, PartialEq)]
pub struct ArchivedExecution {
    /// Its id in the archive (the store gives it a new one).
    pub old_id: u64,
    /// The execution it retried, by its id in the archive.
    pub old_retry_of: Option<u64>,
    /// The record (`id` 0 until stored).
    pub execution: Execution,
    /// The log file named by `outputfilepath`, when there is one.
    pub log_file: Option<String>,
}

fn date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn tag(out: &mut String, name: &str, value: &str) {
    out.push_str(&format!("    <{name}>{}</{name}>\n", escape(value)));
}

/// The execution as Rundeck's execution XML, its log in `log_file`.
pub fn write(e: &Execution, log_file: Option<&str>) -> String {
    let mut out = String::from("<executions>\n  <execution id=\"");
    out.push_str(&e.id.to_string());
    out.push_str("\">\n");
    if let Some(j) = &e.job_id {
        tag(&mut out, "jobId", j);
    }
    tag(&mut out, "dateStarted", &date(e.date_started));
    if let Some(end) = e.date_ended {
        tag(&mut out, "dateCompleted", &date(end));
    }
    tag(&mut out, "status", e.status.as_str());
    if let Some(f) = log_file {
        tag(&mut out, "outputfilepath", f);
    }
    tag(&mut out, "failedNodeList", &e.failed_nodes().join(","));
    tag(
        &mut out,
        "succeededNodeList",
        &e.succeeded_nodes().join(","),
    );
    if let Some(who) = &e.aborted_by {
        tag(&mut out, "abortedby", who);
    }
    tag(
        &mut out,
        "cancelled",
        if e.status == ExecutionStatus::Aborted {
            "true"
        } else {
            "false"
        },
    );
    if e.status == ExecutionStatus::TimedOut {
        tag(&mut out, "timedOut", "true");
    }
    tag(&mut out, "argString", &e.arg_string);
    tag(&mut out, "loglevel", e.loglevel.as_str());
    tag(&mut out, "id", &e.id.to_string());
    tag(
        &mut out,
        "doNodedispatch",
        if e.filter.is_some() { "true" } else { "false" },
    );
    if let Some(f) = &e.filter {
        out.push_str(&format!(
            "    <nodefilters>\n      <filter>{}</filter>\n    </nodefilters>\n",
            escape(f)
        ));
    }
    if e.retry_attempt > 0 {
        tag(&mut out, "retryAttempt", &e.retry_attempt.to_string());
    }
    if let Some(prev) = e.retry_of {
        tag(&mut out, "retryPrevId", &prev.to_string());
    }
    tag(&mut out, "project", &e.project);
    tag(&mut out, "user", &e.user);
    // serde_json escapes control characters, so the JSON is always XML text
    let record = serde_json::to_string(e).unwrap_or_default();
    tag(&mut out, "foredeckExecution", &record);
    out.push_str("  </execution>\n</executions>\n");
    out
}

fn parse_date(what: &str, s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{what} {s:?}: {e}"))
}

fn number(what: &str, s: &str) -> Result<u64, String> {
    s.parse()
        .map_err(|_| format!("{what} {s:?} is not a number"))
}

/// Reads an execution XML file (Foredeck's or Rundeck's); an error says
/// which field is wrong.
pub fn parse(text: &str) -> Result<ArchivedExecution, String> {
    let root = xml_tree::parse(text)?;
    let x: &Element = if root.name == "execution" {
        &root
    } else {
        root.child("execution")
            .ok_or("no <execution> element in <executions>")?
    };
    let old_id = match x.attr("id").or_else(|| x.text_of("id")) {
        Some(id) => number("id", id)?,
        None => return Err("the execution has no id".into()),
    };
    let old_retry_of = x
        .text_of("retryPrevId")
        .map(|s| number("retryPrevId", s))
        .transpose()?;
    let log_file = x.text_of("outputfilepath").map(str::to_owned);
    if let Some(json) = x.text_of("foredeckExecution") {
        let execution: Execution =
            serde_json::from_str(json).map_err(|e| format!("foredeckExecution: {e}"))?;
        return Ok(ArchivedExecution {
            old_id,
            old_retry_of: old_retry_of.or(execution.retry_of),
            execution,
            log_file,
        });
    }
    let started = parse_date(
        "dateStarted",
        x.text_of("dateStarted").ok_or("no dateStarted")?,
    )?;
    let ended = x
        .text_of("dateCompleted")
        .map(|s| parse_date("dateCompleted", s))
        .transpose()?;
    let cancelled = x.text_of("cancelled") == Some("true");
    let timed_out = x.text_of("timedOut") == Some("true");
    let status = match x.text_of("status") {
        _ if timed_out => ExecutionStatus::TimedOut,
        _ if cancelled => ExecutionStatus::Aborted,
        Some("true") => ExecutionStatus::Succeeded,
        Some("false") => ExecutionStatus::Failed,
        Some(s) => match ExecutionStatus::parse(s) {
            ExecutionStatus::Other(o) => return Err(format!("unknown status {o:?}")),
            s => s,
        },
        // no status and no end: it was running when the archive was made
        None if ended.is_none() => ExecutionStatus::Incomplete,
        None => return Err("no status".into()),
    };
    let loglevel = match x.text_of("loglevel") {
        None | Some("INFO" | "NORMAL") => LogLevel::Info,
        Some("DEBUG") => LogLevel::Debug,
        Some("VERBOSE") => LogLevel::Verbose,
        Some("WARN") => LogLevel::Warn,
        Some("ERR" | "ERROR") => LogLevel::Error,
        Some(other) => return Err(format!("unknown loglevel {other:?}")),
    };
    let user = x.text_of("user").ok_or("no user")?;
    let job_id = x.text_of("jobId").map(str::to_owned);
    // an ad-hoc run is described by its command, as Foredeck describes one
    let description = x
        .child("workflow")
        .and_then(|w| w.child("command"))
        .and_then(|c| c.text_of("exec").or_else(|| c.text_of("script")))
        .unwrap_or_default()
        .to_owned();
    let mut e = Execution::new(x.text_of("project").unwrap_or_default(), description, user);
    e.job_id = job_id;
    e.status = status;
    e.date_started = started;
    e.date_ended = ended;
    e.loglevel = loglevel;
    e.arg_string = x.text_of("argString").unwrap_or_default().to_owned();
    e.aborted_by = x.text_of("abortedby").map(str::to_owned);
    if let Some(t) = x.text_of("executionType") {
        e.execution_type = crate::model::ExecutionType::parse(t)
            .ok_or_else(|| format!("unknown executionType {t:?}"))?;
    }
    e.filter = x
        .child("nodefilters")
        .and_then(|n| n.text_of("filter"))
        .map(str::to_owned);
    e.retry_attempt = x
        .text_of("retryAttempt")
        .map(|s| number("retryAttempt", s))
        .transpose()?
        .unwrap_or(0)
        .try_into()
        .map_err(|_| "retryAttempt is too large")?;
    Ok(ArchivedExecution {
        old_id,
        old_retry_of,
        execution: e,
        log_file,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn foredeck_executions_read_back_whole() {
        let mut e = Execution::new("p", "group/name <&>", "alice");
        e.id = 42;
        e.job_id = Some("0b1c".into());
        e.status = ExecutionStatus::Failed;
        e.date_ended = Some(e.date_started + chrono::Duration::milliseconds(1234));
        e.options.insert("x".into(), "a\u{1}b".into());
        e.arg_string = "-x 'a b'".into();
        e.filter = Some("tags: web".into());
        e.failure = Some("boom".into());
        e.retry_of = Some(41);
        e.retry_attempt = 1;
        e.aborted_by = Some("bob".into());
        e.execution_type = crate::model::ExecutionType::Scheduled;
        let text = write(&e, Some("output-42.rdlog"));
        let back = parse(&text).unwrap();
        assert_eq!(back.old_id, 42);
        assert_eq!(back.old_retry_of, Some(41));
        assert_eq!(back.log_file.as_deref(), Some("output-42.rdlog"));
        assert_eq!(back.execution, e);
    }

    #[test]
    fn rundeck_executions_are_read() {
        let text = r#"<executions>
  <execution id='7'>
    <jobId>f00</jobId>
    <dateStarted>2014-11-04T21:48:08Z</dateStarted>
    <dateCompleted>2014-11-04T21:48:09Z</dateCompleted>
    <status>succeeded</status>
    <outputfilepath>output-7.rdlog</outputfilepath>
    <failedNodeList />
    <succeededNodeList>n1</succeededNodeList>
    <cancelled>false</cancelled>
    <argString>-a b</argString>
    <abortedby>carol</abortedby>
    <executionType>user-scheduled</executionType>
    <loglevel>DEBUG</loglevel>
    <doNodedispatch>true</doNodedispatch>
    <nodefilters><dispatch><threadcount>1</threadcount></dispatch><filter>name: n1</filter></nodefilters>
    <project>demo</project>
    <user>admin</user>
    <workflow><command><exec>echo hi</exec></command></workflow>
  </execution>
</executions>"#;
        let a = parse(text).unwrap();
        assert_eq!(a.old_id, 7);
        let e = a.execution;
        assert_eq!(e.job_id.as_deref(), Some("f00"));
        assert_eq!(e.status, ExecutionStatus::Succeeded);
        assert_eq!(e.loglevel, LogLevel::Debug);
        assert_eq!(e.filter.as_deref(), Some("name: n1"));
        assert_eq!(e.user, "admin");
        assert_eq!(e.description, "echo hi");
        assert_eq!(e.aborted_by.as_deref(), Some("carol"));
        assert_eq!(e.execution_type, crate::model::ExecutionType::UserScheduled);
        assert!(e.date_ended.is_some());
        for (bad, says) in [
            ("<executions/>", "no <execution>"),
            ("<execution id='x'/>", "id"),
            ("<execution id='1'><status>odd</status><dateStarted>2014-11-04T21:48:08Z</dateStarted><user>u</user></execution>", "status"),
            ("<execution id='1'><dateStarted>yesterday</dateStarted></execution>", "dateStarted"),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
