//! Webhooks (Rundeck's `webhook-run-job`): a URL with a secret token that
//! external systems POST to, running a job with the request's payload.
//!
//! Management under `/api/{v}/project/{p}/webhooks` and `.../webhook[/{id}]`
//! is authorized as resource kind `webhook` (with its `name`) in the project
//! context: `read`, `create`, `update`, `delete`; making a webhook act as a
//! user or with roles other than the caller's own needs `admin` on it, and
//! so does changing the job and options (`config`) of a webhook, or
//! regenerating its token, unless it acts as the caller (or the same update
//! re-binds it to the caller's user and roles).
//!
//! `POST /api/{v}/webhook/{token}` needs no API token: the token in the
//! path is the credential (kept as its SHA-256 only, shown once when it is
//! made). The run is authorized as the webhook's user and roles (`run` on
//! the job, and on every node and referenced job the run reaches). Config keys: `jobId` (required), `argString` whose values may
//! use `${data.a.b}` (a field of the JSON payload) and `${raw}` (the whole
//! payload), `nodeFilter`, and `payloadOption`: the name of a job option
//! that receives the raw payload. Values are substituted into option values
//! after the argString is split, so a payload can never add or change other
//! options, and options never reach a shell unquoted.

use crate::error::{ApiError, Code};
use crate::extract::{path, Caller};
use crate::secret::{hash_token, new_token_secret};
use crate::views::webhooks::hook_json;
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::routing;
use axum::Json;
use axum::Router;
use foredeck_core::authorizer::{AuthContext, Resource, Subject};
use foredeck_core::store::Webhook;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

/// The webhook management routes (the route that fires a webhook is [`fire_routes`]).
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/{v}/project/{project}/webhooks", routing::get(list))
        .route("/api/{v}/project/{project}/webhook", routing::post(create))
        .route(
            "/api/{v}/project/{project}/webhook/{id}",
            routing::get(get).post(update).delete(delete),
        )
}

/// The route that fires a webhook: the token in the path is the credential, so no API token is asked.
pub(crate) fn fire_routes() -> Router<ApiState> {
    Router::new().route("/api/{v}/webhook/{token}", routing::post(fire))
}

/// The one event plugin there is.
pub(crate) const RUN_JOB: &str = "webhook-run-job";

/// Largest payload a webhook takes (it may become an option value).
pub(crate) const MAX_PAYLOAD: usize = 1 << 20;

const CONFIG_KEYS: [&str; 4] = ["jobId", "argString", "nodeFilter", "payloadOption"];

fn resource(name: &str) -> Resource {
    Resource::new("webhook").with("name", name)
}

impl ApiState {
    fn may_webhook(&self, s: &Subject, action: &str, project: &str, name: &str) -> bool {
        self.may_read_project(s, project)
            && self.authorizer.allowed(
                s,
                action,
                &resource(name),
                &AuthContext::Project(project.to_owned()),
            )
    }

    /// The webhook if the caller may read it; 404 naming only the id otherwise.
    async fn visible_hook(
        &self,
        s: &Subject,
        project: &str,
        id: &str,
    ) -> Result<Webhook, ApiError> {
        let missing = || ApiError::not_found("Webhook", id);
        let h = self.store.get_webhook(id).await?.ok_or_else(missing)?;
        if h.project != project || !self.may_webhook(s, "read", project, &h.name) {
            return Err(missing());
        }
        Ok(h)
    }
}

/// `GET /api/{v}/project/{project}/webhooks`: those the caller may read.
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let project = path(&p, "project");
    if !state.may_read_project(&caller.subject, &project)
        || state.store.get_project(&project).await?.is_none()
    {
        return Err(ApiError::not_found("Project", &project));
    }
    let hooks = state.store.list_webhooks(&project).await?;
    Ok(Json(Value::Array(
        hooks
            .iter()
            .filter(|h| state.may_webhook(&caller.subject, "read", &project, &h.name))
            .map(|h| hook_json(h, None))
            .collect(),
    )))
}

/// `GET /api/{v}/project/{project}/webhook/{id}`.
pub(crate) async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let h = state
        .visible_hook(&caller.subject, &path(&p, "project"), &path(&p, "id"))
        .await?;
    Ok(Json(hook_json(&h, None)))
}

/// A create or update request; absent (or `null`) fields keep their value
/// on update. Other keys (`id`, `uuid`, `authToken`, `creator` of a
/// webhook sent back as it was read) are ignored, as Rundeck does.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HookBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    user: Option<String>,
    /// Comma-separated, as Rundeck sends them, or a list.
    #[serde(default)]
    roles: Option<Roles>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    event_plugin: Option<String>,
    #[serde(default)]
    config: Option<BTreeMap<String, Value>>,
    /// Update only: make a new token (the old one stops working).
    #[serde(default)]
    regen_auth_token: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Roles {
    Text(String),
    List(Vec<String>),
}

impl Roles {
    fn list(&self) -> Vec<String> {
        let items: Vec<String> = match self {
            Roles::Text(t) => t.split(',').map(str::to_owned).collect(),
            Roles::List(l) => l.clone(),
        };
        items
            .into_iter()
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .collect()
    }
}

fn parse_body(body: &Bytes) -> Result<HookBody, ApiError> {
    if body.is_empty() {
        return Err(ApiError::invalid("a webhook request needs a JSON body"));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("webhook: invalid JSON: {e}")))?;
    crate::extract::lenient(v)
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::invalid("webhook: name is required"));
    }
    if name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "webhook: name must be at most 255 characters, without control characters",
        ));
    }
    Ok(())
}

/// Checks a config and turns its values into strings.
async fn check_config(
    state: &ApiState,
    project: &str,
    config: &BTreeMap<String, Value>,
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    for (k, v) in config {
        // the plugin reads only its own properties, as Rundeck's does
        if !CONFIG_KEYS.contains(&k.as_str()) {
            continue;
        }
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Null => continue,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(ApiError::invalid(format!(
                    "webhook config: {k} must be text"
                )))
            }
        };
        out.insert(k.clone(), text);
    }
    let job_id = out
        .get("jobId")
        .filter(|j| !j.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("webhook config: jobId is required"))?;
    let job = state.store.get_job(project, job_id).await?.ok_or_else(|| {
        ApiError::invalid(format!(
            "webhook config: no job {job_id:?} in project {project}"
        ))
    })?;
    if let Some(a) = out.get("argString") {
        split_arg_string(a)
            .map_err(|e| ApiError::invalid(format!("webhook config: argString: {e}")))?;
    }
    if let Some(f) = out.get("nodeFilter").filter(|f| !f.trim().is_empty()) {
        foredeck_core::NodeFilter::parse(f)
            .map_err(|e| ApiError::invalid(format!("webhook config: nodeFilter: {e}")))?;
    }
    if let Some(o) = out.get("payloadOption").filter(|o| !o.trim().is_empty()) {
        if job.option(o).is_none() {
            return Err(ApiError::invalid(format!(
                "webhook config: payloadOption {o:?} is not an option of job {job_id}"
            )));
        }
    }
    Ok(out)
}

fn split_arg_string(s: &str) -> Result<Vec<(String, String)>, String> {
    foredeck_core::engine::parse::parse_arg_string(s)
}

/// Whether the webhook acts as the caller: their user, and only roles
/// they hold.
fn acts_as(caller: &Caller, hook: &Webhook) -> bool {
    hook.user == caller.subject.user && hook.roles.iter().all(|r| caller.subject.groups.contains(r))
}

/// Who the webhook acts as: the caller by default; anyone else, or roles
/// the caller does not hold, only with `admin` on it.
fn acting_as(
    state: &ApiState,
    caller: &Caller,
    project: &str,
    name: &str,
    user: Option<String>,
    roles: Option<Vec<String>>,
) -> Result<(String, Vec<String>), ApiError> {
    let user = user
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| caller.subject.user.clone());
    let roles = roles.unwrap_or_else(|| caller.subject.groups.iter().cloned().collect());
    let own =
        user == caller.subject.user && roles.iter().all(|r| caller.subject.groups.contains(r));
    if !own && !state.may_webhook(&caller.subject, "admin", project, name) {
        return Err(ApiError::unauthorized(
            "admin",
            &format!("webhook {name} acting as another user or with other roles"),
        ));
    }
    Ok((user, roles))
}

fn new_token() -> Result<String, ApiError> {
    new_token_secret()
        .map_err(|e| ApiError::of(Code::Unknown, format!("no randomness for a token: {e}")))
}

/// `POST /api/{v}/project/{project}/webhook`: makes a webhook; the answer
/// holds its token, the only time it is shown.
pub(crate) async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let project = path(&p, "project");
    if !state.may_read_project(&caller.subject, &project)
        || state.store.get_project(&project).await?.is_none()
    {
        return Err(ApiError::not_found("Project", &project));
    }
    let b = parse_body(&body)?;
    if b.project.as_deref().is_some_and(|bp| bp != project) {
        return Err(ApiError::invalid(
            "webhook: project in the body differs from the path",
        ));
    }
    let name = b.name.clone().unwrap_or_default();
    check_name(&name)?;
    if !state.may_webhook(&caller.subject, "create", &project, &name) {
        return Err(ApiError::unauthorized("create", &format!("webhook {name}")));
    }
    let plugin = b.event_plugin.clone().unwrap_or_else(|| RUN_JOB.into());
    if plugin != RUN_JOB {
        return Err(ApiError::invalid(format!(
            "webhook: eventPlugin {plugin:?} is not available (available: {RUN_JOB})"
        )));
    }
    let config = check_config(&state, &project, &b.config.clone().unwrap_or_default()).await?;
    let (user, roles) = acting_as(
        &state,
        &caller,
        &project,
        &name,
        b.user.clone(),
        b.roles.as_ref().map(Roles::list),
    )?;
    let token = new_token()?;
    let hook = Webhook {
        id: uuid::Uuid::new_v4().to_string(),
        project: project.clone(),
        name: name.clone(),
        token_hash: hash_token(&token),
        user,
        roles,
        enabled: b.enabled.unwrap_or(true),
        event_plugin: plugin,
        config,
        created: chrono::Utc::now(),
    };
    state.store.put_webhook(&hook).await?;
    state
        .audit(
            &caller,
            "create",
            "webhook",
            &hook.id,
            Some(&project),
            json!({"name": name, "user": hook.user, "roles": hook.roles}),
        )
        .await;
    Ok((StatusCode::CREATED, Json(hook_json(&hook, Some(&token)))))
}

/// `POST /api/{v}/project/{project}/webhook/{id}`: changes a webhook;
/// `regenAuthToken: true` replaces its token (answered once).
pub(crate) async fn update(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let project = path(&p, "project");
    let id = path(&p, "id");
    let mut hook = state.visible_hook(&caller.subject, &project, &id).await?;
    if !state.may_webhook(&caller.subject, "update", &project, &hook.name) {
        return Err(ApiError::unauthorized("update", &format!("webhook {id}")));
    }
    let b = parse_body(&body)?;
    if b.project.as_deref().is_some_and(|bp| bp != project) {
        return Err(ApiError::invalid(
            "webhook: project in the body differs from the path",
        ));
    }
    if let Some(n) = &b.name {
        check_name(n)?;
        if *n != hook.name && !state.may_webhook(&caller.subject, "update", &project, n) {
            return Err(ApiError::unauthorized("update", &format!("webhook {n}")));
        }
        hook.name = n.clone();
    }
    if let Some(plugin) = &b.event_plugin {
        if plugin != RUN_JOB {
            return Err(ApiError::invalid(format!(
                "webhook: eventPlugin {plugin:?} is not available (available: {RUN_JOB})"
            )));
        }
    }
    let retargeted = match &b.config {
        Some(c) => {
            let config = check_config(&state, &project, c).await?;
            let changed = config != hook.config;
            hook.config = config;
            changed
        }
        None => false,
    };
    if b.user.is_some() || b.roles.is_some() {
        let (user, roles) = acting_as(
            &state,
            &caller,
            &project,
            &hook.name,
            b.user.clone().or(Some(hook.user.clone())),
            b.roles
                .as_ref()
                .map(Roles::list)
                .or(Some(hook.roles.clone())),
        )?;
        hook.user = user;
        hook.roles = roles;
    }
    if let Some(e) = b.enabled {
        hook.enabled = e;
    }
    // What the webhook runs, and who holds its token, are the rights of the
    // user it acts as: changing either needs those rights (it acts as the
    // caller) or `admin` on it.
    let regenerate = b.regen_auth_token == Some(true);
    if (retargeted || regenerate)
        && !acts_as(&caller, &hook)
        && !state.may_webhook(&caller.subject, "admin", &project, &hook.name)
    {
        let what = match (retargeted, regenerate) {
            (true, true) => "the job, options and token",
            (true, false) => "the job and options",
            _ => "the token",
        };
        return Err(ApiError::unauthorized(
            "admin",
            &format!(
                "webhook {} (changing {what} of a webhook acting as user {:?}; \
                 set user and roles to your own, or ask an admin)",
                hook.name, hook.user
            ),
        ));
    }
    let token = if regenerate {
        let t = new_token()?;
        hook.token_hash = hash_token(&t);
        Some(t)
    } else {
        None
    };
    state.store.put_webhook(&hook).await?;
    state
        .audit(
            &caller,
            "update",
            "webhook",
            &hook.id,
            Some(&project),
            json!({"name": hook.name, "enabled": hook.enabled, "newToken": token.is_some()}),
        )
        .await;
    Ok(Json(hook_json(&hook, token.as_deref())))
}

/// `DELETE /api/{v}/project/{project}/webhook/{id}`.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> Result<StatusCode, ApiError> {
    let project = path(&p, "project");
    let id = path(&p, "id");
    let hook = state.visible_hook(&caller.subject, &project, &id).await?;
    if !state.may_webhook(&caller.subject, "delete", &project, &hook.name) {
        return Err(ApiError::unauthorized("delete", &format!("webhook {id}")));
    }
    state.store.delete_webhook(&id).await?;
    state
        .audit(
            &caller,
            "delete",
            "webhook",
            &id,
            Some(&project),
            json!({"name": hook.name}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The value of `${data.a.b}` in a JSON payload: strings as they are,
/// anything else as JSON; `None` when absent.
fn lookup(data: &Value, path: &str) -> Option<String> {
    let mut v = data;
    for key in path.split('.') {
        v = match v {
            Value::Object(m) => m.get(key)?,
            Value::Array(a) => a.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// Replaces `${data.x}` and `${raw}` in one option value; absent fields
/// become empty.
fn substitute(template: &str, data: &Value, raw: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let token = &after[..end];
        if token == "raw" {
            out.push_str(raw);
        } else if let Some(p) = token.strip_prefix("data.") {
            out.push_str(&lookup(data, p).unwrap_or_default());
        } else {
            out.push_str(&rest[start..start + 2 + end + 1]);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `POST /api/{v}/webhook/{token}`: runs the webhook's job with the
/// payload; answers `{jobId, executionId}`.
pub(crate) async fn fire(
    State(state): State<ApiState>,
    Path(p): Path<HashMap<String, String>>,
    request: axum::extract::Request,
) -> Result<Json<Value>, ApiError> {
    let version = request.extensions().get::<crate::ApiVersion>().copied();
    let source = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let body = axum::body::to_bytes(request.into_body(), MAX_PAYLOAD + 1)
        .await
        .map_err(|_| {
            ApiError::of(
                Code::WebhookPayloadTooLarge,
                format!("The payload is larger than {MAX_PAYLOAD} bytes"),
            )
        })?;
    // never echo the token
    let missing = || ApiError::not_found("Webhook", "(token)");
    let token = path(&p, "token");
    let token = token.split('#').next().unwrap_or("");
    if token.is_empty() || token.len() > 256 {
        return Err(missing());
    }
    let hook = state
        .store
        .find_webhook(&hash_token(token))
        .await?
        .ok_or_else(missing)?;
    if !hook.enabled {
        return Err(ApiError::of(
            Code::WebhookDisabled,
            format!("Webhook {} is disabled", hook.name),
        ));
    }
    if body.len() > MAX_PAYLOAD {
        return Err(ApiError::of(
            Code::WebhookPayloadTooLarge,
            format!("The payload is larger than {MAX_PAYLOAD} bytes"),
        ));
    }
    let raw = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid("The payload is not UTF-8 text"))?;
    let data: Value = if raw.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(raw).unwrap_or(Value::Null)
    };
    let caller = Caller {
        subject: Subject::new(hook.user.clone(), hook.roles.clone()),
        version: version.unwrap_or(crate::ApiVersion(crate::CURRENT_API)),
        source,
    };
    let job_id = hook.config.get("jobId").cloned().unwrap_or_default();
    let job = state
        .store
        .get_job(&hook.project, &job_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Job ID", &job_id))?;
    if !state.may_read_project(&caller.subject, &hook.project)
        || !state.may_job(&caller.subject, "run", &hook.project, &job)
    {
        return Err(ApiError::unauthorized(
            "run",
            &format!("Job ID {job_id} as webhook {}", hook.name),
        ));
    }
    let mut options = BTreeMap::new();
    if let Some(a) = hook.config.get("argString") {
        for (k, v) in split_arg_string(a).map_err(ApiError::invalid)? {
            options.insert(k, substitute(&v, &data, raw));
        }
    }
    if let Some(o) = hook.config.get("payloadOption").filter(|o| !o.is_empty()) {
        options.insert(o.clone(), raw.to_owned());
    }
    let filter = hook
        .config
        .get("nodeFilter")
        .filter(|f| !f.trim().is_empty())
        .cloned();
    let started =
        crate::jobs::run_for(&state, &caller, &hook.project, &job, options, filter).await?;
    let exec_id = started.0.get("id").cloned().unwrap_or(Value::Null);
    state
        .audit(
            &caller,
            "webhook",
            "webhook",
            &hook.id,
            Some(&hook.project),
            json!({"name": hook.name, "job": job_id, "execution": exec_id}),
        )
        .await;
    Ok(Json(json!({"jobId": job_id, "executionId": exec_id})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_fields_fill_option_values_only() {
        let data = json!({"ref": "main", "repo": {"name": "app"}, "n": [1, {"x": true}]});
        let raw = data.to_string();
        assert_eq!(substitute("${data.ref}", &data, &raw), "main");
        assert_eq!(
            substitute("v-${data.repo.name}-${data.n.1.x}", &data, &raw),
            "v-app-true"
        );
        assert_eq!(
            substitute("${data.missing}|${other}|${", &data, &raw),
            "|${other}|${"
        );
        assert_eq!(substitute("${raw}", &data, &raw), raw);
    }
}
