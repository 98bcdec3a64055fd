//! The generic value Rundeck reads an XML element into before it knows
//! what the element means: a string, a map of attributes and child
//! elements, or a list where a child name repeats. Each value remembers the
//! line it came from, so that an error found later can point at it.

use super::xml_tree::Elem;
use indexmap::IndexMap;
use serde_json::Value;
use std::collections::HashMap;

/// Key of an element's text when it also has attributes.
pub(crate) const TEXT: &str = "<text>";

/// Prefix of a builder key that the XML writer writes as an attribute.
pub(crate) const ATTR: &str = "@attr:";

/// The builder key of an attribute.
pub(crate) fn attr(name: &str) -> String {
    format!("{ATTR}{name}")
}

/// A value read from XML, with its line.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct XNode {
    pub v: XVal,
    pub line: usize,
}

/// The kinds of [`XNode`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum XVal {
    /// Text, or an empty element (`""`).
    Text(String),
    /// Attributes and child elements by name.
    Map(XMap),
    /// A child element name that occurred more than once.
    List(Vec<XNode>),
    /// A converted value (a boolean, a generic data structure, a split list).
    Data(Value),
}

pub(crate) type XMap = IndexMap<String, XNode>;

/// Why a job element cannot be read, and where.
#[derive(Debug)]
pub(crate) struct XErr {
    pub line: usize,
    pub msg: String,
}

pub(crate) fn xerr(line: usize, msg: impl Into<String>) -> XErr {
    XErr {
        line,
        msg: msg.into(),
    }
}

impl XNode {
    pub fn new(v: XVal, line: usize) -> Self {
        XNode { v, line }
    }

    pub fn data(v: Value, line: usize) -> Self {
        XNode::new(XVal::Data(v), line)
    }

    pub fn text(&self) -> Option<&str> {
        match &self.v {
            XVal::Text(s) => Some(s),
            XVal::Data(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// Groovy truth: a non-empty string, map or list.
    pub fn truthy(&self) -> bool {
        match &self.v {
            XVal::Text(s) => !s.is_empty(),
            XVal::Map(m) => !m.is_empty(),
            XVal::List(l) => !l.is_empty(),
            XVal::Data(Value::Null) | XVal::Data(Value::Bool(false)) => false,
            XVal::Data(Value::String(s)) => !s.is_empty(),
            XVal::Data(Value::Array(a)) => !a.is_empty(),
            XVal::Data(Value::Object(o)) => !o.is_empty(),
            XVal::Data(_) => true,
        }
    }

    /// A single value as a list of one; a list as itself.
    pub fn into_list(self) -> Vec<XNode> {
        match self.v {
            XVal::List(l) => l,
            _ => vec![self],
        }
    }

    /// The value as JSON, recording the line of every path (in
    /// `serde_path_to_error`'s notation) into `lines`.
    pub fn into_json(self, path: &str, lines: &mut HashMap<String, usize>) -> Value {
        lines.insert(path.to_owned(), self.line);
        match self.v {
            XVal::Text(s) => Value::String(s),
            XVal::Data(v) => v,
            XVal::List(items) => Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, n)| n.into_json(&format!("{path}[{i}]"), lines))
                    .collect(),
            ),
            XVal::Map(m) => Value::Object(
                m.into_iter()
                    .map(|(k, n)| {
                        let p = if path.is_empty() {
                            k.clone()
                        } else {
                            format!("{path}.{k}")
                        };
                        (k, n.into_json(&p, lines))
                    })
                    .collect(),
            ),
        }
    }
}

/// Rundeck's reading of a flag: a non-blank string is true when it says
/// `true` (any case), false otherwise; anything else is the default.
pub(crate) fn string_to_bool(n: Option<&XNode>, default: bool) -> bool {
    match n.map(|n| &n.v) {
        Some(XVal::Data(Value::Bool(b))) => *b,
        Some(XVal::Text(s)) if !s.trim().is_empty() => s.eq_ignore_ascii_case("true"),
        _ => default,
    }
}

/// Replaces a present flag with its boolean.
pub(crate) fn make_bool(m: &mut XMap, key: &str, default: bool) {
    if let Some(n) = m.get_mut(key) {
        let b = string_to_bool(Some(n), default);
        n.v = XVal::Data(Value::Bool(b));
    }
}

/// The first line in `lines` of `path` or of the nearest path above it.
pub(crate) fn line_of(lines: &HashMap<String, usize>, path: &str) -> Option<usize> {
    let mut p = path;
    loop {
        if let Some(l) = lines.get(p) {
            return Some(*l);
        }
        match p.rfind(['.', '[']) {
            Some(cut) => p = &p[..cut],
            None if !p.is_empty() => p = "",
            None => return None,
        }
    }
}

/// `<configuration>` (or an option's `<config>`) of `<entry key value>`
/// elements as a map of key to value; entries without a key are skipped.
pub(crate) fn entries(n: XNode) -> XNode {
    let line = n.line;
    let mut out = serde_json::Map::new();
    if let XVal::Map(mut m) = n.v {
        if let Some(e) = m.shift_remove("entry") {
            for entry in e.into_list() {
                if let XVal::Map(mut em) = entry.v {
                    let Some(key) = em.get("key").and_then(XNode::text).map(str::to_owned) else {
                        continue;
                    };
                    let value = em
                        .shift_remove("value")
                        .map_or(Value::Null, |v| v.into_json("", &mut HashMap::new()));
                    out.insert(key, value);
                }
            }
        }
    }
    XNode::data(Value::Object(out), line)
}

/// An element as Rundeck's generic reader sees it (name left out): a map of
/// its attributes and children, its text alone, or `""` when empty. A child
/// `<element name="k">` counts as a child named `k`; an element with
/// `data="true"` and one child holds a generic data structure.
pub(crate) fn to_object(e: Elem) -> XNode {
    let line = e.line;
    if e.attr("data") == Some("true") && e.children.len() == 1 && e.text.is_empty() {
        if let Some(child) = e.children.first() {
            return XNode::data(data_value(child), line);
        }
    }
    let mut map = XMap::new();
    if !e.text.is_empty() {
        map.insert(TEXT.into(), XNode::new(XVal::Text(e.text), line));
    }
    for (k, v) in e.attrs {
        map.insert(k, XNode::new(XVal::Text(v), line));
    }
    let saw_elements = !e.children.is_empty();
    for mut child in e.children {
        let mut name = std::mem::take(&mut child.name);
        if name == "element" {
            if let Some(i) = child.attrs.iter().position(|(k, _)| k == "name") {
                name = child.attrs.remove(i).1;
            }
        }
        let obj = to_object(child);
        match map.get_mut(&name) {
            Some(XNode {
                v: XVal::List(items),
                ..
            }) => items.push(obj),
            Some(existing) => {
                let first = existing.clone();
                *existing = XNode::new(XVal::List(vec![first, obj]), existing.line);
            }
            None => {
                map.insert(name, obj);
            }
        }
    }
    if map.len() == 1 {
        if let Some(XNode {
            v: XVal::Text(_), ..
        }) = map.get(TEXT)
        {
            return map
                .swap_remove(TEXT)
                .unwrap_or(XNode::new(XVal::Text(String::new()), line));
        }
    }
    if map.is_empty() {
        return XNode::new(XVal::Text(String::new()), line);
    }
    if saw_elements {
        map.shift_remove(TEXT);
    }
    XNode::new(XVal::Map(map), line)
}

/// A generic data structure: `<map>` of children keyed by their `key`
/// attribute, `<list>` and `<set>` of children, `<value>` (or `<string>`,
/// as the format reference writes it) of text.
pub(crate) fn data_value(e: &Elem) -> Value {
    match e.name.as_str() {
        "map" => Value::Object(
            e.children
                .iter()
                .filter_map(|c| Some((c.attr("key")?.to_owned(), data_value(c))))
                .collect(),
        ),
        "list" | "set" => Value::Array(e.children.iter().map(data_value).collect()),
        "value" | "string" if e.children.is_empty() && !e.text.is_empty() => {
            Value::String(e.text.clone())
        }
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::super::xml_tree::parse;
    use super::*;

    fn obj(src: &str) -> Value {
        let mut lines = HashMap::new();
        to_object(parse(src, "t").expect("parses")).into_json("", &mut lines)
    }

    #[test]
    fn elements_become_maps_lists_and_strings() {
        assert_eq!(obj("<a/>"), Value::String(String::new()));
        assert_eq!(obj("<a> x </a>"), serde_json::json!("x"));
        assert_eq!(
            obj("<a k='v'>t</a>"),
            serde_json::json!({"<text>": "t", "k": "v"})
        );
        assert_eq!(
            obj("<a k='v'>t<b>1</b><b>2</b><element name='x y'>3</element></a>"),
            serde_json::json!({"k": "v", "b": ["1", "2"], "x y": "3"})
        );
        assert_eq!(
            obj("<c data='true'><map><value key='a'>1</value><list key='b'><value>x</value><string>y</string></list><map key='c'/></map></c>"),
            serde_json::json!({"a": "1", "b": ["x", "y"], "c": {}})
        );
    }

    #[test]
    fn lines_follow_paths() {
        let mut lines = HashMap::new();
        let v = to_object(parse("<a>\n<b>\n<c>1</c>\n<c>2</c>\n</b>\n</a>", "t").expect("parses"))
            .into_json("", &mut lines);
        assert_eq!(v, serde_json::json!({"b": {"c": ["1", "2"]}}));
        assert_eq!(line_of(&lines, "b.c[1]"), Some(4));
        assert_eq!(line_of(&lines, "b.c[1].zz"), Some(4));
        assert_eq!(line_of(&lines, "b.q"), Some(2));
    }
}
