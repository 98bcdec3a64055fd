//! Rundeck's project archive: one zip holding a project's jobs, executions
//! with their logs, configuration, readme and motd, and ACL policies.
//!
//! ```text
//! META-INF/MANIFEST.MF
//! rundeck-<project>/jobs/job-<uuid>.xml            (Rundeck's job XML)
//! rundeck-<project>/executions/execution-<id>.xml   (see execution_xml)
//! rundeck-<project>/executions/output-<id>.rdlog    (see rdlog)
//! rundeck-<project>/files/etc/project.properties    (see properties)
//! rundeck-<project>/files/readme.md, motd.md
//! rundeck-<project>/files/acls/<name>.aclpolicy
//! ```
//!
//! [`ProjectArchive::to_zip`] writes one; [`ProjectArchive::from_zip`]
//! reads one without trusting it ([`zipfile`]) and parses every part it
//! is asked for before returning, so an archive with any bad part is
//! refused whole, with an error that names the entry. What Rundeck puts in
//! an archive that Foredeck has no use for (history reports, job file
//! records, state files, SCM settings, component data) is listed in
//! [`ProjectArchive::ignored`].

mod collect;
mod execution_xml;
pub mod properties;
pub mod rdlog;
mod xml_tree;
pub mod zipfile;

pub use collect::{collect, Export};
pub use execution_xml::ArchivedExecution;
pub use zipfile::{check_path, Limits};

use crate::error::{Error, Result};
use crate::model::{Execution, Job, LogEvent};
use std::collections::{BTreeMap, HashMap};

/// An execution and its log, as an archive holds them.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionWithLog {
    /// The record and its ids in the archive.
    pub archived: ArchivedExecution,
    /// Its log.
    pub log: Vec<LogEvent>,
}

/// What an archive holds (or what to put in one).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProjectArchive {
    /// The project's name in the archive (`rundeck-<name>/`).
    pub project: String,
    /// Jobs.
    pub jobs: Vec<Job>,
    /// The project's configuration (`project.properties`), when included.
    pub config: Option<BTreeMap<String, String>>,
    /// `readme.md`, when included.
    pub readme: Option<String>,
    /// `motd.md`, when included.
    pub motd: Option<String>,
    /// ACL policies: file name and YAML text.
    pub acls: Vec<(String, String)>,
    /// Executions with their logs.
    pub executions: Vec<ExecutionWithLog>,
    /// Entries read and left aside (Rundeck parts Foredeck does not keep).
    pub ignored: Vec<String>,
}

/// Which parts [`ProjectArchive::from_zip`] reads (the rest is skipped
/// unparsed, as Rundeck skips what an import does not ask for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts {
    /// Jobs.
    pub jobs: bool,
    /// Executions and their logs.
    pub executions: bool,
    /// `project.properties`.
    pub config: bool,
    /// ACL policies.
    pub acls: bool,
    /// readme and motd.
    pub readmes: bool,
}

impl Parts {
    /// Every part.
    pub const ALL: Parts = Parts {
        jobs: true,
        executions: true,
        config: true,
        acls: true,
        readmes: true,
    };
}

/// The text that leads `project.properties`.
const PROPERTIES_COMMENT: &str = "Exported configuration";

fn entry_error(name: &str, message: impl std::fmt::Display) -> Error {
    Error::format(format!("archive entry {name:?}"), message.to_string())
}

fn text<'a>(name: &str, bytes: &'a [u8]) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| entry_error(name, format!("not UTF-8 text: {e}")))
}

/// A job's file in the archive and its text: Rundeck's job XML.
fn job_file(job: &Job) -> Result<(String, String)> {
    let uuid = job.uuid.clone().unwrap_or_default();
    Ok((
        format!("job-{uuid}.xml"),
        crate::format::jobs_to_xml(std::slice::from_ref(job))?,
    ))
}

/// The jobs of a job file of the archive: Rundeck's job XML, or job YAML
/// or JSON by the file's extension (archives put together by hand).
fn parse_job_file(name: &str, text: &str) -> Result<Vec<Job>> {
    let source = format!("archive entry {name:?}");
    if name.ends_with(".yaml") || name.ends_with(".yml") {
        crate::format::parse_jobs_yaml(text, &source)
    } else if name.ends_with(".json") {
        crate::format::parse_jobs_json(text, &source)
    } else {
        crate::format::parse_jobs_xml(text, &source)
    }
}

impl ProjectArchive {
    /// The archive as a zip, in Rundeck's layout. `exported` is the export
    /// time written in the manifest.
    pub fn to_zip(&self, exported: chrono::DateTime<chrono::Utc>) -> Result<Vec<u8>> {
        let base = format!("rundeck-{}", self.project);
        let manifest = format!(
            "Manifest-Version: 1.0\r\nRundeck-Application-Version: foredeck-{}\r\n\
             Rundeck-Archive-Format-Version: 1.0\r\nRundeck-Archive-Project-Name: {}\r\n\
             Rundeck-Archive-Export-Date: {}\r\n\r\n",
            env!("CARGO_PKG_VERSION"),
            self.project,
            exported.format("%Y-%m-%dT%H:%M:%SZ")
        );
        let mut files: Vec<(String, Vec<u8>)> =
            vec![("META-INF/MANIFEST.MF".into(), manifest.into_bytes())];
        for job in &self.jobs {
            let (name, text) = job_file(job)?;
            files.push((format!("{base}/jobs/{name}"), text.into_bytes()));
        }
        for x in &self.executions {
            let id = x.archived.old_id;
            let log = format!("output-{id}.rdlog");
            files.push((
                format!("{base}/executions/execution-{id}.xml"),
                execution_xml::write(&x.archived.execution, Some(&log)).into_bytes(),
            ));
            files.push((
                format!("{base}/executions/{log}"),
                rdlog::write(&x.log).into_bytes(),
            ));
        }
        if let Some(config) = &self.config {
            files.push((
                format!("{base}/files/etc/project.properties"),
                properties::write(config, PROPERTIES_COMMENT).into_bytes(),
            ));
        }
        for (name, body) in [("readme.md", &self.readme), ("motd.md", &self.motd)] {
            if let Some(body) = body {
                files.push((format!("{base}/files/{name}"), body.clone().into_bytes()));
            }
        }
        for (name, body) in &self.acls {
            files.push((
                format!("{base}/files/acls/{name}"),
                body.clone().into_bytes(),
            ));
        }
        zipfile::write_entries(files.iter().map(|(n, b)| (n.as_str(), b.as_slice())))
    }

    /// Reads the `parts` of an archive within `limits`; any entry that is
    /// unsafe or does not parse refuses the whole archive, naming it.
    pub fn from_zip(zip: &[u8], limits: &Limits, parts: Parts) -> Result<ProjectArchive> {
        let entries = zipfile::read_entries(zip, limits)?;
        let mut tops = entries
            .iter()
            .filter_map(|e| e.name.split_once('/').map(|(top, _)| top))
            .filter(|top| *top != "META-INF")
            .collect::<Vec<_>>();
        tops.sort_unstable();
        tops.dedup();
        let top = match tops.as_slice() {
            [one] => (*one).to_owned(),
            [] => {
                return Err(Error::format(
                    "archive",
                    "no project folder (rundeck-<project>/) in the archive",
                ))
            }
            more => {
                return Err(Error::format(
                    "archive",
                    format!("more than one project folder: {}", more.join(", ")),
                ))
            }
        };
        let mut out = ProjectArchive {
            project: top.strip_prefix("rundeck-").unwrap_or(&top).to_owned(),
            ..ProjectArchive::default()
        };
        let mut execs: Vec<ArchivedExecution> = Vec::new();
        let mut logs: HashMap<String, (String, Vec<u8>)> = HashMap::new();
        for e in entries {
            let Some(rel) = e.name.strip_prefix(&top).and_then(|r| r.strip_prefix('/')) else {
                out.ignored.push(e.name);
                continue;
            };
            let name = e.name.as_str();
            let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel));
            match dir {
                "jobs" if file.starts_with("job-") => {
                    if parts.jobs {
                        out.jobs
                            .extend(parse_job_file(name, text(name, &e.bytes)?)?);
                    }
                }
                "executions" if file.starts_with("execution-") && file.ends_with(".xml") => {
                    if parts.executions {
                        let x = execution_xml::parse(text(name, &e.bytes)?)
                            .map_err(|m| entry_error(name, m))?;
                        execs.push(x);
                    }
                }
                "executions"
                    if file.starts_with("output-")
                        && (file.ends_with(".rdlog") || file.ends_with(".txt")) =>
                {
                    if parts.executions {
                        logs.insert(file.to_owned(), (e.name.clone(), e.bytes));
                    }
                }
                "files/etc" if file == "project.properties" => {
                    if parts.config {
                        let map = properties::parse(text(name, &e.bytes)?)
                            .map_err(|m| entry_error(name, m))?;
                        out.config = Some(map);
                    }
                }
                "files" if file == "readme.md" || file == "motd.md" => {
                    if parts.readmes {
                        let body = text(name, &e.bytes)?.to_owned();
                        if file == "readme.md" {
                            out.readme = Some(body);
                        } else {
                            out.motd = Some(body);
                        }
                    }
                }
                "files/acls" if file.ends_with(".aclpolicy") => {
                    if parts.acls {
                        out.acls
                            .push((file.to_owned(), text(name, &e.bytes)?.to_owned()));
                    }
                }
                _ => out.ignored.push(e.name),
            }
        }
        for archived in execs {
            // `outputfilepath` names the log beside the record; an `ext:`
            // path (a log in Rundeck's remote storage) is not in the archive
            let log_name = archived
                .log_file
                .clone()
                .filter(|f| !f.starts_with("ext:"))
                .unwrap_or_else(|| format!("output-{}.rdlog", archived.old_id));
            let log = match logs.remove(&log_name) {
                Some((log_entry, bytes)) => {
                    let t = text(&log_entry, &bytes)?;
                    rdlog::parse(t).map_err(|m| entry_error(&log_entry, m))?
                }
                None => Vec::new(),
            };
            out.executions.push(ExecutionWithLog { archived, log });
        }
        out.ignored.extend(logs.into_values().map(|(n, _)| n));
        out.executions.sort_by_key(|x| x.archived.old_id);
        Ok(out)
    }

    /// Builds the execution part from stored executions and their logs.
    pub fn push_execution(&mut self, execution: Execution, log: Vec<LogEvent>) {
        self.executions.push(ExecutionWithLog {
            archived: ArchivedExecution {
                old_id: execution.id,
                old_retry_of: execution.retry_of,
                log_file: Some(format!("output-{}.rdlog", execution.id)),
                execution,
            },
            log,
        });
    }
}

#[cfg(test)]
mod tests;
