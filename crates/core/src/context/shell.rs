//! Shell quoting, and the scanner that places `@group.key@` values in a
//! shell script according to the quoting context each token sits in.
//!
//! The exec-step expansion ([`super::expand_command`]) and the script
//! expansion ([`expand_shell_script`]) share the quoting functions here; the
//! script scanner tracks the whole script text: unquoted words, `'...'`,
//! `"..."`, `$'...'`, backticks and `$(...)` nesting, `${...}`, comments,
//! here-documents, arithmetic, and the words of each command (to refuse a
//! token whose value a command would run as code: `eval`, `sh -c`, `ssh`...).

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

/// Shells: a value in their `-c` argument, or in what is piped or fed to
/// them, is code.
const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "ash", "zsh", "ksh", "ksh93", "mksh", "pdksh", "yash", "busybox", "fish",
    "csh", "tcsh",
];

/// Interpreters whose `-c`/`-e` argument, standard input or here-document is
/// a program.
const INTERPRETERS: &[&str] = &[
    "python",
    "python2",
    "python3",
    "pypy",
    "pypy3",
    "perl",
    "ruby",
    "node",
    "nodejs",
    "php",
    "lua",
    "tclsh",
    "osascript",
    "pwsh",
    "powershell",
];

/// Commands whose arguments are code (or are run by a shell elsewhere).
const CODE_COMMANDS: &[&str] = &[
    "eval", "let", "trap", "ssh", "su", "runuser", "watch", "awk", "gawk", "mawk", "nawk", "sed",
];

/// Commands that run the command in their arguments.
const WRAPPERS: &[&str] = &[
    "sudo", "doas", "env", "nohup", "exec", "command", "builtin", "nice", "time", "timeout",
    "stdbuf", "setsid", "xargs", "ionice", "chroot", "flock", "find",
];

fn base(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

fn is_shell(word: &str) -> bool {
    SHELLS.contains(&base(word))
}

fn is_interpreter(word: &str) -> bool {
    let b = base(word);
    INTERPRETERS.contains(&b)
        || (b.starts_with("python") && b[6..].chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// The words of a simple command being scanned.
#[derive(Clone, Debug, Default)]
struct Command {
    /// `$(...)`/`<(...)` (closed by `)`) rather than the top level.
    sub: bool,
    /// `` `...` `` (closed by a backtick).
    backtick: bool,
    /// Open `(` inside it.
    parens: u32,
    /// Completed words of the current simple command (quotes removed; a
    /// token counts as a NUL character).
    words: Vec<String>,
    cur: String,
    in_word: bool,
    /// The current command reads from a pipe.
    after_pipe: bool,
    /// Tokens in the commands of the current pipeline so far.
    pipe_tokens: Vec<Refusal>,
    /// A `<<<` here-string was seen in the current command.
    herestring: bool,
    /// The word being read is a redirection's target, not an argument.
    redirect: bool,
    /// Open `case ... esac` commands: their patterns end with an unmatched `)`.
    cases: u32,
}

impl Command {
    fn new(sub: bool, backtick: bool) -> Self {
        Command {
            sub,
            backtick,
            ..Command::default()
        }
    }

    fn all_words(&self) -> impl Iterator<Item = &str> {
        self.words
            .iter()
            .map(String::as_str)
            .chain((self.in_word && !self.redirect).then_some(self.cur.as_str()))
    }

    /// The program the command runs: its first word that is not an
    /// assignment, or, after a wrapper (`sudo`, `env`, `xargs`...), the
    /// first shell or interpreter among the rest.
    fn runner(&self) -> Option<&str> {
        let mut words = self.all_words().filter(|w| !is_assignment(w));
        let first = words.next()?;
        if WRAPPERS.contains(&base(first)) {
            return words
                .find(|w| is_shell(w) || is_interpreter(w) || CODE_COMMANDS.contains(&base(w)))
                .or(Some(first));
        }
        Some(first)
    }

    /// Whether the command runs its standard input or a here-document as code.
    fn runs_input(&self) -> bool {
        let Some(r) = self.runner() else {
            return false;
        };
        if matches!(base(r), "ssh" | "su" | "runuser") {
            return true;
        }
        if !(is_shell(r) || is_interpreter(r)) {
            return false;
        }
        // `bash`, `bash -s`, `python3 -`: a program from standard input;
        // `bash script.sh`: the input is the script's data
        let mut args = self.all_words().skip_while(|w| *w != r).skip(1);
        args.all(|w| w.starts_with('-')) || self.flags().any(|w| w == "-s" || w == "-")
    }

    /// The option words right after the runner, up to its first operand.
    fn flags(&self) -> impl Iterator<Item = &str> {
        let runner = self.runner();
        self.all_words()
            .skip_while(move |w| Some(*w) != runner)
            .skip(1)
            .take_while(|w| w.starts_with('-'))
    }

    /// Why a token in this command's words cannot be made safe, if so.
    fn refusal(&self, ahead: &str) -> Option<String> {
        let runner = self.runner()?;
        let b = base(runner);
        let flags = || self.flags().filter(|w| !w.starts_with("--"));
        if CODE_COMMANDS.contains(&b) {
            return Some(format!("an argument of `{b}`, which runs it as code"));
        }
        if is_shell(runner) && flags().any(|w| w.contains('c')) {
            return Some(format!("the command string of `{b} -c`"));
        }
        if is_interpreter(runner)
            && (flags().any(|w| w.contains(['c', 'e', 'E', 'r', 'p']))
                || self.all_words().any(|w| w == "--eval"))
        {
            return Some(format!("the program text of `{b}`"));
        }
        if self.herestring && self.runs_input() {
            return Some(format!("a here-string fed to `{b}`"));
        }
        if matches!(b, "declare" | "typeset" | "local" | "readonly" | "export")
            && flags().any(|w| w.contains('i'))
        {
            return Some(format!("an integer variable of `{b} -i` (arithmetic)"));
        }
        if b == "[[" {
            let end = ahead.find("]]").unwrap_or(ahead.len());
            let arith = |w: &str| matches!(w, "-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge");
            if self.all_words().any(arith) || ahead[..end].split_whitespace().any(arith) {
                return Some("an arithmetic comparison in `[[ ]]`".into());
            }
        }
        None
    }
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '[' || c == ']')
    })
}

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
pub(super) fn expand_shell_script(
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

    /// At the end of a here-document body line: refuses when the values
    /// written on it made a line that ends the document early.
    fn check_doc_line(&self, d: &Doc) -> Result<(), Refusal> {
        let written = &self.out[d.out_line.min(self.out.len())..];
        let ends = written.split('\n').any(|l| {
            let l = if d.strip_tabs {
                l.trim_start_matches('\t')
            } else {
                l
            };
            l == d.delim
        });
        if ends {
            return Err(self.refuse(
                &self.last_token,
                self.line.saturating_sub(1),
                format!(
                    "the here-document terminator line `{}`: the value would end the document early",
                    d.delim
                ),
            ));
        }
        Ok(())
    }

    /// A character in command text, in `"..."` or in `${...}`; returns how
    /// many bytes it takes.
    fn code_char(&mut self, c: char, next: Option<char>, rest: &str) -> Result<usize, Refusal> {
        let top = self.top().clone();
        let in_cmd = matches!(top, Frame::Cmd(_));
        let double = matches!(
            top,
            Frame::Double | Frame::EscDouble | Frame::Param { double: true, .. }
        );
        let below_double = self.stack.len() >= 2
            && matches!(self.stack.get(self.stack.len() - 2), Some(Frame::Double));
        let is_backtick = matches!(&top, Frame::Cmd(c) if c.backtick);
        let mut len = c.len_utf8();
        if let Frame::Param { .. } = top {
            if c != '}' {
                if let Some(Frame::Param { text, .. }) = self.stack.last_mut() {
                    text.push(c);
                }
            }
        }
        match (c, next) {
            ('\\', Some('"')) if top_is(&top, Frame::EscDouble) => {
                len += 1;
                self.stack.pop();
            }
            ('\\', Some('"')) if is_backtick && below_double => {
                len += 1;
                self.stack.push(Frame::EscDouble);
            }
            ('\\', Some('\n')) => {
                len += 1;
                self.line += 1;
            }
            ('\\', Some(n)) => {
                len += n.len_utf8();
                self.word_char(n);
            }
            ('$', Some('(')) if rest[2..].starts_with('(') => {
                len += 2;
                self.word_char('$');
                self.stack.push(Frame::Arith { parens: 0 });
            }
            ('$', Some('(')) => {
                len += 1;
                self.word_char('$');
                self.stack
                    .push(Frame::Cmd(Box::new(Command::new(true, false))));
            }
            ('$', Some('{')) => {
                len += 1;
                self.word_char('$');
                self.stack.push(Frame::Param {
                    double,
                    text: String::new(),
                });
            }
            ('$', Some('\'')) if !double => {
                len += 1;
                self.word_char('$');
                self.stack.push(Frame::DollarSingle);
            }
            ('`', _) if is_backtick => {
                self.end_command(false)?;
                self.stack.pop();
                self.word_char('`');
            }
            ('`', _) => {
                self.word_char('`');
                self.stack
                    .push(Frame::Cmd(Box::new(Command::new(false, true))));
            }
            ('"', _) if top_is(&top, Frame::Double) => {
                self.stack.pop();
            }
            ('"', _) => {
                self.word_char_empty();
                self.stack.push(Frame::Double);
            }
            ('\'', _) if !double => {
                self.word_char_empty();
                self.stack.push(Frame::Single);
            }
            ('}', _) if matches!(top, Frame::Param { .. }) => {
                self.stack.pop();
            }
            ('#', _) if in_cmd && !self.in_word() && word_start(self.prev) => {
                self.stack.push(Frame::Comment);
            }
            _ if !in_cmd => self.word_char(c),
            ('<', Some('<')) if rest[2..].starts_with('<') => {
                self.redirect_start()?;
                len += 2;
                if let Some(cmd) = self.cmd_mut() {
                    cmd.herestring = true;
                    cmd.redirect = true;
                }
            }
            ('<', Some('<')) => {
                self.redirect_start()?;
                len = self.heredoc_redirect(rest)?;
            }
            ('<' | '>', Some('(')) if self.dialect == Dialect::Bash => {
                self.finish_word()?;
                len += 1;
                self.stack
                    .push(Frame::Cmd(Box::new(Command::new(true, false))));
            }
            ('(', Some('(')) if self.at_command_start() => {
                len += 1;
                self.stack.push(Frame::Arith { parens: 0 });
            }
            ('(', _) => {
                self.end_command(false)?;
                if let Some(cmd) = self.cmd_mut() {
                    cmd.parens += 1;
                }
            }
            (')', _) => {
                self.end_command(false)?;
                let close = match self.cmd_mut() {
                    Some(cmd) if cmd.parens > 0 => {
                        cmd.parens -= 1;
                        false
                    }
                    // a `case` pattern's `)` inside `$(...)`
                    Some(cmd) if cmd.cases > 0 => false,
                    Some(cmd) => cmd.sub,
                    None => false,
                };
                if close {
                    self.stack.pop();
                    self.word_char(')');
                }
            }
            ('|', Some('|')) | ('&', Some('&')) => {
                len += 1;
                self.end_command(false)?;
            }
            ('|', _) => self.end_command(true)?,
            ('&', _) if matches!(self.prev, Some('>' | '<')) => self.word_char(c),
            (';' | '&' | '\n', _) => {
                self.end_command(false)?;
                if c == '\n' {
                    self.start_docs();
                }
            }
            ('<' | '>', _) => {
                self.redirect_start()?;
                if next == Some('>') || next == Some('|') {
                    len += 1;
                }
                if let Some(cmd) = self.cmd_mut() {
                    cmd.redirect = true;
                }
            }
            (' ' | '\t', _) => {
                // a blank right after `>` does not end the (empty) target word
                if !matches!(self.prev, Some('<' | '>')) {
                    self.finish_word()?;
                }
            }
            _ => self.word_char(c),
        }
        Ok(len)
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

    /// Reads `<<WORD` or `<<-WORD` at the start of `rest`; returns its length.
    fn heredoc_redirect(&mut self, rest: &str) -> Result<usize, Refusal> {
        let mut j = 2;
        let strip_tabs = rest[j..].starts_with('-');
        if strip_tabs {
            j += 1;
        }
        j += rest[j..].len() - rest[j..].trim_start_matches([' ', '\t']).len();
        let mut delim = String::new();
        let mut quoted = false;
        let mut chars = rest[j..].char_indices().peekable();
        let mut end = rest.len() - j;
        while let Some((k, c)) = chars.next() {
            match c {
                ' ' | '\t' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')' => {
                    end = k;
                    break;
                }
                '\'' => {
                    quoted = true;
                    for (_, c) in chars.by_ref() {
                        if c == '\'' {
                            break;
                        }
                        delim.push(c);
                    }
                }
                '"' => {
                    quoted = true;
                    while let Some((_, c)) = chars.next() {
                        match c {
                            '"' => break,
                            '\\' => {
                                if let Some((_, n)) = chars.next() {
                                    delim.push(n);
                                }
                            }
                            c => delim.push(c),
                        }
                    }
                }
                '\\' => {
                    quoted = true;
                    if let Some((_, n)) = chars.next() {
                        delim.push(n);
                    }
                }
                c => delim.push(c),
            }
        }
        let word = &rest[j..j + end];
        if let Some(at) = word.find('@') {
            if let Some((group, key, _)) = parse_token(&word[at..]) {
                return Err(self.refuse(
                    &format!("{group}.{key}"),
                    self.line,
                    "a here-document delimiter",
                ));
            }
        }
        self.pending.push(PendingDoc {
            delim,
            quoted,
            strip_tabs,
            code: None,
            done: false,
        });
        Ok(j + end)
    }

    /// After a newline in command text: the bodies of the here-documents
    /// started on that line follow, the first one first.
    fn start_docs(&mut self) {
        let docs: Vec<PendingDoc> = self.pending.drain(..).collect();
        for p in docs.into_iter().rev() {
            self.stack.push(Frame::HereDoc(Box::new(Doc {
                delim: p.delim,
                quoted: p.quoted,
                strip_tabs: p.strip_tabs,
                code: p.code,
                at_line_start: true,
                out_line: 0,
            })));
        }
    }
}

fn top_is(top: &Frame, want: Frame) -> bool {
    std::mem::discriminant(top) == std::mem::discriminant(&want)
}

/// Whether a `#` after `prev` starts a comment.
pub(super) fn word_start(prev: Option<char>) -> bool {
    match prev {
        None => true,
        Some(p) => p.is_whitespace() || matches!(p, ';' | '&' | '|' | '(' | ')' | '<' | '>'),
    }
}
