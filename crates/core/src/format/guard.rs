//! Checks run before a document is turned into model values: size, nesting
//! depth and the number of values after YAML aliases are expanded.

use super::{MAX_DOCUMENT_BYTES, MAX_NESTING_DEPTH};
use crate::{Error, Result};
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};
use std::fmt;

/// The shape of a document's root value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Root {
    /// Empty document or explicit null.
    Null,
    /// A scalar or tagged value.
    Scalar,
    /// A list.
    Seq,
    /// A map.
    Map,
}

/// Refuses documents over [`MAX_DOCUMENT_BYTES`].
pub(crate) fn check_size(src: &str, source_name: &str) -> Result<()> {
    if src.len() > MAX_DOCUMENT_BYTES {
        return Err(Error::format(
            source_name,
            format!(
                "document is {} bytes, larger than the {} bytes accepted",
                src.len(),
                MAX_DOCUMENT_BYTES
            ),
        ));
    }
    Ok(())
}

/// Walks a YAML document without building anything, refusing excessive
/// nesting or alias expansion; reports syntax errors with their position.
pub(crate) fn scan_yaml(src: &str, source_name: &str) -> Result<Root> {
    check_size(src, source_name)?;
    if src.trim().is_empty() {
        return Ok(Root::Null);
    }
    let mut budget = Budget::new(src);
    BudgetSeed {
        b: &mut budget,
        depth: 0,
    }
    .deserialize(serde_yaml_ng::Deserializer::from_str(src))
    .map_err(|e| Error::format(source_name, yaml_message(&e)))
}

/// Like [`scan_yaml`] for a stream of `---`-separated documents, sharing
/// one budget; returns the root of each document.
pub(crate) fn scan_yaml_stream(src: &str, source_name: &str) -> Result<Vec<Root>> {
    check_size(src, source_name)?;
    let mut budget = Budget::new(src);
    serde_yaml_ng::Deserializer::from_str(src)
        .map(|doc| {
            BudgetSeed {
                b: &mut budget,
                depth: 0,
            }
            .deserialize(doc)
            .map_err(|e| Error::format(source_name, yaml_message(&e)))
        })
        .collect()
}

/// Like [`scan_yaml`] for JSON.
pub(crate) fn scan_json(src: &str, source_name: &str) -> Result<Root> {
    check_size(src, source_name)?;
    if src.trim().is_empty() {
        return Ok(Root::Null);
    }
    let mut budget = Budget::new(src);
    let mut de = serde_json::Deserializer::from_str(src);
    let root = BudgetSeed {
        b: &mut budget,
        depth: 0,
    }
    .deserialize(&mut de)
    .and_then(|r| de.end().map(|()| r))
    .map_err(|e| Error::format(source_name, e.to_string()))?;
    Ok(root)
}

/// A YAML error's text without serde_yaml_ng's own path prefix (callers
/// give a better one); the ` at line L column C` suffix is kept.
pub(crate) fn yaml_message(e: &serde_yaml_ng::Error) -> String {
    let text = without_path(e.to_string());
    // serde_yaml_ng's own alias guard says only this: say what it means
    match text.strip_prefix("repetition limit exceeded") {
        Some(rest) => format!(
            "repetition limit exceeded: YAML aliases expand to too many values (a YAML bomb?){rest}"
        ),
        None => text,
    }
}

fn without_path(text: String) -> String {
    match text.split_once(": ") {
        // `prefix` looks like a path (`[1].sequence.commands`), not prose.
        Some((prefix, rest))
            if !prefix.is_empty()
                && prefix
                    .chars()
                    .all(|c| c.is_alphanumeric() || "[]._-".contains(c)) =>
        {
            rest.to_owned()
        }
        _ => text,
    }
}

/// Values always allowed, whatever the document's size.
const MIN_VALUE_BUDGET: usize = 256 * 1024;

struct Budget {
    nodes: usize,
    max_nodes: usize,
}

impl Budget {
    fn new(src: &str) -> Self {
        // Without aliases every value takes at least one byte of text, so
        // this never refuses a plain document; it bounds alias expansion to
        // the size of the text, with room for modest anchor reuse in small
        // hand-written files.
        Budget {
            nodes: 0,
            max_nodes: src.len().max(MIN_VALUE_BUDGET),
        }
    }
}

struct BudgetSeed<'a> {
    b: &'a mut Budget,
    depth: usize,
}

impl BudgetSeed<'_> {
    fn tick<E: de::Error>(&mut self) -> Result<(), E> {
        self.b.nodes += 1;
        if self.b.nodes > self.b.max_nodes {
            return Err(E::custom(format!(
                "document expands to more than {} values (YAML aliases repeated too often?)",
                self.b.max_nodes
            )));
        }
        Ok(())
    }

    fn child(&mut self) -> BudgetSeed<'_> {
        BudgetSeed {
            b: &mut *self.b,
            depth: self.depth + 1,
        }
    }

    fn enter<E: de::Error>(&mut self) -> Result<(), E> {
        self.tick()?;
        if self.depth >= MAX_NESTING_DEPTH {
            return Err(E::custom(format!(
                "document nests deeper than {MAX_NESTING_DEPTH} levels"
            )));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for BudgetSeed<'_> {
    type Value = Root;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Root, D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! scalar {
    ($($name:ident($t:ty)),*) => {
        $(fn $name<E: de::Error>(mut self, _v: $t) -> Result<Root, E> {
            self.tick()?;
            Ok(Root::Scalar)
        })*
    };
}

impl<'de> Visitor<'de> for BudgetSeed<'_> {
    type Value = Root;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }

    scalar!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_i128(i128),
        visit_u128(u128),
        visit_f64(f64),
        visit_char(char),
        visit_str(&str),
        visit_bytes(&[u8])
    );

    fn visit_unit<E: de::Error>(mut self) -> Result<Root, E> {
        self.tick()?;
        Ok(Root::Null)
    }

    fn visit_none<E: de::Error>(mut self) -> Result<Root, E> {
        self.tick()?;
        Ok(Root::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Root, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Root, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Root, A::Error> {
        self.enter()?;
        while seq.next_element_seed(self.child())?.is_some() {}
        Ok(Root::Seq)
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Root, A::Error> {
        self.enter()?;
        while map.next_key_seed(self.child())?.is_some() {
            map.next_value_seed(self.child())?;
        }
        Ok(Root::Map)
    }

    fn visit_enum<A: EnumAccess<'de>>(mut self, data: A) -> Result<Root, A::Error> {
        // YAML tagged values (`!tag value`).
        self.enter()?;
        let (_, variant) = data.variant_seed(self.child())?;
        variant.newtype_variant_seed(self.child())?;
        Ok(Root::Scalar)
    }
}
