//! A small element tree read from an XML document, with the limits every
//! document of [`crate::format`] gets: its size, its nesting depth, and no
//! DTD (so no entity can be declared, expanded or fetched).
//!
//! Text is kept as a Java `XmlParser` (Rundeck's reader) sees it: the text
//! between two tags (CDATA sections and references included) is trimmed,
//! pieces left empty are dropped, and an element's text is its pieces joined.
//! Attribute values are normalized as XML requires (a literal tab or line
//! break becomes a space; `&#10;` stays a line break).

use super::guard::check_size;
use super::MAX_NESTING_DEPTH;
use crate::{Error, Result};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// One element: its name, attributes, child elements and text.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Elem {
    /// Tag name, as written (prefixes included).
    pub name: String,
    /// Attributes in document order, values unescaped.
    pub attrs: Vec<(String, String)>,
    /// Child elements in document order.
    pub children: Vec<Elem>,
    /// The element's own text: its trimmed, non-empty pieces joined.
    pub text: String,
    /// 1-based line of the start tag.
    pub line: usize,
}

impl Elem {
    /// The value of an attribute.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Counts lines up to a byte offset; offsets only grow.
struct Lines<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
}

impl Lines<'_> {
    fn at(&mut self, offset: u64) -> usize {
        let offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.src.len());
        if offset > self.pos {
            self.line += self.src[self.pos..offset]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.pos = offset;
        }
        self.line
    }
}

/// Reads `src` into its root element.
pub(crate) fn parse(src: &str, source_name: &str) -> Result<Elem> {
    check_size(src, source_name)?;
    let fail =
        |line: usize, msg: String| Error::format(source_name, format!("{msg} at line {line}"));
    let mut reader = Reader::from_str(src);
    let config = reader.config_mut();
    config.trim_text(false);
    config.expand_empty_elements = true;
    config.check_end_names = true;
    config.check_comments = true;
    let mut lines = Lines {
        src: src.as_bytes(),
        pos: 0,
        line: 1,
    };
    // open elements, innermost last, each with the text piece being read
    let mut open: Vec<(Elem, String)> = Vec::new();
    let mut root: Option<Elem> = None;
    loop {
        let before = reader.buffer_position();
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                let line = lines.at(reader.error_position());
                return Err(fail(line, format!("not well-formed XML: {e}")));
            }
        };
        let line = lines.at(before);
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(fail(line, "a second root element".into()));
                }
                if open.len() >= MAX_NESTING_DEPTH {
                    return Err(fail(
                        line,
                        format!("document nests deeper than {MAX_NESTING_DEPTH} levels"),
                    ));
                }
                if let Some((parent, piece)) = open.last_mut() {
                    push_piece(parent, &std::mem::take(piece));
                }
                let elem = start_elem(&start, line).map_err(|m| fail(line, m))?;
                open.push((elem, String::new()));
            }
            Event::End(_) => {
                // the reader checks that the end tag matches its start tag
                let Some((mut elem, piece)) = open.pop() else {
                    return Err(fail(line, "an end tag without its start tag".into()));
                };
                push_piece(&mut elem, &piece);
                match open.last_mut() {
                    Some((parent, _)) => parent.children.push(elem),
                    None => root = Some(elem),
                }
            }
            Event::Text(t) => {
                let text = t
                    .xml10_content()
                    .map_err(|e| fail(line, format!("text is not UTF-8: {e}")))?;
                match open.last_mut() {
                    Some((_, piece)) => piece.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(fail(line, "text outside the root element".into())),
                }
            }
            Event::CData(t) => {
                let text = t
                    .xml10_content()
                    .map_err(|e| fail(line, format!("CDATA is not UTF-8: {e}")))?;
                match open.last_mut() {
                    Some((_, piece)) => piece.push_str(&text),
                    None => return Err(fail(line, "CDATA outside the root element".into())),
                }
            }
            Event::GeneralRef(r) => {
                let name = r
                    .decode()
                    .map_err(|e| fail(line, format!("reference is not UTF-8: {e}")))?;
                let resolved = resolve_ref(&name).map_err(|m| fail(line, m))?;
                match open.last_mut() {
                    Some((_, piece)) => piece.push_str(&resolved),
                    None => return Err(fail(line, "a reference outside the root element".into())),
                }
            }
            Event::DocType(_) => {
                return Err(fail(
                    line,
                    "a DTD (<!DOCTYPE ...>) is not accepted: job documents declare no entities"
                        .into(),
                ))
            }
            Event::Empty(_) => {
                // expand_empty_elements turns `<a/>` into Start and End
                return Err(fail(line, "unexpected empty element event".into()));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some((elem, _)) = open.last() {
        return Err(Error::format(
            source_name,
            format!(
                "the document ends inside <{}> (opened at line {})",
                elem.name, elem.line
            ),
        ));
    }
    root.ok_or_else(|| Error::format(source_name, "the document has no root element"))
}

/// Adds a finished text piece to an element: trimmed, and only when not empty.
fn push_piece(elem: &mut Elem, piece: &str) {
    let t = piece.trim_matches(|c: char| c <= ' ');
    if !t.is_empty() {
        elem.text.push_str(t);
    }
}

fn start_elem(start: &BytesStart<'_>, line: usize) -> std::result::Result<Elem, String> {
    let name = std::str::from_utf8(start.name().as_ref())
        .map_err(|e| format!("element name is not UTF-8: {e}"))?
        .to_owned();
    let mut attrs = Vec::new();
    for a in start.attributes() {
        let a = a.map_err(|e| format!("bad attribute in <{name}>: {e}"))?;
        let key = std::str::from_utf8(a.key.as_ref())
            .map_err(|e| format!("attribute name in <{name}> is not UTF-8: {e}"))?
            .to_owned();
        let raw = std::str::from_utf8(&a.value)
            .map_err(|e| format!("attribute {key} of <{name}> is not UTF-8: {e}"))?;
        let value = attr_value(raw).map_err(|m| format!("attribute {key} of <{name}>: {m}"))?;
        attrs.push((key, value));
    }
    Ok(Elem {
        name,
        attrs,
        children: Vec::new(),
        text: String::new(),
        line,
    })
}

/// An attribute value: literal line breaks and tabs become spaces (XML's
/// attribute-value normalization), then references are resolved.
fn attr_value(raw: &str) -> std::result::Result<String, String> {
    let mut normalized = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                normalized.push(' ');
            }
            '\n' | '\t' => normalized.push(' '),
            c => normalized.push(c),
        }
    }
    let mut out = String::with_capacity(normalized.len());
    let mut rest = normalized.as_str();
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after
            .find(';')
            .ok_or_else(|| "an `&` that starts no reference (write `&amp;`)".to_owned())?;
        out.push_str(&resolve_ref(&after[..end])?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Resolves a reference's name (`amp`, `#10`, `#x41`): XML's five predefined
/// entities and character references; anything else is refused, since no
/// DTD can declare it.
fn resolve_ref(name: &str) -> std::result::Result<String, String> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix('x') {
            Some(hex) => u32::from_str_radix(hex, 16),
            None => num.parse::<u32>(),
        }
        .map_err(|_| format!("`&{name};` is not a character reference"))?;
        return match char::from_u32(code) {
            Some(c) if c != '\0' => Ok(c.to_string()),
            _ => Err(format!("`&{name};` names no character")),
        };
    }
    match name {
        "amp" => Ok("&".into()),
        "lt" => Ok("<".into()),
        "gt" => Ok(">".into()),
        "quot" => Ok("\"".into()),
        "apos" => Ok("'".into()),
        _ => Err(format!(
            "entity `&{name};` is not one of XML's predefined entities; \
             job documents may use only those and character references"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_per_piece_and_joined() {
        let e = parse(
            "<a x='1&#10;2' y=\"p\nq\">  one <b/> two <![CDATA[ <three> ]]> &amp; </a>",
            "t",
        )
        .expect("parses");
        assert_eq!(e.text, "onetwo  <three>  &");
        assert_eq!(e.attr("x"), Some("1\n2"));
        assert_eq!(e.attr("y"), Some("p q"));
        assert_eq!(e.children.len(), 1);
    }

    #[test]
    fn lines_are_counted() {
        let e = parse("<a>\n  <b/>\n\n  <c>x</c>\n</a>", "t").expect("parses");
        assert_eq!(e.line, 1);
        assert_eq!(e.children[0].line, 2);
        assert_eq!(e.children[1].line, 4);
    }

    #[test]
    fn refuses_dtds_entities_depth_and_bad_markup() {
        let cases = [
            (
                "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
                "DTD (<!DOCTYPE ...>) is not accepted",
            ),
            ("<a>&x;</a>", "entity `&x;` is not one of XML's predefined"),
            ("<a b='&x;'/>", "entity `&x;`"),
            ("<a>\n<b></c></a>", "at line 2"),
            ("<a/><b/>", "a second root element"),
            ("<a>", "ends inside <a>"),
            ("", "no root element"),
            ("<a b='&'/>", "an `&` that starts no reference"),
        ];
        for (src, want) in cases {
            let err = parse(src, "t").expect_err(src).to_string();
            assert!(err.contains(want), "{src}: {err}");
        }
        let deep = "<a>".repeat(MAX_NESTING_DEPTH + 1) + &"</a>".repeat(MAX_NESTING_DEPTH + 1);
        let err = parse(&deep, "t").expect_err("too deep").to_string();
        assert!(err.contains("nests deeper"), "{err}");
        let ok = "<a>".repeat(MAX_NESTING_DEPTH) + &"</a>".repeat(MAX_NESTING_DEPTH);
        parse(&ok, "t").expect("64 levels are fine");
    }
}
