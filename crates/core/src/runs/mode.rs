//! [`ExecutionMode`]: Rundeck's server execution mode. A server in
//! `passive` mode starts no execution: no job run (API, webhook, CLI,
//! job reference started anew), no ad-hoc command and no scheduled fire;
//! runs under way go on to their end. A leaf: the engine holds the mode,
//! the run service and the scheduler (through its launcher) read it.
//!
//! The mode is kept in the store per server
//! ([`ClusterStore::put_server_setting`](crate::store::ClusterStore::put_server_setting)
//! under [`EXECUTION_MODE_SETTING`]), so that it survives a restart; see
//! [`RunService::set_execution_mode`](super::RunService::set_execution_mode).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The server setting that keeps the execution mode (`active`, `passive`).
pub const EXECUTION_MODE_SETTING: &str = "executionMode";

/// Whether this server starts executions: `active` (the default) or
/// `passive`. Cheap to clone; clones share the mode.
#[derive(Clone, Debug, Default)]
pub struct ExecutionMode {
    passive: Arc<AtomicBool>,
}

impl ExecutionMode {
    /// Whether executions start (`active`).
    pub fn is_active(&self) -> bool {
        !self.passive.load(Ordering::SeqCst)
    }

    /// Sets the mode: `true` for `active`, `false` for `passive`.
    pub fn set_active(&self, active: bool) {
        self.passive.store(!active, Ordering::SeqCst);
    }

    /// Rundeck's name of the mode: `active` or `passive`.
    pub fn name(&self) -> &'static str {
        mode_name(self.is_active())
    }
}

/// Rundeck's name of a mode: `active` or `passive`.
pub fn mode_name(active: bool) -> &'static str {
    if active {
        "active"
    } else {
        "passive"
    }
}

/// A stored mode name: `Some(true)` for `active`, `Some(false)` for
/// `passive`, `None` for anything else.
pub fn parse_mode(name: &str) -> Option<bool> {
    match name.trim() {
        "active" => Some(true),
        "passive" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_mode() {
        let m = ExecutionMode::default();
        assert!(m.is_active());
        assert_eq!(m.name(), "active");
        let other = m.clone();
        other.set_active(false);
        assert!(!m.is_active());
        assert_eq!(m.name(), "passive");
        assert_eq!(parse_mode(" passive "), Some(false));
        assert_eq!(parse_mode("active"), Some(true));
        assert_eq!(parse_mode("Active"), None);
    }
}
