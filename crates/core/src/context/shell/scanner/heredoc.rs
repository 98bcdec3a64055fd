//! Here-documents: `<<WORD` redirections and their bodies.

use super::{Doc, Frame, PendingDoc, Scanner};
use crate::context::shell::{parse_token, Refusal};

impl Scanner<'_> {
    /// At the end of a here-document body line: refuses when the values
    /// written on it made a line that ends the document early.
    pub(super) fn check_doc_line(&self, d: &Doc) -> Result<(), Refusal> {
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

    /// Reads `<<WORD` or `<<-WORD` at the start of `rest`; returns its length.
    pub(super) fn heredoc_redirect(&mut self, rest: &str) -> Result<usize, Refusal> {
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
    pub(super) fn start_docs(&mut self) {
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
