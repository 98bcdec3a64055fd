//! The run service: the one way to start a job run.
//!
//! Every front-end that starts a run of a job (the HTTP API and its
//! webhooks, the CLI, later the web UI, Python, pipelines and node agents)
//! asks [`RunService::start_run`] with a [`StartRun`] (or, to wait for the
//! end of the run as the CLI's local run does, [`RunService::run`]). The
//! service owns the rules of starting a run, in this order:
//!
//! 0. this server is in `active` execution mode ([`ExecutionMode`]; a
//!    `passive` server starts no run, scheduled or not);
//! 1. the caller may `run` the job (through the engine's
//!    [`Authorizer`](crate::Authorizer));
//! 2. the job's executions are enabled, and the project's
//!    (`project.disable.executions`);
//! 3. running as another user (`asUser`) needs `runAs` on the job;
//! 4. option values: those kept (a retry's), then the `argString`'s, then
//!    the ones given by name; validated against the job's options;
//! 5. a log level and a node filter that replace the job's, checked;
//! 6. `runAtTime` (a time to come): the run is recorded at once as a
//!    `scheduled` execution, which the scheduler's one-off trigger starts
//!    at that time;
//! 7. otherwise the run is recorded and started now, on the project's nodes,
//!    authorized as the caller on every node it reaches (by the engine);
//!    with `multipleExecutions: false` only while the job has no running or
//!    queued execution, decided in the store's transaction that the
//!    scheduler's exclusive fires use too
//!    ([`Store::create_exclusive_execution`](crate::Store::create_exclusive_execution)).
//!
//! The scheduler's runs start through the same service's
//! [`RunLauncher`], with the same nodes and rights. Whether a job or a
//! project may run at all is decided by the functions of [`rules`], which
//! the service, the scheduler (a schedule fires, a one-off run is kept, a
//! fire is dropped) and the engine's job references share: a leaf module,
//! so that the scheduler and the engine need not depend on the service.
//!
//! Aborting an execution goes through the service too
//! ([`RunService::abort`]): a durable run waiting for a server to continue
//! it, or a scheduled run before its time, runs nowhere, and is ended by
//! whoever aborts it.

mod abort;
mod launcher;
pub mod mode;
mod request;
pub mod rules;
mod service;

pub use abort::Aborted;
pub use launcher::RunLauncher;
pub use mode::{ExecutionMode, EXECUTION_MODE_SETTING};
pub use request::{parse_run_at_time, StartError, StartRun, Started};
pub use service::RunService;
