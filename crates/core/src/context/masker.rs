//! Masking of secret values in output lines.

use regex::Regex;

/// What a masked secret is replaced with.
pub const MASK: &str = "[SECURE]";
/// Shortest secret (in bytes) whose encodings are masked too: shorter ones
/// would mask common short words and numbers.
pub const MIN_ENCODED: usize = 4;

/// The common encodings of `secret` that a script may print instead of the
/// value: base64 (standard and URL-safe, without padding, so padded output
/// matches too), URL-encoding (RFC 3986 `%20`, form `+`, lower-case hex
/// digits), hex (lower and upper case). Encodings equal to the secret are
/// left out.
pub fn encodings(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    let bytes = secret.as_bytes();
    let mut out = vec![
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        percent(bytes, false, false),
        percent(bytes, true, false),
        percent(bytes, false, true),
    ];
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    out.push(hex.to_ascii_uppercase());
    out.push(hex);
    out.retain(|e| e != secret);
    out.sort();
    out.dedup();
    out
}

/// URL-encoding: unreserved characters kept, the rest `%XX`; `form` writes
/// a space as `+`, `lower` the hex digits in lower case.
fn percent(bytes: &[u8], form: bool, lower: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else if form && b == b' ' {
            out.push('+');
        } else if lower {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Replaces secret values (secure option values) in log lines with
/// `[SECURE]`.
///
/// Output arrives line by line, so a secret that contains line breaks can
/// never appear whole in one line: each of its lines longer than 2
/// characters is masked as well. Where secrets overlap, the longest one that
/// starts leftmost is masked.
///
/// A secret of 4 bytes or more is also masked in its common encodings
/// ([`encodings`]): base64 (standard and URL-safe), URL-encoding (`%20` and
/// form `+`), hex (lower and upper case). Masking cannot catch a secret
/// transformed any other way (split, reversed, hashed, compressed,
/// encrypted), base64 of a secret embedded in a longer encoded text at an
/// offset not a multiple of 3 bytes, or a short secret's encodings.
#[derive(Clone, Debug, Default)]
pub struct SecretMasker {
    /// Secrets and secret lines, longest first, deduplicated.
    patterns: Vec<String>,
    /// One alternation of the patterns, longest first (so leftmost-longest).
    regex: Option<Regex>,
    /// The same alternation over bytes, for lines that are not UTF-8.
    bytes_regex: Option<regex::bytes::Regex>,
}

impl SecretMasker {
    /// A masker for these secrets; empty strings are ignored.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut patterns: Vec<String> = Vec::new();
        for secret in secrets {
            if secret.is_empty() {
                continue;
            }
            if secret.contains('\n') {
                for line in secret.split('\n') {
                    let line = line.strip_suffix('\r').unwrap_or(line);
                    if line.chars().count() > 2 {
                        patterns.push(line.to_owned());
                    }
                }
            }
            if secret.len() >= MIN_ENCODED {
                patterns.extend(encodings(&secret));
            }
            patterns.push(secret);
        }
        patterns.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        patterns.dedup();
        let alt: Vec<String> = patterns.iter().map(|p| regex::escape(p)).collect();
        let alt = alt.join("|");
        let regex = (!patterns.is_empty())
            .then(|| {
                regex::RegexBuilder::new(&alt)
                    .size_limit(64 << 20)
                    .build()
                    .ok()
            })
            .flatten();
        let bytes_regex = (!patterns.is_empty())
            .then(|| {
                regex::bytes::RegexBuilder::new(&alt)
                    .size_limit(64 << 20)
                    .build()
                    .ok()
            })
            .flatten();
        SecretMasker {
            patterns,
            regex,
            bytes_regex,
        }
    }

    /// True when there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The line with every occurrence of a secret replaced by `[SECURE]`.
    pub fn mask(&self, line: &str) -> String {
        self.mask_as(line, MASK)
    }

    /// The line with every occurrence of a secret replaced by
    /// `replacement` (taken literally; the `mask-passwords` log filter's
    /// setting).
    pub fn mask_as(&self, line: &str, replacement: &str) -> String {
        if self.patterns.is_empty() {
            return line.to_owned();
        }
        if let Some(re) = &self.regex {
            return re
                .replace_all(line, regex::NoExpand(replacement))
                .into_owned();
        }
        // the regex was too large: scan, trying the longest pattern first
        let mut out = String::with_capacity(line.len());
        let mut i = 0;
        'outer: while i < line.len() {
            let rest = &line[i..];
            for p in &self.patterns {
                if rest.starts_with(p.as_str()) {
                    out.push_str(replacement);
                    i += p.len();
                    continue 'outer;
                }
            }
            let c = rest.chars().next().map_or(1, char::len_utf8);
            out.push_str(&rest[..c]);
            i += c;
        }
        out
    }

    /// [`SecretMasker::mask`] for a line that is not valid UTF-8.
    pub fn mask_bytes(&self, line: &[u8]) -> Vec<u8> {
        if self.patterns.is_empty() {
            return line.to_vec();
        }
        if let Some(re) = &self.bytes_regex {
            return re.replace_all(line, MASK.as_bytes()).into_owned();
        }
        let mut out = Vec::with_capacity(line.len());
        let mut i = 0;
        'outer: while i < line.len() {
            let rest = &line[i..];
            for p in &self.patterns {
                if rest.starts_with(p.as_bytes()) {
                    out.extend_from_slice(MASK.as_bytes());
                    i += p.len();
                    continue 'outer;
                }
            }
            out.push(rest[0]);
            i += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_of_a_secret_are_masked_and_short_secrets_only_as_they_are() {
        let m = SecretMasker::new(["p@ss w0rd/+?".to_owned(), "abc".to_owned()]);
        for (line, want) in [
            ("plain p@ss w0rd/+? end", "plain [SECURE] end"),
            // printf %s "$pw" | base64, base64 -w0 | tr '+/' '-_'
            ("b64 cEBzcyB3MHJkLys/ end", "b64 [SECURE] end"),
            ("b64 cEBzcyB3MHJkLys_ end", "b64 [SECURE] end"),
            // python3 -c 'urllib.parse.quote(pw, safe="")', quote_plus
            ("url p%40ss%20w0rd%2F%2B%3F end", "url [SECURE] end"),
            ("form p%40ss+w0rd%2F%2B%3F end", "form [SECURE] end"),
            ("low p%40ss%20w0rd%2f%2b%3f end", "low [SECURE] end"),
            // xxd -p, od | tr a-f A-F
            ("hex 7040737320773072642f2b3f end", "hex [SECURE] end"),
            ("HEX 7040737320773072642F2B3F end", "HEX [SECURE] end"),
            // a 3-byte secret is masked as it is, not its encodings
            ("abc YWJj 616263", "[SECURE] YWJj 616263"),
        ] {
            assert_eq!(m.mask(line), want, "{line}");
        }
        // padded base64 (printf abcd | base64)
        let m = SecretMasker::new(["abcd".to_owned()]);
        assert_eq!(m.mask("YWJjZA=="), "[SECURE]==");
        assert_eq!(encodings("abcd"), ["61626364", "YWJjZA"]);
        assert!(encodings("0000").iter().all(|e| e != "0000"));
    }
}
