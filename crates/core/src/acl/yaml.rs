//! A policy document as a YAML value, read the way Rundeck's policy loader
//! reads it: a key given twice keeps its last value, and global tags
//! (`!!java.lang.Object`) are refused.

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};
use serde_yaml_ng::value::{Tag, TaggedValue};
use serde_yaml_ng::{Mapping, Number, Value};
use std::fmt;

/// Reads one YAML document into a value; a repeated key keeps its last value.
pub(super) fn document<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    Lenient.deserialize(d)
}

/// Rundeck's refusal of the first global tag (`!!java.lang.Object`) in the
/// text that is not a core YAML type. The YAML reader here drops global
/// tags, so they are found in the text: outside quoted scalars and comments.
pub(super) fn global_tag(text: &str) -> Option<String> {
    for line in text.lines() {
        let mut quote = None;
        let mut prev = ' ';
        let mut chars = line.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') if prev.is_whitespace() || "[{:,-".contains(prev) => {
                    quote = Some(c)
                }
                (None, '#') if prev.is_whitespace() => break,
                // a tag starts a node: after a space, `-`, `[`, `{` or `,`
                (None, '!')
                    if line[i..].starts_with("!!")
                        && (i == 0 || prev.is_whitespace() || "[{,".contains(prev)) =>
                {
                    let name: String = line[i + 2..]
                        .chars()
                        .take_while(|c| !c.is_whitespace() && !",]}".contains(*c))
                        .collect();
                    if !name.is_empty() && !CORE_TAGS.contains(&name.as_str()) {
                        return Some(format!(
                            "Global tag is not allowed: tag:yaml.org,2002:{name}"
                        ));
                    }
                    chars.next();
                }
                _ => {}
            }
            prev = c;
        }
    }
    None
}

/// Rundeck's refusal of the first tag in `v` that is not a core YAML type.
pub(super) fn tag_error(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            if CORE_TAGS.contains(&name) && tag.starts_with("!!") {
                return tag_error(&t.value);
            }
            Some(match tag.strip_prefix("!!") {
                Some(global) => {
                    format!("Global tag is not allowed: tag:yaml.org,2002:{global}")
                }
                None => format!("could not determine a constructor for the tag {tag}"),
            })
        }
        Value::Sequence(items) => items.iter().find_map(tag_error),
        Value::Mapping(m) => m
            .iter()
            .find_map(|(k, v)| tag_error(k).or_else(|| tag_error(v))),
        _ => None,
    }
}

/// The YAML 1.1 core types, which a policy may name.
const CORE_TAGS: &[&str] = &[
    "str",
    "int",
    "float",
    "bool",
    "null",
    "map",
    "seq",
    "binary",
    "timestamp",
];

#[derive(Clone, Copy)]
struct Lenient;

impl<'de> DeserializeSeed<'de> for Lenient {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Lenient {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(Number::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(Number::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Number(Number::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            items.push(v);
        }
        Ok(Value::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut m = Mapping::new();
        while let Some(k) = map.next_key_seed(self)? {
            let v = map.next_value_seed(self)?;
            // as in Rundeck, a repeated key keeps its last value
            m.insert(k, v);
        }
        Ok(Value::Mapping(m))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (tag, variant) = data.variant::<String>()?;
        let value = de::VariantAccess::newtype_variant_seed(variant, self)?;
        Ok(Value::Tagged(Box::new(TaggedValue {
            tag: Tag::new(tag),
            value,
        })))
    }
}
