//! Matching of nodes against a filter, after Rundeck's `NodeSet`
//! (`matchRegexOrEquals`, `matchesInput`, `matchesInputSet`, `shouldExclude`).

use super::NodeFilter;
use crate::model::Node;
use regex::{Regex, RegexBuilder};
use std::collections::BTreeMap;

/// Upper bound on a compiled pattern, so a hostile filter cannot make
/// matching slow or memory hungry; a pattern over it is treated as invalid.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compiles `re` as a whole-string match (Java's `String.matches`), or `None`
/// if it is not a valid pattern on its own.
fn full_match_regex(re: &str) -> Option<Regex> {
    // without metacharacters a pattern means its literal text: equality
    // decides, and compiling would only cost time
    if regex::escape(re) == re {
        return None;
    }
    let build = |p: &str| RegexBuilder::new(p).size_limit(REGEX_SIZE_LIMIT).build();
    // check the pattern alone first: wrapping an unbalanced pattern such as
    // `a)|(b` could otherwise yield a valid but different one
    build(re).ok()?;
    build(&format!("^(?:{re})$")).ok()
}

/// Java's `String.split` with a one-char separator: without a separator the
/// whole string (even empty) is the only piece; otherwise trailing empty
/// pieces are dropped, so `"a,"` is `["a"]`, `",a"` is `["", "a"]` and `"+"`
/// has no pieces.
fn java_split(s: &str, sep: char) -> Vec<&str> {
    if !s.contains(sep) {
        return vec![s];
    }
    let mut pieces: Vec<&str> = s.split(sep).collect();
    while pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    pieces
}

/// One selector: `/re/` is always a regex; anything else matches by equality
/// or as a regex. An invalid regex falls back to equality.
#[derive(Debug)]
struct Pattern {
    literal: String,
    /// `.*`: matches every value without a regex
    any: bool,
    regex: Option<Regex>,
}

impl Pattern {
    fn new(selector: &str) -> Self {
        let s = selector.trim();
        let literal = match s.strip_prefix('/').and_then(|r| r.strip_suffix('/')) {
            Some(inner) if s.len() >= 2 => inner.trim(),
            _ => s,
        };
        let any = literal == ".*";
        Pattern {
            literal: literal.to_owned(),
            any,
            regex: if any { None } else { full_match_regex(literal) },
        }
    }

    fn is_match(&self, value: &str) -> bool {
        self.any || self.literal == value || self.regex.as_ref().is_some_and(|r| r.is_match(value))
    }
}

/// A compiled term for one key.
#[derive(Debug)]
enum Term {
    /// Any attribute but `tags`: the whole selector as a [`Pattern`], or any
    /// of its comma-separated items by exact equality.
    Attribute {
        key: String,
        whole: Pattern,
        items: Vec<String>,
    },
    /// `tags`: alternatives separated by `,`, each a `+`-separated list of
    /// patterns that must all match some tag.
    Tags(Vec<Vec<Pattern>>),
}

impl Term {
    fn new(key: &str, selector: &str) -> Self {
        if key == "tags" {
            let s = selector.trim();
            let single = !s.contains([',', '+'])
                || (s.len() >= 2 && s.starts_with('/') && s.ends_with('/') && {
                    let p = Pattern::new(s);
                    p.regex.is_some() || p.any || regex::escape(&p.literal) == p.literal
                });
            if single {
                return Term::Tags(vec![vec![Pattern::new(s)]]);
            }
            let alternatives = java_split(s, ',')
                .into_iter()
                .map(|alt| {
                    java_split(alt, '+')
                        .into_iter()
                        .map(|p| Pattern::new(p.trim()))
                        .collect()
                })
                .collect();
            return Term::Tags(alternatives);
        }
        Term::Attribute {
            key: key.to_owned(),
            whole: Pattern::new(selector),
            items: selector
                .split(',')
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }

    fn is_match(&self, node: &Node) -> bool {
        match self {
            Term::Attribute { key, whole, items } => match node.attribute(key) {
                Some(value) if !value.trim().is_empty() => {
                    whole.is_match(&value) || items.iter().any(|i| *i == *value)
                }
                _ => false,
            },
            Term::Tags(alternatives) => {
                !node.tags.is_empty()
                    && alternatives.iter().any(|pieces| {
                        // as in Rundeck, an empty piece (`web++db`, `,db`)
                        // matches no tag, while an alternative with no pieces
                        // at all (`+`) matches any tagged node
                        pieces
                            .iter()
                            .all(|p| node.tags.iter().any(|t| p.is_match(t)))
                    })
            }
        }
    }
}

/// A set of terms that must all match; an empty set matches nothing.
#[derive(Debug)]
struct TermSet(Vec<Term>);

impl TermSet {
    fn new(map: &BTreeMap<String, String>) -> Self {
        TermSet(map.iter().map(|(k, v)| Term::new(k, v)).collect())
    }

    fn is_match(&self, node: &Node) -> bool {
        !self.0.is_empty() && self.0.iter().all(|t| t.is_match(node))
    }
}

/// A filter with its patterns compiled, for matching many nodes.
#[derive(Debug)]
pub(crate) struct Compiled {
    include: TermSet,
    exclude: TermSet,
}

impl Compiled {
    pub(crate) fn new(filter: &NodeFilter) -> Self {
        Compiled {
            include: TermSet::new(&filter.include),
            exclude: TermSet::new(&filter.exclude),
        }
    }

    /// `!NodeSet.shouldExclude(node)`, with the include set dominant when
    /// `exclude_precedence` is false.
    pub(crate) fn accepts(&self, node: &Node, exclude_precedence: bool) -> bool {
        if self.exclude.0.is_empty() {
            return self.include.is_match(node);
        }
        if self.include.0.is_empty() {
            return !self.exclude.is_match(node);
        }
        let included = self.include.is_match(node);
        let excluded = self.exclude.is_match(node);
        if exclude_precedence {
            included && !excluded
        } else {
            included || !excluded
        }
    }
}
