//! `PUT /api/{v}/project/{p}/import`: a project archive into an existing
//! project, all or nothing.
//!
//! Needs `import` on the project (as Rundeck); `importConfig` or
//! `importNodesSources` also need `configure` (and a script node source,
//! `admin`, as for `project/{p}/config`), `importACL` needs `create` and
//! `update` on the project's ACL policies. Parameters, as Rundeck's:
//! `jobUuidOption` (`preserve`, default, or `remove`), `importExecutions`
//! (default true), `importConfig` (default false; without
//! `importNodesSources`, the project keeps its own `resources.source.*`
//! keys), `importNodesSources`, `importACL` (default false); `importScm`,
//! `importWebhooks` and `whkRegenAuthTokens` are read and have nothing to
//! import (no SCM plugins; webhooks are not exported). `asyncImport=true`
//! is refused: the import answers when it is done. readme and motd are
//! imported whenever the archive has them, as in Rundeck.
//!
//! The archive is read whole first ([`ProjectArchive::from_zip`]: zip-slip,
//! zip bombs, and every part parsed); an unsafe or unreadable entry is a
//! 400 naming it. Then ACL policies and configuration are checked, and
//! only then anything is written: jobs (through the job service, which
//! asks for `create`/`update` on each), executions with their logs (new
//! ids; retries and job links follow), configuration, readme/motd, ACL
//! policies last (so that they cannot widen what this import may do). When
//! any write is refused, what was written is undone and the answer is
//! Rundeck's `import_status: failed` with the errors by kind.

use super::{may_acl, project_for};
use crate::error::ApiError;
use crate::extract::{flag, param, path, Caller, Params};
use crate::project_config;
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{Extensions, HeaderMap};
use axum::Json;
use foredeck_core::acl::{Policy, PolicyScope};
use foredeck_core::archive::{Limits, Parts, ProjectArchive};
use foredeck_core::jobs::{OnDuplicate, SaveError, Saved};
use foredeck_core::store::AclPolicy;
use foredeck_core::{Job, Project};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// Log events appended at a time.
const LOG_BATCH: usize = 1_000;

/// What the parameters ask for.
struct Options {
    remove_uuids: bool,
    executions: bool,
    config: bool,
    nodes_sources: bool,
    acls: bool,
}

fn options(q: &[(String, String)]) -> Result<Options, ApiError> {
    let remove_uuids = match param(q, "jobUuidOption").unwrap_or("preserve") {
        "preserve" => false,
        "remove" => true,
        other => {
            return Err(ApiError::invalid(format!(
                "parameter jobUuidOption: {other:?} is not preserve or remove"
            )))
        }
    };
    if flag(q, "asyncImport")? == Some(true) {
        return Err(ApiError::invalid(
            "asyncImport=true is not supported: the import answers when it is done; leave asyncImport out",
        ));
    }
    for name in ["importScm", "importWebhooks", "whkRegenAuthTokens"] {
        flag(q, name)?;
    }
    Ok(Options {
        remove_uuids,
        executions: flag(q, "importExecutions")?.unwrap_or(true),
        config: flag(q, "importConfig")?.unwrap_or(false),
        nodes_sources: flag(q, "importNodesSources")?.unwrap_or(false),
        acls: flag(q, "importACL")?.unwrap_or(false),
    })
}

/// The archive's bytes: the body, or the first file of a multipart form
/// (as Rundeck's web form sends it).
async fn archive_bytes(headers: &HeaderMap, body: Bytes) -> Result<Bytes, ApiError> {
    if crate::extract::media_type(headers) == "multipart/form-data" {
        if let Some(form) = crate::extract::Form::parse(headers, body).await? {
            return form
                .first_file()
                .ok_or_else(|| crate::extract::required("a file part with the archive"));
        }
        return Err(crate::extract::required("a file part with the archive"));
    }
    if body.is_empty() {
        return Err(ApiError::invalid(
            "the request body is empty: send the archive as application/zip",
        ));
    }
    Ok(body)
}

/// Rundeck's failed answer: errors by kind, nothing stored.
#[derive(Default)]
struct Failure {
    errors: Vec<String>,
    execution_errors: Vec<String>,
    acl_errors: Vec<String>,
    other_errors: Vec<String>,
}

impl Failure {
    fn is_empty(&self) -> bool {
        self.errors.is_empty()
            && self.execution_errors.is_empty()
            && self.acl_errors.is_empty()
            && self.other_errors.is_empty()
    }

    fn answer(self) -> Json<Value> {
        Json(json!({
            "import_status": "failed",
            "successful": false,
            "message": "nothing was imported: the archive is imported whole or not at all",
            "errors": self.errors,
            "execution_errors": self.execution_errors,
            "acl_errors": self.acl_errors,
            "other_errors": self.other_errors,
        }))
    }
}

/// What was written, to be undone when a later part is refused.
enum Undo {
    JobCreated(Job),
    JobReplaced(Job),
    Execution(u64),
    Project {
        before: Project,
        config_changed: bool,
    },
    Acl {
        name: String,
        before: Option<AclPolicy>,
    },
}

/// The configuration to store: the archive's (with the project's own
/// node sources unless they are imported too), or only the archive's node
/// sources.
fn new_config(
    old: &BTreeMap<String, String>,
    archived: &BTreeMap<String, String>,
    project: &str,
    o: &Options,
) -> BTreeMap<String, String> {
    let source = |k: &str| k.starts_with(foredeck_core::nodes::SOURCE_PREFIX);
    let mut config: BTreeMap<String, String> = if o.config {
        archived
            .iter()
            .filter(|(k, _)| !source(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    } else {
        old.iter()
            .filter(|(k, _)| !source(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let sources = if o.nodes_sources { archived } else { old };
    config.extend(
        sources
            .iter()
            .filter(|(k, _)| source(k))
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    config.insert("project.name".into(), project.to_owned());
    config
}

/// `PUT /api/{v}/project/{p}/import`.
pub(crate) async fn import(
    State(state): State<ApiState>,
    caller: Caller,
    ext: Extensions,
    headers: HeaderMap,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Params,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let name = path(&p, "project");
    let project = project_for(&state, &caller, &name, "import").await?;
    let o = options(&q)?;
    if (o.config || o.nodes_sources)
        && project_config::configurable(&state, &caller.subject, &name)
            .await
            .is_err()
    {
        return Err(ApiError::unauthorized(
            "configure",
            &format!("Project {name}"),
        ));
    }
    if o.acls && !may_acl(&state, &caller, &name, &["create", "update"]) {
        return Err(ApiError::unauthorized(
            "create",
            &format!("the ACL policies of project {name}"),
        ));
    }
    let bytes = archive_bytes(&headers, body).await?;
    let parts = Parts {
        jobs: true,
        executions: o.executions,
        config: o.config || o.nodes_sources,
        acls: o.acls,
        readmes: true,
    };
    let archive = tokio::task::spawn_blocking(move || {
        ProjectArchive::from_zip(&bytes, &Limits::default(), parts)
    })
    .await
    .map_err(|e| ApiError::invalid(format!("reading the archive: {e}")))??;

    // checks before any write
    let mut failure = Failure::default();
    let scope = PolicyScope::Project(name.clone());
    for (file, text) in &archive.acls {
        if let Err(e) = crate::acl::check_name(file) {
            failure
                .acl_errors
                .push(format!("{file} could not be validated: {}", e.message));
        } else if let Err(v) = Policy::parse(file, text, &scope) {
            failure
                .acl_errors
                .push(format!("{file} could not be validated: {v}"));
        }
    }
    let config = archive
        .config
        .as_ref()
        .map(|c| new_config(&project.config, c, &name, &o));
    if let Some(c) = &config {
        for (k, v) in c {
            if let Err(e) =
                project_config::check_key(k).and_then(|_| project_config::check_value(k, v))
            {
                failure
                    .other_errors
                    .push(format!("project.properties: {}", e.message));
            }
        }
        if let Err(e) =
            project_config::may_change_script_sources(&state, &caller.subject, &project.config, c)
        {
            failure
                .other_errors
                .push(format!("project.properties: {}", e.message));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for j in &archive.jobs {
        if let Some(u) = j.uuid.as_deref().filter(|_| !o.remove_uuids) {
            if !seen.insert(u.to_owned()) {
                failure.errors.push(format!(
                    "Job {} could not be validated: uuid {u} appears twice in the archive",
                    j.full_name()
                ));
            }
        }
    }
    if !failure.is_empty() {
        return Ok(failure.answer());
    }

    let mut undo = Vec::new();
    let counts = match write(
        &state, &caller, &ext, &project, &archive, config, &o, &mut undo,
    )
    .await
    {
        Ok(counts) => counts,
        Err(failure) => {
            rollback(&state, &caller, &ext, &name, undo).await;
            return Ok(failure.answer());
        }
    };
    if !archive.acls.is_empty() {
        crate::acl::refresh(&state).await;
    }
    state
        .audit(
            &caller,
            "import",
            "project",
            &name,
            Some(&name),
            counts.clone(),
        )
        .await;
    Ok(Json(json!({
        "import_status": "successful",
        "successful": true,
        "imported": counts,
        "ignored": archive.ignored,
    })))
}

#[allow(clippy::too_many_arguments)]
async fn write(
    state: &ApiState,
    caller: &Caller,
    ext: &Extensions,
    project: &Project,
    archive: &ProjectArchive,
    config: Option<BTreeMap<String, String>>,
    o: &Options,
    undo: &mut Vec<Undo>,
) -> Result<Value, Failure> {
    let name = project.name.as_str();
    let store = &state.store;
    let fail = |kind: &str, msg: String| {
        let mut f = Failure::default();
        match kind {
            "job" => f.errors.push(msg),
            "execution" => f.execution_errors.push(msg),
            "acl" => f.acl_errors.push(msg),
            _ => f.other_errors.push(msg),
        }
        f
    };
    let internal = |e: foredeck_core::Error| ApiError::from(e).message;

    // jobs: archive uuid -> stored uuid, for the executions' job links
    let mut job_ids: HashMap<String, String> = HashMap::new();
    let jobs = state.jobs();
    for job in &archive.jobs {
        let mut job = job.clone();
        let old_uuid = job.uuid.clone();
        job.project = Some(name.to_owned());
        if o.remove_uuids {
            job.uuid = None;
        }
        let label = job.full_name();
        let before = match job.uuid.as_deref() {
            Some(u) => store
                .get_job(name, u)
                .await
                .map_err(|e| fail("job", format!("Job {label}: {}", internal(e))))?,
            None => None,
        };
        let before = match before {
            Some(b) => Some(b),
            None => store
                .find_job(name, job.group.as_deref(), &job.name)
                .await
                .map_err(|e| fail("job", format!("Job {label}: {}", internal(e))))?,
        };
        match jobs
            .save(&caller.subject, name, job, OnDuplicate::Update)
            .await
        {
            Ok(Saved::Created(stored)) => {
                if let (Some(old), Some(new)) = (old_uuid, stored.uuid.clone()) {
                    job_ids.insert(old, new);
                }
                undo.push(Undo::JobCreated(stored));
            }
            Ok(Saved::Updated(stored) | Saved::Skipped(stored)) => {
                if let (Some(old), Some(new)) = (old_uuid, stored.uuid.clone()) {
                    job_ids.insert(old, new);
                }
                if let Some(b) = before {
                    undo.push(Undo::JobReplaced(b));
                }
            }
            Err(e) => {
                let msg = match e {
                    SaveError::Other(e) => internal(e),
                    e => e.to_string(),
                };
                return Err(fail(
                    "job",
                    format!("Job {label} could not be imported: {msg}"),
                ));
            }
        }
    }

    // executions, oldest first so that a retry finds the run it retried
    let mut exec_ids: HashMap<u64, u64> = HashMap::new();
    for x in &archive.executions {
        let a = &x.archived;
        let mut e = a.execution.clone();
        e.id = 0;
        e.project = name.to_owned();
        e.server_uuid = None;
        e.job_id = e.job_id.map(|j| job_ids.get(&j).cloned().unwrap_or(j));
        e.retry_of = a.old_retry_of.and_then(|old| exec_ids.get(&old).copied());
        if !e.status.is_final() {
            e.status = foredeck_core::ExecutionStatus::Incomplete;
        }
        let label = format!("Execution {}", a.old_id);
        let id = store.create_execution(&e).await.map_err(|err| {
            fail(
                "execution",
                format!("{label} could not be imported: {}", internal(err)),
            )
        })?;
        undo.push(Undo::Execution(id));
        exec_ids.insert(a.old_id, id);
        for batch in x.log.chunks(LOG_BATCH) {
            store.append_log(id, batch).await.map_err(|err| {
                fail(
                    "execution",
                    format!("{label}: its log could not be stored: {}", internal(err)),
                )
            })?;
        }
    }

    // configuration, readme and motd
    let files_change = archive.readme.is_some() || archive.motd.is_some();
    if config.is_some() || files_change {
        let config_changed = config.as_ref().is_some_and(|c| *c != project.config);
        undo.push(Undo::Project {
            before: project.clone(),
            config_changed,
        });
        let mut now = project.clone();
        if let (Some(c), true) = (config, config_changed) {
            now = project_config::apply(state, &caller.subject, ext, now, c)
                .await
                .map_err(|e| {
                    fail(
                        "other",
                        format!("project.properties could not be imported: {}", e.message),
                    )
                })?;
        }
        if files_change {
            if archive.readme.is_some() {
                now.readme = archive.readme.clone();
            }
            if archive.motd.is_some() {
                now.motd = archive.motd.clone();
            }
            store.update_project(&now).await.map_err(|e| {
                fail(
                    "other",
                    format!("readme/motd could not be imported: {}", internal(e)),
                )
            })?;
        }
    }

    // ACL policies last
    for (file, text) in &archive.acls {
        let before = store.get_acl_policy(Some(name), file).await.map_err(|e| {
            fail(
                "acl",
                format!("{file} could not be imported: {}", internal(e)),
            )
        })?;
        undo.push(Undo::Acl {
            name: file.clone(),
            before,
        });
        store
            .put_acl_policy(&AclPolicy {
                project: Some(name.to_owned()),
                name: file.clone(),
                content: text.clone(),
                modified: chrono::Utc::now(),
            })
            .await
            .map_err(|e| {
                fail(
                    "acl",
                    format!("{file} could not be imported: {}", internal(e)),
                )
            })?;
    }
    Ok(json!({
        "jobs": archive.jobs.len(),
        "executions": archive.executions.len(),
        "acls": archive.acls.len(),
        "config": archive.config.is_some(),
        "readme": archive.readme.is_some(),
        "motd": archive.motd.is_some(),
    }))
}

/// Undoes what [`write`] did, newest first. A step that fails is logged
/// and the rest still undone.
async fn rollback(
    state: &ApiState,
    caller: &Caller,
    ext: &Extensions,
    project: &str,
    undo: Vec<Undo>,
) {
    let store = &state.store;
    let jobs = state.jobs();
    for u in undo.into_iter().rev() {
        let result = match u {
            Undo::Acl { name, before } => match before {
                Some(p) => store.put_acl_policy(&p).await,
                None => store.delete_acl_policy(Some(project), &name).await,
            },
            Undo::Project {
                before,
                config_changed,
            } => {
                if config_changed {
                    match store.get_project(project).await {
                        Ok(Some(now)) => {
                            if let Err(e) = project_config::apply(
                                state,
                                &caller.subject,
                                ext,
                                now,
                                before.config.clone(),
                            )
                            .await
                            {
                                tracing::error!(project, error = %e.message, "import rollback: configuration not restored");
                            }
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::error!(project, error = %e, "import rollback: project not read")
                        }
                    }
                }
                store.update_project(&before).await
            }
            Undo::Execution(id) => store.delete_execution(id).await,
            Undo::JobReplaced(before) => jobs
                .save(&caller.subject, project, before, OnDuplicate::Update)
                .await
                .map(|_| ())
                .map_err(|e| foredeck_core::Error::Conflict(e.to_string())),
            Undo::JobCreated(job) => jobs.undo_create(project, &job).await,
        };
        if let Err(e) = result {
            tracing::error!(project, error = %e, "import rollback: a step could not be undone");
        }
    }
}
