//! The CLI as a client of a running server: `foredeck jobs`, `foredeck run
//! JOB`, `foredeck executions`, `foredeck nodes list`, over the Rundeck API.
//!
//! The server's URL and an API token come from `--url`/`--token`, else
//! `FOREDECK_URL`/`FOREDECK_TOKEN` (or rundeck-cli's `RD_URL`/`RD_TOKEN`),
//! else the config file `$FOREDECK_CONFIG`, by default
//! `$XDG_CONFIG_HOME/foredeck/client.yaml` (`~/.config/...`), holding
//! `url:`, `token:` and optionally `project:`.

use anyhow::{bail, Context};
use clap::Args;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// API version the client speaks.
const API: u32 = 59;

/// Where the server is and who we are.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Server URL (default: FOREDECK_URL, RD_URL, the config file, http://127.0.0.1:4440).
    #[arg(long, global = true)]
    url: Option<String>,
    /// API token (default: FOREDECK_TOKEN, RD_TOKEN, the config file).
    #[arg(long, global = true, hide_env_values = true)]
    token: Option<String>,
    /// Project (default: FOREDECK_PROJECT, the config file).
    #[arg(long, short = 'p', global = true)]
    project: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    url: Option<String>,
    token: Option<String>,
    project: Option<String>,
}

fn config_file() -> anyhow::Result<ConfigFile> {
    let path = match std::env::var_os("FOREDECK_CONFIG") {
        Some(p) => PathBuf::from(p),
        None => {
            let base = std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
            match base {
                Some(b) => b.join("foredeck").join("client.yaml"),
                None => return Ok(ConfigFile::default()),
            }
        }
    };
    if !path.exists() {
        return Ok(ConfigFile::default());
    }
    let text = super::read_text(&path)?;
    serde_yaml_ng::from_str(&text).with_context(|| format!("{}", path.display()))
}

fn env(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

/// A connection to a server's API.
#[derive(Debug)]
pub struct Client {
    base: String,
    token: String,
    project: Option<String>,
    http: reqwest::Client,
}

impl ServerArgs {
    /// Resolves the URL, token and project and builds the client.
    pub fn client(&self) -> anyhow::Result<Client> {
        let file = config_file()?;
        let base = self
            .url
            .clone()
            .or_else(|| env(&["FOREDECK_URL", "RD_URL"]))
            .or(file.url)
            .unwrap_or_else(|| "http://127.0.0.1:4440".into());
        let token = self
            .token
            .clone()
            .or_else(|| env(&["FOREDECK_TOKEN", "RD_TOKEN"]))
            .or(file.token)
            .context("no API token: pass --token, set FOREDECK_TOKEN, or put `token:` in the client config file")?;
        let project = self
            .project
            .clone()
            .or_else(|| env(&["FOREDECK_PROJECT", "RD_PROJECT"]))
            .or(file.project);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("foredeck-cli/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client {
            base: base.trim_end_matches('/').to_owned(),
            token,
            project,
            http,
        })
    }
}

/// Percent-encodes a path segment.
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    /// The project from the flags, environment or config file.
    pub fn project(&self) -> anyhow::Result<&str> {
        self.project
            .as_deref()
            .context("no project: pass --project, set FOREDECK_PROJECT, or put `project:` in the client config file")
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/{API}/{path}", self.base)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let resp = req
            .header("X-Rundeck-Auth-Token", &self.token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .with_context(|| format!("cannot reach the server at {}", self.base))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or(body);
        match status {
            StatusCode::UNAUTHORIZED => bail!("the server refused the token: {message}"),
            _ => bail!("{status}: {message}"),
        }
    }

    /// A JSON request; the answer's JSON.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self.http.request(method, self.url(path)).query(query);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = self.send(req).await?;
        let text = resp.text().await?;
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).context("the server's answer is not JSON")
    }

    /// A request whose answer is text (exports).
    pub async fn text(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<String> {
        let req = self.http.get(self.url(path)).query(query);
        Ok(self.send(req).await?.text().await?)
    }

    /// A request with raw bytes both ways (project archives), allowed to
    /// take up to an hour: a large project's archive takes a while.
    pub async fn bytes(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<(&str, Vec<u8>)>,
    ) -> anyhow::Result<Vec<u8>> {
        let mut req = self
            .http
            .request(method, self.url(path))
            .query(query)
            .timeout(Duration::from_secs(3600));
        if let Some((ctype, b)) = body {
            req = req.header(reqwest::header::CONTENT_TYPE, ctype).body(b);
        }
        Ok(self.send(req).await?.bytes().await?.to_vec())
    }

    /// Posts a document (job import).
    pub async fn post_document(
        &self,
        path: &str,
        query: &[(&str, String)],
        content_type: &str,
        body: String,
    ) -> anyhow::Result<Value> {
        let req = self
            .http
            .post(self.url(path))
            .query(query)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        let resp = self.send(req).await?;
        Ok(resp.json().await?)
    }

    /// Finds a job by uuid, or by `group/name` or name in the project.
    pub async fn job_id(&self, job: &str) -> anyhow::Result<String> {
        if let Ok(v) = self
            .json(Method::GET, &format!("job/{}/info", seg(job)), &[], None)
            .await
        {
            if let Some(id) = v.get("id").and_then(Value::as_str) {
                return Ok(id.to_owned());
            }
        }
        let project = self.project()?;
        let (group, name) = match job.rsplit_once('/') {
            Some((g, n)) => (Some(g), n),
            None => (None, job),
        };
        let mut query = vec![("jobExactFilter", name.to_owned())];
        if let Some(g) = group {
            query.push(("groupPathExact", g.to_owned()));
        }
        let list = self
            .json(
                Method::GET,
                &format!("project/{}/jobs", seg(project)),
                &query,
                None,
            )
            .await?;
        let found: Vec<&Value> = list
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|j| {
                        j.get("name").and_then(Value::as_str) == Some(name)
                            && group
                                .is_none_or(|g| j.get("group").and_then(Value::as_str) == Some(g))
                    })
                    .collect()
            })
            .unwrap_or_default();
        match found.as_slice() {
            [one] => Ok(one
                .get("id")
                .and_then(Value::as_str)
                .context("the server's job has no id")?
                .to_owned()),
            [] => bail!("no job {job:?} in project {project}"),
            many => bail!(
                "{} jobs are named {job:?} in project {project}; use the uuid or group/name",
                many.len()
            ),
        }
    }

    /// Prints an execution's output from `offset` until it ends; returns
    /// its final status.
    pub async fn follow(&self, id: u64, prefix: bool) -> anyhow::Result<String> {
        let mut offset = 0u64;
        loop {
            let page = self
                .json(
                    Method::GET,
                    &format!("execution/{id}/output"),
                    &[("offset", offset.to_string()), ("maxlines", "5000".into())],
                    None,
                )
                .await?;
            if let Some(entries) = page.get("entries").and_then(Value::as_array) {
                for e in entries {
                    let log = e.get("log").and_then(Value::as_str).unwrap_or("");
                    let node = e.get("node").and_then(Value::as_str).unwrap_or("");
                    let line = if prefix && !node.is_empty() {
                        format!("{node}: {log}")
                    } else {
                        log.to_owned()
                    };
                    let to_stdout = !matches!(
                        e.get("level").and_then(Value::as_str),
                        Some("WARN" | "ERROR")
                    );
                    super::progress::print_line(line.as_bytes(), to_stdout);
                }
            }
            let next = page.get("offset").and_then(|o| {
                o.as_u64()
                    .or_else(|| o.as_str().and_then(|s| s.parse().ok()))
            });
            let moved = next.is_some_and(|n| n != offset);
            if let Some(n) = next {
                offset = n;
            }
            let done = page
                .get("execCompleted")
                .and_then(Value::as_bool)
                .unwrap_or(false)
                && page
                    .get("completed")
                    .and_then(Value::as_bool)
                    .unwrap_or(true);
            if done && !moved {
                break;
            }
            if !moved {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        let e = self
            .json(Method::GET, &format!("execution/{id}"), &[], None)
            .await?;
        Ok(e.get("status")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned())
    }
}

/// `name=value` pairs from repeated `--option`.
pub fn option_pairs(options: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for o in options {
        let Some((k, v)) = o.split_once('=') else {
            bail!("--option {o:?}: expected NAME=VALUE");
        };
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

/// What `foredeck run JOB` asks of the server.
#[derive(Debug)]
pub struct RemoteRun<'a> {
    /// The job (uuid, or group/name in the project).
    pub job: &'a str,
    /// `NAME=VALUE` option values.
    pub options: &'a [String],
    /// A node filter replacing the job's.
    pub filter: Option<&'a str>,
    /// A log level replacing the job's.
    pub loglevel: Option<&'a str>,
    /// Run at this time (`runAtTime`) instead of now.
    pub at: Option<&'a str>,
}

/// `foredeck run JOB` against the server: starts it, follows its output
/// unless told not to, and exits 0 only when it succeeded. With a time
/// (`--at`), it schedules the run and prints its execution's id.
pub async fn run_remote(
    server: &ServerArgs,
    run: RemoteRun<'_>,
    follow: bool,
) -> anyhow::Result<u8> {
    let c = server.client()?;
    let id = c.job_id(run.job).await?;
    let mut body = serde_json::json!({ "options": option_pairs(run.options)? });
    if let Some(f) = run.filter {
        body["filter"] = f.into();
    }
    if let Some(l) = run.loglevel {
        body["loglevel"] = l.to_uppercase().into();
    }
    if let Some(at) = run.at {
        body["runAtTime"] = at.into();
    }
    let e = c
        .json(
            Method::POST,
            &format!("job/{}/run", seg(&id)),
            &[],
            Some(&body),
        )
        .await?;
    let eid = e
        .get("id")
        .and_then(Value::as_u64)
        .context("the server did not say which execution it recorded")?;
    if run.at.is_some() {
        let when = e
            .pointer("/date-started/date")
            .and_then(Value::as_str)
            .unwrap_or("its time");
        eprintln!("Execution #{eid} scheduled for {when} (abort it with `foredeck executions abort {eid}`)");
        println!("{eid}");
        return Ok(0);
    }
    eprintln!("Execution #{eid} started");
    if !follow {
        println!("{eid}");
        return Ok(0);
    }
    let status = follow_until_done(&c, eid).await?;
    eprintln!("Execution #{eid} {status}");
    Ok(u8::from(status != "succeeded"))
}

async fn follow_until_done(c: &Client, id: u64) -> anyhow::Result<String> {
    tokio::select! {
        r = c.follow(id, true) => r,
        _ = tokio::signal::ctrl_c() => {
            bail!("interrupted; execution #{id} goes on (abort it with `foredeck executions abort {id}`)")
        }
    }
}

fn table(rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:w$}  ", w = widths[i]));
            }
        }
        println!("{}", line.trim_end());
    }
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// `foredeck jobs ...`
#[derive(Debug, Args)]
pub struct JobsArgs {
    #[command(subcommand)]
    command: JobsCommand,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, clap::Subcommand)]
enum JobsCommand {
    /// List the project's jobs.
    List {
        /// Jobs in this group or below.
        #[arg(long)]
        group: Option<String>,
        /// Job name contains this text.
        #[arg(long)]
        name: Option<String>,
    },
    /// Load (import) jobs from a Rundeck YAML, JSON or XML file.
    Load {
        /// The job file.
        #[arg(long, short = 'f')]
        file: PathBuf,
        /// `yaml`, `json` or `xml` (default: by the file's extension).
        #[arg(long)]
        format: Option<String>,
        /// What to do with a job that exists: update, skip or create.
        #[arg(long, default_value = "update")]
        dupe_option: String,
        /// Keep the file's uuids (preserve) or let the server assign new ones (remove).
        #[arg(long, default_value = "preserve")]
        uuid_option: String,
    },
    /// Print the project's job definitions.
    Export {
        /// `yaml`, `json` or `xml`.
        #[arg(long, default_value = "yaml")]
        format: String,
        /// Jobs in this group or below.
        #[arg(long)]
        group: Option<String>,
        /// Only these job uuids (comma separated).
        #[arg(long)]
        idlist: Option<String>,
    },
}

pub async fn jobs(a: JobsArgs) -> anyhow::Result<u8> {
    let c = a.server.client()?;
    let project = seg(c.project()?);
    match a.command {
        JobsCommand::List { group, name } => {
            let mut q = Vec::new();
            if let Some(g) = group {
                q.push(("groupPath", g));
            }
            if let Some(n) = name {
                q.push(("jobFilter", n));
            }
            let list = c
                .json(Method::GET, &format!("project/{project}/jobs"), &q, None)
                .await?;
            let mut rows = vec![vec![
                "ID".to_owned(),
                "SCHEDULED".to_owned(),
                "JOB".to_owned(),
            ]];
            for j in list.as_array().into_iter().flatten() {
                let group = s(j, "group");
                let full = if group.is_empty() {
                    s(j, "name")
                } else {
                    format!("{group}/{}", s(j, "name"))
                };
                let sched = if j.get("scheduled").and_then(Value::as_bool) == Some(true) {
                    "yes"
                } else {
                    "no"
                };
                rows.push(vec![s(j, "id"), sched.to_owned(), full]);
            }
            table(&rows);
            Ok(0)
        }
        JobsCommand::Load {
            file,
            format,
            dupe_option,
            uuid_option,
        } => {
            let text = super::read_text(&file)?;
            let format =
                format.unwrap_or_else(|| match foredeck::format::JobFormat::from_path(&file) {
                    Some(foredeck::format::JobFormat::Json) => "json".into(),
                    Some(foredeck::format::JobFormat::Xml) => "xml".into(),
                    _ => "yaml".into(),
                });
            let content_type = match format.as_str() {
                "yaml" => "application/yaml",
                "json" => "application/json",
                "xml" => "application/xml",
                other => bail!("--format {other:?}: use yaml, json or xml"),
            };
            let r = c
                .post_document(
                    &format!("project/{project}/jobs/import"),
                    &[
                        ("fileformat", format.clone()),
                        ("dupeOption", dupe_option),
                        ("uuidOption", uuid_option),
                    ],
                    content_type,
                    text,
                )
                .await?;
            let mut failed = 0;
            for (kind, label) in [
                ("succeeded", "loaded"),
                ("skipped", "skipped"),
                ("failed", "FAILED"),
            ] {
                for j in r.get(kind).and_then(Value::as_array).into_iter().flatten() {
                    let group = s(j, "group");
                    let full = if group.is_empty() {
                        s(j, "name")
                    } else {
                        format!("{group}/{}", s(j, "name"))
                    };
                    let err = s(j, "error");
                    if kind == "failed" {
                        failed += 1;
                        // Rundeck's 1-based position in the document
                        eprintln!("{label}  #{}  {full}: {err}", s(j, "index"));
                    } else {
                        println!("{label}  {}  {full}", s(j, "id"));
                    }
                }
            }
            Ok(u8::from(failed > 0))
        }
        JobsCommand::Export {
            format,
            group,
            idlist,
        } => {
            let mut q = vec![("format", format)];
            if let Some(g) = group {
                q.push(("groupPath", g));
            }
            if let Some(i) = idlist {
                q.push(("idlist", i));
            }
            let text = c
                .text(&format!("project/{project}/jobs/export"), &q)
                .await?;
            print!("{text}");
            Ok(0)
        }
    }
}

/// `foredeck executions ...`
#[derive(Debug, Args)]
pub struct ExecutionsArgs {
    #[command(subcommand)]
    command: ExecutionsCommand,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, clap::Subcommand)]
enum ExecutionsCommand {
    /// List the project's executions, newest first.
    List {
        /// Only in this status (running, succeeded, failed, aborted, ...).
        #[arg(long)]
        status: Option<String>,
        /// Only of this job (uuid).
        #[arg(long)]
        job: Option<String>,
        /// Started within this period (`1h`, `2d`, `1w`).
        #[arg(long)]
        recent: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        max: u64,
    },
    /// Print an execution's output until it ends.
    Follow {
        /// Execution id.
        id: u64,
    },
    /// Abort a running execution.
    Abort {
        /// Execution id.
        id: u64,
    },
}

pub async fn executions(a: ExecutionsArgs) -> anyhow::Result<u8> {
    let c = a.server.client()?;
    match a.command {
        ExecutionsCommand::List {
            status,
            job,
            recent,
            max,
        } => {
            let project = seg(c.project()?);
            let mut q = vec![("max", max.to_string())];
            if let Some(s) = status {
                q.push(("statusFilter", s));
            }
            if let Some(j) = job {
                q.push(("jobIdListFilter", j));
            }
            if let Some(r) = recent {
                q.push(("recentFilter", r));
            }
            let page = c
                .json(
                    Method::GET,
                    &format!("project/{project}/executions"),
                    &q,
                    None,
                )
                .await?;
            let mut rows = vec![vec![
                "ID".to_owned(),
                "STATUS".to_owned(),
                "STARTED".to_owned(),
                "USER".to_owned(),
                "JOB".to_owned(),
            ]];
            for e in page
                .get("executions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let started = e
                    .get("date-started")
                    .map(|d| s(d, "date"))
                    .unwrap_or_default();
                let job = e
                    .get("job")
                    .map(|j| {
                        let g = s(j, "group");
                        if g.is_empty() {
                            s(j, "name")
                        } else {
                            format!("{g}/{}", s(j, "name"))
                        }
                    })
                    .unwrap_or_else(|| format!("(ad hoc) {}", s(e, "description")));
                rows.push(vec![s(e, "id"), s(e, "status"), started, s(e, "user"), job]);
            }
            table(&rows);
            Ok(0)
        }
        ExecutionsCommand::Follow { id } => {
            let status = follow_until_done(&c, id).await?;
            eprintln!("Execution #{id} {status}");
            Ok(u8::from(status != "succeeded"))
        }
        ExecutionsCommand::Abort { id } => {
            let r = c
                .json(Method::POST, &format!("execution/{id}/abort"), &[], None)
                .await?;
            let abort = r.get("abort").cloned().unwrap_or(Value::Null);
            let status = s(&abort, "status");
            let reason = s(&abort, "reason");
            println!(
                "{}{}",
                if status.is_empty() {
                    "requested"
                } else {
                    &status
                },
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(": {reason}")
                }
            );
            Ok(u8::from(status == "failed"))
        }
    }
}

/// `foredeck nodes list`: the project's nodes that match a filter.
pub async fn nodes_list(server: &ServerArgs, filter: &str) -> anyhow::Result<u8> {
    let c = server.client()?;
    let project = seg(c.project()?);
    let nodes = c
        .json(
            Method::GET,
            &format!("project/{project}/resources"),
            &[("filter", filter.to_owned())],
            None,
        )
        .await?;
    let mut rows = vec![vec![
        "NAME".to_owned(),
        "HOSTNAME".to_owned(),
        "USER".to_owned(),
        "TAGS".to_owned(),
    ]];
    if let Some(map) = nodes.as_object() {
        for (name, attrs) in map {
            rows.push(vec![
                name.clone(),
                s(attrs, "hostname"),
                s(attrs, "username"),
                s(attrs, "tags"),
            ]);
        }
    }
    table(&rows);
    Ok(0)
}
