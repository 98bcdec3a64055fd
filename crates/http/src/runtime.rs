//! What runs jobs for the API: core's run service (the engine, the
//! scheduler, and the node set of a project's runs), under the names this
//! crate has given it.

/// The run service the API starts executions through.
pub type Runtime = foredeck_core::runs::RunService;

/// Runs scheduled executions with the same nodes and rights as API runs.
pub type ServerLauncher = foredeck_core::runs::RunLauncher;
