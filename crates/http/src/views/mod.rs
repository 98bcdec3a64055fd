//! Rundeck's JSON shapes of what the API answers with, apart from the
//! handlers that answer: executions, jobs, projects, API tokens, key
//! storage entries and webhooks.

pub(crate) mod executions;
pub(crate) mod jobs;
pub(crate) mod projects;
pub(crate) mod storage;
pub(crate) mod tokens;
pub(crate) mod webhooks;
