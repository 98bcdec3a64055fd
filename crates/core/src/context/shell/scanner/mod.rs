//! The script scanner: the quoting context at each point of a shell script,
//! where each token's value is written quoted for that context.

mod code;
mod heredoc;

use super::commands::{base, Command};
use super::{backtick_escape, parse_token, push_double_quoted, push_single_quoted, shell_quote};
use super::{Dialect, Refusal};

/// A here-document whose body has not started yet.
#[derive(Clone, Debug)]
struct PendingDoc {
    delim: String,
    quoted: bool,
    strip_tabs: bool,
    /// Set when its command ends: the command it feeds runs its input as code.
    code: Option<String>,
    done: bool,
}

/// A here-document body being scanned.
#[derive(Clone, Debug)]
struct Doc {
    delim: String,
    quoted: bool,
    strip_tabs: bool,
    code: Option<String>,
    at_line_start: bool,
    /// Where the current body line starts in the output.
    out_line: usize,
}

/// Shell parsing state while scanning a script.
#[derive(Clone, Debug)]
enum Frame {
    /// Command text: the top level, `$(...)`, `<(...)` or `` `...` ``.
    Cmd(Box<Command>),
    /// Inside `"..."`.
    Double,
    /// Inside `\"...\"` in backticks that are themselves in double quotes.
    EscDouble,
    /// Inside `'...'`.
    Single,
    /// Inside bash's `$'...'`.
    DollarSingle,
    /// Inside `${...}`, in double quotes or not; `text` is what follows `${`.
    Param { double: bool, text: String },
    /// Inside `$((...))` or `((...))`.
    Arith { parens: u32 },
    /// A `#` comment, up to the end of the line.
    Comment,
    /// A here-document body.
    HereDoc(Box<Doc>),
}

struct Scanner<'a> {
    script: &'a str,
    dialect: Dialect,
    out: String,
    stack: Vec<Frame>,
    pending: Vec<PendingDoc>,
    line: usize,
    prev: Option<char>,
    /// The last token written, for a here-document line it spoils.
    last_token: String,
    /// A `$'...'` string with a backslash was seen in a script for sh:
    /// shells disagree on where it ends, so later tokens are refused.
    ambiguous: bool,
}

/// Expands `@group.key@` tokens in a shell script so that each value reaches
/// the shell exactly and inert in the context where the token sits; refuses
/// a token where no quoting can make the value inert. `resolve` gives a
/// token's value (`None` becomes blank).
pub(in crate::context) fn expand_shell_script(
    script: &str,
    dialect: Dialect,
    resolve: &dyn Fn(&str, &str) -> Option<String>,
) -> Result<String, Refusal> {
    let mut s = Scanner {
        script,
        dialect,
        out: String::with_capacity(script.len() + 16),
        stack: vec![Frame::Cmd(Box::new(Command::new(false, false)))],
        pending: Vec::new(),
        line: 1,
        prev: None,
        last_token: String::new(),
        ambiguous: false,
    };
    let mut i = 0;
    while i < script.len() {
        i = s.step(i, resolve)?;
    }
    while s.stack.len() > 1 {
        if let Some(Frame::HereDoc(d)) = s.stack.last() {
            let d = d.as_ref().clone();
            s.check_doc_line(&d)?;
        }
        s.end_command(false)?;
        s.stack.pop();
    }
    s.end_command(false)?;
    Ok(s.out)
}

impl Scanner<'_> {
    fn top(&self) -> &Frame {
        // the stack never empties: the top-level Cmd frame is never popped
        self.stack.last().unwrap_or(&Frame::Comment)
    }

    fn refuse(&self, token: &str, line: usize, reason: impl Into<String>) -> Refusal {
        Refusal {
            token: token.into(),
            line,
            reason: reason.into(),
        }
    }

    /// The innermost command frame.
    fn cmd_mut(&mut self) -> Option<&mut Command> {
        self.stack.iter_mut().rev().find_map(|f| match f {
            Frame::Cmd(c) => Some(c.as_mut()),
            _ => None,
        })
    }

    fn word_char(&mut self, c: char) {
        if let Some(cmd) = self.cmd_mut() {
            cmd.cur.push(c);
            cmd.in_word = true;
        }
    }

    /// Ends the current word of the innermost command; refuses tokens piped
    /// into a command that runs its input as code.
    fn finish_word(&mut self) -> Result<(), Refusal> {
        let Some(cmd) = self.cmd_mut() else {
            return Ok(());
        };
        if !cmd.in_word {
            return Ok(());
        }
        let word = std::mem::take(&mut cmd.cur);
        cmd.in_word = false;
        if !std::mem::take(&mut cmd.redirect) {
            if cmd.words.is_empty() {
                match word.as_str() {
                    "case" => cmd.cases += 1,
                    "esac" => cmd.cases = cmd.cases.saturating_sub(1),
                    _ => {}
                }
            }
            cmd.words.push(word);
        }
        Ok(())
    }

    /// Ends the current simple command (`;`, `&`, `&&`, `||`, newline) or
    /// starts the next command of a pipeline (`|`).
    fn end_command(&mut self, pipe: bool) -> Result<(), Refusal> {
        self.finish_word()?;
        if let Some(cmd) = self.cmd_mut() {
            if cmd.after_pipe && cmd.runs_input() {
                if let Some(t) = cmd.pipe_tokens.first() {
                    let runner = cmd.runner().map(base).unwrap_or_default().to_owned();
                    let mut r = t.clone();
                    r.reason =
                        format!("a pipeline that feeds `{runner}`, which runs its input as code");
                    return Err(r);
                }
            }
        }
        let code = self.cmd_mut().and_then(|c| {
            c.runs_input()
                .then(|| c.runner().map(base).unwrap_or_default().to_owned())
        });
        for p in self.pending.iter_mut().filter(|p| !p.done) {
            p.done = true;
            p.code = code.clone();
        }
        if let Some(cmd) = self.cmd_mut() {
            cmd.words.clear();
            cmd.herestring = false;
            cmd.after_pipe = pipe;
            if !pipe {
                cmd.pipe_tokens.clear();
            }
        }
        Ok(())
    }

    /// Writes `value` for the context on top of the stack, with one more
    /// level of escaping for each enclosing backtick command.
    fn quoted(&self, value: &str, token: &str) -> Result<String, Refusal> {
        let mut s = String::with_capacity(value.len() + 8);
        match self.top() {
            Frame::Single => push_single_quoted(&mut s, value),
            Frame::Double | Frame::EscDouble => push_double_quoted(&mut s, value, false),
            Frame::Param { double: true, .. } => {
                // bash reads `'` inside "${...}" as a quote and `<(` as a
                // process substitution: write them as "'" (a nested
                // double-quoted string there, in every shell) and `<""(`
                let mut d = String::new();
                push_double_quoted(&mut d, value, true);
                let d = d
                    .replace('\'', "\"'\"")
                    .replace("<(", "<\"\"(")
                    .replace(">(", ">\"\"(");
                s.push_str(&d);
            }
            Frame::Comment => s.push_str(&value.replace(['\n', '\r'], " ")),
            Frame::DollarSingle => match self.dialect {
                Dialect::Bash => {
                    for c in value.chars() {
                        if matches!(c, '\\' | '\'') {
                            s.push('\\');
                        }
                        s.push(c);
                    }
                }
                Dialect::Posix if value.contains(['\\', '\'']) => {
                    return Err(self.refuse(
                        token,
                        self.line,
                        "a $'...' string in a script for sh, where its meaning differs between shells and a value with `\\` or `'` could end it",
                    ))
                }
                Dialect::Posix => s.push_str(value),
            },
            Frame::HereDoc(d) if d.quoted => s.push_str(value),
            Frame::HereDoc(_) => {
                for c in value.chars() {
                    if matches!(c, '\\' | '$' | '`') {
                        s.push('\\');
                    }
                    s.push(c);
                }
            }
            Frame::Cmd(_) | Frame::Param { double: false, .. } | Frame::Arith { .. } => {
                s = shell_quote(value)
            }
        }
        for f in &self.stack {
            if matches!(f, Frame::Cmd(c) if c.backtick) {
                s = backtick_escape(&s);
            }
        }
        Ok(s)
    }

    /// Why a token here cannot be made safe, if so.
    fn context_refusal(&self, ahead: &str) -> Option<String> {
        for f in &self.stack {
            match f {
                Frame::Arith { .. } => {
                    return Some("arithmetic, which evaluates the value as an expression".into())
                }
                Frame::Param { text, .. } => {
                    if text.contains('[') {
                        return Some("an array subscript (arithmetic)".into());
                    }
                    let name_end = text
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(text.len());
                    let op = &text[name_end..];
                    if op.starts_with(':') && !op[1..].starts_with(['-', '=', '?', '+']) {
                        return Some("a substring offset `${var:...}` (arithmetic)".into());
                    }
                }
                Frame::HereDoc(d) => {
                    if let Some(r) = &d.code {
                        return Some(format!(
                            "a here-document fed to `{r}`, which runs it as code"
                        ));
                    }
                }
                Frame::Cmd(c) => {
                    if let Some(r) = c.refusal(ahead) {
                        return Some(r);
                    }
                }
                _ => {}
            }
        }
        None
    }

    fn token(
        &mut self,
        group: &str,
        key: &str,
        ahead: &str,
        resolve: &dyn Fn(&str, &str) -> Option<String>,
    ) -> Result<(), Refusal> {
        let name = format!("{group}.{key}");
        if self.ambiguous {
            return Err(self.refuse(
                &name,
                self.line,
                "after a $'...' string with a backslash in a script for sh, which shells end at different places",
            ));
        }
        if let Some(reason) = self.context_refusal(ahead) {
            return Err(self.refuse(&name, self.line, reason));
        }
        let value = resolve(group, key).unwrap_or_default();
        let nested_in_doc = self
            .stack
            .iter()
            .position(|f| matches!(f, Frame::HereDoc(d) if !d.quoted))
            .is_some_and(|at| at + 1 < self.stack.len());
        if nested_in_doc && value.contains("\\\n") {
            return Err(self.refuse(
                &name,
                self.line,
                "a substitution inside a here-document, where bash removes a backslash-newline of the value before quoting applies",
            ));
        }
        let text = self.quoted(&value, &name)?;
        self.out.push_str(&text);
        self.last_token.clone_from(&name);
        let at = self.refuse(&name, self.line, String::new());
        for f in &mut self.stack {
            if let Frame::Cmd(c) = f {
                c.pipe_tokens.push(at.clone());
            }
        }
        if !matches!(self.top(), Frame::Comment | Frame::HereDoc(_)) {
            self.word_char('\0');
        }
        Ok(())
    }

    /// Scans from byte `i`; returns where to go on.
    fn step(
        &mut self,
        i: usize,
        resolve: &dyn Fn(&str, &str) -> Option<String>,
    ) -> Result<usize, Refusal> {
        let script = self.script;
        let rest = &script[i..];
        if let Some(Frame::HereDoc(d)) = self.stack.last_mut() {
            if d.at_line_start {
                d.at_line_start = false;
                let end = rest.find('\n').unwrap_or(rest.len());
                let line = &rest[..end];
                let cmp = if d.strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                if cmp == d.delim {
                    self.out.push_str(line);
                    self.stack.pop();
                    self.prev = line.chars().last();
                    return Ok(i + end);
                }
                d.out_line = self.out.len();
            }
        }
        if let Some((group, key, len)) = parse_token(rest) {
            self.token(group, key, &rest[len..], resolve)?;
            self.prev = Some('@');
            return Ok(i + len);
        }
        let Some(c) = rest.chars().next() else {
            return Ok(script.len());
        };
        let next = rest[c.len_utf8()..].chars().next();
        let mut len = c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        // a `$` right before a token would join the value's first character
        // into an expansion: write it as a literal dollar
        if c == '$'
            && !matches!(
                self.top(),
                Frame::Single | Frame::DollarSingle | Frame::Comment | Frame::Arith { .. }
            )
            && !matches!(self.top(), Frame::HereDoc(d) if d.quoted)
            && parse_token(&rest[1..]).is_some()
        {
            let text = self.quoted("$", "$")?;
            self.out.push_str(&text);
            self.word_char('$');
            self.prev = Some('$');
            return Ok(i + 1);
        }
        let top = self.top().clone();
        match top {
            Frame::Single => {
                if c == '\'' {
                    self.stack.pop();
                } else {
                    self.word_char(c);
                }
            }
            Frame::DollarSingle => match (c, next) {
                ('\\', Some(n)) => {
                    len += n.len_utf8();
                    // dash ends the string at a `'` after `\`; bash does not
                    self.ambiguous |= self.dialect == Dialect::Posix;
                }
                ('\'', _) => {
                    self.stack.pop();
                }
                _ => self.word_char(c),
            },
            Frame::Comment => {
                if c == '\n' {
                    // the newline ends the command below as well
                    self.stack.pop();
                    self.line -= 1;
                    return Ok(i);
                }
            }
            Frame::Arith { parens } => match (c, next) {
                ('(', _) => self.set_arith(parens + 1),
                (')', _) if parens > 0 => self.set_arith(parens - 1),
                (')', Some(')')) => {
                    len += 1;
                    self.stack.pop();
                }
                (')', _) => {
                    self.stack.pop();
                }
                _ => {}
            },
            Frame::HereDoc(d) => {
                if c == '\n' {
                    self.check_doc_line(&d)?;
                    if let Some(Frame::HereDoc(d)) = self.stack.last_mut() {
                        d.at_line_start = true;
                    }
                } else if !d.quoted {
                    match (c, next) {
                        ('\\', Some(n)) if n != '\n' => len += n.len_utf8(),
                        ('$', Some('(')) if rest[2..].starts_with('(') => {
                            len += 2;
                            self.stack.push(Frame::Arith { parens: 0 });
                        }
                        ('$', Some('(')) => {
                            len += 1;
                            self.stack
                                .push(Frame::Cmd(Box::new(Command::new(true, false))));
                        }
                        ('$', Some('{')) => {
                            len += 1;
                            self.stack.push(Frame::Param {
                                double: true,
                                text: String::new(),
                            });
                        }
                        ('`', _) => self
                            .stack
                            .push(Frame::Cmd(Box::new(Command::new(false, true)))),
                        _ => {}
                    }
                }
            }
            Frame::Cmd(_) | Frame::Double | Frame::EscDouble | Frame::Param { .. } => {
                len = self.code_char(c, next, rest)?;
            }
        }
        self.out.push_str(&rest[..len]);
        self.prev = rest[..len].chars().last();
        Ok(i + len)
    }

    fn set_arith(&mut self, n: u32) {
        if let Some(Frame::Arith { parens }) = self.stack.last_mut() {
            *parens = n;
        }
    }

    /// Before a redirection operator: a word of digits right before it is
    /// its file descriptor, not an argument.
    fn redirect_start(&mut self) -> Result<(), Refusal> {
        if let Some(cmd) = self.cmd_mut() {
            if cmd.in_word && !cmd.cur.is_empty() && cmd.cur.chars().all(|c| c.is_ascii_digit()) {
                cmd.cur.clear();
                cmd.in_word = false;
            }
        }
        self.finish_word()
    }

    fn in_word(&self) -> bool {
        self.stack
            .iter()
            .rev()
            .find_map(|f| match f {
                Frame::Cmd(c) => Some(c.in_word),
                _ => None,
            })
            .unwrap_or(false)
    }

    fn at_command_start(&self) -> bool {
        match self.top() {
            Frame::Cmd(c) => c.words.is_empty() && !c.in_word,
            _ => false,
        }
    }

    /// Marks the current word as started (a quoted empty string is a word).
    fn word_char_empty(&mut self) {
        if let Some(cmd) = self.cmd_mut() {
            cmd.in_word = true;
        }
    }
}

fn top_is(top: &Frame, want: Frame) -> bool {
    std::mem::discriminant(top) == std::mem::discriminant(&want)
}
