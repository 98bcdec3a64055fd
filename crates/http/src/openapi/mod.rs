//! The OpenAPI 3 document of the API, `GET /api/{v}/openapi.json`.
//!
//! It is built from [`ops::OPS`], one entry per route and method, and a
//! test checks that table against the routes the router registers, so a
//! route added without its entry (or an entry without its route) fails
//! the build's tests instead of drifting. Schemas are those of Rundeck's
//! shapes as far as clients rely on them: required keys and their types,
//! other keys allowed.

mod ops;

use crate::extract::Caller;
use crate::ApiState;
use axum::routing;
use axum::{Json, Router};
use ops::{Body, Op, Out, Param, OPS};
use serde_json::{json, Map, Value};

/// `GET /api/{v}/openapi.json`.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route("/api/{v}/openapi.json", routing::get(openapi))
}

/// The document for the API version of the path: any authenticated
/// caller may read it (it says what exists, not what they may do).
async fn openapi(caller: Caller) -> Json<Value> {
    Json(document(caller.version.0))
}

/// The document, with `/api/{v}` as its server for version `v`.
pub(crate) fn document(v: u32) -> Value {
    let mut paths = Map::new();
    for op in OPS {
        // OpenAPI has no catch-all: `{*path}` is one (slash-holding) parameter
        let path = op
            .path
            .strip_prefix("/api/{v}")
            .unwrap_or(op.path)
            .replace("{*", "{");
        let item = paths
            .entry(path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("path items are objects");
        item.insert(op.method.to_ascii_lowercase(), operation(op));
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Foredeck API (Rundeck API compatible)",
            "version": v.to_string(),
            "description": "Rundeck's REST API as Foredeck serves it. Authenticate with \
                the X-Rundeck-Auth-Token header. Errors have Rundeck's body \
                (`error`, `apiversion`, `errorCode`, `message`).",
        },
        "servers": [{ "url": format!("/api/{v}") }],
        "security": [{ "token": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "token": { "type": "apiKey", "in": "header", "name": "X-Rundeck-Auth-Token" }
            },
            "schemas": schemas(),
        },
    })
}

/// The operation object of one entry.
fn operation(op: &Op) -> Value {
    let mut params: Vec<Value> = path_params(op.path)
        .into_iter()
        .map(|name| {
            json!({
                "name": name, "in": "path", "required": true,
                "schema": { "type": "string", "minLength": 1 },
            })
        })
        .collect();
    params.extend(op.query.iter().map(query_param));
    let mut o = json!({
        "operationId": format!("{} {}", op.method, op.path),
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": params,
        "responses": responses(op),
    });
    if let Some(body) = request_body(&op.body) {
        o["requestBody"] = body;
    }
    o
}

/// The path parameters of `path`, `{v}` excepted (it is in the server
/// URL); a catch-all `{*path}` is one parameter here.
fn path_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|p| p.trim_start_matches('*').to_owned())
        .filter(|p| p != "v")
        .collect()
}

fn query_param(q: &Param) -> Value {
    let schema = match q.kind {
        "integer" => json!({ "type": "integer" }),
        "boolean" => json!({ "type": "boolean" }),
        _ => json!({ "type": "string" }),
    };
    json!({ "name": q.name, "in": "query", "required": q.required, "schema": schema })
}

fn request_body(body: &Body) -> Option<Value> {
    let types: &[&str] = match body {
        Body::None => return None,
        Body::Json => &["application/json"],
        Body::JsonOrForm => &[
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ],
        Body::Document => &["application/yaml", "application/json", "text/plain"],
        Body::Upload => &["multipart/form-data", "application/x-www-form-urlencoded"],
        Body::JobUpload => &[
            "multipart/form-data",
            "application/x-www-form-urlencoded",
            "application/xml",
            "text/xml",
            "application/yaml",
            "application/json",
        ],
        Body::Bytes => &[
            "application/octet-stream",
            "application/pgp-keys",
            "text/plain",
        ],
        Body::Zip => &["application/zip", "multipart/form-data"],
    };
    let content: Map<String, Value> = types
        .iter()
        .map(|t| {
            let schema = match *t {
                "application/json"
                | "application/x-www-form-urlencoded"
                | "multipart/form-data" => {
                    json!({ "type": "object" })
                }
                _ => json!({ "type": "string" }),
            };
            ((*t).to_owned(), json!({ "schema": schema }))
        })
        .collect();
    Some(json!({ "required": false, "content": content }))
}

/// The success answer of `op` and Rundeck's error body for the rest.
fn responses(op: &Op) -> Value {
    let (statuses, content): (&[u16], Option<Value>) = match op.out {
        Out::Empty(statuses) => (statuses, None),
        Out::Json(statuses, schema) => (
            statuses,
            Some(json!({ "application/json": { "schema": schema_ref(schema) } })),
        ),
        Out::Text(statuses, media) => (
            statuses,
            Some(json!({ media: { "schema": { "type": "string" } } })),
        ),
        // a document in the format asked for (`format`, `Accept`)
        Out::Document(statuses) => (
            statuses,
            Some(json!({
                "application/json": { "schema": {} },
                "application/yaml": { "schema": { "type": "string" } },
                "text/plain": { "schema": { "type": "string" } },
            })),
        ),
        // job definitions: `format` or `Accept` (xml, yaml, json)
        Out::JobDocument(statuses) => (
            statuses,
            Some(json!({
                "application/json": { "schema": { "type": "array" } },
                "application/yaml": { "schema": { "type": "string" } },
                "text/xml": { "schema": { "type": "string" } },
            })),
        ),
        // nodes: `format` or `Accept` (json, yaml, xml; docs/XML.md)
        Out::NodeDocument(statuses) => (
            statuses,
            Some(json!({
                "application/json": { "schema": { "type": "object" } },
                "text/yaml": { "schema": { "type": "string" } },
                "text/xml": { "schema": { "type": "string" } },
            })),
        ),
        // execution output: JSON, or text for `format=text`
        Out::Output(statuses) => (
            statuses,
            Some(json!({
                "application/json": { "schema": { "type": "object" } },
                "text/plain": { "schema": { "type": "string" } },
            })),
        ),
    };
    let mut out = Map::new();
    for status in statuses {
        let mut ok = json!({ "description": "success" });
        if let Some(c) = &content {
            if *status != 204 {
                ok["content"] = c.clone();
            }
        }
        out.insert(status.to_string(), ok);
    }
    out.insert(
        "default".into(),
        json!({
            "description": "Rundeck's error body",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
        }),
    );
    Value::Object(out)
}

fn schema_ref(name: &str) -> Value {
    match name {
        "object" => json!({ "type": "object" }),
        "array" => json!({ "type": "array" }),
        other => json!({ "$ref": format!("#/components/schemas/{other}") }),
    }
}

/// The named shapes: what Rundeck's clients read from them.
fn schemas() -> Value {
    let obj = |required: &[&str], props: Value| json!({ "type": "object", "required": required, "properties": props });
    json!({
        "Error": obj(&["error", "message"], json!({
            "error": { "type": "boolean" },
            "apiversion": { "type": "integer" },
            "errorCode": { "type": "string" },
            "message": { "type": "string" },
        })),
        "Execution": obj(&["id", "href", "permalink", "status", "project"], json!({
            "id": { "type": "integer" },
            "href": { "type": "string" },
            "permalink": { "type": "string" },
            "status": { "type": "string" },
            "project": { "type": "string" },
            "user": { "type": "string" },
            "job": { "type": "object" },
        })),
        "ExecutionList": obj(&["paging", "executions"], json!({
            "paging": { "type": "object" },
            "executions": { "type": "array", "items": { "$ref": "#/components/schemas/Execution" } },
        })),
        "AdhocStarted": obj(&["execution"], json!({
            "message": { "type": "string" },
            "execution": obj(&["id"], json!({ "id": { "type": "integer" } })),
        })),
        "Job": obj(&["id", "name", "project"], json!({
            "id": { "type": "string" },
            "name": { "type": "string" },
            "group": { "type": "string", "nullable": true },
            "project": { "type": "string" },
            "href": { "type": "string" },
            "permalink": { "type": "string" },
        })),
        "JobList": { "type": "array", "items": { "$ref": "#/components/schemas/Job" } },
        "Project": obj(&["name"], json!({
            "name": { "type": "string" },
            "description": { "type": "string" },
            "url": { "type": "string" },
        })),
        "ProjectList": { "type": "array", "items": { "$ref": "#/components/schemas/Project" } },
        "BulkResult": obj(&["requestCount", "allsuccessful"], json!({
            "requestCount": { "type": "integer" },
            "allsuccessful": { "type": "boolean" },
        })),
        "Token": obj(&["id", "user"], json!({
            "id": { "type": "string" },
            "user": { "type": "string" },
            "roles": { "type": "array", "items": { "type": "string" } },
        })),
        "TokenList": { "type": "array", "items": { "$ref": "#/components/schemas/Token" } },
        "SystemInfo": obj(&["system"], json!({
            "system": obj(&["rundeck"], json!({ "rundeck": obj(&["version", "apiversion"], json!({
                "version": { "type": "string" },
                "apiversion": { "type": "integer" },
            }))})),
        })),
    })
}

#[cfg(test)]
mod tests;
