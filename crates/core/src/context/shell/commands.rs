//! The words of a simple command, and which commands run a token's value as
//! code (shells, interpreters, `eval`, wrappers such as `sudo` and `xargs`).

use super::Refusal;

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

pub(super) fn base(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

pub(super) fn is_shell(word: &str) -> bool {
    SHELLS.contains(&base(word))
}

pub(super) fn is_interpreter(word: &str) -> bool {
    let b = base(word);
    INTERPRETERS.contains(&b)
        || (b.starts_with("python") && b[6..].chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// The words of a simple command being scanned.
#[derive(Clone, Debug, Default)]
pub(super) struct Command {
    /// `$(...)`/`<(...)` (closed by `)`) rather than the top level.
    pub(super) sub: bool,
    /// `` `...` `` (closed by a backtick).
    pub(super) backtick: bool,
    /// Open `(` inside it.
    pub(super) parens: u32,
    /// Completed words of the current simple command (quotes removed; a
    /// token counts as a NUL character).
    pub(super) words: Vec<String>,
    pub(super) cur: String,
    pub(super) in_word: bool,
    /// The current command reads from a pipe.
    pub(super) after_pipe: bool,
    /// Tokens in the commands of the current pipeline so far.
    pub(super) pipe_tokens: Vec<Refusal>,
    /// A `<<<` here-string was seen in the current command.
    pub(super) herestring: bool,
    /// The word being read is a redirection's target, not an argument.
    pub(super) redirect: bool,
    /// Open `case ... esac` commands: their patterns end with an unmatched `)`.
    pub(super) cases: u32,
}

impl Command {
    pub(super) fn new(sub: bool, backtick: bool) -> Self {
        Command {
            sub,
            backtick,
            ..Command::default()
        }
    }

    pub(super) fn all_words(&self) -> impl Iterator<Item = &str> {
        self.words
            .iter()
            .map(String::as_str)
            .chain((self.in_word && !self.redirect).then_some(self.cur.as_str()))
    }

    /// The program the command runs: its first word that is not an
    /// assignment, or, after a wrapper (`sudo`, `env`, `xargs`...), the
    /// first shell or interpreter among the rest.
    pub(super) fn runner(&self) -> Option<&str> {
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
    pub(super) fn runs_input(&self) -> bool {
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
    pub(super) fn flags(&self) -> impl Iterator<Item = &str> {
        let runner = self.runner();
        self.all_words()
            .skip_while(move |w| Some(*w) != runner)
            .skip(1)
            .take_while(|w| w.starts_with('-'))
    }

    /// Why a token in this command's words cannot be made safe, if so.
    pub(super) fn refusal(&self, ahead: &str) -> Option<String> {
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

pub(super) fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '[' || c == ']')
    })
}
