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
    /// The line's bytes as printed, kept only when they are not valid UTF-8
    /// (`text` then shows them with U+FFFD). Serialized as base64 `raw`.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "raw_base64")]
    pub raw: Option<Vec<u8>>,
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
            raw: None,
        }
    }

    /// The line as printed: the raw bytes when they were not UTF-8, else the text.
    pub fn bytes(&self) -> &[u8] {
        self.raw.as_deref().unwrap_or(self.text.as_bytes())
    }
}

/// Splits a line's bytes into its text and, when they are not valid UTF-8,
/// the bytes themselves (see [`LogEvent::raw`]).
pub fn decode_line(bytes: Vec<u8>) -> (String, Option<Vec<u8>>) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, None),
        Err(e) => {
            let raw = e.into_bytes();
            (String::from_utf8_lossy(&raw).into_owned(), Some(raw))
        }
    }
}

mod raw_base64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(raw: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match raw {
            Some(b) => s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| {
                base64::engine::general_purpose::STANDARD
                    .decode(t)
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_keeps_its_bytes() {
        let bytes = b"caf\xe9 \xff\x00end".to_vec();
        let (text, raw) = decode_line(bytes.clone());
        assert_eq!(text, "caf\u{fffd} \u{fffd}\u{0}end");
        assert_eq!(raw.as_deref(), Some(&bytes[..]));
        let mut ev = LogEvent::system(LogLevel::Info, None, None, text);
        ev.raw = raw;
        assert_eq!(ev.bytes(), &bytes[..]);
        let json = serde_json::to_string(&ev).unwrap();
        let back: LogEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ev);
        assert_eq!(back.bytes(), &bytes[..]);
    }

    #[test]
    fn valid_utf8_has_no_raw_copy() {
        let (text, raw) = decode_line("grüße".as_bytes().to_vec());
        assert_eq!((text.as_str(), raw), ("grüße", None));
        let ev = LogEvent::system(LogLevel::Info, None, None, "x");
        assert!(!serde_json::to_string(&ev).unwrap().contains("raw"));
    }
}
