//! Log events: what an execution prints, line by line.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::LogLevel;

/// Which stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
    /// A message from Foredeck itself (step start, failure reason).
    System,
}

/// One log line of an execution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEvent {
    /// When it was read.
    pub time: DateTime<Utc>,
    /// Level: output is INFO, stderr WARN, engine messages by their weight.
    pub level: LogLevel,
    /// Stream.
    pub stream: Stream,
    /// Node it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Step context (`1`, `2/1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stepctx: Option<String>,
    /// The text, without the line ending; invalid UTF-8 shown as U+FFFD.
    pub text: String,
}

impl LogEvent {
    /// An engine message.
    pub fn system(
        level: LogLevel,
        node: Option<&str>,
        stepctx: Option<&str>,
        text: impl Into<String>,
    ) -> Self {
        LogEvent {
            time: Utc::now(),
            level,
            stream: Stream::System,
            node: node.map(str::to_owned),
            stepctx: stepctx.map(str::to_owned),
            text: text.into(),
        }
    }
}
