//! Tokenizing and parsing of filter strings, after Rundeck's
//! `QuotedStringTokenizer` and `NodeSet.parseFilter`.

use std::collections::BTreeMap;

/// Characters that separate tokens: Rundeck's `StrMatcher.trimMatcher()`
/// (every char up to and including space) plus Unicode whitespace.
pub(crate) fn is_separator(c: char) -> bool {
    c <= ' ' || c.is_whitespace()
}

/// Whether `c` can open a quoted section.
pub(crate) fn is_quote(c: char) -> bool {
    c == '"' || c == '\''
}

/// One token of a filter string, with its quoting already removed.
#[derive(Debug)]
struct Token {
    text: String,
    /// Byte offset in `text` of the first `:` that was not inside quotes.
    first_colon: Option<usize>,
    /// Whether the last char of `text` is a `:` that was not inside quotes.
    ends_with_colon: bool,
}

/// Splits `input` at runs of whitespace. A quote (`'` or `"`) opens a quoted
/// section at the start of a token, right after an unquoted `:` (so
/// `key:"a b"` works) or right after another quoted section; elsewhere it is a
/// literal character. Inside a quoted section the same quote doubled stands
/// for itself. Returns the char offset of the opening quote if one is never
/// closed.
fn tokenize(input: &str) -> Result<Vec<Token>, (usize, char)> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().enumerate().peekable();
    loop {
        while chars.next_if(|&(_, c)| is_separator(c)).is_some() {}
        if chars.peek().is_none() {
            return Ok(tokens);
        }
        let mut tok = Token {
            text: String::new(),
            first_colon: None,
            ends_with_colon: false,
        };
        // whether the previous char allows a quote to open here
        let mut quote_may_open = true;
        while let Some(&(pos, c)) = chars.peek() {
            if is_separator(c) {
                break;
            }
            chars.next();
            if is_quote(c) && quote_may_open {
                let mut closed = false;
                while let Some((_, q)) = chars.next() {
                    if q == c {
                        if chars.next_if(|&(_, n)| n == c).is_some() {
                            tok.text.push(c);
                            continue;
                        }
                        closed = true;
                        break;
                    }
                    tok.text.push(q);
                }
                if !closed {
                    return Err((pos, c));
                }
                tok.ends_with_colon = false;
                quote_may_open = true;
                continue;
            }
            if c == ':' {
                if tok.first_colon.is_none() {
                    tok.first_colon = Some(tok.text.len());
                }
                tok.ends_with_colon = true;
                quote_may_open = true;
            } else {
                tok.ends_with_colon = false;
                quote_may_open = false;
            }
            tok.text.push(c);
        }
        tokens.push(tok);
    }
}

/// The include and exclude maps of a parsed filter: canonical key to the
/// comma-joined values given for it.
pub(crate) type Sets = (BTreeMap<String, String>, BTreeMap<String, String>);

/// The key a filter term is stored under: node-name and os aliases collapse to
/// one spelling so that `nodename: a name: b` ORs like `name: a,b`.
pub(crate) fn canonical_key(key: &str) -> String {
    match key {
        "nodename" => "name".to_owned(),
        other => crate::model::canonical_attribute(other).to_owned(),
    }
}

/// Parses a filter string into include and exclude maps, following
/// `NodeSet.parseFilter` with `joinMulti = true` and default key `name`.
pub(crate) fn parse(input: &str) -> crate::Result<Sets> {
    let tokens = tokenize(input).map_err(|(pos, quote)| crate::Error::Format {
        source_name: "node filter".into(),
        message: format!(
            "unterminated {quote} quote starting at character {pos} (0-based) of `{input}`"
        ),
    })?;
    let mut include = BTreeMap::new();
    let mut exclude = BTreeMap::new();
    let mut pending: Option<String> = None;
    for tok in tokens {
        let (key, value) = match pending.take() {
            // after `key:`, the next token is the value whatever it contains
            Some(key) => (key, tok.text),
            None if tok.ends_with_colon => {
                let mut key = tok.text;
                key.pop();
                pending = Some(key);
                continue;
            }
            None => match tok.first_colon {
                Some(i) => {
                    let value = tok.text[i + 1..].to_owned();
                    let mut key = tok.text;
                    key.truncate(i);
                    (key, value)
                }
                None => match tok.text.strip_prefix('!') {
                    Some(rest) => ("!name".to_owned(), rest.to_owned()),
                    None => ("name".to_owned(), tok.text),
                },
            },
        };
        let (set, key) = match key.strip_prefix('!') {
            Some(k) => (&mut exclude, k),
            None => (&mut include, key.as_str()),
        };
        // Rundeck treats blank selectors as absent
        if value.chars().all(is_separator) {
            continue;
        }
        set.entry(canonical_key(key))
            .and_modify(|joined: &mut String| {
                joined.push(',');
                joined.push_str(&value);
            })
            .or_insert(value);
    }
    Ok((include, exclude))
}
