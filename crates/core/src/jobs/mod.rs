//! The job service: saving a job together with its schedule, switching its
//! executions or schedule on and off, and deleting it with its schedule and
//! the secure option defaults it keeps in key storage.
//!
//! Every front-end that changes jobs (the HTTP API's import, toggles and
//! deletes; later the web UI, Python and the CLI) calls [`JobService`], so
//! that these rules hold whoever asks:
//!
//! 1. the caller sees the job it would replace and may `update` it, or may
//!    `create` a new one (through the engine's
//!    [`Authorizer`](crate::Authorizer); a uuid held by a job the caller
//!    cannot see, in this project or another, is refused with words that
//!    name neither);
//! 2. a job whose uuid or group and name exist is created, updated or
//!    skipped as the caller asked ([`OnDuplicate`]);
//! 3. the job's schedule is valid (pattern, zone, a future fire time) and
//!    its notification webhooks point at addresses the server may reach;
//! 4. secure option defaults go to key storage, never into the job record;
//! 5. the job is stored and (re)scheduled as the caller, whose rights its
//!    scheduled runs then have; when scheduling fails, what was stored
//!    before is put back, so no job keeps a schedule that never runs.

mod check;
mod service;

pub use check::{check_notification_urls, check_schedule};
pub use service::{JobService, OnDuplicate, SaveError, Saved, Toggle};

#[cfg(test)]
mod tests;
