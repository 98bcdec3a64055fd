//! Jobs: a workflow with options, a node filter, a schedule and settings.

use super::dispatch::NodeFilters;
use super::flex::{self, Flexed, Written};
mod raw;
use super::option::JobOption;
use super::step::Workflow;
use super::Extra;
use raw::RawJob;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Log verbosity of a job or execution.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    /// Everything, including engine tracing.
    Debug,
    /// More than normal.
    Verbose,
    /// Normal output (Rundeck's NORMAL).
    #[default]
    #[serde(alias = "NORMAL")]
    Info,
    /// Warnings and errors only.
    Warn,
    /// Errors only (Rundeck also reads `ERR`).
    #[serde(alias = "ERR")]
    Error,
}

impl LogLevel {
    /// Rundeck's name (`INFO`, `DEBUG`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Verbose => "VERBOSE",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        }
    }
}

/// How a job's script steps receive `@group.key@` token values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScriptTokens {
    /// Each value quoted for the shell context of its token; tokens where no
    /// quoting is safe refuse the step.
    #[default]
    Quoted,
    /// Values pasted as they are (Rundeck's behaviour): a value can run as
    /// code.
    Raw,
}

impl ScriptTokens {
    /// Whether this is the default, [`ScriptTokens::Quoted`].
    pub fn is_quoted(&self) -> bool {
        *self == ScriptTokens::Quoted
    }

    /// `quoted` or `raw`, as written in job definitions.
    pub fn as_str(self) -> &'static str {
        match self {
            ScriptTokens::Quoted => "quoted",
            ScriptTokens::Raw => "raw",
        }
    }
}

/// A job definition with Rundeck's field names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawJob", into = "RawJob")]
pub struct Job {
    /// Stable identifier (`uuid`; Rundeck also writes it as `id`, which
    /// [`crate::format`] folds into this field on import).
    pub uuid: Option<String>,
    /// Job name, unique within its group.
    pub name: String,
    /// Group path (`ops/deploy`).
    pub group: Option<String>,
    /// Description; the first line is the short description.
    pub description: String,
    /// Project it belongs to (set on import when the file names none).
    pub project: Option<String>,
    /// Log level of its executions.
    pub loglevel: LogLevel,
    /// Executions may be started.
    pub execution_enabled: bool,
    /// The schedule is active.
    pub schedule_enabled: bool,
    /// More than one execution may run at once.
    pub multiple_executions: bool,
    /// Options, in order (Rundeck also accepts a map by name).
    pub options: Vec<JobOption>,
    /// The workflow.
    pub sequence: Workflow,
    /// Nodes to dispatch to; none means the Foredeck host itself.
    pub nodefilters: Option<NodeFilters>,
    /// Users may change the filter when running.
    pub node_filter_editable: Option<bool>,
    /// Matched nodes are selected by default in the run form.
    pub nodes_selected_by_default: Option<bool>,
    /// Cron schedule.
    pub schedule: Option<Schedule>,
    /// IANA time zone of the schedule.
    pub time_zone: Option<String>,
    /// Notifications by trigger.
    pub notification: Option<Notifications>,
    /// Threshold for `onavgduration` (`+30s`, `20%`, `1h`).
    pub notify_avg_duration_threshold: Option<String>,
    /// Maximum run time (`120`, `6h 30m`, `${option.timeout}`).
    pub timeout: Option<String>,
    /// Retries on failure, with an optional delay.
    pub retry: Option<Retry>,
    /// Log limit: `100` lines, `100/node`, or a size `10MB`.
    pub loglimit: Option<String>,
    /// What to do when the log limit is reached.
    pub loglimit_action: Option<LogLimitAction>,
    /// Status of an execution halted by the log limit (`failed`, `aborted`, any).
    pub loglimit_status: Option<String>,
    /// Foredeck extension: interpret exit codes as Nagios results.
    pub nagios: bool,
    /// Foredeck extension: the run records what it carries between steps
    /// (captured `${data.*}` values, step results, its position) in the
    /// store after each step, so that when its server stops, a server
    /// continues it from the next step instead of marking it `incomplete`.
    /// Needs the sequential or node-first strategy; node-first records after
    /// each run of consecutive node steps (a node runs them in one go), so
    /// such a run is continued from its first step. Captured data is kept
    /// in the store until the run ends; secure option values never are (a
    /// continued run takes them from their key-storage defaults).
    pub durable: bool,
    /// How `@option.x@` tokens reach this job's scripts: quoted for their
    /// context (the default), or pasted raw as in Rundeck (`scriptTokens:
    /// raw`: a value can then run as code; such runs are marked in their log
    /// and in the audit).
    pub script_tokens: ScriptTokens,
    /// Job-scoped plugins, kept as written.
    pub plugins: Option<serde_json::Value>,
    /// Orchestrator plugin settings, kept as written.
    pub orchestrator: Option<serde_json::Value>,
    /// How its flags were written, to write them back alike.
    pub written: Written,
    /// Fields this version does not know, kept for export.
    pub extra: Extra,
}

impl Job {
    /// A job with a name and a workflow.
    pub fn new(name: impl Into<String>, sequence: Workflow) -> Self {
        Job {
            name: name.into(),
            sequence,
            execution_enabled: true,
            schedule_enabled: true,
            ..Job::default()
        }
    }

    /// `group/name`, or the name alone.
    pub fn full_name(&self) -> String {
        match self.group.as_deref().filter(|g| !g.is_empty()) {
            Some(g) => format!("{g}/{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The option of that name.
    pub fn option(&self, name: &str) -> Option<&JobOption> {
        self.options.iter().find(|o| o.name == name)
    }

    /// What lists and access checks need of the job, without its workflow.
    pub fn summary(&self) -> JobSummary {
        JobSummary {
            uuid: self.uuid.clone().unwrap_or_default(),
            name: self.name.clone(),
            group: self.group.clone().filter(|g| !g.is_empty()),
            description: self.description.clone(),
            scheduled: self.schedule.is_some(),
            schedule_enabled: self.schedule_enabled,
            execution_enabled: self.execution_enabled,
        }
    }
}

/// A job as lists show it and `.aclpolicy` rules match it: identity, name,
/// description and flags, but no workflow, options or schedule details.
/// Cheap to produce for thousands of jobs
/// ([`Store::list_job_summaries`](crate::Store::list_job_summaries)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobSummary {
    /// The job's uuid.
    pub uuid: String,
    /// Job name.
    pub name: String,
    /// Group path; `None` at the top level.
    pub group: Option<String>,
    /// Description.
    pub description: String,
    /// Whether the job has a schedule.
    pub scheduled: bool,
    /// Whether its schedule is active.
    pub schedule_enabled: bool,
    /// Whether it may be run.
    pub execution_enabled: bool,
}

impl JobSummary {
    /// `group/name`, or the name alone.
    pub fn full_name(&self) -> String {
        match &self.group {
            Some(g) => format!("{g}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

pub(super) fn options<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<JobOption>, D::Error> {
    // A visitor rather than an untagged enum, so an error inside the list
    // form keeps its path (`options[1].required`) and line.
    struct V;
    impl<'de> de::Visitor<'de> for V {
        type Value = Vec<JobOption>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of options or a map of option name to option")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(o) = seq.next_element()? {
                out.push(o);
            }
            Ok(out)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(name) = map.next_key::<String>()? {
                let mut v: serde_json::Value = map.next_value()?;
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("name".into(), serde_json::Value::String(name.clone()));
                } else if v.is_null() {
                    v = serde_json::json!({ "name": name });
                }
                let o = serde_json::from_value(v)
                    .map_err(|e| de::Error::custom(format!("option `{name}`: {e}")))?;
                out.push(o);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

/// Job retry: a count, optionally with a delay between attempts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Retry {
    /// Maximum retries (`3` or `${option.retry}`).
    pub retry: String,
    /// Delay before each retry (`30s`, `1h1m1s`).
    pub delay: Option<String>,
}

impl Serialize for Retry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Full<'a> {
            retry: &'a str,
            delay: &'a str,
        }
        match &self.delay {
            None => s.serialize_str(&self.retry),
            Some(delay) => Full {
                retry: &self.retry,
                delay,
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Retry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Full {
                #[serde(deserialize_with = "flex::string")]
                retry: String,
                #[serde(default, deserialize_with = "flex::opt_string")]
                delay: Option<String>,
            },
            Count(#[serde(deserialize_with = "flex::string")] String),
        }
        match Form::deserialize(d).map_err(|_| {
            de::Error::custom("`retry` must be a count or a map with `retry` and `delay`")
        })? {
            Form::Full { retry, delay } => Ok(Retry { retry, delay }),
            Form::Count(retry) => Ok(Retry { retry, delay: None }),
        }
    }
}

/// What to do when a log limit is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLimitAction {
    /// Stop the execution with `loglimitStatus` (default `failed`).
    Halt,
    /// Keep running and drop further output.
    Truncate,
}

/// A cron schedule as Rundeck files write it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Schedule {
    /// `crontab: '0 30 2 ? * * *'` (Quartz form).
    Crontab {
        /// The Quartz or 5-field expression.
        crontab: String,
    },
    /// Rundeck's structured form.
    Structured(StructuredSchedule),
}

/// Rundeck's structured schedule: `time`, `month`, `weekday`/`dayofmonth`, `year`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StructuredSchedule {
    /// Hour, minute and seconds.
    #[serde(default)]
    pub time: ScheduleTime,
    /// Month field (`*`, `1-6`, `JAN`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    pub month: Option<String>,
    /// Day-of-week field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekday: Option<ScheduleDay>,
    /// Day-of-month field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dayofmonth: Option<ScheduleDay>,
    /// Year field.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    pub year: Option<String>,
}

/// `time:` of a structured schedule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleTime {
    /// Hour field.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    pub hour: Option<String>,
    /// Minute field.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    pub minute: Option<String>,
    /// Seconds field.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "flex::opt_string"
    )]
    pub seconds: Option<String>,
}

/// `weekday:`/`dayofmonth:` of a structured schedule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleDay {
    /// The field value.
    #[serde(default, deserialize_with = "flex::string")]
    pub day: String,
}

impl Schedule {
    /// The schedule as one Quartz expression (`sec min hour dom month dow year`).
    pub fn to_quartz(&self) -> String {
        match self {
            Schedule::Crontab { crontab } => crontab.trim().to_owned(),
            Schedule::Structured(s) => {
                let f = |v: &Option<String>, d: &str| {
                    v.as_deref()
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .unwrap_or(d)
                        .to_owned()
                };
                let dom = s.dayofmonth.as_ref().map(|d| d.day.trim().to_owned());
                let dow = s.weekday.as_ref().map(|d| d.day.trim().to_owned());
                // Quartz wants exactly one of the two day fields to be `?`.
                let (dom, dow) = match (dom, dow) {
                    (Some(dom), Some(dow)) if dom != "?" && dow != "?" && dom != "*" => (dom, dow),
                    (Some(dom), Some(dow)) if dom == "?" || dom == "*" => ("?".into(), dow),
                    (Some(dom), Some(_)) => (dom, "?".into()),
                    (Some(dom), None) => (dom, "?".into()),
                    (None, Some(dow)) => ("?".into(), dow),
                    (None, None) => ("?".into(), "*".into()),
                };
                format!(
                    "{} {} {} {} {} {} {}",
                    f(&s.time.seconds, "0"),
                    f(&s.time.minute, "0"),
                    f(&s.time.hour, "0"),
                    dom,
                    f(&s.month, "*"),
                    dow,
                    f(&s.year, "*")
                )
            }
        }
    }
}

/// Notifications for each trigger.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Notifications {
    /// When an execution starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onstart: Option<NotificationSet>,
    /// When an execution succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onsuccess: Option<NotificationSet>,
    /// When an execution fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onfailure: Option<NotificationSet>,
    /// When an execution fails and will be retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onretryablefailure: Option<NotificationSet>,
    /// When an execution runs longer than its average (plus threshold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onavgduration: Option<NotificationSet>,
    /// Fields this version does not know, kept for export.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A trigger's notifications as written: Rundeck's map form (one entry,
/// which may hold `email`, `urls` and `plugin` together) or its list form
/// (`onsuccess: [{email: ...}, {urls: ..., format: xml}, {plugin: ...}]`),
/// each written back in the form it was read in.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // one per trigger; boxing would only complicate matching
pub enum NotificationSet {
    /// The map form.
    One(Notification),
    /// The list form.
    List(Vec<Notification>),
}

impl NotificationSet {
    /// Every notification of the trigger, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Notification> {
        match self {
            NotificationSet::One(n) => std::slice::from_ref(n).iter(),
            NotificationSet::List(l) => l.iter(),
        }
    }
}

impl From<Notification> for NotificationSet {
    fn from(n: Notification) -> Self {
        NotificationSet::One(n)
    }
}

impl Serialize for NotificationSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            NotificationSet::One(n) => n.serialize(s),
            NotificationSet::List(l) => l.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for NotificationSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // a visitor rather than an untagged enum, so an error inside either
        // form keeps its path and line
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = NotificationSet;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a notification (`email`, `urls`, `plugin`) or a list of them")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Notification::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(NotificationSet::One)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::<Notification>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(NotificationSet::List)
            }
        }
        d.deserialize_any(V)
    }
}

/// One trigger's notifications.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailNotification>,
    /// Webhook URLs, comma separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<String>,
    /// Webhook payload format (`json`, `xml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Webhook method (`post`, `get`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    /// Plugin notifications, kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<serde_json::Value>,
    /// Fields this version does not know, kept for export.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Email notification settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawEmail", into = "RawEmail")]
pub struct EmailNotification {
    /// Comma-separated recipients.
    pub recipients: String,
    /// Subject template.
    pub subject: Option<String>,
    /// Attach the log.
    pub attach_log: bool,
    /// How its flags were written, to write them back alike.
    pub written: Written,
    /// Fields this version does not know, kept for export.
    pub extra: Extra,
}

/// [`EmailNotification`] as documents write it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEmail {
    #[serde(default)]
    recipients: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attach_log: Option<Flexed<bool>>,
    #[serde(flatten)]
    extra: Extra,
}

impl From<RawEmail> for EmailNotification {
    fn from(r: RawEmail) -> Self {
        let mut written = Written::default();
        EmailNotification {
            recipients: r.recipients,
            subject: r.subject,
            attach_log: written.read("attachLog", r.attach_log).unwrap_or(false),
            written,
            extra: r.extra,
        }
    }
}

impl From<EmailNotification> for RawEmail {
    fn from(e: EmailNotification) -> Self {
        RawEmail {
            attach_log: e.written.write("attachLog", e.attach_log, e.attach_log),
            recipients: e.recipients,
            subject: e.subject,
            extra: e.extra,
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_schedule_to_quartz() {
        let s: Schedule = serde_yaml_ng::from_str(
            "time: {hour: '2', minute: '30', seconds: '0'}\nmonth: '*'\nweekday: {day: 'MON-FRI'}\nyear: '*'",
        )
        .expect("parses");
        assert_eq!(s.to_quartz(), "0 30 2 ? * MON-FRI *");
        let s: Schedule =
            serde_yaml_ng::from_str("time: {hour: '12'}\ndayofmonth: {day: '1'}").expect("parses");
        assert_eq!(s.to_quartz(), "0 0 12 1 * ? *");
        let s: Schedule = serde_yaml_ng::from_str("crontab: '0 0/5 * * * ?'").expect("parses");
        assert_eq!(s.to_quartz(), "0 0/5 * * * ?");
    }
}
