//! Foredeck: operations automation as an embeddable library.
//!
//! This facade re-exports the core crate: the model, the five traits, the
//! Rundeck formats, node filters, the data context, the local executor and
//! the pipeline evaluator ([`engine::Engine`]).
//!
//! ```no_run
//! # async fn demo() -> foredeck::Result<()> {
//! use foredeck::engine::{Engine, RunOptions};
//! let jobs = foredeck::format::parse_jobs_yaml("- name: hi\n  sequence:\n    commands:\n      - exec: echo hi\n", "inline")?;
//! let execution = Engine::builder().build().run_job("demo", &jobs[0], RunOptions::default()).await?;
//! println!("{}", execution.status);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub use foredeck_core::*;

pub mod credentials;
/// SSH known hosts kept in the [`Store`]; the type lives in
/// [`foredeck_ssh`] beside the other known-hosts stores.
pub mod known_hosts {
    pub use foredeck_ssh::StoreKnownHosts;
}
/// Built-in notifications (webhooks and email); the delivery lives in the
/// server crate, [`foredeck_http::notify`].
pub use foredeck_http::notify;
pub mod server;
pub use foredeck_ssh as ssh;
pub use foredeck_store as sql;
pub use server::Foredeck;
