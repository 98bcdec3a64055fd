//! The bytes of a log chunk.
//!
//! Chunks written by this version start with [`MAGIC`] and hold the events in
//! a compact binary form: per event a flag byte (level, stream, whether node
//! and step context are absent, repeated or new), the time as a zigzag varint
//! delta from the previous event, new node and step-context strings, and the
//! text, each as a varint length and UTF-8 bytes (a line that is not UTF-8
//! sets the flag's top bit and stores its bytes as printed instead of the
//! text, so output bytes survive the round trip). Repeated fields cost one
//! bit, so a 120-byte line costs about 125 bytes instead of about 230 as a
//! JSON line, and encoding does no escaping.
//!
//! Chunks from before (JSON lines, which never start with a NUL byte) are
//! still read.

use chrono::DateTime;
use foredeck_core::model::{LogEvent, LogLevel, Stream};

/// First bytes of a binary chunk.
pub(crate) const MAGIC: &[u8; 4] = b"\0FL1";

const NODE_SHIFT: u8 = 5;
/// The event's bytes are stored as printed (not UTF-8).
const RAW: u8 = 0x80;
const STEP_SHIFT: u8 = 3;
/// Field state in two bits: absent, same as the previous event, new value.
const ABSENT: u8 = 0;
const SAME: u8 = 1;
const NEW: u8 = 2;

fn level_code(l: LogLevel) -> u8 {
    match l {
        LogLevel::Debug => 0,
        LogLevel::Verbose => 1,
        LogLevel::Info => 2,
        LogLevel::Warn => 3,
        LogLevel::Error => 4,
    }
}

fn level_of(c: u8) -> Option<LogLevel> {
    Some(match c {
        0 => LogLevel::Debug,
        1 => LogLevel::Verbose,
        2 => LogLevel::Info,
        3 => LogLevel::Warn,
        4 => LogLevel::Error,
        _ => return None,
    })
}

fn stream_code(s: Stream) -> u8 {
    match s {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
        Stream::System => 2,
    }
}

fn stream_of(c: u8) -> Option<Stream> {
    Some(match c {
        0 => Stream::Stdout,
        1 => Stream::Stderr,
        2 => Stream::System,
        _ => return None,
    })
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn field_state(cur: Option<&str>, prev: Option<&str>) -> u8 {
    match (cur, prev) {
        (None, _) => ABSENT,
        (Some(c), Some(p)) if c == p => SAME,
        _ => NEW,
    }
}

/// Encodes events; an error when a time is outside the nanosecond range.
pub(crate) fn encode(events: &[LogEvent]) -> Result<Vec<u8>, String> {
    let text: usize = events.iter().map(|e| e.text.len()).sum();
    let mut out = Vec::with_capacity(MAGIC.len() + text + events.len() * 8);
    out.extend_from_slice(MAGIC);
    let mut prev_time = 0i64;
    let mut prev_node: Option<&str> = None;
    let mut prev_step: Option<&str> = None;
    for e in events {
        let t = e
            .time
            .timestamp_nanos_opt()
            .ok_or_else(|| format!("log event time {} is out of range", e.time))?;
        let node = field_state(e.node.as_deref(), prev_node);
        let step = field_state(e.stepctx.as_deref(), prev_step);
        // flags: level in bits 0-2, step context state in 3-4, node state
        // in 5-6; the stream has a byte of its own.
        let mut flags = level_code(e.level) | (step << STEP_SHIFT) | (node << NODE_SHIFT);
        if e.raw.is_some() {
            flags |= RAW;
        }
        out.push(flags);
        out.push(stream_code(e.stream));
        let delta = t.wrapping_sub(prev_time);
        put_varint(&mut out, ((delta << 1) ^ (delta >> 63)) as u64);
        prev_time = t;
        if node == NEW {
            put_str(&mut out, e.node.as_deref().unwrap_or(""));
        }
        if step == NEW {
            put_str(&mut out, e.stepctx.as_deref().unwrap_or(""));
        }
        prev_node = e.node.as_deref();
        prev_step = e.stepctx.as_deref();
        let bytes = e.bytes();
        put_varint(&mut out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }
    Ok(out)
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.varint()?).ok()?;
        let end = self.at.checked_add(n)?;
        let b = self.buf.get(self.at..end)?;
        self.at = end;
        Some(b)
    }

    fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }
}

/// Decodes a chunk of either format.
pub(crate) fn decode(body: &[u8]) -> Result<Vec<LogEvent>, String> {
    if !body.starts_with(MAGIC) {
        return decode_json_lines(body);
    }
    let mut r = Reader {
        buf: body,
        at: MAGIC.len(),
    };
    let mut out = Vec::new();
    let mut time = 0i64;
    let mut node: Option<String> = None;
    let mut step: Option<String> = None;
    while r.at < body.len() {
        let at = r.at;
        let bad = || format!("corrupt log chunk at byte {at}");
        let flags = r.byte().ok_or_else(bad)?;
        let level = level_of(flags & 0b111).ok_or_else(bad)?;
        let stream = stream_of(r.byte().ok_or_else(bad)?).ok_or_else(bad)?;
        let z = r.varint().ok_or_else(bad)?;
        time = time.wrapping_add(((z >> 1) as i64) ^ -((z & 1) as i64));
        match (flags >> NODE_SHIFT) & 0b11 {
            ABSENT => node = None,
            SAME => {}
            NEW => node = Some(r.str().ok_or_else(bad)?.to_owned()),
            _ => return Err(bad()),
        }
        match (flags >> STEP_SHIFT) & 0b11 {
            ABSENT => step = None,
            SAME => {}
            NEW => step = Some(r.str().ok_or_else(bad)?.to_owned()),
            _ => return Err(bad()),
        }
        let (text, raw) = if flags & RAW != 0 {
            let bytes = r.bytes().ok_or_else(bad)?;
            (
                String::from_utf8_lossy(bytes).into_owned(),
                Some(bytes.to_vec()),
            )
        } else {
            (r.str().ok_or_else(bad)?.to_owned(), None)
        };
        out.push(LogEvent {
            time: DateTime::from_timestamp_nanos(time),
            level,
            stream,
            node: node.clone(),
            stepctx: step.clone(),
            text,
            raw,
        });
    }
    Ok(out)
}

fn decode_json_lines(body: &[u8]) -> Result<Vec<LogEvent>, String> {
    body.split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).map_err(|e| e.to_string()))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn ev(i: i64, node: Option<&str>, step: Option<&str>, text: &str) -> LogEvent {
        LogEvent {
            time: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
                + chrono::Duration::nanoseconds(i * 7_919 - 3_000),
            level: [
                LogLevel::Debug,
                LogLevel::Verbose,
                LogLevel::Info,
                LogLevel::Warn,
                LogLevel::Error,
            ][i as usize % 5],
            stream: [Stream::Stdout, Stream::Stderr, Stream::System][i as usize % 3],
            node: node.map(str::to_owned),
            stepctx: step.map(str::to_owned),
            text: text.to_owned(),
            raw: None,
        }
    }

    #[test]
    fn round_trips_every_field_combination() {
        let mut events = Vec::new();
        let nodes = [None, Some("a"), Some("a"), Some("b"), None, Some("")];
        let steps = [Some("1"), Some("1"), None, Some("2/1"), Some("2/1"), None];
        for i in 0..60i64 {
            let text = match i % 4 {
                0 => String::new(),
                1 => "plain".to_owned(),
                2 => "ünïcödé \u{fffd} \n\0 tab\t".to_owned(),
                _ => "x".repeat(300),
            };
            events.push(ev(i, nodes[i as usize % 6], steps[i as usize % 6], &text));
        }
        // a time earlier than the one before
        events.push(ev(-5_000, Some("a"), None, "back in time"));
        let bytes = encode(&events).unwrap();
        assert!(bytes.starts_with(MAGIC));
        assert_eq!(decode(&bytes).unwrap(), events);
        assert_eq!(decode(MAGIC).unwrap(), Vec::new());
    }

    #[test]
    fn keeps_bytes_that_are_not_utf8() {
        let mut events = Vec::new();
        for (i, bytes) in [&b"\xff\xfe"[..], b"latin1 caf\xe9", b"", b"ok", b"\x80"]
            .iter()
            .enumerate()
        {
            let mut e = ev(i as i64, Some("n"), Some("1"), "");
            (e.text, e.raw) = foredeck_core::model::decode_line(bytes.to_vec());
            events.push(e);
        }
        let got = decode(&encode(&events).unwrap()).unwrap();
        assert_eq!(got, events);
        assert_eq!(got[1].bytes(), b"latin1 caf\xe9");
        assert_eq!(got[1].text, "latin1 caf\u{fffd}");
        assert_eq!(got[3].raw, None);
    }

    #[test]
    fn reads_json_lines_chunks() {
        let events = vec![ev(1, Some("n"), Some("1"), "one"), ev(2, None, None, "two")];
        let mut body = Vec::new();
        for e in &events {
            serde_json::to_writer(&mut body, e).unwrap();
            body.push(b'\n');
        }
        assert_eq!(decode(&body).unwrap(), events);
    }

    #[test]
    fn truncated_or_garbled_chunks_are_errors_not_panics() {
        let events: Vec<_> = (0..20)
            .map(|i| ev(i, Some("n"), Some("1"), "line"))
            .collect();
        let bytes = encode(&events).unwrap();
        for cut in MAGIC.len() + 1..bytes.len() {
            // every prefix either decodes to a prefix of the events or fails
            if let Ok(got) = decode(&bytes[..cut]) {
                assert!(got.len() < events.len() && events.starts_with(&got));
            }
        }
        let mut bad = bytes.clone();
        bad[MAGIC.len()] = 0xff;
        assert!(decode(&bad).unwrap_err().contains("corrupt log chunk"));
    }

    #[test]
    fn overhead_is_small() {
        let events: Vec<_> = (0..512)
            .map(|i| ev(i, Some("node-1"), Some("1"), &"x".repeat(120)))
            .collect();
        let bytes = encode(&events).unwrap();
        let text: usize = events.iter().map(|e| e.text.len()).sum();
        assert!(bytes.len() < text + 512 * 8, "{} for {text}", bytes.len());
    }
}
