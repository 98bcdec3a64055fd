//! The SSH executor for Foredeck.
//!
//! Nothing is implemented yet: the russh-based `SshExecutor` arrives with
//! issue #4. Until then this crate exports nothing, so nothing can pretend to
//! work.
