//! Shell quoting, and the scanner that places `@group.key@` values in a
//! shell script according to the quoting context each token sits in.
//!
//! The exec-step expansion ([`super::expand_command`]) and the script
//! expansion ([`expand_shell_script`]) share the quoting functions here; the
//! script scanner tracks the whole script text: unquoted words, `'...'`,
//! `"..."`, `$'...'`, backticks and `$(...)` nesting, `${...}`, comments,
//! here-documents, arithmetic, and the words of each command (to refuse a
//! token whose value a command would run as code: `eval`, `sh -c`, `ssh`...).

mod commands;
mod scanner;

pub(super) use scanner::expand_shell_script;

/// Quotes `s` for a POSIX shell: `'...'`, each `'` written as `'\''`; the
/// empty string becomes `''`. The result is always one inert word.
pub fn shell_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    push_single_quoted(&mut out, s);
    out.push('\'');
    out
}

/// Writes `s` for use inside single quotes.
pub(super) fn push_single_quoted(out: &mut String, s: &str) {
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
}

/// Writes `s` for use inside double quotes: escapes `\`, `"`, `$`, backtick
/// (and `}` when inside a `${...}` word, where it would end the expansion).
pub(super) fn push_double_quoted(out: &mut String, s: &str, in_param: bool) {
    for c in s.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') || (in_param && c == '}') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Escapes each `\`, backtick and `$` once more, for text inside backticks.
pub(super) fn backtick_escape(s: &str) -> String {
    let mut escaped = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(c, '\\' | '`' | '$') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Groups whose `@group.key@` tokens scripts may use.
pub(super) const SCRIPT_GROUPS: &[&str] = &["option", "node", "job", "data"];

/// A token at the start of `s`: `@group.key@` with a known group and no
/// whitespace. Returns group, key and the length of the whole token.
pub(super) fn parse_token(s: &str) -> Option<(&str, &str, usize)> {
    let body = s.strip_prefix('@')?;
    let end = body.find(|c: char| c == '@' || c.is_whitespace())?;
    if !body[end..].starts_with('@') {
        return None;
    }
    let (group, key) = body[..end].split_once('.')?;
    (SCRIPT_GROUPS.contains(&group) && !key.is_empty()).then_some((group, key, end + 2))
}

/// Which shell reads the script: the contexts differ only in `$'...'`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// `sh`, `dash`, `ash`: `$'...'` may not be an ANSI-C string.
    Posix,
    /// `bash`, `zsh`, `ksh`: `$'...'` is an ANSI-C string.
    Bash,
}

/// Why a token cannot be substituted: the token, its 1-based line, and the
/// context that no quoting makes safe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// `group.key` of the token.
    pub token: String,
    /// Line of the script (1-based).
    pub line: usize,
    /// The context, in words.
    pub reason: String,
}

/// Whether a `#` after `prev` starts a comment.
pub(super) fn word_start(prev: Option<char>) -> bool {
    match prev {
        None => true,
        Some(p) => p.is_whitespace() || matches!(p, ';' | '&' | '|' | '(' | ')' | '<' | '>'),
    }
}
