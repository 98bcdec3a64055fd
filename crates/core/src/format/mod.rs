//! Import and export of Rundeck documents: job definitions (YAML, JSON and
//! XML) and resource-model node files (YAML and JSON read and written;
//! Rundeck's `resourcexml` written, [`nodes_to_xml`]).
//!
//! # Jobs
//!
//! A job document is a list of jobs, as Rundeck exports it; as in Rundeck,
//! a single job mapping (object in JSON) is refused ("Expected list data"),
//! and so is a list with an item that is not a mapping. Every job is read
//! on its own, so an error names the job (its `name`, or its 1-based position
//! `#N` when it has none), the field path inside it and, where the parser
//! knows it, the line and column. Each job read is then checked with
//! [`validate_job`]. [`read_jobs_yaml`] and [`read_jobs_json`] report each
//! job that fails in its place and read the others, as Rundeck's import
//! does; [`parse_jobs_yaml`] and [`parse_jobs_json`] stop at the first.
//!
//! Fields this version does not model are kept in the model's `extra` maps
//! and written back on export, so import then export loses nothing.
//!
//! A Rundeck job carries its identifier as `uuid` and often also as `id`. On
//! import, `id` fills `uuid` when `uuid` is absent and is dropped when it
//! equals `uuid` or is null; a differing `id` is kept as an unknown field.
//! An export writes `id` beside `uuid` with the same value and leaves out
//! `project`, as Rundeck's does.
//!
//! Booleans and numbers a document wrote as strings (`threadcount: '3'`,
//! `nodeStep: 'true'`), and `false` values it wrote where an export would
//! leave them out, are recorded in the model's `written` fields
//! ([`crate::model::Written`]) and written back the same way, so that an
//! import then export changes no field's type.
//!
//! # Job XML
//!
//! [`parse_jobs_xml`] reads Rundeck's `<joblist>` documents the way Rundeck
//! does (its `job-v20` format reference: `context/options`, `dispatch`,
//! `logging`, `schedule` attributes, `<command>` steps with `scriptargs`,
//! `scriptinterpreter`, `jobref`, `node-step-plugin`/`step-plugin`,
//! notifications, job plugins as generic data), and [`jobs_to_xml`]
//! writes them as Rundeck does. As in Rundeck, text is trimmed, and a job
//! needs a `name`, a `description` (it may be empty) and a `sequence`.
//! Elements this version does not model are kept like unknown YAML fields.
//! A DTD or an entity other than XML's predefined ones is refused.
//!
//! # Nodes
//!
//! A resource document is either a map of node name to attributes (the form
//! [`nodes_to_yaml`] and [`nodes_to_json`] write) or a list of attribute maps
//! each with a `nodename`. In the map form the key is the node name, as in
//! Rundeck. `tags` may be a comma-separated string or a list. When a name
//! occurs twice, the later entry wins and takes the place of the first.
//!
//! # Limits
//!
//! Documents larger than [`MAX_DOCUMENT_BYTES`] are refused, as are documents
//! nesting deeper than 64 levels and documents whose YAML aliases expand to
//! more values than the text itself could hold ("billion laughs"): every
//! document is first walked once with a budget before anything is built.

pub(crate) mod guard;
mod jobs;
mod nodes;
mod nodes_xml;
mod validate;
mod xml_map;
mod xml_notify;
mod xml_read;
mod xml_tree;
mod xml_write;

pub use jobs::{
    jobs_to_json, jobs_to_yaml, parse_jobs_json, parse_jobs_yaml, read_jobs_json, read_jobs_yaml,
    JobFailure, JobResults,
};
pub use nodes::{nodes_to_json, nodes_to_yaml, parse_nodes, parse_nodes_json, parse_nodes_yaml};
pub use nodes_xml::nodes_to_xml;
pub use validate::validate_job;
pub use xml_read::{parse_jobs_xml, read_jobs_xml};
pub use xml_write::jobs_to_xml;

use std::path::Path;

/// Largest document accepted by the parsers (16 MiB).
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// Deepest nesting of lists and maps accepted by the parsers.
pub const MAX_NESTING_DEPTH: usize = 64;

/// Serialization of a job document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobFormat {
    /// Rundeck job YAML.
    Yaml,
    /// Rundeck job JSON.
    Json,
    /// Rundeck job XML (`<joblist>`).
    Xml,
}

impl JobFormat {
    /// The format a file name's extension implies: `.yaml`/`.yml`, `.json`
    /// or `.xml` (any case); `None` for anything else.
    pub fn from_path(p: &Path) -> Option<Self> {
        let ext = p.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "yaml" | "yml" => Some(JobFormat::Yaml),
            "json" => Some(JobFormat::Json),
            "xml" => Some(JobFormat::Xml),
            _ => None,
        }
    }
}

/// Serialization of a resource-model (node) document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeFormat {
    /// Rundeck `resourceyaml`.
    Yaml,
    /// Rundeck `resourcejson`.
    Json,
}

impl NodeFormat {
    /// The format a file name's extension implies: `.yaml`/`.yml` or `.json`
    /// (any case); `None` for anything else.
    pub fn from_path(p: &Path) -> Option<Self> {
        let ext = p.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "yaml" | "yml" => Some(NodeFormat::Yaml),
            "json" => Some(NodeFormat::Json),
            _ => None,
        }
    }
}
