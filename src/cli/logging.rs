//! The process's log on standard error: filtered by `FOREDECK_LOG` (an
//! `EnvFilter` directive such as `info` or `warn,foredeck::access=info`;
//! default `warn`), as text or as one JSON object a line.

use serde::Deserialize;

/// The variable holding the log filter.
pub const FILTER_VAR: &str = "FOREDECK_LOG";

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object a line, the event's fields at its top level.
    Json,
}

/// Installs the process's subscriber. An unreadable `FOREDECK_LOG` is said
/// once on standard error and the default (`warn`) used.
pub fn init(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var(FILTER_VAR) {
        Err(_) => EnvFilter::new("warn"),
        Ok(v) => EnvFilter::try_new(&v).unwrap_or_else(|e| {
            eprintln!("foredeck: {FILTER_VAR}: not a log filter ({e}); logging at warn");
            EnvFilter::new("warn")
        }),
    };
    use std::io::IsTerminal;
    // colours for a terminal only: a log file or journal gets plain text
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}
