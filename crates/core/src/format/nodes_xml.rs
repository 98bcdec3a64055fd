//! Writing nodes as Rundeck's `resourcexml` document, the shape Rundeck's
//! `ResourceXMLGenerator` writes (what `GET .../resources?format=xml`
//! answers):
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//!
//! <project>
//!   <node name="web1" description="" tags="a, b" hostname="h" osArch="" .../>
//! </project>
//! ```
//!
//! Every `<node>` carries `name`, `description`, `tags` (sorted, joined by
//! `", "`) and the six node attributes (`hostname`, `osArch`, `osFamily`,
//! `osName`, `osVersion`, `username`), empty when the node has none; every
//! other attribute follows as an XML attribute when its name can be one
//! (a letter, then letters, digits, `_` and `-`, not starting with `xml`),
//! else as a child `<attribute name="..." value="..."/>`. Line breaks, tabs
//! and carriage returns in values are written as character references so a
//! reader gets them back; other control characters cannot be held by
//! XML 1.0 and are left out.

use crate::Node;

/// The node attributes Rundeck writes on every `<node>`, in its order.
const NODE_PROPS: [&str; 6] = [
    "hostname",
    "osArch",
    "osFamily",
    "osName",
    "osVersion",
    "username",
];

/// Writes nodes as a Rundeck `resourcexml` document.
pub fn nodes_to_xml<'a>(nodes: impl IntoIterator<Item = &'a Node>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n<project>\n");
    for n in nodes {
        out.push_str("  <node");
        attr(&mut out, "name", &n.name);
        let description = n.attributes.get("description").map_or("", String::as_str);
        attr(&mut out, "description", description);
        let tags: Vec<&str> = n.tags.iter().map(String::as_str).collect();
        attr(&mut out, "tags", &tags.join(", "));
        for key in NODE_PROPS {
            attr(
                &mut out,
                key,
                n.attributes.get(key).map_or("", String::as_str),
            );
        }
        let mut children = Vec::new();
        for (key, value) in &n.attributes {
            if key == "description" || key == "nodename" || NODE_PROPS.contains(&key.as_str()) {
                continue;
            }
            if is_attribute_name(key) {
                attr(&mut out, key, value);
            } else {
                children.push((key, value));
            }
        }
        if children.is_empty() {
            out.push_str("/>\n");
            continue;
        }
        out.push_str(">\n");
        for (key, value) in children {
            out.push_str("    <attribute");
            attr(&mut out, "name", key);
            attr(&mut out, "value", value);
            out.push_str("/>\n");
        }
        out.push_str("  </node>\n");
    }
    out.push_str("</project>\n");
    out
}

/// Rundeck's test of an attribute name it writes as an XML attribute.
fn is_attribute_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(char::is_alphabetic)
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        && !key.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("xml"))
}

/// ` key="value"`, the value escaped for a double-quoted attribute.
fn attr(out: &mut String, key: &str, value: &str) {
    out.push(' ');
    out.push_str(key);
    out.push_str("=\"");
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;
    use quick_xml::Reader;
    use std::collections::BTreeMap;

    /// Each element's name and attributes (unescaped), in document order.
    fn elements(xml: &str) -> Vec<(String, BTreeMap<String, String>)> {
        let mut r = Reader::from_str(xml);
        let mut out = Vec::new();
        loop {
            match r.read_event().expect("well-formed XML") {
                Event::Start(e) | Event::Empty(e) => {
                    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                    let attrs = e
                        .attributes()
                        .map(|a| {
                            let a = a.expect("attribute");
                            let k = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                            let v = a.unescape_value().expect("value").into_owned();
                            (k, v)
                        })
                        .collect();
                    out.push((name, attrs));
                }
                Event::Eof => break,
                _ => {}
            }
        }
        out
    }

    #[test]
    fn nodes_as_rundeck_writes_them() {
        let web = Node::new("web1")
            .with("hostname", "10.0.0.1:22")
            .with("username", "deploy")
            .with("description", "front <\"one\"> & more\nline")
            .with("region", "eu-1")
            .with("app:port", "8080")
            .with("xmlish", "x")
            .with_tags(["web", "prod"]);
        let bare = Node::new("db");
        let xml = nodes_to_xml([&web, &bare]);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
        let els = elements(&xml);
        let names: Vec<&str> = els.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["project", "node", "attribute", "attribute", "node"],
            "{xml}"
        );
        let w = &els[1].1;
        assert_eq!(w["name"], "web1");
        assert_eq!(w["tags"], "prod, web");
        assert_eq!(w["hostname"], "10.0.0.1:22");
        assert_eq!(w["username"], "deploy");
        assert_eq!(w["osFamily"], "");
        assert_eq!(w["description"], "front <\"one\"> & more\nline");
        assert_eq!(w["region"], "eu-1");
        assert!(!w.contains_key("app:port") && !w.contains_key("xmlish"));
        assert_eq!(els[2].1["name"], "app:port");
        assert_eq!(els[2].1["value"], "8080");
        assert_eq!(els[3].1["name"], "xmlish");
        let d = &els[4].1;
        assert_eq!(d["name"], "db");
        assert_eq!(d["tags"], "");
        assert_eq!(d.len(), 9, "name, description, tags and the six node props");
    }

    #[test]
    fn no_nodes_is_an_empty_project() {
        let xml = nodes_to_xml(std::iter::empty());
        let els = elements(&xml);
        assert_eq!(els.len(), 1);
        assert_eq!(els[0].0, "project");
    }

    #[test]
    fn control_characters_xml_cannot_hold_are_left_out() {
        let n = Node::new("n").with("note", "a\u{1}b\tc");
        let els = elements(&nodes_to_xml([&n]));
        assert_eq!(els[1].1["note"], "ab\tc");
    }
}
