//! Durable runs' states of the [`MemoryStore`]: its [`RunStateStore`] impl.

use super::{not_found, MemoryStore};
use crate::error::Result;
use crate::store::{RunState, RunStateStore};
use async_trait::async_trait;

#[async_trait]
impl RunStateStore for MemoryStore {
    async fn put_run_state(&self, state: &RunState) -> Result<()> {
        let mut inner = self.write()?;
        if !inner.executions.contains_key(&state.execution) {
            return Err(not_found("execution", &state.execution.to_string()));
        }
        inner.run_states.insert(state.execution, state.clone());
        Ok(())
    }

    async fn get_run_state(&self, execution: u64) -> Result<Option<RunState>> {
        Ok(self.read()?.run_states.get(&execution).cloned())
    }

    async fn delete_run_state(&self, execution: u64) -> Result<()> {
        self.write()?.run_states.remove(&execution);
        Ok(())
    }
}
