//! Masking of secret values in output lines.

use regex::Regex;

/// What a masked secret is replaced with.
pub const MASK: &str = "[SECURE]";

/// Replaces secret values (secure option values) in log lines with
/// `[SECURE]`.
///
/// Output arrives line by line, so a secret that contains line breaks can
/// never appear whole in one line: each of its lines longer than 2
/// characters is masked as well. Where secrets overlap, the longest one that
/// starts leftmost is masked.
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
        if self.patterns.is_empty() {
            return line.to_owned();
        }
        if let Some(re) = &self.regex {
            return re.replace_all(line, MASK).into_owned();
        }
        // the regex was too large: scan, trying the longest pattern first
        let mut out = String::with_capacity(line.len());
        let mut i = 0;
        'outer: while i < line.len() {
            let rest = &line[i..];
            for p in &self.patterns {
                if rest.starts_with(p.as_str()) {
                    out.push_str(MASK);
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
