//! A node: a host that steps run on, described by Rundeck resource attributes.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A node as Rundeck's resource model describes it: a name, a set of tags and
/// free-form string attributes. The well-known attributes (`hostname`,
/// `username`, `osFamily`, ...) live in `attributes` under their Rundeck names,
/// so a node read from a file is written back unchanged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    /// `nodename`: unique within a project.
    pub name: String,
    /// `tags`, without surrounding whitespace and without empty entries.
    pub tags: BTreeSet<String>,
    /// Every other attribute, by its Rundeck name.
    pub attributes: BTreeMap<String, String>,
}

impl Node {
    /// A node with a name and no attributes.
    pub fn new(name: impl Into<String>) -> Self {
        Node {
            name: name.into(),
            ..Node::default()
        }
    }

    /// Builder-style attribute setter.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.set(key, value);
        self
    }

    /// Builder-style tag setter.
    pub fn with_tags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tags: I) -> Self {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Sets an attribute; `nodename`/`name` and `tags` go to their own fields.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match key {
            "nodename" | "name" => self.name = value,
            "tags" => self.tags = parse_tags(&value),
            _ => {
                self.attributes.insert(key.to_owned(), value);
            }
        }
    }

    /// The value of an attribute by Rundeck name or node-filter alias
    /// (`name`, `nodename`, `tags`, `os-family`, `osFamily`, ...).
    pub fn attribute(&self, key: &str) -> Option<Cow<'_, str>> {
        match key {
            "name" | "nodename" => Some(Cow::Borrowed(&self.name)),
            "tags" => Some(Cow::Owned(self.tags_string())),
            _ => self
                .attributes
                .get(canonical_attribute(key))
                .map(|v| Cow::Borrowed(v.as_str())),
        }
    }

    /// `hostname`, which may carry a port (`host:port`, `[::1]:22`).
    pub fn hostname(&self) -> Option<&str> {
        self.get("hostname")
    }

    /// `username` to log in as.
    pub fn username(&self) -> Option<&str> {
        self.get("username")
    }

    /// `osFamily` (`unix`, `windows`).
    pub fn os_family(&self) -> Option<&str> {
        self.get("osFamily")
    }

    /// `node-executor`: which executor runs this node's steps.
    pub fn executor(&self) -> Option<&str> {
        self.get("node-executor")
    }

    /// The host part of `hostname` and its port if one is given.
    pub fn host_port(&self) -> Option<(String, Option<u16>)> {
        let raw = self.hostname()?.trim();
        if let Some(rest) = raw.strip_prefix('[') {
            let (host, tail) = rest.split_once(']')?;
            let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
            return Some((host.to_owned(), port));
        }
        match raw.rsplit_once(':') {
            // more than one colon without brackets: a bare IPv6 address
            Some((host, port)) if !host.contains(':') => match port.parse() {
                Ok(p) => Some((host.to_owned(), Some(p))),
                Err(_) => Some((raw.to_owned(), None)),
            },
            _ => Some((raw.to_owned(), None)),
        }
    }

    /// Tags joined the way Rundeck writes them: `a,b,c`.
    pub fn tags_string(&self) -> String {
        self.tags.iter().cloned().collect::<Vec<_>>().join(",")
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// Maps node-filter spellings of the os attributes to their stored names.
pub fn canonical_attribute(key: &str) -> &str {
    match key {
        "os-family" => "osFamily",
        "os-name" => "osName",
        "os-arch" => "osArch",
        "os-version" => "osVersion",
        other => other,
    }
}

/// Splits a Rundeck tag string (`"web, prod"`) into a set.
pub fn parse_tags(s: &str) -> BTreeSet<String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("nodename", &self.name)?;
        for (k, v) in &self.attributes {
            m.serialize_entry(k, v)?;
        }
        if !self.tags.is_empty() {
            m.serialize_entry("tags", &self.tags_string())?;
        }
        m.end()
    }
}

/// A value in a resource document: a scalar or a list of tags.
#[derive(Deserialize)]
#[serde(untagged)]
enum AttrValue {
    Str(String),
    Bool(bool),
    Int(i64),
    Float(f64),
    List(Vec<String>),
    Null(()),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of node attributes")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut node = Node::default();
                while let Some(key) = map.next_key::<String>()? {
                    let value: AttrValue = map.next_value().map_err(|_| {
                        de::Error::custom(format!(
                            "attribute `{key}` must be a string, number or boolean (tags may be a list)"
                        ))
                    })?;
                    let value = match value {
                        AttrValue::Str(s) => s,
                        AttrValue::Bool(b) => b.to_string(),
                        AttrValue::Int(i) => i.to_string(),
                        AttrValue::Float(f) => f.to_string(),
                        AttrValue::Null(()) => continue,
                        AttrValue::List(items) if key == "tags" => items.join(","),
                        AttrValue::List(_) => {
                            return Err(de::Error::custom(format!(
                                "attribute `{key}` must be a string, not a list"
                            )))
                        }
                    };
                    node.set(&key, value);
                }
                Ok(node)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        let n = |h: &str| Node::new("n").with("hostname", h).host_port();
        assert_eq!(n("web1"), Some(("web1".into(), None)));
        assert_eq!(n("web1:2222"), Some(("web1".into(), Some(2222))));
        assert_eq!(n("[::1]:22"), Some(("::1".into(), Some(22))));
        assert_eq!(n("::1"), Some(("::1".into(), None)));
        assert_eq!(Node::new("x").host_port(), None);
    }

    #[test]
    fn aliases_and_tags() {
        let n = Node::new("a")
            .with("osFamily", "unix")
            .with("tags", " web, prod ,,");
        assert_eq!(n.attribute("os-family").as_deref(), Some("unix"));
        assert_eq!(n.attribute("name").as_deref(), Some("a"));
        assert_eq!(n.tags_string(), "prod,web");
    }
}
