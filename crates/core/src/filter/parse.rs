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

/// Splits `input` at runs of whitespace, like Rundeck's
/// `QuotedStringTokenizer`: a token that starts with a quote (`'` or `"`) is
/// quoted up to the matching quote, and that same quote opens a new quoted
/// section wherever it appears later in the token. Inside a quoted section the
/// quote doubled stands for itself. As an extension, a token that does not
/// start with a quote may open one right after a `:` (`key:"a b"`). Any other
/// quote is a literal character.
///
/// Returns the char offset and kind of an opening quote that is never closed.
fn tokenize(input: &str) -> Result<Vec<String>, (usize, char)> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().enumerate().peekable();
    loop {
        while chars.next_if(|&(_, c)| is_separator(c)).is_some() {}
        if chars.peek().is_none() {
            return Ok(tokens);
        }
        let mut text = String::new();
        // the quote character of this token, once one has opened
        let mut token_quote: Option<char> = None;
        let mut after_colon = false;
        while let Some(&(pos, c)) = chars.peek() {
            if is_separator(c) {
                break;
            }
            chars.next();
            let opens = is_quote(c)
                && match token_quote {
                    Some(q) => q == c,
                    None => text.is_empty() || after_colon,
                };
            after_colon = false;
            if !opens {
                after_colon = c == ':';
                text.push(c);
                continue;
            }
            token_quote = Some(c);
            let mut closed = false;
            while let Some((_, q)) = chars.next() {
                if q == c {
                    if chars.next_if(|&(_, n)| n == c).is_some() {
                        text.push(c);
                        continue;
                    }
                    closed = true;
                    break;
                }
                text.push(q);
            }
            if !closed {
                return Err((pos, c));
            }
        }
        tokens.push(text);
    }
}

/// The include and exclude maps of a parsed filter: attribute name as written
/// to the comma-joined values given for it.
pub(crate) type Sets = (BTreeMap<String, String>, BTreeMap<String, String>);

/// Parses a filter string into include and exclude maps, following
/// `NodeSet.parseFilter` with `joinMulti = true` and default key `name`. The
/// `:` that ends a key is found in the unquoted text, so `'!k:a b'` is
/// `!k: 'a b'` as in Rundeck.
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
    for mut tok in tokens {
        let (key, value) = match pending.take() {
            // after `key:`, the next token is the value whatever it contains
            Some(key) => (key, tok),
            // `key:` (the last colon ends the key: `a:b: v` is key `a:b`)
            None if tok.ends_with(':') => {
                tok.pop();
                pending = Some(tok);
                continue;
            }
            None => match tok.find(':') {
                Some(i) => {
                    let value = tok[i + 1..].to_owned();
                    tok.truncate(i);
                    (tok, value)
                }
                // a bare word is a name; `!word` excludes it (Rundeck would
                // take `!word` as an included name starting with `!`)
                None => match tok.strip_prefix('!') {
                    Some(rest) => ("!name".to_owned(), rest.to_owned()),
                    None => ("name".to_owned(), tok),
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
        set.entry(key.to_owned())
            .and_modify(|joined: &mut String| {
                joined.push(',');
                joined.push_str(&value);
            })
            .or_insert(value);
    }
    Ok((include, exclude))
}
