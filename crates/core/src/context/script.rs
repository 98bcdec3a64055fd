//! `@group.key@` tokens in script steps: values placed so that they cannot
//! run as code, or the run refused.
//!
//! The language of a script is its step's interpreter setting when it has
//! one, else its `#!` line, else the POSIX shell:
//!
//! * shells (`sh`, `dash`, `bash`, `zsh`, `ksh`...): each token is quoted for
//!   the context it sits in ([`super::shell`]); tokens in contexts that no
//!   quoting makes safe (`eval`, `sh -c '...'`, `ssh host '...'`, arithmetic,
//!   here-documents fed to a shell, a here-document's terminator line) are
//!   refused;
//! * Python: a token is replaced only inside a plain (not `f`) string
//!   literal, and only by a value that cannot leave it (no quote, backslash,
//!   brace or line break); anything else is refused;
//! * other interpreters: every token is refused (their scripts read
//!   `RD_OPTION_*` from the environment).
//!
//! [`expand_script_raw`] is Rundeck's behaviour (values pasted as they are),
//! for jobs that opt into it with `scriptTokens: raw`.

use super::shell::{expand_shell_script, parse_token, Dialect, Refusal};
use super::{env_name, DataContext};
use crate::error::{Error, Result};
use crate::model::Node;

/// The language a script is read in, for token substitution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptLanguage {
    /// A shell of that dialect.
    Shell(Dialect),
    /// Python (any `python*` or `pypy*`).
    Python,
    /// Any other program, named.
    Other(String),
}

/// Commands an interpreter setting or `#!` line may put before the program.
const PREFIXES: &[&str] = &["sudo", "doas", "env", "nohup", "exec", "nice", "time"];

fn language_of(program: &str) -> Option<ScriptLanguage> {
    let base = program.rsplit('/').next().unwrap_or(program);
    let numbered = |prefix: &str| {
        base.strip_prefix(prefix)
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
    };
    match base {
        "sh" | "dash" | "ash" | "posh" => Some(ScriptLanguage::Shell(Dialect::Posix)),
        "bash" | "zsh" | "ksh" | "ksh93" | "mksh" | "pdksh" => {
            Some(ScriptLanguage::Shell(Dialect::Bash))
        }
        _ if numbered("python") || numbered("pypy") => Some(ScriptLanguage::Python),
        _ => None,
    }
}

/// The language of a command line (`/usr/bin/env bash`, `sudo -u x bash`,
/// `python3 -u`): its first word that names a known shell or Python, else
/// its first word that is neither a prefix command nor an option.
fn language_of_command(line: &str) -> ScriptLanguage {
    let words: Vec<&str> = line.split_whitespace().collect();
    if let Some(l) = words.iter().find_map(|w| language_of(w)) {
        return l;
    }
    let program = words
        .iter()
        .find(|w| {
            let base = w.rsplit('/').next().unwrap_or(w);
            !w.starts_with('-') && !PREFIXES.contains(&base)
        })
        .or(words.first())
        .copied()
        .unwrap_or("");
    ScriptLanguage::Other(program.to_owned())
}

/// The language a script runs in: the interpreter setting, else the `#!`
/// line, else the POSIX shell.
pub fn script_language(script: &str, interpreter: Option<&str>) -> ScriptLanguage {
    if let Some(i) = interpreter.filter(|i| !i.trim().is_empty()) {
        return language_of_command(i);
    }
    match script.strip_prefix("#!") {
        Some(rest) => language_of_command(rest.lines().next().unwrap_or("")),
        None => ScriptLanguage::Shell(Dialect::Posix),
    }
}

/// Expands `@group.key@` tokens in a script so that no value can run as
/// code (see the module documentation); `interpreter` is the step's
/// interpreter setting. An unresolved token becomes blank, as in Rundeck.
///
/// # Errors
/// [`Error::UnsafeToken`] naming the token, its line and the context when a
/// token sits where no quoting keeps its value inert.
///
/// ```
/// use foredeck_core::{expand_script, DataContext, Node};
/// let mut ctx = DataContext::default();
/// ctx.options.insert("v".into(), "$(touch pwned)".into());
/// let node = Node::new("local");
/// let out = expand_script("echo \"[@option.v@]\"\n", None, &ctx, &node).unwrap();
/// assert_eq!(out, "echo \"[\\$(touch pwned)]\"\n");
/// assert!(expand_script("eval @option.v@\n", None, &ctx, &node).is_err());
/// ```
pub fn expand_script(
    script: &str,
    interpreter: Option<&str>,
    ctx: &DataContext,
    node: &Node,
) -> Result<String> {
    let resolve = |group: &str, key: &str| ctx.resolve(group, key, node);
    let refused = |r: Refusal| {
        let (group, key) = r.token.split_once('.').unwrap_or(("option", &r.token));
        Error::UnsafeToken {
            env: env_name(group, key),
            token: r.token,
            line: r.line,
            reason: r.reason,
        }
    };
    match script_language(script, interpreter) {
        ScriptLanguage::Shell(dialect) => {
            expand_shell_script(script, dialect, &resolve).map_err(refused)
        }
        ScriptLanguage::Python => expand_python(script, &resolve).map_err(refused),
        ScriptLanguage::Other(program) => match first_token(script) {
            None => Ok(script.to_owned()),
            Some(r) => Err(refused(Refusal {
                reason: format!(
                    "a script run by `{program}`: tokens are substituted only in shell and Python scripts"
                ),
                ..r
            })),
        },
    }
}

/// The first token of a script, with its line.
fn first_token(script: &str) -> Option<Refusal> {
    for (n, line) in script.lines().enumerate() {
        let mut rest = line;
        while let Some(pos) = rest.find('@') {
            if let Some((group, key, _)) = parse_token(&rest[pos..]) {
                return Some(Refusal {
                    token: format!("{group}.{key}"),
                    line: n + 1,
                    reason: String::new(),
                });
            }
            rest = &rest[pos + 1..];
        }
    }
    None
}

/// Expands `@group.key@` tokens in a script body, inserting values raw, as
/// Rundeck does (`scriptTokens: raw`): a value can run as code. An
/// unresolved token of a known group (`option`, `node`, `job`, `data`)
/// becomes blank (Rundeck's `blankIfMissing`). Unlike Rundeck, text between
/// `@`s that is not `group.key` of a known group (`user@example.com`, `@@`)
/// is left alone.
pub fn expand_script_raw(script: &str, ctx: &DataContext, node: &Node) -> String {
    let mut out = String::with_capacity(script.len());
    let mut rest = script;
    while let Some(pos) = rest.find('@') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        match parse_token(rest) {
            Some((group, key, len)) => {
                out.push_str(&ctx.resolve(group, key, node).unwrap_or_default());
                rest = &rest[len..];
            }
            None => {
                out.push('@');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Where the Python scanner is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Py {
    Code,
    Comment,
    /// A string literal: its quote, triple or not, an f-string or not, and
    /// the depth of `{...}` expressions inside an f-string.
    Str {
        quote: char,
        triple: bool,
        fstring: bool,
        braces: u32,
    },
    /// A string inside an f-string's `{...}`, with the f-string around it.
    Inner {
        quote: char,
        outer: char,
        triple: bool,
        braces: u32,
    },
}

/// Whether `prefix` (the letters right before a quote) is a Python string
/// prefix, and whether it makes an f-string.
fn string_prefix(prefix: &str) -> Option<bool> {
    let p = prefix.to_ascii_lowercase();
    match p.as_str() {
        "" | "r" | "u" | "b" | "br" | "rb" => Some(false),
        "f" | "fr" | "rf" => Some(true),
        _ => None,
    }
}

/// Substitutes tokens in a Python script only inside plain string literals,
/// and only values that cannot leave the string.
fn expand_python(
    script: &str,
    resolve: &dyn Fn(&str, &str) -> Option<String>,
) -> Result<String, Refusal> {
    let mut out = String::with_capacity(script.len() + 16);
    let mut state = Py::Code;
    let mut line = 1;
    let mut i = 0;
    while i < script.len() {
        let rest = &script[i..];
        if let Some((group, key, len)) = parse_token(rest) {
            let token = format!("{group}.{key}");
            let refuse = |reason: &str| Refusal {
                token: token.clone(),
                line,
                reason: reason.into(),
            };
            let triple = match state {
                Py::Str {
                    fstring: false,
                    triple,
                    ..
                } => triple,
                Py::Str { fstring: true, .. } | Py::Inner { .. } => {
                    return Err(refuse("an f-string in a Python script"))
                }
                Py::Code | Py::Comment => {
                    return Err(refuse("Python code outside a string literal"))
                }
            };
            let value = resolve(group, key).unwrap_or_default();
            let bad = value.chars().find(|&c| {
                matches!(c, '\\' | '\'' | '"' | '{' | '}')
                    || (c.is_control() && !(triple && matches!(c, '\n' | '\t')) && c != '\t')
            });
            if let Some(c) = bad {
                return Err(refuse(&format!(
                    "a Python string literal, which the value would leave or change (it contains {c:?})"
                )));
            }
            out.push_str(&value);
            i += len;
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        let mut len = c.len_utf8();
        let next = rest[len..].chars().next();
        if c == '\n' {
            line += 1;
        }
        match state {
            Py::Comment => {
                if c == '\n' {
                    state = Py::Code;
                }
            }
            Py::Code => match c {
                '#' => state = Py::Comment,
                '\'' | '"' => {
                    let before = &script[..i];
                    let word_start = before
                        .rfind(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                        .map_or(0, |p| p + 1);
                    let fstring = string_prefix(&before[word_start..]).unwrap_or(false);
                    let triple = rest[1..].starts_with(&format!("{c}{c}"));
                    if triple {
                        len += 2;
                    }
                    state = Py::Str {
                        quote: c,
                        triple,
                        fstring,
                        braces: 0,
                    };
                }
                _ => {}
            },
            Py::Str {
                quote,
                triple,
                fstring,
                braces,
            } => match (c, next) {
                ('\\', Some(n)) => {
                    len += n.len_utf8();
                    if n == '\n' {
                        line += 1;
                    }
                }
                ('{', Some('{')) | ('}', Some('}')) if fstring && braces == 0 => len += 1,
                ('{', _) if fstring => {
                    state = Py::Str {
                        quote,
                        triple,
                        fstring,
                        braces: braces + 1,
                    }
                }
                ('}', _) if fstring && braces > 0 => {
                    state = Py::Str {
                        quote,
                        triple,
                        fstring,
                        braces: braces - 1,
                    }
                }
                ('\'' | '"', _) if fstring && braces > 0 => {
                    state = Py::Inner {
                        quote: c,
                        outer: quote,
                        triple,
                        braces,
                    }
                }
                ('\n', _) if !triple => state = Py::Code,
                (q, _) if q == quote => {
                    if !triple {
                        state = Py::Code;
                    } else if rest[1..].starts_with(&format!("{q}{q}")) {
                        len += 2;
                        state = Py::Code;
                    }
                }
                _ => {}
            },
            Py::Inner {
                quote,
                outer,
                triple,
                braces,
            } => {
                if c == quote {
                    state = Py::Str {
                        quote: outer,
                        triple,
                        fstring: true,
                        braces,
                    };
                }
            }
        }
        out.push_str(&rest[..len]);
        i += len;
    }
    Ok(out)
}
