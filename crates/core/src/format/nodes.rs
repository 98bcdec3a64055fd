//! Resource-model documents: nodes in YAML or JSON.

use super::guard::{scan_json, scan_yaml_stream, yaml_message, Root};
use super::NodeFormat;
use crate::{Error, Node, Result};
use indexmap::IndexMap;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// Reads a resource-model document in the given format.
pub fn parse_nodes(src: &str, source_name: &str, format: NodeFormat) -> Result<Vec<Node>> {
    match format {
        NodeFormat::Yaml => parse_nodes_yaml(src, source_name),
        NodeFormat::Json => parse_nodes_json(src, source_name),
    }
}

/// Reads a Rundeck `resourceyaml` document: a map of node name to
/// attributes, or a list of attribute maps each with a `nodename`.
///
/// Several `---`-separated documents are read in turn, as Rundeck does.
/// Nodes come back in document order; a repeated name replaces the earlier
/// node in its place (the later entry wins).
pub fn parse_nodes_yaml(src: &str, source_name: &str) -> Result<Vec<Node>> {
    // Like Rundeck, several `---`-separated documents are read in turn.
    let roots = scan_yaml_stream(src, source_name)?;
    let mut nodes = Vec::new();
    for (doc, root) in serde_yaml_ng::Deserializer::from_str(src).zip(roots) {
        if root == Root::Null {
            continue;
        }
        let more = NodesSeed
            .deserialize(doc)
            .map_err(|e| Error::format(source_name, yaml_message(&e)))?;
        nodes.extend(more);
    }
    Ok(dedup(nodes))
}

/// Reads a Rundeck `resourcejson` document: an object of node name to
/// attributes, or an array of attribute objects each with a `nodename`.
///
/// Repeated names are handled as in [`parse_nodes_yaml`].
pub fn parse_nodes_json(src: &str, source_name: &str) -> Result<Vec<Node>> {
    if scan_json(src, source_name)? == Root::Null {
        return Ok(Vec::new());
    }
    let mut de = serde_json::Deserializer::from_str(src);
    NodesSeed
        .deserialize(&mut de)
        .and_then(|nodes| de.end().map(|()| nodes))
        .map(dedup)
        .map_err(|e| Error::format(source_name, e.to_string()))
}

/// Writes nodes as a `resourceyaml` map keyed by node name.
pub fn nodes_to_yaml(nodes: &[Node]) -> Result<String> {
    serde_yaml_ng::to_string(&by_name(nodes))
        .map_err(|e| Error::format("<yaml export>", e.to_string()))
}

/// Writes nodes as a `resourcejson` object keyed by node name, indented.
pub fn nodes_to_json(nodes: &[Node]) -> Result<String> {
    serde_json::to_string_pretty(&by_name(nodes))
        .map_err(|e| Error::format("<json export>", e.to_string()))
}

fn by_name(nodes: &[Node]) -> IndexMap<&str, &Node> {
    nodes.iter().map(|n| (n.name.as_str(), n)).collect()
}

/// Later nodes replace earlier ones of the same name, in the earlier place.
fn dedup(nodes: Vec<Node>) -> Vec<Node> {
    let mut map: IndexMap<String, Node> = IndexMap::with_capacity(nodes.len());
    for n in nodes {
        map.insert(n.name.clone(), n);
    }
    map.into_values().collect()
}

struct NodesSeed;

impl<'de> DeserializeSeed<'de> for NodesSeed {
    type Value = Vec<Node>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Node>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodesSeed {
    type Value = Vec<Node>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of node name to attributes, or a list of nodes")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<Node>, E> {
        Ok(Vec::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Vec<Node>, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Node>, A::Error> {
        let mut nodes = Vec::new();
        loop {
            let pos = nodes.len() + 1;
            let seed = NodeSeed {
                label: format!("node #{pos}"),
                need_name: true,
            };
            match seq.next_element_seed(seed)? {
                None => return Ok(nodes),
                Some(node) => nodes.push(node),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Node>, A::Error> {
        let mut nodes = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let pos = nodes.len() + 1;
            if name.trim().is_empty() {
                return Err(de::Error::custom(format!("node #{pos} has an empty name")));
            }
            let seed = NodeSeed {
                label: format!("node {name:?} (#{pos})"),
                need_name: false,
            };
            let mut node = map.next_value_seed(seed)?;
            // As in Rundeck, the key is the node's name.
            node.name = name;
            nodes.push(node);
        }
        Ok(nodes)
    }
}

/// One node; errors are prefixed with which node.
struct NodeSeed {
    label: String,
    need_name: bool,
}

impl<'de> DeserializeSeed<'de> for NodeSeed {
    type Value = Node;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a map of node attributes for {}", self.label)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Node, A::Error> {
        // Checked here, inside the map, so the parser adds the position.
        let node = Node::deserialize(MapAccessDeserializer::new(map))
            .map_err(|e| de::Error::custom(format!("{}: {e}", self.label)))?;
        if self.need_name && node.name.trim().is_empty() {
            return Err(de::Error::custom(format!(
                "{} has no `nodename`",
                self.label
            )));
        }
        Ok(node)
    }
}
