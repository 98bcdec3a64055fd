//! Projects in Rundeck's JSON shape.

use crate::api::ApiVersion;
use foredeck_core::Project;
use serde_json::{json, Value};

/// A project, with its configuration when `with_config`.
pub(crate) fn project_json(v: ApiVersion, p: &Project, with_config: bool) -> Value {
    let mut out = json!({
        "url": format!("/api/{}/project/{}", v.0, p.name),
        "name": p.name,
        "description": p.description.clone().unwrap_or_default(),
    });
    if with_config {
        out["config"] = json!(p.config);
    }
    out
}
