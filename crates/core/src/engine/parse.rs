//! Parsers for the job fields that are strings in Rundeck's format:
//! durations (`timeout`, retry `delay`), log limits and argument strings.

use std::time::Duration;

/// Parses a Rundeck duration: plain seconds (`90`) or units (`1d2h3m4s`,
/// `2h 30m`, `45s`, `5m`). Returns a message naming what is wrong.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut seen_unit = false;
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
        } else if c.is_whitespace() {
            continue;
        } else {
            let n: u64 = num
                .parse()
                .map_err(|_| format!("{s:?}: expected a number before `{c}`"))?;
            num.clear();
            let mult = match c.to_ascii_lowercase() {
                'd' => 86_400,
                'h' => 3_600,
                'm' => 60,
                's' => 1,
                _ => return Err(format!("{s:?}: unknown unit `{c}` (use d, h, m, s)")),
            };
            total = total
                .checked_add(n.saturating_mul(mult))
                .ok_or_else(|| format!("{s:?}: too large"))?;
            seen_unit = true;
        }
    }
    if !num.is_empty() || !seen_unit {
        return Err(format!("{s:?}: a number needs a unit (d, h, m, s)"));
    }
    Ok(Duration::from_secs(total))
}

/// A job's `loglimit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLimit {
    /// At most this many lines in the whole log (`100`).
    Lines(u64),
    /// At most this many lines per node (`100/node`).
    LinesPerNode(u64),
    /// At most this many bytes of text (`10MB`, `512KB`, `1GB`, `100B`).
    Bytes(u64),
}

impl std::fmt::Display for LogLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogLimit::Lines(n) => write!(f, "{n} lines"),
            LogLimit::LinesPerNode(n) => write!(f, "{n} lines per node"),
            LogLimit::Bytes(n) => write!(f, "{n} bytes"),
        }
    }
}

impl LogLimit {
    /// Parses Rundeck's `loglimit` forms.
    pub fn parse(s: &str) -> Result<LogLimit, String> {
        let t = s.trim();
        if let Some(n) = t.strip_suffix("/node") {
            return n
                .trim()
                .parse()
                .map(LogLimit::LinesPerNode)
                .map_err(|_| format!("{s:?}: expected N/node"));
        }
        if let Ok(n) = t.parse() {
            return Ok(LogLimit::Lines(n));
        }
        let upper = t.to_ascii_uppercase();
        for (suffix, mult) in [
            ("GB", 1u64 << 30),
            ("MB", 1 << 20),
            ("KB", 1 << 10),
            ("B", 1),
        ] {
            if let Some(n) = upper.strip_suffix(suffix) {
                return n
                    .trim()
                    .parse::<u64>()
                    .map(|n| LogLimit::Bytes(n.saturating_mul(mult)))
                    .map_err(|_| format!("{s:?}: expected a size like 10MB"));
            }
        }
        Err(format!(
            "{s:?}: expected lines (100), lines per node (100/node) or a size (10MB)"
        ))
    }
}

/// Parses a Rundeck argument string (`-env prod -msg "two words"`) into
/// option names and values. A name without a value gets an empty value.
pub fn parse_arg_string(s: &str) -> Result<Vec<(String, String)>, String> {
    let words = split_words(s)?;
    let mut out: Vec<(String, String)> = Vec::new();
    let mut it = words.into_iter().peekable();
    while let Some(w) = it.next() {
        let Some(name) = w.strip_prefix('-').filter(|n| !n.is_empty()) else {
            return Err(format!(
                "argument {w:?} is not an option name (expected -name value)"
            ));
        };
        let value = match it.peek() {
            Some(next) if !(next.starts_with('-') && next.len() > 1 && !is_number(next)) => {
                it.next().unwrap_or_default()
            }
            _ => String::new(),
        };
        out.push((name.to_owned(), value));
    }
    Ok(out)
}

fn is_number(s: &str) -> bool {
    s.parse::<f64>().is_ok()
}

/// Splits words honoring single and double quotes and backslashes.
fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                in_word = true;
                let mut closed = false;
                while let Some(d) = chars.next() {
                    if d == c {
                        closed = true;
                        break;
                    }
                    if c == '"' && d == '\\' {
                        if let Some(e) = chars.next() {
                            cur.push(e);
                        }
                        continue;
                    }
                    cur.push(d);
                }
                if !closed {
                    return Err(format!("unterminated {c} quote in {s:?}"));
                }
            }
            '\\' => {
                in_word = true;
                if let Some(d) = chars.next() {
                    cur.push(d);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Formats options as an argument string, quoting values that need it.
pub fn format_arg_string<'a>(opts: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    opts.into_iter()
        .map(|(k, v)| {
            if !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.,/:@+=%-[]".contains(c))
            {
                format!("-{k} {v}")
            } else {
                format!("-{k} \"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// When the "average duration exceeded" notification fires, given the
/// job's average duration and Rundeck's `notifyAvgDurationThreshold`:
/// empty means the average itself, `20%` the average plus 20 %, `+30` or
/// `+5m` the average plus that much, and `30`, `90s` or `1h` an absolute
/// duration. A message naming what is wrong otherwise.
pub fn avg_duration_limit(average: Duration, threshold: Option<&str>) -> Result<Duration, String> {
    let t = threshold.map(str::trim).unwrap_or("");
    if t.is_empty() {
        return Ok(average);
    }
    if let Some(pct) = t.strip_suffix('%') {
        let pct: u64 = pct
            .trim()
            .parse()
            .map_err(|_| format!("{t:?}: expected a whole percentage such as `20%`"))?;
        let extra = average.as_millis().saturating_mul(u128::from(pct)) / 100;
        let extra = u64::try_from(extra).unwrap_or(u64::MAX);
        return Ok(average.saturating_add(Duration::from_millis(extra)));
    }
    if let Some(delta) = t.strip_prefix('+') {
        return Ok(average.saturating_add(parse_duration(delta)?));
    }
    parse_duration(t)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn avg_duration_thresholds() {
        let avg = Duration::from_secs(100);
        let limit = |t: Option<&str>| avg_duration_limit(avg, t);
        assert_eq!(limit(None), Ok(avg));
        assert_eq!(limit(Some(" ")), Ok(avg));
        assert_eq!(limit(Some("20%")), Ok(Duration::from_secs(120)));
        assert_eq!(limit(Some("+30")), Ok(Duration::from_secs(130)));
        assert_eq!(limit(Some("+1m")), Ok(Duration::from_secs(160)));
        assert_eq!(limit(Some("45s")), Ok(Duration::from_secs(45)));
        assert_eq!(limit(Some("2h")), Ok(Duration::from_secs(7200)));
        assert!(limit(Some("x%")).unwrap_err().contains("percentage"));
        assert!(limit(Some("+10y")).is_err());
        assert!(limit(Some("soon")).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1d2h3m4s"), Ok(Duration::from_secs(93_784)));
        assert_eq!(parse_duration("2h 30m"), Ok(Duration::from_secs(9_000)));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("5m3").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn log_limits() {
        assert_eq!(LogLimit::parse("100"), Ok(LogLimit::Lines(100)));
        assert_eq!(LogLimit::parse("5/node"), Ok(LogLimit::LinesPerNode(5)));
        assert_eq!(LogLimit::parse("10MB"), Ok(LogLimit::Bytes(10 << 20)));
        assert_eq!(LogLimit::parse("2kb"), Ok(LogLimit::Bytes(2048)));
        assert!(LogLimit::parse("lots").is_err());
    }

    #[test]
    fn arg_strings() {
        let a = parse_arg_string(r#"-env prod -msg "two words" -n -5 -flag"#).unwrap();
        assert_eq!(
            a,
            vec![
                ("env".into(), "prod".into()),
                ("msg".into(), "two words".into()),
                ("n".into(), "-5".into()),
                ("flag".into(), String::new())
            ]
        );
        assert!(parse_arg_string("-a 'open").is_err());
        assert!(parse_arg_string("value").is_err());
        let s = format_arg_string([("a", "x y"), ("b", "ok"), ("c", "q\"")]);
        assert_eq!(parse_arg_string(&s).unwrap()[2].1, "q\"");
        assert_eq!(s, r#"-a "x y" -b ok -c "q\"""#);
    }
}
