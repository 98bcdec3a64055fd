//! Expansion of `${group.key}` references in commands, text and arguments.

use super::shell::{
    backtick_escape, push_double_quoted, push_single_quoted, shell_quote, word_start,
};
use super::DataContext;
use crate::model::Node;

/// Groups whose `${group.key}` references are expanded.
const GROUPS: &[&str] = &["option", "node", "job", "data", "unquotedoption"];

/// A reference at the start of `s`: `${group.key}` with a known group, no
/// whitespace. Returns group, key and the length of the whole reference.
fn parse_ref(s: &str) -> Option<(&str, &str, usize)> {
    let body = s.strip_prefix("${")?;
    let end = body.find(|c: char| c == '}' || c.is_whitespace())?;
    if !body[end..].starts_with('}') {
        return None;
    }
    let (group, key) = body[..end].split_once('.')?;
    (GROUPS.contains(&group) && !key.is_empty()).then_some((group, key, end + 3))
}

/// Expands references in plain text (job reference arguments, node filters,
/// messages), without quoting. Like Rundeck: an unresolved `${option.x}`
/// becomes blank, any other unresolved reference is kept as written.
pub fn expand_text(template: &str, ctx: &DataContext, node: &Node) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find("${") {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        match parse_ref(rest) {
            Some((group, key, len)) => {
                match ctx.resolve(group, key, node) {
                    Some(v) => out.push_str(&v),
                    None if group == "option" || group == "unquotedoption" => {}
                    None => out.push_str(&rest[..len]),
                }
                rest = &rest[len..];
            }
            None => {
                out.push_str("${");
                rest = &rest[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Splits a script argument string into words like a shell does (blanks
/// separate words; `'...'` is literal; in `"..."` a backslash escapes `"`,
/// `\`, `$` and backtick; outside quotes a backslash escapes any character),
/// then expands references in each word as [`expand_text`] does. Values are
/// not split or quoted again: each word becomes one argv entry, so a value
/// with blanks stays one argument. Quoted empty words (`''`) are kept; a word
/// whose expansion is empty is kept as an empty argument as well.
pub fn split_args(args: &str, ctx: &DataContext, node: &Node) -> Vec<String> {
    split_words(args)
        .into_iter()
        .map(|w| expand_text(&w, ctx, node))
        .collect()
}

fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.peek() {
                            Some(&n @ ('"' | '\\' | '$' | '`')) => {
                                cur.push(n);
                                chars.next();
                            }
                            _ => cur.push('\\'),
                        },
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
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
    words
}

/// Shell parsing state while scanning a command template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Frame {
    /// Unquoted command text: the top level (`sub: false`) or inside `$(...)`.
    Cmd { sub: bool, parens: u32 },
    /// Inside `"..."`.
    Double,
    /// Inside `\"...\"` in backticks that are themselves in double quotes
    /// (the backslashes go when the backtick text is unescaped).
    EscDouble,
    /// Inside `'...'`.
    Single,
    /// Inside `` `...` `` (a command whose text is backslash-unescaped first).
    Backtick,
    /// Inside a shell parameter expansion `${VAR...}`, itself in double
    /// quotes or not.
    Param { double: bool },
    /// A `#` comment, up to the end of the line.
    Comment,
}

/// Writes `value` as it must appear at this point of the template so that
/// the shell reads exactly `value`.
fn push_value(out: &mut String, stack: &[Frame], value: &str) {
    let mut s = String::with_capacity(value.len() + 8);
    match stack.last() {
        Some(Frame::Single) => push_single_quoted(&mut s, value),
        Some(Frame::Double | Frame::EscDouble) => push_double_quoted(&mut s, value, false),
        Some(Frame::Param { double: true }) => push_double_quoted(&mut s, value, true),
        Some(Frame::Comment) => s.push_str(&value.replace(['\n', '\r'], " ")),
        _ => s = shell_quote(value),
    }
    // each enclosing backtick level removes one level of `\`, `` ` ``, `$` escapes
    for _ in stack.iter().filter(|f| **f == Frame::Backtick) {
        s = backtick_escape(&s);
    }
    out.push_str(&s);
}

/// Expands references in a shell command line so that every substituted
/// value reaches the command exactly and inert, whatever it contains.
///
/// The template is scanned with the shell's quoting rules: a value in
/// unquoted text is inserted as a single-quoted word ([`shell_quote`]); in
/// `"..."` with `\`, `"`, `$` and backtick escaped; in `'...'` with each `'`
/// as `'\''`; inside backticks with the extra escaping their text gets; in a
/// `#` comment with line breaks replaced by blanks. `$(...)` and `${VAR...}`
/// nest. So `echo ${option.x}`, `echo "${option.x}"` and
/// `echo '${option.x}'` all print the value.
///
/// Unresolved references of the known groups become blank (Rundeck blanks
/// unresolved `${option.x}` in commands and keeps others, which the shell
/// then rejects as a bad substitution; we blank them all, like Rundeck's
/// `preserveBash` mode). Shell variables (`${HOME}`) are left to the shell.
/// A reference preceded by a backslash (`\${option.x}`) is not expanded.
/// `${unquotedoption.x}` inserts the raw value without any quoting, as in
/// Rundeck: only for trusted values.
///
/// Limits: here-document bodies are not recognised (a reference there is
/// quoted as in the command text around it), nor are `case` patterns with
/// unbalanced parentheses inside `$(...)`.
pub fn expand_command(template: &str, ctx: &DataContext, node: &Node) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut stack = vec![Frame::Cmd {
        sub: false,
        parens: 0,
    }];
    let mut prev: Option<char> = None;
    let mut i = 0;
    while i < template.len() {
        let rest = &template[i..];
        if let Some((group, key, len)) = parse_ref(rest) {
            let value = ctx.resolve(group, key, node).unwrap_or_default();
            if group == "unquotedoption" {
                out.push_str(&value);
            } else {
                push_value(&mut out, &stack, &value);
            }
            i += len;
            prev = Some('}');
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        let next = rest[c.len_utf8()..].chars().next();
        let top = stack.last().copied().unwrap_or(Frame::Cmd {
            sub: false,
            parens: 0,
        });
        let mut len = c.len_utf8();
        // a `$` right before a reference would join the value's first
        // character into an expansion: write it as a literal dollar
        if c == '$' && top != Frame::Single && parse_ref(&rest[1..]).is_some() {
            push_value(&mut out, &stack, "$");
            i += 1;
            prev = Some('$');
            continue;
        }
        match top {
            Frame::Single => {
                if c == '\'' {
                    stack.pop();
                }
            }
            Frame::Comment => {
                if c == '\n' {
                    stack.pop();
                }
            }
            Frame::Cmd { .. }
            | Frame::Backtick
            | Frame::Double
            | Frame::EscDouble
            | Frame::Param { .. } => {
                let double = matches!(
                    top,
                    Frame::Double | Frame::EscDouble | Frame::Param { double: true }
                );
                let below = stack
                    .len()
                    .checked_sub(2)
                    .and_then(|i| stack.get(i))
                    .copied();
                match (c, next) {
                    ('\\', Some('"')) if top == Frame::EscDouble => {
                        len += 1;
                        stack.pop();
                    }
                    ('\\', Some('"')) if top == Frame::Backtick && below == Some(Frame::Double) => {
                        len += 1;
                        stack.push(Frame::EscDouble);
                    }
                    ('\\', Some(n)) => len += n.len_utf8(),
                    ('$', Some('(')) => {
                        len += 1;
                        stack.push(Frame::Cmd {
                            sub: true,
                            parens: 0,
                        });
                    }
                    ('$', Some('{')) => {
                        len += 1;
                        stack.push(Frame::Param { double });
                    }
                    ('`', _) if top == Frame::Backtick => {
                        stack.pop();
                    }
                    ('`', _) => stack.push(Frame::Backtick),
                    ('"', _) if top == Frame::Double => {
                        stack.pop();
                    }
                    ('"', _) => stack.push(Frame::Double),
                    ('\'', _) if !double => stack.push(Frame::Single),
                    ('}', _) if matches!(top, Frame::Param { .. }) => {
                        stack.pop();
                    }
                    ('#', _) if !double && word_start(prev) => stack.push(Frame::Comment),
                    ('(', _) => {
                        if let Some(Frame::Cmd { parens, .. }) = stack.last_mut() {
                            *parens += 1;
                        }
                    }
                    (')', _) => match stack.last_mut() {
                        Some(Frame::Cmd { parens, .. }) if *parens > 0 => *parens -= 1,
                        Some(Frame::Cmd { sub: true, .. }) => {
                            stack.pop();
                        }
                        _ => {}
                    },
                    _ => {}
                }
            }
        }
        out.push_str(&rest[..len]);
        prev = rest[..len].chars().last();
        i += len;
    }
    out
}
