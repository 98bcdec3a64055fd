//! Lenient scalars: Rundeck files write booleans and numbers both bare and
//! quoted (`keepgoing: 'true'`, `threadcount: '4'`), so both forms are read.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// Reads any scalar (string, number, boolean) as a string.
pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    d.deserialize_any(V)
}

/// Like [`string`] for an optional field; YAML `~`/null reads as `None`.
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            string(d).map(Some)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
    }
    d.deserialize_any(V)
}

/// How a scalar field was written in the document it was read from, where
/// that is not how Foredeck would write it by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Form {
    /// As a string (`threadcount: '3'`, `nodeStep: 'true'`).
    Quoted,
    /// In its own type, although it holds the value an export would leave
    /// out (`successOnEmptyNodeFilter: false`).
    Plain,
    /// As a number or boolean where the model keeps text (`timeout: 120`,
    /// `hour: 12`, an option's `value: 80`).
    Bare,
    /// Of a list the model keeps as text (an option's `values: [80, x]`),
    /// the items written as a number or boolean: bit `i` for item `i`, of
    /// the first 64 (a list written all bare is [`Form::Bare`], of any
    /// length).
    BareItems(u64),
    /// With one of Rundeck's synonyms (`loglevel: ERR`, `strategy:
    /// step-first`), which Rundeck keeps as written and exports so.
    Synonym(&'static str),
}

/// The forms of a structure's scalar fields that an export must write back
/// as they were read (a Rundeck export quotes some numbers and booleans and
/// writes some `false` values): an import then export changes no field's
/// type and drops no field the document had.
///
/// It is presentation only: two jobs that differ only in how their values
/// were written are equal.
#[derive(Clone, Debug, Default)]
pub struct Written(Vec<(&'static str, Form)>);

impl PartialEq for Written {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Written {}

impl Written {
    /// How `field` was written, when that must be kept.
    pub fn form(&self, field: &str) -> Option<Form> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, form)| *form)
    }

    /// Records how `field` was written.
    pub fn set(&mut self, field: &'static str, form: Form) {
        match self.0.iter_mut().find(|(f, _)| *f == field) {
            Some(slot) => slot.1 = form,
            None => self.0.push((field, form)),
        }
    }

    /// Takes a field as read, recording its form.
    pub(crate) fn read<T>(&mut self, field: &'static str, v: Option<Flexed<T>>) -> Option<T> {
        let v = v?;
        self.set(field, if v.quoted { Form::Quoted } else { Form::Plain });
        Some(v.value)
    }

    /// Takes a text field as read, recording whether it was written as a
    /// number or boolean.
    pub(crate) fn read_text(&mut self, field: &'static str, v: Option<Text>) -> Option<String> {
        let v = v?;
        if v.bare {
            self.set(field, Form::Bare);
        }
        Some(v.value)
    }

    /// How to write a text field: as a number or boolean when it was
    /// written so (and still reads as one).
    pub(crate) fn write_text(&self, field: &str, value: Option<String>) -> Option<Text> {
        let bare = self.form(field) == Some(Form::Bare);
        value.map(|value| Text { value, bare })
    }

    /// Takes a list of text as read, recording which items were written as
    /// numbers or booleans.
    pub(crate) fn read_texts(&mut self, field: &'static str, v: Vec<Text>) -> Vec<String> {
        let all = !v.is_empty() && v.iter().all(|t| t.bare);
        let mask = v
            .iter()
            .take(64)
            .enumerate()
            .filter(|(_, t)| t.bare)
            .fold(0u64, |m, (i, _)| m | 1 << i);
        if all {
            self.set(field, Form::Bare);
        } else if mask != 0 {
            self.set(field, Form::BareItems(mask));
        }
        v.into_iter().map(|t| t.value).collect()
    }

    /// How to write a list of text: each item in the type it was written in.
    pub(crate) fn write_texts(&self, field: &str, v: Vec<String>) -> Vec<Text> {
        let form = self.form(field);
        v.into_iter()
            .enumerate()
            .map(|(i, value)| Text {
                value,
                bare: match form {
                    Some(Form::Bare) => true,
                    Some(Form::BareItems(m)) => i < 64 && m >> i & 1 == 1,
                    _ => false,
                },
            })
            .collect()
    }

    /// Takes a value that may be written with a synonym, recording it.
    pub(crate) fn read_spelled<T>(&mut self, field: &'static str, v: Spelled<T>) -> T {
        if let Some(s) = v.synonym {
            self.set(field, Form::Synonym(s));
        }
        v.value
    }

    /// How to write a value that may have been written with a synonym: with
    /// it while it still names the value.
    pub(crate) fn write_spelled<T>(&self, field: &str, value: T) -> Spelled<T>
    where
        T: PartialEq + serde::de::DeserializeOwned,
    {
        let synonym = match self.form(field) {
            Some(Form::Synonym(s)) if spelled_value::<T>(s).as_ref() == Some(&value) => Some(s),
            _ => None,
        };
        Spelled { value, synonym }
    }

    /// How to write a field: in its recorded form, else in its own type
    /// when `shown` (a field left out when false passes `value`).
    pub(crate) fn write<T>(&self, field: &str, value: T, shown: bool) -> Option<Flexed<T>> {
        match self.form(field) {
            Some(form) => Some(Flexed {
                value,
                quoted: form == Form::Quoted,
            }),
            None => shown.then_some(Flexed {
                value,
                quoted: false,
            }),
        }
    }
}

/// A boolean or integer as a document wrote it: in its own type or quoted.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Flexed<T> {
    pub(crate) value: T,
    pub(crate) quoted: bool,
}

impl<T: serde::Serialize + fmt::Display> serde::Serialize for Flexed<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.quoted {
            s.collect_str(&self.value)
        } else {
            self.value.serialize(s)
        }
    }
}

impl<'de> serde::Deserialize<'de> for Flexed<bool> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Flexed<bool>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true or false")
            }
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
                Ok(Flexed {
                    value,
                    quoted: false,
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let value = match v.trim().to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                };
                Ok(Flexed {
                    value,
                    quoted: true,
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> serde::Deserialize<'de> for Flexed<u32> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Flexed<u32>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-negative integer")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                let value = u32::try_from(v)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))?;
                Ok(Flexed {
                    value,
                    quoted: false,
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                let value = u32::try_from(v)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))?;
                Ok(Flexed {
                    value,
                    quoted: false,
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let value = v
                    .trim()
                    .parse()
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))?;
                Ok(Flexed {
                    value,
                    quoted: true,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// A text field as a document wrote it: a string, or a number or boolean
/// (`timeout: 120`) that the model keeps as its text.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Text {
    pub(crate) value: String,
    /// Written as a number or boolean.
    pub(crate) bare: bool,
}

impl serde::Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // a bare value is written back in its type while its text still
        // reads as one (a value changed since may no longer)
        let v = self.value.as_str();
        if self.bare {
            if let Ok(n) = v.parse::<u64>() {
                return s.serialize_u64(n);
            }
            if let Ok(n) = v.parse::<i64>() {
                return s.serialize_i64(n);
            }
            if let Ok(b) = v.parse::<bool>() {
                return s.serialize_bool(b);
            }
            let numeric = v
                .bytes()
                .all(|c| c.is_ascii_digit() || b".-+eE".contains(&c));
            match v.parse::<f64>() {
                Ok(n) if numeric && n.is_finite() => return s.serialize_f64(n),
                _ => {}
            }
        }
        s.serialize_str(v)
    }
}

impl<'de> serde::Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text {
                    value: v.to_owned(),
                    bare: false,
                })
            }
            fn visit_string<E: de::Error>(self, value: String) -> Result<Text, E> {
                Ok(Text { value, bare: false })
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text::bare(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text::bare(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text::bare(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text::bare(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl Text {
    fn bare(v: impl fmt::Display) -> Self {
        Text {
            value: v.to_string(),
            bare: true,
        }
    }
}

/// Reads a list of text; a single scalar is a list of one (Rundeck's
/// `Option.fromMap` accepts `values: x` and `values: [1, 2]`).
pub(crate) fn text_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Text>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<Text>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of strings or a single string")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            text_list(d)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(t) = seq.next_element()? {
                out.push(t);
            }
            Ok(out)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(vec![Text {
                value: v.to_owned(),
                bare: false,
            }])
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(vec![Text::bare(v)])
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(vec![Text::bare(v)])
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(vec![Text::bare(v)])
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(vec![Text::bare(v)])
        }
    }
    d.deserialize_any(V)
}

/// The synonyms of Rundeck's names that Rundeck reads and writes back as
/// written: `ERR` (`ERROR`), `NORMAL` (`INFO`), `step-first` (`sequential`).
const SYNONYMS: [&str; 3] = ["ERR", "NORMAL", "step-first"];

fn spelled_value<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    use serde::de::IntoDeserializer;
    T::deserialize(IntoDeserializer::<de::value::Error>::into_deserializer(s)).ok()
}

/// A name read from a document, with the synonym it was written with.
#[derive(Default)]
pub(crate) struct Spelled<T> {
    pub(crate) value: T,
    pub(crate) synonym: Option<&'static str>,
}

impl<T: serde::Serialize> serde::Serialize for Spelled<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.synonym {
            Some(name) => s.serialize_str(name),
            None => self.value.serialize(s),
        }
    }
}

impl<'de, T: serde::de::DeserializeOwned> serde::Deserialize<'de> for Spelled<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // read in the visitor, so that an error points at the value
        struct V<T>(std::marker::PhantomData<T>);
        impl<T: serde::de::DeserializeOwned> Visitor<'_> for V<T> {
            type Value = Spelled<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a name")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                use serde::de::IntoDeserializer;
                let value = T::deserialize(IntoDeserializer::<E>::into_deserializer(text))?;
                let synonym = SYNONYMS.iter().find(|s| **s == text).copied();
                Ok(Spelled { value, synonym })
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}
