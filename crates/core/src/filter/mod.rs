//! Rundeck node filters: parsing a filter string such as
//! `tags: web+prod !name: web1 env: prod` and selecting the nodes it matches.
//!
//! # Syntax
//!
//! A filter is a whitespace-separated sequence of terms:
//!
//! * `key: value` or `key:value` selects nodes whose attribute `key` matches
//!   `value`. A token ending in `:` is a key (up to its last `:`, so
//!   `as:test: elf` has key `as:test`) and the next token is its value
//!   verbatim, so `hostname: web1:2222` works; in any other token the first
//!   `:` splits key from value (`note:a:b` is `note: a:b`).
//! * A bare word (no `:`) is a value for `name`: `web1` is `name: web1`.
//! * A leading `!` (`!key: value`, `!web1`) puts the term in the exclude set.
//! * `'` or `"` quote a key or value containing whitespace: `name: "app
//!   server"`. As in Rundeck, a token starting with a quote is quoted up to
//!   the matching quote, a doubled quote inside is a literal quote, and colons
//!   are looked for after unquoting, so `'!env:dev box'` is `!env: "dev box"`.
//!   As an extension a quote may also open right after a `:` (`key:"a b"`).
//!   An unterminated quote is the only parse error.
//! * Keys are case-sensitive and kept as written. `nodename` reads the node
//!   name like `name`, and `os-family`, `os-name`, `os-arch`, `os-version`
//!   read `osFamily`, `osName`, `osArch`, `osVersion`, but, as in Rundeck, two
//!   spellings are two keys, so `name: a nodename: b` needs both to match.
//! * `hostname` is matched as stored, port included (`web2:2222`).
//!
//! # Matching
//!
//! * Terms with different keys must all match (AND). A key given several
//!   times has its values joined with `,` as Rundeck does, so
//!   `name: web1 name: web2` is the same filter as `name: web1,web2`.
//! * A value matches an attribute if it is equal to it, or is a regular
//!   expression matching the whole attribute, or is a comma-separated list
//!   one of whose items is equal to it. As Rundeck documents, the items of a
//!   list are compared exactly, not as regular expressions: `web.* db1`
//!   selects only `db1`; use `web.*|db1` to combine patterns.
//! * `/re/` is always a regular expression. A value that is not a valid
//!   regular expression (`web[`), or uses syntax the `regex` crate lacks
//!   (back-references, look-around), is compared by equality only.
//! * `tags` values use `,` for OR and `+` for AND: `tags: web+prod,db` is
//!   (web AND prod) OR db. Each tag pattern matches some tag by equality or
//!   regex. Empty pieces follow Rundeck's use of Java's `split`: `+web` and
//!   `web++prod` match nothing, `web+` is `web`, and a lone `+` matches any
//!   node with tags. A whole `/re/` containing `,` or `+` (`/a{1,2}/`) is one
//!   regex, where Rundeck would split it.
//! * A node without an attribute, or with a blank one, does not match a term
//!   on it (but is kept by an exclude term on it).
//! * `.*` (which is `name: .*`) matches every node.
//! * An empty filter, or one whose values are all blank, selects nothing.
//!   A filter with only exclude terms selects every node not excluded.
//! * With `exclude_precedence` (Rundeck's default) a node is selected if it
//!   matches the include set and not the exclude set. Without it the include
//!   set is dominant and, exactly as Rundeck's `NodeSet.shouldExclude`, a node
//!   is dropped only if it matches the exclude set and not the include set,
//!   so a node that matches neither set is kept.

mod matcher;
mod parse;

use crate::model::Node;
use matcher::Compiled;
use parse::{is_quote, is_separator};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A parsed node filter: include and exclude terms, each a map from attribute
/// name (as written) to the comma-joined values given for it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NodeFilter {
    include: BTreeMap<String, String>,
    exclude: BTreeMap<String, String>,
}

impl NodeFilter {
    /// Parses a filter string. Fails only on an unterminated quote, with the
    /// quote's 0-based character position in the message.
    pub fn parse(filter: &str) -> crate::Result<NodeFilter> {
        let (include, exclude) = parse::parse(filter)?;
        Ok(NodeFilter { include, exclude })
    }

    /// Whether `node` is selected. `exclude_precedence` decides a node that
    /// matches both the include and exclude sets (see the module docs).
    /// Compiles the filter's patterns on each call; prefer [`select`](Self::select)
    /// for many nodes.
    pub fn matches(&self, node: &Node, exclude_precedence: bool) -> bool {
        Compiled::new(self).accepts(node, exclude_precedence)
    }

    /// The selected nodes, in input order.
    pub fn select<'a>(&self, nodes: &'a [Node], exclude_precedence: bool) -> Vec<&'a Node> {
        let compiled = Compiled::new(self);
        nodes
            .iter()
            .filter(|n| compiled.accepts(n, exclude_precedence))
            .collect()
    }

    /// Whether the filter has no include and no exclude terms; such a filter
    /// selects nothing.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// The include terms: attribute name to comma-joined values.
    pub fn include(&self) -> &BTreeMap<String, String> {
        &self.include
    }

    /// The exclude terms: attribute name to comma-joined values.
    pub fn exclude(&self) -> &BTreeMap<String, String> {
        &self.exclude
    }
}

/// Writes `s` in double quotes, doubling any `"` inside.
fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    write!(f, "\"{}\"", s.replace('"', "\"\""))
}

fn needs_quotes(s: &str) -> bool {
    s.chars().any(|c| is_separator(c) || is_quote(c))
}

/// A canonical filter string: `key: value` for each include term, then
/// `!key: value` for each exclude term, keys in order, values quoted when they
/// contain whitespace or quotes. It parses back to an equal filter.
impl fmt::Display for NodeFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let terms = self
            .include
            .iter()
            .map(|(k, v)| ("", k, v))
            .chain(self.exclude.iter().map(|(k, v)| ("!", k, v)));
        for (i, (bang, key, value)) in terms.enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            // `key:` is a token of its own, so the key may hold colons and
            // the value after it is taken whatever it contains
            let key_token = format!("{bang}{key}:");
            if needs_quotes(&key_token) {
                write_quoted(f, &key_token)?;
            } else {
                f.write_str(&key_token)?;
            }
            f.write_str(" ")?;
            if needs_quotes(value) {
                write_quoted(f, value)?;
            } else {
                f.write_str(value)?;
            }
        }
        Ok(())
    }
}

impl FromStr for NodeFilter {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        NodeFilter::parse(s)
    }
}

#[cfg(test)]
mod tests;
