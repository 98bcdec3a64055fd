//! Job documents: a list of jobs in YAML or JSON.

use super::guard::{scan_json, scan_yaml, yaml_message, Root};
use super::validate::validate_job_at;
use crate::{Error, Job, Result};
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// Reads a Rundeck job YAML document: a list of jobs, or one job mapping.
///
/// Each job is checked with [`validate_job`](super::validate_job).
pub fn parse_jobs_yaml(src: &str, source_name: &str) -> Result<Vec<Job>> {
    let root = scan_yaml(src, source_name)?;
    if root == Root::Null {
        return Ok(Vec::new());
    }
    let mut failure = None;
    let parsed = JobsSeed {
        failure: &mut failure,
    }
    .deserialize(serde_yaml_ng::Deserializer::from_str(src));
    match parsed {
        Ok(jobs) => finish(jobs),
        Err(e) => {
            let names = || {
                serde_yaml_ng::from_str::<serde_json::Value>(src)
                    .ok()
                    .map(JobNames)
            };
            Err(job_error(source_name, failure, names, yaml_message(&e)))
        }
    }
}

/// Reads a Rundeck job JSON document: an array of jobs, or one job object.
///
/// Each job is checked with [`validate_job`](super::validate_job).
pub fn parse_jobs_json(src: &str, source_name: &str) -> Result<Vec<Job>> {
    let root = scan_json(src, source_name)?;
    if root == Root::Null {
        return Ok(Vec::new());
    }
    let mut failure = None;
    let mut de = serde_json::Deserializer::from_str(src);
    let parsed = JobsSeed {
        failure: &mut failure,
    }
    .deserialize(&mut de)
    .and_then(|jobs| de.end().map(|()| jobs));
    match parsed {
        Ok(jobs) => finish(jobs),
        Err(e) => {
            let names = || {
                serde_json::from_str::<serde_json::Value>(src)
                    .ok()
                    .map(JobNames)
            };
            Err(job_error(source_name, failure, names, e.to_string()))
        }
    }
}

/// Writes jobs as a Rundeck job YAML document (a list of jobs).
pub fn jobs_to_yaml(jobs: &[Job]) -> Result<String> {
    serde_yaml_ng::to_string(jobs).map_err(|e| Error::format("<yaml export>", e.to_string()))
}

/// Writes jobs as a Rundeck job JSON document (an array of jobs), indented.
pub fn jobs_to_json(jobs: &[Job]) -> Result<String> {
    serde_json::to_string_pretty(jobs).map_err(|e| Error::format("<json export>", e.to_string()))
}

/// Post-processing common to both formats: `id`/`uuid`, then validation.
pub(super) fn finish(mut jobs: Vec<Job>) -> Result<Vec<Job>> {
    for (i, job) in jobs.iter_mut().enumerate() {
        settle_id(job);
        validate_job_at(job, Some(i + 1))?;
    }
    Ok(jobs)
}

/// Rundeck writes a job's identifier as both `id` and `uuid`.
fn settle_id(job: &mut Job) {
    let Some(serde_json::Value::String(id)) = job.extra.get("id") else {
        return;
    };
    match &job.uuid {
        None => {
            job.uuid = Some(id.clone());
            job.extra.shift_remove("id");
        }
        Some(uuid) if uuid == id => {
            job.extra.shift_remove("id");
        }
        Some(_) => {}
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
    fn name(&self, index: usize) -> Option<String> {
        let job = match &self.0 {
            serde_json::Value::Array(items) => items.get(index)?,
            v @ serde_json::Value::Object(_) if index == 0 => v,
            _ => return None,
        };
        match job.get("name")? {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

fn job_error(
    source_name: &str,
    failure: Option<Failure>,
    names: impl FnOnce() -> Option<JobNames>,
    message: String,
) -> Error {
    let Some(Failure { index, path }) = failure else {
        return Error::format(source_name, message);
    };
    let message = explain(message);
    let pos = index + 1;
    let who = match names().and_then(|n| n.name(index)) {
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
    const SCHEDULE: &str = "data did not match any variant of untagged enum Schedule";
    match message.strip_prefix(SCHEDULE) {
        Some(rest) => format!(
            "`schedule` must be `{{crontab: EXPRESSION}}` or a map of `time` \
             (`hour`, `minute`, `seconds`), `month`, `weekday` or `dayofmonth` \
             (`day`) and `year`, with no other keys{rest}"
        ),
        None => message,
    }
}

/// The whole document: a list of jobs or a single job.
struct JobsSeed<'a> {
    failure: &'a mut Option<Failure>,
}

impl<'de> DeserializeSeed<'de> for JobsSeed<'_> {
    type Value = Vec<Job>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Job>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JobsSeed<'_> {
    type Value = Vec<Job>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of jobs or a single job mapping")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<Job>, E> {
        Ok(Vec::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Vec<Job>, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Job>, A::Error> {
        let mut jobs = Vec::new();
        loop {
            let seed = OneJob {
                index: jobs.len(),
                failure: &mut *self.failure,
            };
            match seq.next_element_seed(seed)? {
                Some(job) => jobs.push(job),
                None => return Ok(jobs),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<Job>, A::Error> {
        let job = OneJob {
            index: 0,
            failure: self.failure,
        }
        .deserialize(MapAccessDeserializer::new(map))?;
        Ok(vec![job])
    }
}

/// One job, tracking the path of any error.
struct OneJob<'a> {
    index: usize,
    failure: &'a mut Option<Failure>,
}

impl<'de> DeserializeSeed<'de> for OneJob<'_> {
    type Value = Job;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Job, D::Error> {
        let mut track = serde_path_to_error::Track::new();
        let result = Job::deserialize(serde_path_to_error::Deserializer::new(d, &mut track));
        if result.is_err() {
            *self.failure = Some(Failure {
                index: self.index,
                path: track.path().to_string(),
            });
        }
        result
    }
}
