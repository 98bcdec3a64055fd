//! Executions of the [`MemoryStore`]: its [`ExecutionStore`] impl.

use super::Inner;
use super::MemoryStore;
use crate::error::{Error, Result};
use crate::model::Execution;
use crate::store::{ExecutionMetrics, ExecutionQuery, ExecutionStore, Page};
use async_trait::async_trait;

#[async_trait]
impl ExecutionStore for MemoryStore {
    async fn create_execution(&self, execution: &Execution) -> Result<u64> {
        Ok(self.write()?.insert_execution(execution))
    }

    async fn update_execution(&self, execution: &Execution) -> Result<()> {
        let mut inner = self.write()?;
        match inner.executions.get_mut(&execution.id) {
            Some(e) => {
                *e = execution.clone();
                Ok(())
            }
            None => Err(Error::NotFound {
                kind: "execution",
                id: execution.id.to_string(),
            }),
        }
    }

    async fn get_execution(&self, id: u64) -> Result<Option<Execution>> {
        Ok(self.read()?.executions.get(&id).cloned())
    }

    async fn query_executions(&self, query: &ExecutionQuery) -> Result<Page<Execution>> {
        let inner = self.read()?;
        let max = if query.max == 0 { 20 } else { query.max };
        let mut matching: Vec<&Execution> = inner
            .executions
            .values()
            .filter(|e| execution_matches(&inner, e, query))
            .collect();
        matching.sort_by_key(|e| std::cmp::Reverse((e.date_started, e.id)));
        let total = matching.len() as u64;
        let items = matching
            .into_iter()
            .skip(query.offset as usize)
            .take(max as usize)
            .cloned()
            .collect();
        Ok(Page {
            items,
            total,
            offset: query.offset,
            max,
        })
    }

    async fn execution_metrics(&self, query: &ExecutionQuery) -> Result<ExecutionMetrics> {
        let inner = self.read()?;
        let mut m = ExecutionMetrics::default();
        for e in inner
            .executions
            .values()
            .filter(|e| execution_matches(&inner, e, query))
        {
            m.add(e);
        }
        Ok(m)
    }

    async fn delete_execution(&self, id: u64) -> Result<()> {
        let mut inner = self.write()?;
        inner.logs.remove(&id);
        inner.run_states.remove(&id);
        inner
            .executions
            .remove(&id)
            .map(|_| ())
            .ok_or_else(|| Error::NotFound {
                kind: "execution",
                id: id.to_string(),
            })
    }
}

fn execution_matches(inner: &Inner, e: &Execution, q: &ExecutionQuery) -> bool {
    if !q.execution_matches(e) {
        return false;
    }
    if q.has_job_filter() {
        // the job as it is now: executions of deleted jobs match no name
        let job = e
            .job_id
            .as_ref()
            .and_then(|id| inner.jobs.get(&e.project).and_then(|js| js.get(id)));
        let Some(job) = job else { return false };
        return q.job_matches(job.group.as_deref(), &job.name);
    }
    true
}
