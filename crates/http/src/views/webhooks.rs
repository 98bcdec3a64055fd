//! Webhooks in Rundeck's JSON shape.

use foredeck_core::store::Webhook;
use serde_json::{json, Value};

/// A webhook; its token only when it was just made or regenerated.
pub(crate) fn hook_json(h: &Webhook, token: Option<&str>) -> Value {
    let mut v = json!({
        "id": h.id,
        "uuid": h.id,
        "name": h.name,
        "project": h.project,
        "enabled": h.enabled,
        "user": h.user,
        "roles": h.roles.join(","),
        "eventPlugin": h.event_plugin,
        "config": h.config,
    });
    if let Some(t) = token {
        // shown once, when made or regenerated
        v["authToken"] = t.into();
    }
    v
}
