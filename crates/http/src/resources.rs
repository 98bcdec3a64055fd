//! A project's nodes, as Rundeck serves them:
//!
//! - `GET /api/{v}/project/{p}/resources?filter=...`: the nodes matching a
//!   node filter (all nodes without one), as an object keyed by node name
//!   (`resourcejson`), or `resourceyaml` with `format=yaml` or an `Accept`
//!   of `application/yaml` / `text/yaml`, or `resourcexml` with
//!   `format=xml` or an `Accept` of `application/xml` / `text/xml` (and
//!   before API 23 when no format is named), as Rundeck picks its
//!   resource format generator (see `node_doc` and docs/XML.md);
//! - `GET /api/{v}/project/{p}/resource/{name}`: one node, in the same
//!   shapes;
//! - `GET /api/{v}/project/{p}/sources`, `.../source/{index}` and
//!   `.../source/{index}/resources`: the node sources, one source, and the
//!   nodes of one source (these need `configure` on the project).
//!
//! Reading a project's nodes needs `read` on the project (application
//! context); each node is then shown only if the subject has `read` on it
//! (`node` resources in the project context, matched on the node's
//! attributes, `nodename` and `tags` included). A node the subject may not
//! read is absent: not listed, and 404 when asked for by name.

use crate::api::ApiVersion;
use crate::error::{ApiError, Code};
use crate::extract::Caller;
use crate::ApiState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Router;
use axum::{Extension, Json};
use foredeck_core::authorizer::{AuthContext, Resource, Subject};
use foredeck_core::format::{nodes_to_xml, nodes_to_yaml};
use foredeck_core::{Node, NodeFilter, Project};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The node routes: a project's nodes, one node, and its node sources.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/{v}/project/{project}/resources", routing::get(list))
        .route(
            "/api/{v}/project/{project}/sources",
            routing::get(sources).layer(axum::middleware::from_fn(crate::extract::json_only)),
        )
        .route(
            "/api/{v}/project/{project}/source/{index}",
            routing::get(source).layer(axum::middleware::from_fn(crate::extract::json_only)),
        )
        .route(
            "/api/{v}/project/{project}/source/{index}/resources",
            routing::get(source_resources),
        )
        .route(
            "/api/{v}/project/{project}/resource/{name}",
            routing::get(get),
        )
}

/// The authorization resource for a node: kind `node` with its attributes.
pub(crate) fn node_resource(n: &Node) -> Resource {
    let mut r = Resource::new("node");
    for (k, v) in &n.attributes {
        r.attributes.insert(k.clone(), v.clone());
    }
    r.attributes.insert("nodename".into(), n.name.clone());
    r.attributes.insert("name".into(), n.name.clone());
    r.attributes.insert("tags".into(), n.tags_string());
    r
}

/// A project's nodes: 403 without `read` on the project, 404 when it does
/// not exist.
async fn project_nodes(
    state: &ApiState,
    subject: &Subject,
    project: &str,
) -> Result<Arc<Vec<Node>>, ApiError> {
    let r = Resource::new("project").with("name", project);
    if !state
        .authorizer
        .allowed(subject, "read", &r, &AuthContext::Application)
    {
        return Err(ApiError::unauthorized(
            "read",
            &format!("Project {project}"),
        ));
    }
    state.nodes.nodes(project).await.map_err(|e| {
        let mut e = ApiError::from(e);
        if e.status == StatusCode::NOT_FOUND {
            e = ApiError::not_found("Project", project);
        }
        e
    })
}

/// The nodes `filter` selects (all without one) that the subject may read.
fn visible<'a>(
    state: &ApiState,
    subject: &Subject,
    project: &str,
    nodes: &'a [Node],
    filter: Option<&NodeFilter>,
) -> Vec<&'a Node> {
    let selected: Vec<&Node> = match filter {
        None => nodes.iter().collect(),
        Some(f) => f.select(nodes, true),
    };
    let ctx = AuthContext::Project(project.to_owned());
    selected
        .into_iter()
        .filter(|n| {
            state
                .authorizer
                .allowed(subject, "read", &node_resource(n), &ctx)
        })
        .collect()
}

/// The document a node answer is written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NodeDoc {
    Json,
    Yaml,
    Xml,
}

/// The node document a request asks for, as Rundeck's
/// `FrameworkController.apiRenderNodeResult` picks its resource format
/// generator: the `format` parameter, else the `Accept` type
/// ([`crate::extract::response_format`]); `all` or `html` (or nothing
/// named) is `resourcexml` before API 23 and `resourcejson` from it;
/// `xml`/`json`/`yaml` name `resourcexml`/`resourcejson`/`resourceyaml`,
/// which may also be given by name. A name no generator has falls back to
/// the first `Accept` media type a generator writes (`text/xml`; `text/yaml`,
/// `text/x-yaml`, `application/yaml`, `application/x-yaml`;
/// `application/json`, `text/json`; or `*/xml`, `*/json`, ...), and
/// without one it is Rundeck's 415 `api.error.resource.format.unsupported`.
fn node_doc(
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    version: u32,
) -> Result<NodeDoc, ApiError> {
    let requested = match query.get("format") {
        Some(f) => Some(f.clone()),
        None => crate::extract::response_format(&[], headers),
    };
    let named = match requested.as_deref() {
        None | Some("all" | "html") if version < 23 => Some(NodeDoc::Xml),
        None | Some("all" | "html") => Some(NodeDoc::Json),
        Some("xml" | "resourcexml") => Some(NodeDoc::Xml),
        Some("json" | "resourcejson") => Some(NodeDoc::Json),
        Some("yaml" | "resourceyaml") => Some(NodeDoc::Yaml),
        Some(_) => None,
    };
    named.or_else(|| by_media_type(headers)).ok_or_else(|| {
        ApiError::of(
            Code::ResourceFormatUnsupported,
            format!(
                "The format specified is unsupported: {}",
                requested.unwrap_or_default()
            ),
        )
    })
}

/// The first `Accept` media type (other than a bare `*/*`) a Rundeck
/// resource generator declares.
fn by_media_type(headers: &HeaderMap) -> Option<NodeDoc> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?.trim();
    if accept == "*/*" {
        return None;
    }
    accept.split(',').find_map(|item| {
        let media = item
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "text/xml" | "*/xml" => Some(NodeDoc::Xml),
            "text/yaml" | "text/x-yaml" | "application/yaml" | "application/x-yaml" | "*/yaml"
            | "*/x-yaml" => Some(NodeDoc::Yaml),
            "application/json" | "text/json" | "*/json" => Some(NodeDoc::Json),
            _ => None,
        }
    })
}

/// `resourcejson` without the indentation `format::nodes_to_json` writes
/// for files, written straight from the nodes.
fn compact_json(nodes: &[&Node]) -> Result<String, ApiError> {
    struct ByName<'a>(&'a [&'a Node]);
    impl serde::Serialize for ByName<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut m = s.serialize_map(Some(self.0.len()))?;
            for n in self.0 {
                m.serialize_entry(&n.name, *n)?;
            }
            m.end()
        }
    }
    serde_json::to_string(&ByName(nodes))
        .map_err(|e| ApiError::from(foredeck_core::Error::format("<json export>", e.to_string())))
}

fn render(nodes: &[&Node], doc: NodeDoc) -> Result<Response, ApiError> {
    let (body, ctype) = match doc {
        NodeDoc::Yaml => {
            let owned: Vec<Node> = nodes.iter().map(|n| (*n).clone()).collect();
            (nodes_to_yaml(&owned)?, "text/yaml; charset=utf-8")
        }
        NodeDoc::Xml => (
            nodes_to_xml(nodes.iter().copied()),
            "text/xml;charset=UTF-8",
        ),
        NodeDoc::Json => (compact_json(nodes)?, "application/json"),
    };
    Ok(([(header::CONTENT_TYPE, ctype)], body).into_response())
}

/// `GET /api/{v}/project/{p}/resources`.
pub(crate) async fn list(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Extension(v): Extension<ApiVersion>,
    Path(params): Path<HashMap<String, String>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let project = params.get("project").cloned().unwrap_or_default();
    let doc = node_doc(&query, &headers, v.0)?;
    // Parse the filter before touching the project: a bad filter is the
    // caller's mistake whatever the project.
    let filter = match query.get("filter").map(|f| f.trim()) {
        None | Some("") => None,
        Some(f) => Some(
            NodeFilter::parse(f)
                .map_err(|e| ApiError::invalid(format!("parameter `filter`: {e}")))?,
        ),
    };
    let nodes = project_nodes(&state, &subject, &project).await?;
    render(
        &visible(&state, &subject, &project, &nodes, filter.as_ref()),
        doc,
    )
}

/// `GET /api/{v}/project/{p}/resource/{name}`.
pub(crate) async fn get(
    State(state): State<ApiState>,
    Extension(subject): Extension<Subject>,
    Extension(v): Extension<ApiVersion>,
    Path(params): Path<HashMap<String, String>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let project = params.get("project").cloned().unwrap_or_default();
    let name = params.get("name").cloned().unwrap_or_default();
    let doc = node_doc(&query, &headers, v.0)?;
    let nodes = project_nodes(&state, &subject, &project).await?;
    let shown = match nodes.iter().find(|n| n.name == name) {
        Some(n) => visible(&state, &subject, &project, std::slice::from_ref(n), None),
        None => Vec::new(),
    };
    // Hidden or missing: the same answer.
    if shown.is_empty() {
        return Err(ApiError::not_found("Node", &name));
    }
    render(&shown, doc)
}

/// One node source as Rundeck lists it: `index`, `type`, `resources`
/// (`href` of its node list; not writeable), `errors` when its last read
/// failed.
fn source_json(
    headers: &HeaderMap,
    v: ApiVersion,
    p: &Project,
    errors: &[foredeck_core::nodes::SourceError],
    index: u32,
) -> Value {
    let kind = p
        .config
        .get(&format!(
            "{}{index}.type",
            foredeck_core::nodes::SOURCE_PREFIX
        ))
        .cloned()
        .unwrap_or_default();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| format!("http://{h}"))
        .unwrap_or_default();
    let mut out = json!({
        "index": index,
        "type": kind,
        "resources": {
            "href": format!("{host}/api/{}/project/{}/source/{index}/resources", v.0, p.name),
            "editable": false,
            "writeable": false,
        },
    });
    if let Some(e) = errors.iter().find(|e| e.index == index) {
        out["errors"] = Value::String(e.message.clone());
    }
    out
}

/// `GET /api/{v}/project/{p}/sources`: the project's node sources as
/// Rundeck lists them (`index`, `type`, `resources`, and `errors` when the
/// last read failed). Needs `configure` on the project: a source's
/// settings and errors name files and commands.
pub(crate) async fn sources(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let name = params.get("project").cloned().unwrap_or_default();
    let p = crate::project_config::configurable(&state, &caller.subject, &name).await?;
    // Reads the sources if the cache is stale, so the errors are current.
    state.nodes.nodes(&name).await?;
    let errors = state.nodes.errors(&name);
    let list: Vec<Value> = foredeck_core::nodes::sources_from_config(&p.config)
        .iter()
        .map(|s| source_json(&headers, caller.version, &p, &errors, s.index))
        .collect();
    Ok(Json(Value::Array(list)))
}

/// The project (with `configure`) and the index of the source the path
/// names; 404 for an index the project has no source for.
async fn source_of(
    state: &ApiState,
    subject: &Subject,
    params: &HashMap<String, String>,
) -> Result<(Project, u32), ApiError> {
    let name = params.get("project").cloned().unwrap_or_default();
    let p = crate::project_config::configurable(state, subject, &name).await?;
    let raw = params.get("index").cloned().unwrap_or_default();
    let missing = || ApiError::not_found("source index", &raw);
    let index: u32 = raw.parse().map_err(|_| missing())?;
    let exists = foredeck_core::nodes::sources_from_config(&p.config)
        .iter()
        .any(|s| s.index == index);
    if !exists {
        return Err(missing());
    }
    Ok((p, index))
}

/// `GET /api/{v}/project/{p}/source/{index}`: one source, as in `sources`
/// (`configure` on the project).
pub(crate) async fn source(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let (p, index) = source_of(&state, &caller.subject, &params).await?;
    state.nodes.nodes(&p.name).await?;
    let errors = state.nodes.errors(&p.name);
    Ok(Json(source_json(
        &headers,
        caller.version,
        &p,
        &errors,
        index,
    )))
}

/// `GET /api/{v}/project/{p}/source/{index}/resources`: the nodes of that
/// one source, read now, in the shapes of `resources` (`configure` on the
/// project, as Rundeck asks, and each node shown only to a caller who may
/// `read` it). A source that fails to read is a 500 with its reason.
/// Foredeck's sources (files, scripts) are read-only: there is no `POST`.
pub(crate) async fn source_resources(
    State(state): State<ApiState>,
    caller: Caller,
    Path(params): Path<HashMap<String, String>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let doc = node_doc(&query, &headers, caller.version.0)?;
    let (p, index) = source_of(&state, &caller.subject, &params).await?;
    match state.nodes.read_source(&p, index).await {
        None => Err(ApiError::not_found("source index", &index.to_string())),
        Some(Err(reason)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api.error.unknown",
            format!("Source {index} could not be read: {reason}"),
        )),
        Some(Ok(nodes)) => render(
            &visible(&state, &caller.subject, &p.name, &nodes, None),
            doc,
        ),
    }
}
