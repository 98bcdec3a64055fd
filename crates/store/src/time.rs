//! Times as `BIGINT` nanoseconds since the Unix epoch.

use chrono::{DateTime, Utc};
use foredeck_core::{Error, Result};

/// A time as stored; an error outside 1677-09-21..2262-04-11.
pub(crate) fn to_db(t: DateTime<Utc>) -> Result<i64> {
    t.timestamp_nanos_opt()
        .ok_or_else(|| Error::Store(format!("time {t} is out of the storable range")))
}

/// A query bound as stored: times outside the range clamp to its ends.
pub(crate) fn bound(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// A stored time.
pub(crate) fn from_db(n: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(n)
}
