//! One entry per route and method of the API, in the router's own path
//! syntax; `openapi::tests` checks the table against the router.

/// A query parameter.
pub(super) struct Param {
    pub name: &'static str,
    /// `string`, `integer` or `boolean`.
    pub kind: &'static str,
    pub required: bool,
}

/// What a route reads as its body.
pub(super) enum Body {
    None,
    /// A JSON object.
    Json,
    /// A JSON object, or the same fields as a form.
    JsonOrForm,
    /// A document: YAML or JSON (jobs, ACL policies).
    Document,
    /// A form with a file part.
    Upload,
    /// A job document (XML, YAML or JSON) as the body, or as a form's
    /// `xmlBatch` field or file part.
    JobUpload,
    /// Raw bytes (key storage).
    Bytes,
    /// A zip file (project archives), or a form with it as a file part.
    Zip,
}

/// What a route answers on success, with these statuses.
pub(super) enum Out {
    /// No body.
    Empty(&'static [u16]),
    /// JSON of this schema (`object`, `array` or a named one).
    Json(&'static [u16], &'static str),
    /// Text of this media type.
    Text(&'static [u16], &'static str),
    /// A document in the format asked for.
    Document(&'static [u16]),
    /// Job definitions in the format asked for: JSON, YAML or XML.
    JobDocument(&'static [u16]),
    /// Nodes in the format asked for: `resourcejson`, `resourceyaml` or
    /// `resourcexml` (docs/XML.md).
    NodeDocument(&'static [u16]),
    /// Execution output: JSON, or plain text with `format=text` or
    /// `Accept: text/plain` (any other format, `xml` included, is JSON).
    Output(&'static [u16]),
}

/// One route and method.
pub(super) struct Op {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    pub query: &'static [Param],
    pub body: Body,
    pub out: Out,
}

const fn q(name: &'static str, kind: &'static str) -> Param {
    Param {
        name,
        kind,
        required: false,
    }
}

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    tag: &'static str,
    query: &'static [Param],
    body: Body,
    out: Out,
) -> Op {
    Op {
        method,
        path,
        summary,
        tag,
        query,
        body,
        out,
    }
}

const OK: &[u16] = &[200];
const CREATED: &[u16] = &[201];
const GONE: &[u16] = &[204];

const PAGE: &[Param] = &[q("max", "integer"), q("offset", "integer")];
const OUTPUT: &[Param] = &[
    q("offset", "integer"),
    q("lastlines", "integer"),
    q("lastmod", "integer"),
    q("maxlines", "integer"),
    q("compacted", "boolean"),
    q("format", "string"),
];
const EXEC_QUERY: &[Param] = &[
    q("statusFilter", "string"),
    q("abortedbyFilter", "string"),
    q("userFilter", "string"),
    q("recentFilter", "string"),
    q("olderFilter", "string"),
    q("begin", "string"),
    q("end", "string"),
    q("adhoc", "boolean"),
    q("jobIdListFilter", "string"),
    q("excludeJobIdListFilter", "string"),
    q("jobListFilter", "string"),
    q("excludeJobListFilter", "string"),
    q("groupPath", "string"),
    q("groupPathExact", "string"),
    q("excludeGroupPath", "string"),
    q("excludeGroupPathExact", "string"),
    q("jobFilter", "string"),
    q("excludeJobFilter", "string"),
    q("jobExactFilter", "string"),
    q("excludeJobExactFilter", "string"),
    q("executionTypeFilter", "string"),
    q("max", "integer"),
    q("offset", "integer"),
];
const RUN: &[Param] = &[
    q("argString", "string"),
    q("loglevel", "string"),
    q("asUser", "string"),
    q("filter", "string"),
    q("runAtTime", "string"),
];
const ARCHIVE_EXPORT: &[Param] = &[
    q("exportAll", "boolean"),
    q("exportJobs", "boolean"),
    q("exportExecutions", "boolean"),
    q("exportConfigs", "boolean"),
    q("exportReadmes", "boolean"),
    q("exportAcls", "boolean"),
    q("exportScm", "boolean"),
    q("exportWebhooks", "boolean"),
    q("executionIds", "string"),
];
const ARCHIVE_IMPORT: &[Param] = &[
    q("jobUuidOption", "string"),
    q("importExecutions", "boolean"),
    q("importConfig", "boolean"),
    q("importNodesSources", "boolean"),
    q("importACL", "boolean"),
    q("importScm", "boolean"),
    q("importWebhooks", "boolean"),
    q("asyncImport", "boolean"),
];
const JOB_LIST: &[Param] = &[
    q("idlist", "string"),
    q("groupPath", "string"),
    q("jobFilter", "string"),
    q("jobExactFilter", "string"),
    q("groupPathExact", "string"),
    q("scheduledFilter", "boolean"),
    q("max", "integer"),
    q("offset", "integer"),
];

use Body::{Bytes, Document, Json as JsonBody, JsonOrForm, Upload, Zip};
use Out::{
    Document as Doc, Empty, JobDocument as JobDoc, Json, NodeDocument as NodeDoc, Output, Text,
};

/// Every route and method under `/api/{v}/`.
#[rustfmt::skip]
pub(super) const OPS: &[Op] = &[
    // system
    op("GET", "/api/{v}/system/info", "System info", "system", &[], Body::None, Json(OK, "SystemInfo")),
    op("GET", "/api/{v}/system/audit", "Audit log (Foredeck)", "system", PAGE, Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/metrics/ping", "Ping", "metrics", &[], Body::None, Text(OK, "text/plain")),
    op("GET", "/api/{v}/metrics/healthcheck", "Health checks", "metrics", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/metrics/metrics", "Metrics (Dropwizard JSON shape)", "metrics", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/openapi.json", "This document", "system", &[], Body::None, Json(OK, "object")),
    // ACL policies
    op("GET", "/api/{v}/system/acl", "List system ACL policies", "acl", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/system/acl/", "List system ACL policies", "acl", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/system/acl/{name}", "Get a system ACL policy", "acl", &[], Body::None, Doc(OK)),
    op("POST", "/api/{v}/system/acl/{name}", "Create a system ACL policy", "acl", &[], Document, Doc(CREATED)),
    op("PUT", "/api/{v}/system/acl/{name}", "Update a system ACL policy", "acl", &[], Document, Doc(OK)),
    op("DELETE", "/api/{v}/system/acl/{name}", "Delete a system ACL policy", "acl", &[], Body::None, Empty(GONE)),
    op("GET", "/api/{v}/project/{project}/acl", "List project ACL policies", "acl", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/project/{project}/acl/", "List project ACL policies", "acl", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/project/{project}/acl/{name}", "Get a project ACL policy", "acl", &[], Body::None, Doc(OK)),
    op("POST", "/api/{v}/project/{project}/acl/{name}", "Create a project ACL policy", "acl", &[], Document, Doc(CREATED)),
    op("PUT", "/api/{v}/project/{project}/acl/{name}", "Update a project ACL policy", "acl", &[], Document, Doc(OK)),
    op("DELETE", "/api/{v}/project/{project}/acl/{name}", "Delete a project ACL policy", "acl", &[], Body::None, Empty(GONE)),
    // projects and their configuration
    op("GET", "/api/{v}/projects", "List projects", "projects", &[], Body::None, Json(OK, "ProjectList")),
    op("POST", "/api/{v}/projects", "Create a project", "projects", &[], JsonBody, Json(CREATED, "Project")),
    op("GET", "/api/{v}/project/{project}", "Get a project", "projects", &[], Body::None, Json(OK, "Project")),
    op("DELETE", "/api/{v}/project/{project}", "Delete a project", "projects", &[], Body::None, Empty(GONE)),
    op("GET", "/api/{v}/project/{project}/config", "Project configuration", "projects", &[], Body::None, Doc(OK)),
    op("PUT", "/api/{v}/project/{project}/config", "Replace the project configuration", "projects", &[], Document, Doc(OK)),
    op("GET", "/api/{v}/project/{project}/config/{key}", "One configuration key", "projects", &[], Body::None, Doc(OK)),
    op("PUT", "/api/{v}/project/{project}/config/{key}", "Set one configuration key", "projects", &[], Document, Doc(OK)),
    op("DELETE", "/api/{v}/project/{project}/config/{key}", "Delete one configuration key", "projects", &[], Body::None, Empty(GONE)),
    op("GET", "/api/{v}/project/{project}/meta", "Project metadata", "projects", &[q("meta", "string")], Body::None, Json(OK, "array")),
    op("GET", "/api/{v}/project/{project}/readme.md", "The project's readme", "projects", &[], Body::None, Doc(OK)),
    op("PUT", "/api/{v}/project/{project}/readme.md", "Set the project's readme", "projects", &[], Document, Doc(OK)),
    op("DELETE", "/api/{v}/project/{project}/readme.md", "Delete the project's readme", "projects", &[], Body::None, Empty(GONE)),
    op("GET", "/api/{v}/project/{project}/motd.md", "The project's message of the day", "projects", &[], Body::None, Doc(OK)),
    op("PUT", "/api/{v}/project/{project}/motd.md", "Set the project's message of the day", "projects", &[], Document, Doc(OK)),
    op("DELETE", "/api/{v}/project/{project}/motd.md", "Delete the project's message of the day", "projects", &[], Body::None, Empty(GONE)),
    // nodes
    op("GET", "/api/{v}/project/{project}/resources", "List nodes", "nodes", &[q("format", "string")], Body::None, NodeDoc(OK)),
    op("GET", "/api/{v}/project/{project}/resource/{name}", "One node", "nodes", &[q("format", "string")], Body::None, NodeDoc(OK)),
    op("GET", "/api/{v}/project/{project}/sources", "Node sources", "nodes", &[], Body::None, Json(OK, "array")),
    op("GET", "/api/{v}/project/{project}/source/{index}", "One node source", "nodes", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/project/{project}/source/{index}/resources", "The nodes of one source", "nodes", &[q("format", "string")], Body::None, NodeDoc(OK)),
    // jobs
    op("GET", "/api/{v}/project/{project}/jobs", "List jobs", "jobs", JOB_LIST, Body::None, Json(OK, "JobList")),
    op("GET", "/api/{v}/project/{project}/jobs/export", "Export jobs", "jobs", &[q("format", "string"), q("idlist", "string"), q("groupPath", "string"), q("jobFilter", "string")], Body::None, JobDoc(OK)),
    op("POST", "/api/{v}/project/{project}/jobs/import", "Import jobs", "jobs", &[q("fileformat", "string"), q("format", "string"), q("dupeOption", "string"), q("uuidOption", "string")], Body::JobUpload, Json(OK, "object")),
    op("POST", "/api/{v}/jobs/delete", "Delete jobs", "jobs", &[q("idlist", "string")], JsonBody, Json(OK, "object")),
    op("DELETE", "/api/{v}/jobs/delete", "Delete jobs", "jobs", &[q("idlist", "string")], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/job/{id}", "Job definition", "jobs", &[q("format", "string")], Body::None, JobDoc(OK)),
    op("DELETE", "/api/{v}/job/{id}", "Delete a job", "jobs", &[], Body::None, Empty(GONE)),
    op("GET", "/api/{v}/job/{id}/info", "Job metadata", "jobs", &[], Body::None, Json(OK, "Job")),
    op("GET", "/api/{v}/job/{id}/forecast", "Next scheduled times", "jobs", &[q("time", "string"), q("max", "integer"), q("past", "boolean")], Body::None, Json(OK, "object")),
    op("POST", "/api/{v}/job/{id}/run", "Run a job", "jobs", RUN, JsonOrForm, Json(OK, "Execution")),
    op("POST", "/api/{v}/job/{id}/executions", "Run a job", "jobs", RUN, JsonOrForm, Json(OK, "Execution")),
    op("GET", "/api/{v}/job/{id}/executions", "A job's executions", "jobs", &[q("status", "string"), q("max", "integer"), q("offset", "integer")], Body::None, Json(OK, "ExecutionList")),
    op("POST", "/api/{v}/job/{id}/retry/{execid}", "Retry an execution", "jobs", RUN, JsonOrForm, Json(OK, "Execution")),
    op("POST", "/api/{v}/job/{id}/execution/enable", "Enable runs", "jobs", &[], Body::None, Json(OK, "object")),
    op("POST", "/api/{v}/job/{id}/execution/disable", "Disable runs", "jobs", &[], Body::None, Json(OK, "object")),
    op("POST", "/api/{v}/job/{id}/schedule/enable", "Enable the schedule", "jobs", &[], Body::None, Json(OK, "object")),
    op("POST", "/api/{v}/job/{id}/schedule/disable", "Disable the schedule", "jobs", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/job/{id}/workflow", "The job's workflow, references followed", "jobs", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/job/{id}/meta", "Job metadata items", "jobs", &[q("meta", "string"), q("metaExclude", "string")], Body::None, Json(OK, "array")),
    op("DELETE", "/api/{v}/job/{id}/executions", "Delete a job's executions", "jobs", &[], Body::None, Json(OK, "object")),
    op("POST", "/api/{v}/jobs/execution/enable", "Enable runs of jobs", "jobs", &[q("ids", "string"), q("idlist", "string")], JsonBody, Json(OK, "object")),
    op("POST", "/api/{v}/jobs/execution/disable", "Disable runs of jobs", "jobs", &[q("ids", "string"), q("idlist", "string")], JsonBody, Json(OK, "object")),
    op("POST", "/api/{v}/jobs/schedule/enable", "Enable schedules of jobs", "jobs", &[q("ids", "string"), q("idlist", "string")], JsonBody, Json(OK, "object")),
    op("POST", "/api/{v}/jobs/schedule/disable", "Disable schedules of jobs", "jobs", &[q("ids", "string"), q("idlist", "string")], JsonBody, Json(OK, "object")),
    op("GET", "/api/{v}/project/{project}/jobs/browse", "Jobs and groups at a path", "jobs", &[q("path", "string"), q("meta", "string"), q("breakpoint", "integer"), q("max", "integer")], Body::None, Json(OK, "object")),
    // executions
    op("GET", "/api/{v}/execution/{id}", "One execution", "executions", &[], Body::None, Json(OK, "Execution")),
    op("DELETE", "/api/{v}/execution/{id}", "Delete an execution", "executions", &[], Body::None, Empty(GONE)),
    op("GET", "/api/{v}/execution/{id}/state", "Execution state", "executions", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/execution/{id}/output", "Execution output", "executions", OUTPUT, Body::None, Output(OK)),
    op("GET", "/api/{v}/execution/{id}/output/node/{node}", "Output of one node", "executions", OUTPUT, Body::None, Output(OK)),
    op("GET", "/api/{v}/execution/{id}/output/node/{node}/step/{stepctx}", "Output of one node and step", "executions", OUTPUT, Body::None, Output(OK)),
    op("GET", "/api/{v}/execution/{id}/output/step/{stepctx}", "Output of one step", "executions", OUTPUT, Body::None, Output(OK)),
    op("GET", "/api/{v}/execution/{id}/output/stream", "Live output as Server-Sent Events (Foredeck)", "executions", &[q("offset", "integer")], Body::None, Text(OK, "text/event-stream")),
    op("POST", "/api/{v}/execution/{id}/abort", "Abort an execution", "executions", &[q("asUser", "string"), q("forceIncomplete", "boolean")], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/execution/{id}/abort", "Abort an execution", "executions", &[q("asUser", "string"), q("forceIncomplete", "boolean")], Body::None, Json(OK, "object")),
    op("POST", "/api/{v}/executions/delete", "Delete executions", "executions", &[q("ids", "string")], JsonBody, Json(OK, "object")),
    op("GET", "/api/{v}/project/{project}/executions", "Query executions", "executions", EXEC_QUERY, Body::None, Json(OK, "ExecutionList")),
    op("GET", "/api/{v}/project/{project}/executions/running", "Running executions", "executions", &[q("jobIdFilter", "string"), q("max", "integer"), q("offset", "integer")], Body::None, Json(OK, "ExecutionList")),
    op("GET", "/api/{v}/execution/{id}/output/state", "Output with state changes", "executions", &[q("stateOnly", "boolean"), q("offset", "integer"), q("maxlines", "integer")], Body::None, Json(OK, "object")),
    // ad-hoc
    op("POST", "/api/{v}/project/{project}/run/command", "Run a command", "adhoc", &[q("exec", "string"), q("filter", "string")], JsonOrForm, Json(OK, "AdhocStarted")),
    op("POST", "/api/{v}/project/{project}/run/script", "Run a script", "adhoc", &[q("argString", "string"), q("filter", "string")], Upload, Json(OK, "AdhocStarted")),
    op("POST", "/api/{v}/project/{project}/run/url", "Run a script from a URL", "adhoc", &[q("scriptURL", "string"), q("filter", "string")], JsonOrForm, Json(OK, "AdhocStarted")),
    // webhooks
    op("GET", "/api/{v}/project/{project}/webhooks", "List webhooks", "webhooks", &[], Body::None, Json(OK, "array")),
    op("POST", "/api/{v}/project/{project}/webhook", "Add a webhook", "webhooks", &[], JsonBody, Json(CREATED, "object")),
    op("GET", "/api/{v}/project/{project}/webhook/{id}", "One webhook", "webhooks", &[], Body::None, Json(OK, "object")),
    op("POST", "/api/{v}/project/{project}/webhook/{id}", "Update a webhook", "webhooks", &[], JsonBody, Json(OK, "object")),
    op("DELETE", "/api/{v}/project/{project}/webhook/{id}", "Delete a webhook", "webhooks", &[], Body::None, Empty(GONE)),
    op("POST", "/api/{v}/webhook/{token}", "Send an event to a webhook", "webhooks", &[], JsonBody, Json(OK, "object")),
    // tokens and users
    op("GET", "/api/{v}/tokens", "List tokens", "tokens", &[], Body::None, Json(OK, "TokenList")),
    op("POST", "/api/{v}/tokens", "Create a token", "tokens", &[], JsonBody, Json(CREATED, "Token")),
    op("GET", "/api/{v}/tokens/{user}", "A user's tokens", "tokens", &[], Body::None, Json(OK, "TokenList")),
    op("POST", "/api/{v}/tokens/{user}", "Create a token for a user", "tokens", &[], JsonBody, Json(CREATED, "Token")),
    op("GET", "/api/{v}/token/{id}", "One token", "tokens", &[], Body::None, Json(OK, "Token")),
    op("DELETE", "/api/{v}/token/{id}", "Delete a token", "tokens", &[], Body::None, Empty(GONE)),
    op("GET", "/api/{v}/user/info", "The caller's profile", "users", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/user/info/{user}", "A user's profile", "users", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/user/list", "List users", "users", &[], Body::None, Json(OK, "array")),
    op("GET", "/api/{v}/user/list/", "List users", "users", &[], Body::None, Json(OK, "array")),
    op("GET", "/api/{v}/metrics", "The metrics endpoints", "metrics", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/metrics/", "The metrics endpoints", "metrics", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/metrics/threads", "The process's threads and runtime workers", "metrics", &[], Body::None, Text(OK, "text/plain")),
    op("POST", "/api/{v}/system/executions/enable", "Active mode: runs start", "system", &[], Body::None, Json(OK, "object")),
    op("POST", "/api/{v}/system/executions/disable", "Passive mode: no run starts", "system", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/system/executions/status", "The execution mode", "system", &[q("passiveAs503", "boolean")], Body::None, Json(&[200, 503], "object")),
    op("GET", "/api/{v}/plugin/list", "Built-in plugins", "system", &[], Body::None, Json(OK, "array")),
    op("GET", "/api/{v}/feature", "Feature switches", "system", &[], Body::None, Json(OK, "array")),
    op("GET", "/api/{v}/feature/", "Feature switches", "system", &[], Body::None, Json(OK, "array")),
    op("GET", "/api/{v}/feature/{name}", "One feature switch", "system", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/scheduler/jobs", "Jobs this server schedules", "system", &[], Body::None, Json(OK, "array")),
    op("GET", "/api/{v}/scheduler/server/{uuid}/jobs", "Jobs a server schedules", "system", &[], Body::None, Json(OK, "array")),
    op("GET", "/api/{v}/executions/metrics", "Execution metrics", "executions", EXEC_QUERY, Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/project/{project}/executions/metrics", "Execution metrics of a project", "executions", EXEC_QUERY, Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/user/roles", "The caller's roles", "users", &[], Body::None, Json(OK, "object")),
    op("POST", "/api/{v}/user/info", "Change the caller's profile", "users", &[], JsonBody, Json(OK, "object")),
    op("GET", "/api/{v}/user/info/", "The caller's profile", "users", &[], Body::None, Json(OK, "object")),
    op("POST", "/api/{v}/user/info/", "Change the caller's profile", "users", &[], JsonBody, Json(OK, "object")),
    op("POST", "/api/{v}/user/info/{user}", "Change a user's profile", "users", &[], JsonBody, Json(OK, "object")),
    op("GET", "/api/{v}/system/logstorage", "Log storage counts", "system", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/execution/{id}/input/files", "Files uploaded for the execution's options", "executions", &[], Body::None, Json(OK, "object")),
    // project archives
    op("GET", "/api/{v}/project/{project}/export", "Export the project as an archive", "projects", ARCHIVE_EXPORT, Body::None, Text(OK, "application/zip")),
    op("POST", "/api/{v}/project/{project}/export", "Export the project as an archive", "projects", ARCHIVE_EXPORT, Upload, Text(OK, "application/zip")),
    op("GET", "/api/{v}/project/{project}/export/async", "Start an archive export", "projects", ARCHIVE_EXPORT, Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/project/{project}/export/status/{token}", "Whether an archive export is ready", "projects", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/project/{project}/export/download/{token}", "Download an exported archive", "projects", &[], Body::None, Text(OK, "application/zip")),
    op("PUT", "/api/{v}/project/{project}/import", "Import an archive into the project", "projects", ARCHIVE_IMPORT, Zip, Json(OK, "object")),
    op("POST", "/api/{v}/tokens/{user}/removeExpired", "Remove a user's expired tokens", "tokens", &[], Body::None, Json(OK, "object")),
    // key storage
    op("GET", "/api/{v}/storage/keys", "Key storage root", "storage", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/storage/keys/", "Key storage root", "storage", &[], Body::None, Json(OK, "object")),
    op("GET", "/api/{v}/storage/keys/{*path}", "A key or directory (never a secret's value)", "storage", &[], Body::None, Doc(OK)),
    op("POST", "/api/{v}/storage/keys/{*path}", "Create a key", "storage", &[], Bytes, Json(CREATED, "object")),
    op("PUT", "/api/{v}/storage/keys/{*path}", "Replace a key", "storage", &[], Bytes, Json(OK, "object")),
    op("DELETE", "/api/{v}/storage/keys/{*path}", "Delete a key", "storage", &[], Body::None, Empty(GONE)),
];
