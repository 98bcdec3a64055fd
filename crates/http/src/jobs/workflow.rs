//! `GET /api/{v}/job/{id}/workflow`: a job's workflow steps as Rundeck's
//! workflow tree shows them, following job references three levels deep.
//!
//! A caller who may `read` a job sees each step in full (the step as the
//! job definition writes it, without step plugins and plugin
//! configuration, as Rundeck leaves them out); one who may only `view` it
//! sees what each step is, without its content (Rundeck's description
//! form). A referenced job is followed only when the caller sees it (Rundeck
//! follows every reference with the rights of the top job): its `jobId` and
//! its own steps, each job's steps listed once, at their first reference.

use crate::error::ApiError;
use crate::extract::{path, Caller};
use crate::ApiState;
use axum::extract::{Path, State};
use axum::Json;
use foredeck_core::authorizer::Subject;
use foredeck_core::{Job, JobRef, Step, StepKind};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

/// How many levels of job references are followed (Rundeck's).
const MAX_DEPTH: u32 = 3;

/// `GET /api/{v}/job/{id}/workflow`: `{"workflow": [...]}` (needs `read`
/// or `view` on the job; `view` alone shows no step content).
pub(crate) async fn workflow(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let id = path(&p, "id");
    let (project, job) = state.visible_job(&caller.subject, &id).await?;
    let mut tree = Tree {
        state: &state,
        subject: &caller.subject,
        loaded: HashSet::from([id]),
    };
    let read = state.may_job(&caller.subject, "read", &project, &job);
    let steps = tree.steps(project, job, read, MAX_DEPTH).await?;
    Ok(Json(json!({ "workflow": steps })))
}

struct Tree<'a> {
    state: &'a ApiState,
    subject: &'a Subject,
    /// Jobs whose steps are already in the tree.
    loaded: HashSet<String>,
}

type Steps<'f> = Pin<Box<dyn Future<Output = Result<Vec<Value>, ApiError>> + Send + 'f>>;

impl<'a> Tree<'a> {
    /// The job's steps; references followed while `depth` lasts.
    fn steps(&mut self, project: String, job: Job, read: bool, depth: u32) -> Steps<'_> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(job.sequence.commands.len());
            for step in &job.sequence.commands {
                let mut map = step_map(step, read);
                if let StepKind::JobRef(r) = &step.kind {
                    self.follow(&project, r, &mut map, ("jobId", "workflow"), depth)
                        .await?;
                }
                if let Some(StepKind::JobRef(r)) = step.errorhandler.as_ref().map(|h| &h.kind) {
                    self.follow(&project, r, &mut map, ("ehJobId", "ehWorkflow"), depth)
                        .await?;
                }
                out.push(Value::Object(map));
            }
            Ok(out)
        })
    }

    /// Adds the referenced job's id and (first time only, depth left) its
    /// steps under `keys`, when the caller sees that job.
    async fn follow(
        &mut self,
        project: &str,
        r: &JobRef,
        map: &mut Map<String, Value>,
        keys: (&str, &str),
        depth: u32,
    ) -> Result<(), ApiError> {
        let Some((project, job)) = self.referenced(project, r).await? else {
            return Ok(());
        };
        let uuid = job.uuid.clone().unwrap_or_default();
        // named by uuid: Rundeck fills in the name the reference resolves to
        if keys.0 == "jobId" && r.uuid.is_some() {
            if let Some(Value::Object(jr)) = map.get_mut("jobref") {
                jr.insert("name".into(), json!(job.name));
                jr.insert("group".into(), json!(job.group.clone().unwrap_or_default()));
            }
        }
        map.insert(keys.0.into(), json!(uuid));
        if depth > 0 && self.loaded.insert(uuid) {
            let read = self.state.may_job(self.subject, "read", &project, &job);
            let steps = self.steps(project, job, read, depth - 1).await?;
            map.insert(keys.1.into(), Value::Array(steps));
        }
        Ok(())
    }

    /// The job a reference names (by uuid, else by group and name, in its
    /// project or the referring job's), if the caller sees it.
    async fn referenced(
        &self,
        project: &str,
        r: &JobRef,
    ) -> Result<Option<(String, Job)>, ApiError> {
        let project = r.project.clone().unwrap_or_else(|| project.to_owned());
        let store = &self.state.store;
        let found = match &r.uuid {
            Some(u) => store.get_job(&project, u).await?,
            None => {
                store
                    .find_job(
                        &project,
                        r.group.as_deref().filter(|g| !g.is_empty()),
                        &r.name,
                    )
                    .await?
            }
        };
        Ok(found
            .filter(|j| self.state.sees_job(self.subject, &project, j))
            .map(|j| (project, j)))
    }
}

/// One step: in full (`read`), or only what it is.
fn step_map(step: &Step, read: bool) -> Map<String, Value> {
    if read {
        let mut map = match serde_json::to_value(step) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        map.remove("plugins");
        if map.contains_key("type") {
            map.remove("configuration");
        }
        return map;
    }
    let mut map = Map::new();
    match &step.kind {
        StepKind::Command { .. } => {
            map.insert("exec".into(), json!("exec"));
        }
        StepKind::Script { .. } => {
            map.insert("script".into(), json!("script"));
        }
        StepKind::ScriptFile { spec, .. } => {
            map.insert("scriptfile".into(), json!("scriptfile"));
            map.insert("expandTokenInScriptFile".into(), json!(spec.expand_tokens));
        }
        StepKind::ScriptUrl { spec, .. } => {
            map.insert("scripturl".into(), json!("scripturl"));
            map.insert("expandTokenInScriptFile".into(), json!(spec.expand_tokens));
        }
        StepKind::JobRef(r) => {
            let mut jr = Map::new();
            jr.insert("group".into(), json!(r.group.clone().unwrap_or_default()));
            jr.insert("name".into(), json!(r.name));
            if let Some(p) = &r.project {
                jr.insert("project".into(), json!(p));
            }
            if let Some(u) = &r.uuid {
                jr.insert("uuid".into(), json!(u));
            }
            if r.node_step {
                jr.insert("nodeStep".into(), json!("true"));
            }
            map.insert("jobref".into(), Value::Object(jr));
        }
        StepKind::Plugin {
            plugin_type,
            node_step,
            ..
        } => {
            map.insert("type".into(), json!(plugin_type));
            map.insert("nodeStep".into(), json!(node_step));
        }
    }
    if let Some(h) = &step.errorhandler {
        map.insert("errorhandler".into(), Value::Object(step_map(h, false)));
    }
    if let Some(d) = step.description.as_deref().filter(|d| !d.is_empty()) {
        map.insert("description".into(), json!(d));
    }
    map
}
