//! Fakes of every trait for unit tests of this and other crates: a scripted
//! executor, recording notifier and scheduler, fixed authorizers. The real
//! in-memory store, [`MemoryStore`], is re-exported here too.

pub mod conformance;
mod fakes;

pub use crate::memory::MemoryStore;
pub use fakes::{FakeExecutor, FakeReply, RecordingNotifier, RecordingScheduler, StaticAuthorizer};
