//! Answering sudo's password prompt, as Rundeck's SSH executor does.
//!
//! A node opts in with `sudo-command-enabled: true`. A command line matching
//! `sudo-command-pattern` (default `^sudo .*`) then runs on a pty (sudo reads
//! the password from the terminal), and its output is watched:
//!
//! 1. **Prompt**: an unterminated output line matching `sudo-prompt-pattern`
//!    (default `^\[sudo\] password for .+: .*`) is answered with the password
//!    and a newline, and dropped from the output. Up to `sudo-prompt-max-lines`
//!    (12) earlier lines pass through. When no prompt comes within
//!    `sudo-response-timeout` (5000 ms) the step fails
//!    (`sudo-fail-on-prompt-timeout`, default true) or goes on without
//!    answering; after the maximum lines it goes on
//!    (`sudo-fail-on-prompt-max-lines`, default false).
//! 2. **Response**: until `sudo-response-timeout` passes or the command's
//!    first output line, a line matching `sudo-fail-pattern` (default
//!    `^.*try again.*`) or a second prompt means the password was refused:
//!    the step fails and the command is ended, never left waiting.
//! 3. **Done**: output passes through; a prompt that shows up later (a
//!    second sudo whose password was not cached) is answered as in 1.
//!
//! Unterminated output is held back in every phase until its line ends (or
//! the command does): the executor shows whole lines only anyway.

use crate::error::node_error;
use foredeck_core::{Node, Result};
use regex::Regex;
use std::time::Duration;
use tokio::time::Instant;

/// Bytes of an unterminated line held back while looking for a prompt.
const MAX_HELD: usize = 4096;

/// The sudo settings of a node, for a command that needs them.
#[derive(Debug)]
pub(crate) struct SudoSettings {
    prompt: Regex,
    fail: Regex,
    timeout: Duration,
    fail_on_prompt_timeout: bool,
    max_lines: usize,
    fail_on_max_lines: bool,
}

fn text_attr(node: &Node, name: &str) -> Option<String> {
    node.attribute(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn bool_attr(node: &Node, name: &str, default: bool) -> Result<bool> {
    match text_attr(node, name)
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(node_error(
            node,
            format!("node attribute {name}={other:?} is not true or false"),
        )),
    }
}

fn number_attr(node: &Node, name: &str, default: u64) -> Result<u64> {
    match text_attr(node, name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            node_error(
                node,
                format!("node attribute {name}={v:?} is not a whole number"),
            )
        }),
    }
}

fn regex_attr(node: &Node, name: &str, default: &str) -> Result<Regex> {
    let pattern = text_attr(node, name).unwrap_or_else(|| default.to_owned());
    Regex::new(&pattern).map_err(|e| {
        node_error(
            node,
            format!("node attribute {name}={pattern:?} is not a valid regex: {e}"),
        )
    })
}

impl SudoSettings {
    /// The settings when `node` enables sudo and `line` matches its
    /// `sudo-command-pattern`; `None` when the command runs as usual.
    pub(crate) fn for_command(node: &Node, line: &str) -> Result<Option<SudoSettings>> {
        if !bool_attr(node, "sudo-command-enabled", false)? {
            return Ok(None);
        }
        let command = regex_attr(node, "sudo-command-pattern", r"^sudo .*")?;
        if !command.is_match(line.trim_start()) {
            return Ok(None);
        }
        Ok(Some(SudoSettings {
            prompt: regex_attr(
                node,
                "sudo-prompt-pattern",
                r"^\[sudo\] password for .+: .*",
            )?,
            fail: regex_attr(node, "sudo-fail-pattern", r"^.*try again.*")?,
            timeout: Duration::from_millis(number_attr(node, "sudo-response-timeout", 5000)?),
            fail_on_prompt_timeout: bool_attr(node, "sudo-fail-on-prompt-timeout", true)?,
            max_lines: usize::try_from(number_attr(node, "sudo-prompt-max-lines", 12)?)
                .unwrap_or(usize::MAX),
            fail_on_max_lines: bool_attr(node, "sudo-fail-on-prompt-max-lines", false)?,
        }))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Prompt,
    Response,
    Done,
}

/// What the executor does with one piece of output.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Fed {
    /// Output to show (the prompt and the password's echo removed).
    pub show: Vec<u8>,
    /// To write to the command's terminal: the password and a newline.
    pub reply: Option<Vec<u8>>,
    /// Why the step fails: the command must be ended.
    pub failure: Option<String>,
}

/// Watches a sudo command's terminal output and answers its prompt.
pub(crate) struct Responder {
    settings: SudoSettings,
    password: String,
    phase: Phase,
    /// The current unterminated line, held back while it may be a prompt.
    tail: Vec<u8>,
    lines: usize,
    deadline: Option<Instant>,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder")
            .field("phase", &self.phase)
            .field("password", &"<redacted>")
            .finish()
    }
}

fn trimmed(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(line).into_owned()
}

impl Responder {
    pub(crate) fn new(settings: SudoSettings, password: String, now: Instant) -> Self {
        let deadline = Some(now + settings.timeout);
        Responder {
            settings,
            password,
            phase: Phase::Prompt,
            tail: Vec::new(),
            lines: 0,
            deadline,
        }
    }

    /// The password, to mask it should any output line contain it.
    pub(crate) fn password(&self) -> &str {
        &self.password
    }

    /// When [`Responder::expire`] is due.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    fn fail(&mut self, fed: &mut Fed, message: String) {
        self.phase = Phase::Done;
        self.deadline = None;
        fed.failure = Some(message);
    }

    /// Feeds terminal output.
    pub(crate) fn feed(&mut self, data: &[u8], now: Instant) -> Fed {
        let mut fed = Fed::default();
        self.tail.extend_from_slice(data);
        while let Some(end) = self.tail.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.tail.drain(..=end).collect();
            match self.phase {
                Phase::Prompt => {
                    fed.show.extend_from_slice(&line);
                    self.lines += 1;
                    if self.lines >= self.settings.max_lines {
                        if self.settings.fail_on_max_lines {
                            self.fail(&mut fed, self.no_prompt("lines"));
                            return fed;
                        }
                        self.phase = Phase::Done;
                        self.deadline = None;
                    }
                }
                Phase::Response => {
                    let text = trimmed(&line);
                    if text.trim().is_empty() {
                        // the newline sudo prints after reading the password
                        continue;
                    }
                    if self.settings.fail.is_match(&text) {
                        let message = format!(
                            "sudo did not accept the password ({text:?} matches \
                             sudo-fail-pattern {})",
                            self.settings.fail.as_str()
                        );
                        self.fail(&mut fed, message);
                        return fed;
                    }
                    self.phase = Phase::Done;
                    self.deadline = None;
                    fed.show.extend_from_slice(&line);
                }
                Phase::Done => fed.show.extend_from_slice(&line),
            }
        }
        let partial = trimmed(&self.tail);
        let prompted = !self.tail.is_empty() && self.settings.prompt.is_match(&partial);
        match self.phase {
            Phase::Response if prompted => {
                self.fail(
                    &mut fed,
                    format!("sudo asked for the password again ({partial:?}): it was not accepted"),
                );
            }
            Phase::Prompt | Phase::Done if prompted => {
                self.tail.clear();
                self.phase = Phase::Response;
                self.deadline = Some(now + self.settings.timeout);
                let mut reply = self.password.clone().into_bytes();
                reply.push(b'\n');
                fed.reply = Some(reply);
            }
            _ if self.tail.len() > MAX_HELD => {
                // too long for a prompt
                fed.show.append(&mut self.tail);
            }
            _ => {}
        }
        fed
    }

    fn no_prompt(&self, why: &str) -> String {
        let so_far = trimmed(&self.tail);
        let limit = match why {
            "lines" => format!("{} lines", self.settings.max_lines),
            _ => format!("{} ms", self.settings.timeout.as_millis()),
        };
        format!(
            "no sudo password prompt matching sudo-prompt-pattern {} within {limit}{}",
            self.settings.prompt.as_str(),
            if so_far.is_empty() {
                String::new()
            } else {
                format!(" (last output {so_far:?})")
            }
        )
    }

    /// The deadline passed: no prompt (fail or go on, as configured), or no
    /// complaint about the password (go on).
    pub(crate) fn expire(&mut self) -> Fed {
        let mut fed = Fed::default();
        if self.phase == Phase::Prompt && self.settings.fail_on_prompt_timeout {
            let message = self.no_prompt("time");
            self.fail(&mut fed, message);
            return fed;
        }
        self.phase = Phase::Done;
        self.deadline = None;
        fed
    }

    /// Output held back when the command ends.
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.tail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Node {
        Node::new("n").with("sudo-command-enabled", "true")
    }

    fn responder(node: &Node, now: Instant) -> Responder {
        let settings = SudoSettings::for_command(node, "sudo id")
            .expect("valid")
            .expect("needs sudo");
        Responder::new(settings, "pw".into(), now)
    }

    #[test]
    fn settings_follow_the_node_attributes() {
        assert!(SudoSettings::for_command(&Node::new("n"), "sudo id")
            .expect("valid")
            .is_none());
        assert!(SudoSettings::for_command(&node(), "id")
            .expect("valid")
            .is_none());
        assert!(SudoSettings::for_command(&node(), "sudo id")
            .expect("valid")
            .is_some());
        let custom = node().with("sudo-command-pattern", "^(sudo|doas) ");
        assert!(SudoSettings::for_command(&custom, "doas id")
            .expect("valid")
            .is_some());
        let bad = node().with("sudo-prompt-pattern", "(");
        let err = SudoSettings::for_command(&bad, "sudo id").expect_err("invalid");
        assert!(err.to_string().contains("sudo-prompt-pattern"), "{err}");
        let bad = node().with("sudo-response-timeout", "soon");
        assert!(SudoSettings::for_command(&bad, "sudo id").is_err());
    }

    #[test]
    fn answers_the_prompt_and_hides_it() {
        let now = Instant::now();
        let mut r = responder(&node(), now);
        let fed = r.feed(b"motd\n[sudo] password ", now);
        assert_eq!(fed.show, b"motd\n");
        assert_eq!(fed.reply, None);
        let fed = r.feed(b"for alice: ", now);
        assert_eq!(fed.show, b"");
        assert_eq!(fed.reply.as_deref(), Some(&b"pw\n"[..]));
        let fed = r.feed(b"\nroot\nmore", now);
        assert_eq!(fed.show, b"root\n");
        assert_eq!(fed.failure, None);
        assert_eq!(r.feed(b" text\n", now).show, b"more text\n");
        // a later sudo that asks again is answered again
        let fed = r.feed(b"[sudo] password for alice: ", now);
        assert_eq!((fed.show.as_slice(), fed.reply.is_some()), (&b""[..], true));
        assert_eq!(r.feed(b"\nok\n", now).show, b"ok\n");
        assert_eq!(r.finish(), b"");
    }

    #[test]
    fn a_refused_password_fails() {
        let now = Instant::now();
        let mut r = responder(&node(), now);
        assert!(r.feed(b"[sudo] password for a: ", now).reply.is_some());
        let fed = r.feed(b"\nSorry, try again.\n", now);
        assert!(
            fed.failure
                .as_deref()
                .is_some_and(|f| f.contains("did not accept")),
            "{fed:?}"
        );
        // a second prompt without the message fails as well
        let mut r = responder(&node().with("sudo-fail-pattern", "^nope$"), now);
        assert!(r.feed(b"[sudo] password for a: ", now).reply.is_some());
        let fed = r.feed(b"\n[sudo] password for a: ", now);
        assert!(fed.failure.is_some(), "{fed:?}");
    }

    #[test]
    fn no_prompt_in_time_fails_or_goes_on() {
        let now = Instant::now();
        let mut r = responder(&node(), now);
        assert_eq!(r.feed(b"Password: ", now), Fed::default());
        assert_eq!(r.deadline(), Some(now + Duration::from_secs(5)));
        let fed = r.expire();
        assert!(
            fed.failure
                .as_deref()
                .is_some_and(|f| f.contains("no sudo password prompt") && f.contains("Password:")),
            "{fed:?}"
        );
        let mut r = responder(&node().with("sudo-fail-on-prompt-timeout", "false"), now);
        assert_eq!(r.feed(b"partial", now).show, b"");
        assert_eq!(r.expire(), Fed::default());
        assert_eq!(r.feed(b" line\n", now).show, b"partial line\n");
        assert_eq!(r.deadline(), None);
        assert_eq!(r.feed(b"end", now).show, b"");
        assert_eq!(r.finish(), b"end");
    }

    #[test]
    fn gives_up_after_the_maximum_lines() {
        let now = Instant::now();
        let mut r = responder(&node().with("sudo-prompt-max-lines", "2"), now);
        assert_eq!(r.feed(b"a\nb\nc", now).show, b"a\nb\n");
        assert_eq!(r.deadline(), None);
        let mut r = responder(
            &node()
                .with("sudo-prompt-max-lines", "1")
                .with("sudo-fail-on-prompt-max-lines", "true"),
            now,
        );
        assert!(r.feed(b"a\n", now).failure.is_some());
    }
}
