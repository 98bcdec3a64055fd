//! Caps on running steps: at most so many at once in the whole engine, and at
//! most so many at once on any one remote node, whatever the jobs' thread
//! counts and however many executions run. Steps on this host (the `local`
//! executor) count against the engine-wide cap only: a per-node cap of 10
//! would hold back unrelated local jobs for no remote server's sake.
//!
//! A step holds its slots only while its executor or plugin runs, never
//! while it waits for a referenced job or an error handler, so nested work
//! cannot wait on slots its caller holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Default cap on steps running at once in one engine.
pub const DEFAULT_MAX_RUNNING_STEPS: usize = 1_024;
/// Default cap on steps running at once on one node: OpenSSH's default
/// `MaxSessions` (sessions per connection), so the steps a pooled SSH
/// connection carries to one host do not exceed what sshd accepts.
pub const DEFAULT_MAX_STEPS_PER_NODE: usize = 10;

/// The engine's step slots.
#[derive(Debug)]
pub(crate) struct StepSlots {
    global: Arc<Semaphore>,
    per_node: usize,
    /// One semaphore per node with a step running or waiting; removed when
    /// the node's last step ends.
    nodes: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// The slots one running step holds; released on drop.
#[derive(Debug)]
pub(crate) struct StepSlot<'a> {
    slots: &'a StepSlots,
    node: Option<String>,
    node_permit: Option<OwnedSemaphorePermit>,
    _global: Option<OwnedSemaphorePermit>,
}

impl StepSlots {
    /// Caps of `global` running steps, `per_node` on one node (each at least 1).
    pub(crate) fn new(global: usize, per_node: usize) -> Self {
        StepSlots {
            global: Arc::new(Semaphore::new(global.clamp(1, Semaphore::MAX_PERMITS))),
            per_node: per_node.clamp(1, Semaphore::MAX_PERMITS),
            nodes: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a slot on `node` (when given), then for one in the engine
    /// (in that order, so a step queued behind a busy node holds no engine
    /// slot).
    pub(crate) async fn acquire(&self, node: Option<&str>) -> StepSlot<'_> {
        let sem = match (node, self.nodes.lock()) {
            (Some(node), Ok(mut m)) => Some(
                m.entry(node.to_owned())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_node)))
                    .clone(),
            ),
            // no node, or a poisoned map: the engine cap alone
            _ => None,
        };
        // the semaphores are never closed, so acquiring only waits
        let node_permit = match sem {
            Some(s) => s.acquire_owned().await.ok(),
            None => None,
        };
        let global = self.global.clone().acquire_owned().await.ok();
        StepSlot {
            slots: self,
            node: node.filter(|_| node_permit.is_some()).map(str::to_owned),
            node_permit,
            _global: global,
        }
    }
}

impl Drop for StepSlot<'_> {
    fn drop(&mut self) {
        drop(self.node_permit.take());
        let Some(node) = &self.node else {
            return;
        };
        if let Ok(mut m) = self.slots.nodes.lock() {
            // unused when the map holds the only reference and every permit is back
            let idle = m.get(node).is_some_and(|s| {
                Arc::strong_count(s) == 1 && s.available_permits() == self.slots.per_node
            });
            if idle {
                m.remove(node);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn node_entries_go_away_when_idle() {
        let slots = StepSlots::new(4, 2);
        let a1 = slots.acquire(Some("a")).await;
        let a2 = slots.acquire(Some("a")).await;
        let b = slots.acquire(Some("b")).await;
        let local = slots.acquire(None).await;
        assert_eq!(slots.global.available_permits(), 0);
        assert_eq!(slots.nodes.lock().unwrap().len(), 2);
        drop(a1);
        assert_eq!(slots.nodes.lock().unwrap().len(), 2);
        drop((a2, b, local));
        assert!(slots.nodes.lock().unwrap().is_empty());
        assert_eq!(slots.global.available_permits(), 4);
    }
}
