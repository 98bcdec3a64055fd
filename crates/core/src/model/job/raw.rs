//! [`Job`] as documents write it: its flags read and written in the form
//! the document gave them (`executionEnabled: 'true'`, an explicit
//! `multipleExecutions: false`), so that an export keeps their type.

mod text;

use super::{Job, LogLevel, LogLimitAction, Notifications, ScriptTokens};
use crate::model::dispatch::NodeFilters;
use crate::model::flex::{Flexed, Spelled, Text, Written};
use crate::model::option::JobOption;
use crate::model::step::Workflow;
use crate::model::Extra;
use serde::{Deserialize, Serialize};
use text::{RawRetry, RawSchedule};

/// [`Job`] as documents write it, its flags in their written form.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawJob {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uuid: Option<String>,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group: Option<Text>,
    #[serde(default)]
    description: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    project: Option<String>,
    #[serde(default)]
    loglevel: Spelled<LogLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    execution_enabled: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schedule_enabled: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    multiple_executions: Option<Flexed<bool>>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::options"
    )]
    options: Vec<JobOption>,
    #[serde(default)]
    sequence: Workflow,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nodefilters: Option<NodeFilters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    node_filter_editable: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nodes_selected_by_default: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schedule: Option<RawSchedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notification: Option<Notifications>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notify_avg_duration_threshold: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timeout: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry: Option<RawRetry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    loglimit: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    loglimit_action: Option<LogLimitAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    loglimit_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nagios: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    durable: Option<Flexed<bool>>,
    #[serde(default, skip_serializing_if = "ScriptTokens::is_quoted")]
    script_tokens: ScriptTokens,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plugins: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    orchestrator: Option<serde_json::Value>,
    #[serde(flatten)]
    extra: Extra,
}

impl From<RawJob> for Job {
    fn from(r: RawJob) -> Self {
        let mut w = Written::default();
        Job {
            uuid: r.uuid,
            name: r.name,
            group: w.read_text("group", r.group),
            description: w
                .read_text("description", Some(r.description))
                .unwrap_or_default(),
            project: r.project,
            loglevel: w.read_spelled("loglevel", r.loglevel),
            execution_enabled: w
                .read("executionEnabled", r.execution_enabled)
                .unwrap_or(true),
            schedule_enabled: w
                .read("scheduleEnabled", r.schedule_enabled)
                .unwrap_or(true),
            multiple_executions: w
                .read("multipleExecutions", r.multiple_executions)
                .unwrap_or(false),
            options: r.options,
            sequence: r.sequence,
            nodefilters: r.nodefilters,
            node_filter_editable: w.read("nodeFilterEditable", r.node_filter_editable),
            nodes_selected_by_default: w
                .read("nodesSelectedByDefault", r.nodes_selected_by_default),
            schedule: r.schedule.map(|s| s.read(&mut w)),
            time_zone: r.time_zone,
            notification: r.notification,
            notify_avg_duration_threshold: w.read_text(
                "notifyAvgDurationThreshold",
                r.notify_avg_duration_threshold,
            ),
            timeout: w.read_text("timeout", r.timeout),
            retry: r.retry.map(|x| x.read(&mut w)),
            loglimit: w.read_text("loglimit", r.loglimit),
            loglimit_action: r.loglimit_action,
            loglimit_status: r.loglimit_status,
            nagios: w.read("nagios", r.nagios).unwrap_or(false),
            durable: w.read("durable", r.durable).unwrap_or(false),
            script_tokens: r.script_tokens,
            plugins: r.plugins,
            orchestrator: r.orchestrator,
            written: w,
            extra: r.extra,
        }
    }
}

impl From<Job> for RawJob {
    fn from(v: Job) -> Self {
        let w = &v.written;
        RawJob {
            uuid: v.uuid,
            name: v.name,
            group: w.write_text("group", v.group),
            description: w
                .write_text("description", Some(v.description))
                .unwrap_or_default(),
            project: v.project,
            loglevel: w.write_spelled("loglevel", v.loglevel),
            execution_enabled: w.write("executionEnabled", v.execution_enabled, true),
            schedule_enabled: w.write("scheduleEnabled", v.schedule_enabled, true),
            multiple_executions: w.write(
                "multipleExecutions",
                v.multiple_executions,
                v.multiple_executions,
            ),
            options: v.options,
            sequence: v.sequence,
            nodefilters: v.nodefilters,
            node_filter_editable: v
                .node_filter_editable
                .and_then(|b| w.write("nodeFilterEditable", b, true)),
            nodes_selected_by_default: v
                .nodes_selected_by_default
                .and_then(|b| w.write("nodesSelectedByDefault", b, true)),
            schedule: v.schedule.map(|s| RawSchedule::write(s, w)),
            time_zone: v.time_zone,
            notification: v.notification,
            notify_avg_duration_threshold: w.write_text(
                "notifyAvgDurationThreshold",
                v.notify_avg_duration_threshold,
            ),
            timeout: w.write_text("timeout", v.timeout),
            retry: v.retry.map(|x| RawRetry::write(x, w)),
            loglimit: w.write_text("loglimit", v.loglimit),
            loglimit_action: v.loglimit_action,
            loglimit_status: v.loglimit_status,
            nagios: w.write("nagios", v.nagios, v.nagios),
            durable: w.write("durable", v.durable, v.durable),
            script_tokens: v.script_tokens,
            plugins: v.plugins,
            orchestrator: v.orchestrator,
            extra: v.extra,
        }
    }
}
