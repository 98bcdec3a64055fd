//! Job documents: a list of jobs in YAML or JSON.

use super::guard::{scan_json, scan_yaml, yaml_message, Root};
use super::validate::validate_job_at;
use crate::{Error, Job, Result};
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// Reads a Rundeck job YAML document: a list of jobs.
///
/// Each job is checked with [`validate_job`](super::validate_job); the
/// first job that fails is the error. [`read_jobs_yaml`] reports every job.
pub fn parse_jobs_yaml(src: &str, source_name: &str) -> Result<Vec<Job>> {
    first_failure(read_jobs_yaml(src, source_name)?)
}

/// Reads a Rundeck job JSON document: an array of jobs.
///
/// Each job is checked with [`validate_job`](super::validate_job); the
/// first job that fails is the error. [`read_jobs_json`] reports every job.
pub fn parse_jobs_json(src: &str, source_name: &str) -> Result<Vec<Job>> {
    first_failure(read_jobs_json(src, source_name)?)
}

/// A job of a document that could not be read or failed its checks.
#[derive(Debug)]
pub struct JobFailure {
    /// Its 1-based position in the document.
    pub index: usize,
    /// Its `name`, when one could be read.
    pub name: Option<String>,
    /// Its `group`, when one could be read.
    pub group: Option<String>,
    /// What is wrong: names the job, the field path and, where the parser
    /// knows it, the line.
    pub error: Error,
}

/// Every job of a document in order: read and checked, or why not.
pub type JobResults = Vec<std::result::Result<Job, JobFailure>>;

/// Reads a Rundeck job YAML document job by job, as Rundeck's import does:
/// a job that cannot be read or fails [`validate_job`](super::validate_job)
/// is reported in its place and the others are still read.
///
/// The whole document is refused only when it cannot be read at all: a
/// syntax error, a document over the limits, a root that is not a list
/// (Rundeck's "Expected list data") or a list item that is not a mapping
/// ("Expected list of Maps").
pub fn read_jobs_yaml(src: &str, source_name: &str) -> Result<JobResults> {
    if scan_yaml(src, source_name)? == Root::Null {
        return Ok(Vec::new());
    }
    read_each(
        src,
        source_name,
        |skip, failure| {
            JobsSeed { skip, failure }
                .deserialize(serde_yaml_ng::Deserializer::from_str(src))
                .map_err(|e| yaml_message(&e))
        },
        || {
            serde_yaml_ng::from_str::<serde_json::Value>(src)
                .ok()
                .map(JobNames)
        },
    )
}

/// [`read_jobs_yaml`] for a JSON document (an array of jobs).
pub fn read_jobs_json(src: &str, source_name: &str) -> Result<JobResults> {
    if scan_json(src, source_name)? == Root::Null {
        return Ok(Vec::new());
    }
    read_each(
        src,
        source_name,
        |skip, failure| {
            let mut de = serde_json::Deserializer::from_str(src);
            JobsSeed { skip, failure }
                .deserialize(&mut de)
                .and_then(|jobs| de.end().map(|()| jobs))
                .map_err(|e| e.to_string())
        },
        || {
            serde_json::from_str::<serde_json::Value>(src)
                .ok()
                .map(JobNames)
        },
    )
}

fn first_failure(results: JobResults) -> Result<Vec<Job>> {
    results
        .into_iter()
        .map(|r| r.map_err(|f| f.error))
        .collect()
}

/// Jobs whose reading failed, by 0-based index.
type Skip = BTreeMap<usize, Error>;

/// Passes over a document past which the jobs still unread are refused with
/// the document: each pass skips the jobs that failed in the ones before it,
/// so that every failure keeps its line; the bound keeps a document full of
/// broken jobs from costing more than a few dozen reads of its size.
fn max_passes(len: usize) -> usize {
    (super::MAX_DOCUMENT_BYTES * 4 / len.max(1)).clamp(16, 10_000)
}

fn read_each(
    src: &str,
    source_name: &str,
    pass: impl Fn(&Skip, &mut Option<Failure>) -> std::result::Result<Vec<Option<Job>>, String>,
    names: impl Fn() -> Option<JobNames>,
) -> Result<JobResults> {
    let mut skip = Skip::new();
    // the document as a generic value, read once and only when a job fails
    let mut doc: Option<Option<JobNames>> = None;
    let limit = max_passes(src.len());
    loop {
        let mut failure = None;
        match pass(&skip, &mut failure) {
            Ok(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    let checked = match item {
                        Some(mut job) => {
                            settle_id(&mut job);
                            validate_job_at(&job, Some(i + 1)).map(|()| job)
                        }
                        None => Err(skip.remove(&i).unwrap_or_else(|| {
                            Error::format(source_name, format!("job #{} was not read", i + 1))
                        })),
                    };
                    out.push(checked.map_err(|error| {
                        let doc = doc.get_or_insert_with(&names).as_ref();
                        JobFailure {
                            index: i + 1,
                            name: doc.and_then(|n| n.field(i, "name")),
                            group: doc.and_then(|n| n.field(i, "group")),
                            error,
                        }
                    }));
                }
                return Ok(out);
            }
            Err(message) => match failure {
                Some(f) if skip.contains_key(&f.index) => {
                    return Err(Error::format(source_name, message))
                }
                Some(f) if skip.len() + 1 < limit => {
                    let index = f.index;
                    let doc = doc.get_or_insert_with(&names).as_ref();
                    skip.insert(index, job_error(source_name, f, doc, message));
                }
                Some(f) => {
                    let first = skip.into_values().next();
                    let first = first
                        .map(|e| format!("; the first: {e}"))
                        .unwrap_or_default();
                    return Err(Error::format(
                        source_name,
                        format!(
                            "more than {} jobs could not be read (the last at job #{}){first}",
                            limit - 1,
                            f.index + 1
                        ),
                    ));
                }
                None => return Err(Error::format(source_name, message)),
            },
        }
    }
}

/// Writes jobs as a Rundeck job YAML document (a list of jobs), as
/// Rundeck writes them: `id` beside `uuid` (the same value) and no
/// `project` (the project is where the document is imported).
pub fn jobs_to_yaml(jobs: &[Job]) -> Result<String> {
    let docs = exported(jobs, "<yaml export>")?;
    serde_yaml_ng::to_string(&docs).map_err(|e| Error::format("<yaml export>", e.to_string()))
}

/// Writes jobs as a Rundeck job JSON document (an array of jobs), indented,
/// like [`jobs_to_yaml`].
pub fn jobs_to_json(jobs: &[Job]) -> Result<String> {
    let docs = exported(jobs, "<json export>")?;
    serde_json::to_string_pretty(&docs).map_err(|e| Error::format("<json export>", e.to_string()))
}

/// Post-processing common to both formats: `id`/`uuid`, then validation.
pub(super) fn finish(mut jobs: Vec<Job>) -> Result<Vec<Job>> {
    for (i, job) in jobs.iter_mut().enumerate() {
        settle_id(job);
        validate_job_at(job, Some(i + 1))?;
    }
    Ok(jobs)
}

/// The jobs as Rundeck's export writes them.
fn exported(jobs: &[Job], label: &str) -> Result<Vec<serde_json::Value>> {
    jobs.iter()
        .map(|job| {
            let value =
                serde_json::to_value(job).map_err(|e| Error::format(label, e.to_string()))?;
            let serde_json::Value::Object(fields) = value else {
                return Err(Error::format(label, "a job is not a mapping"));
            };
            let mut out = serde_json::Map::with_capacity(fields.len() + 1);
            // a differing `id` the document had is among the fields already
            let write_id = !fields.contains_key("id");
            for (key, v) in fields {
                match key.as_str() {
                    "project" => continue,
                    "uuid" if write_id => {
                        out.insert("id".to_owned(), v.clone());
                    }
                    _ => {}
                }
                out.insert(key, v);
            }
            Ok(serde_json::Value::Object(out))
        })
        .collect()
}

/// Rundeck writes a job's identifier as both `id` and `uuid`; `id: null`
/// (or `~`) says the job has none yet.
pub(super) fn settle_id(job: &mut Job) {
    match job.extra.get("id") {
        Some(serde_json::Value::Null) => {
            job.extra.shift_remove("id");
        }
        Some(serde_json::Value::String(id)) => match &job.uuid {
            None => {
                job.uuid = Some(id.clone());
                job.extra.shift_remove("id");
            }
            Some(uuid) if uuid == id => {
                job.extra.shift_remove("id");
            }
            Some(_) => {}
        },
        _ => {}
    }
}

/// Where deserialization failed: the job's 0-based index and field path.
struct Failure {
    index: usize,
    path: String,
}

/// The document as a generic value, to find a failed job's name.
struct JobNames(serde_json::Value);

impl JobNames {
    /// A scalar field (`name`, `group`) of the job at 0-based `index`.
    fn field(&self, index: usize, field: &str) -> Option<String> {
        let job = match &self.0 {
            serde_json::Value::Array(items) => items.get(index)?,
            _ => return None,
        };
        match job.get(field)? {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

fn job_error(
    source_name: &str,
    failure: Failure,
    names: Option<&JobNames>,
    message: String,
) -> Error {
    let Failure { index, path } = failure;
    let message = explain(message);
    let pos = index + 1;
    let who = match names.and_then(|n| n.field(index, "name")) {
        // a long name is not echoed whole
        Some(name) if name.chars().count() > 64 => {
            let head: String = name.chars().take(64).collect();
            format!("job \"{head}…\" (#{pos})")
        }
        Some(name) => format!("job {name:?} (#{pos})"),
        None => format!("job #{pos}"),
    };
    let message = if path == "." || path.is_empty() {
        format!("{who}: {message}")
    } else {
        format!("{who}, field `{path}`: {message}")
    };
    Error::format(source_name, message)
}

/// Replaces serde's message for an untagged enum that matched no form with
/// one saying which forms are accepted.
pub(super) fn explain(message: String) -> String {
    // a job document reads its schedule as `RawSchedule`
    const SCHEDULE: [&str; 2] = [
        "data did not match any variant of untagged enum Schedule",
        "data did not match any variant of untagged enum RawSchedule",
    ];
    match SCHEDULE.iter().find_map(|s| message.strip_prefix(s)) {
        Some(rest) => format!(
            "`schedule` must be `{{crontab: EXPRESSION}}` or a map of `time` \
             (`hour`, `minute`, `seconds`), `month`, `weekday` or `dayofmonth` \
             (`day`) and `year`, with no other keys{rest}"
        ),
        None => message,
    }
}

/// Rundeck's words for a document whose root is not a list of jobs.
const EXPECTED_LIST: &str = "Expected list data: a job document is a list of jobs \
     (`- name: ...`, or `[{...}]` in JSON), even for one job";

/// Rundeck's words for a list item that is not a job mapping.
const EXPECTED_MAPS: &str = "Expected list of Maps: every item of a job document is a job mapping";

/// The whole document: a list of jobs; those in `skip` are passed over.
struct JobsSeed<'a> {
    skip: &'a Skip,
    failure: &'a mut Option<Failure>,
}

impl<'de> DeserializeSeed<'de> for JobsSeed<'_> {
    type Value = Vec<Option<Job>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JobsSeed<'_> {
    type Value = Vec<Option<Job>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of jobs")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut jobs = Vec::new();
        loop {
            let index = jobs.len();
            if self.skip.contains_key(&index) {
                match seq.next_element::<de::IgnoredAny>()? {
                    Some(_) => jobs.push(None),
                    None => return Ok(jobs),
                }
                continue;
            }
            let seed = OneJob {
                index,
                failure: &mut *self.failure,
            };
            match seq.next_element_seed(seed)? {
                Some(job) => jobs.push(Some(job)),
                None => return Ok(jobs),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(EXPECTED_LIST))
    }

    fn visit_bool<E: de::Error>(self, _v: bool) -> Result<Self::Value, E> {
        Err(E::custom(EXPECTED_LIST))
    }

    fn visit_i64<E: de::Error>(self, _v: i64) -> Result<Self::Value, E> {
        Err(E::custom(EXPECTED_LIST))
    }

    fn visit_u64<E: de::Error>(self, _v: u64) -> Result<Self::Value, E> {
        Err(E::custom(EXPECTED_LIST))
    }

    fn visit_f64<E: de::Error>(self, _v: f64) -> Result<Self::Value, E> {
        Err(E::custom(EXPECTED_LIST))
    }

    fn visit_str<E: de::Error>(self, _v: &str) -> Result<Self::Value, E> {
        Err(E::custom(EXPECTED_LIST))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _data: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(EXPECTED_LIST))
    }
}

/// One job, tracking the path of any error; an item that is not a mapping
/// fails the whole document, as in Rundeck.
struct OneJob<'a> {
    index: usize,
    failure: &'a mut Option<Failure>,
}

impl<'de> DeserializeSeed<'de> for OneJob<'_> {
    type Value = Job;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Job, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for OneJob<'_> {
    type Value = Job;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a job mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Job, A::Error> {
        let mut track = serde_path_to_error::Track::new();
        let d = MapAccessDeserializer::new(map);
        let result = Job::deserialize(serde_path_to_error::Deserializer::new(d, &mut track));
        if result.is_err() {
            *self.failure = Some(Failure {
                index: self.index,
                path: track.path().to_string(),
            });
        }
        result
    }

    fn visit_unit<E: de::Error>(self) -> Result<Job, E> {
        Err(E::custom(EXPECTED_MAPS))
    }

    fn visit_none<E: de::Error>(self) -> Result<Job, E> {
        Err(E::custom(EXPECTED_MAPS))
    }

    fn visit_bool<E: de::Error>(self, _v: bool) -> Result<Job, E> {
        Err(E::custom(EXPECTED_MAPS))
    }

    fn visit_i64<E: de::Error>(self, _v: i64) -> Result<Job, E> {
        Err(E::custom(EXPECTED_MAPS))
    }

    fn visit_u64<E: de::Error>(self, _v: u64) -> Result<Job, E> {
        Err(E::custom(EXPECTED_MAPS))
    }

    fn visit_f64<E: de::Error>(self, _v: f64) -> Result<Job, E> {
        Err(E::custom(EXPECTED_MAPS))
    }

    fn visit_str<E: de::Error>(self, _v: &str) -> Result<Job, E> {
        Err(E::custom(EXPECTED_MAPS))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Job, A::Error> {
        Err(de::Error::custom(EXPECTED_MAPS))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _data: A) -> Result<Job, A::Error> {
        Err(de::Error::custom(EXPECTED_MAPS))
    }
}
