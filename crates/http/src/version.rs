//! The API versions served, and the one a request asked for. A leaf, read
//! by the version check of `api.rs` and by error bodies.

/// The newest API version served (Rundeck 5's).
pub const CURRENT_API: u32 = 59;
/// The oldest API version accepted.
pub const MIN_API: u32 = 14;

/// The version a request asked for, set by the version check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiVersion(pub u32);
