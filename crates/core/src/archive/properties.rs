//! Java `.properties` text, as Rundeck keeps a project's configuration
//! (`files/etc/project.properties` in an archive): `key=value` lines,
//! `#`/`!` comments, `=`, `:` or blanks between key and value, backslash
//! escapes (`\t`, `\n`, `\uXXXX`, `\=`...) and lines continued with a
//! trailing backslash.

use std::collections::BTreeMap;

/// Writes `map` sorted by key, one line each, escaped so that
/// [`parse`] (and Java's `Properties.load`) read the same map back.
pub fn write(map: &BTreeMap<String, String>, comment: &str) -> String {
    let mut out = format!("#{comment}\n");
    for (k, v) in map {
        escape(&mut out, k, true);
        out.push('=');
        escape(&mut out, v, false);
        out.push('\n');
    }
    out
}

fn escape(out: &mut String, s: &str, key: bool) {
    for (i, c) in s.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0c' => out.push_str("\\f"),
            '=' | ':' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            ' ' if key || i == 0 => out.push_str("\\ "),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
}

/// Reads properties text; an error says which line is wrong.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim_start_matches([' ', '\t', '\x0c']);
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        // join continuation lines: an odd number of trailing backslashes
        let mut logical = trimmed.to_owned();
        while ends_continued(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start_matches([' ', '\t', '\x0c'])),
                None => break,
            }
        }
        let (k, v) = split(&logical);
        let key = unescape(k).map_err(|e| format!("line {}: {e}", n + 1))?;
        let value = unescape(v).map_err(|e| format!("line {}: {e}", n + 1))?;
        map.insert(key, value);
    }
    Ok(map)
}

fn ends_continued(s: &str) -> bool {
    s.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// The key (still escaped) and the value (still escaped) of a logical line.
fn split(line: &str) -> (&str, &str) {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' | ' ' | '\t' | '\x0c' => {
                let key = &line[..i];
                let mut rest = line[i..].trim_start_matches([' ', '\t', '\x0c']);
                if c != '=' && c != ':' {
                    if let Some(r) = rest.strip_prefix(['=', ':']) {
                        rest = r.trim_start_matches([' ', '\t', '\x0c']);
                    }
                } else {
                    rest = rest[1..].trim_start_matches([' ', '\t', '\x0c']);
                }
                return (key, rest);
            }
            _ => {}
        }
    }
    (line, "")
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .ok_or_else(|| format!("bad \\u escape \\u{hex}"))?;
                // a surrogate pair, as Java writes characters past U+FFFF
                if (0xD800..0xDC00).contains(&code) {
                    let rest: String = chars.by_ref().take(6).collect();
                    let low = rest
                        .strip_prefix("\\u")
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .filter(|l| (0xDC00..0xE000).contains(l))
                        .ok_or_else(|| format!("unpaired surrogate \\u{hex}"))?;
                    let c = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                    out.push(char::from_u32(c).ok_or("bad surrogate pair")?);
                } else {
                    out.push(
                        char::from_u32(code).ok_or_else(|| format!("bad \\u escape \\u{hex}"))?,
                    );
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn java_syntax() {
        let text = "#Exported configuration\n! comment\nproject.name=demo\n\
                    key\\ with\\ spaces = v\nb: colon\nc blank sep\n\
                    multi=one \\\n    two\nuni=caf\\u00e9 \\ud83d\\ude00\nempty\n";
        let m = parse(text).unwrap();
        assert_eq!(m["project.name"], "demo");
        assert_eq!(m["key with spaces"], "v");
        assert_eq!(m["b"], "colon");
        assert_eq!(m["c"], "blank sep");
        assert_eq!(m["multi"], "one two");
        assert_eq!(m["uni"], "café 😀");
        assert_eq!(m["empty"], "");
        assert!(parse("bad=\\uZZ").unwrap_err().starts_with("line 1"));
    }

    #[test]
    fn written_text_reads_back() {
        let mut m = BTreeMap::new();
        for (k, v) in [
            ("a", " leading space"),
            ("b=c:d", "x=y:z #!"),
            ("nl", "one\ntwo\\three\tfour"),
            ("ctl", "\u{1}bell"),
            ("uni", "ünï 😀"),
            ("empty", ""),
        ] {
            m.insert(k.to_owned(), v.to_owned());
        }
        assert_eq!(parse(&write(&m, "x")).unwrap(), m);
    }
}
