//! The Foredeck HTTP server and Rundeck-compatible API.
//!
//! Nothing is implemented yet: the axum router arrives with issue #6.
