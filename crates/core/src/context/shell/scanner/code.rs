//! Command text: words, quotes, substitutions, operators and comments.

use super::{top_is, Frame, Scanner};
use crate::context::shell::commands::Command;
use crate::context::shell::word_start;
use crate::context::shell::{Dialect, Refusal};

impl Scanner<'_> {
    /// A character in command text, in `"..."` or in `${...}`; returns how
    /// many bytes it takes.
    pub(super) fn code_char(
        &mut self,
        c: char,
        next: Option<char>,
        rest: &str,
    ) -> Result<usize, Refusal> {
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
}
