//! A body's members as raw text, read in one pass: the top level (`events` items kept as
//! received, `view` where it is) and an event object's members, parsed only as needed.
use std::borrow::Cow;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A body's top level in one pass: `events` as each item's raw text (kept as received), every
/// other member as a value (a later duplicate wins, as in a JSON map).
pub(super) struct TopLevel<'a> {
    pub(super) root: Map<String, Value>,
    /// The `view` member as raw text: where it is in the body is kept ([`super::ViewSpan`]).
    pub(super) view: Option<&'a RawValue>,
    /// Whether `view` came more than once (the last is read, as in a JSON map).
    pub(super) view_repeated: bool,
    pub(super) events: Option<EventsMember<'a>>,
}

/// The `events` member: its items as raw text, or what it is instead of an array.
pub(super) enum EventsMember<'a> {
    Items(Vec<&'a RawValue>),
    Other(Value),
}

impl<'de> serde::Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> serde::de::Visitor<'de> for Object {
            type Value = TopLevel<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Self::Value, M::Error> {
                let mut top = TopLevel {
                    root: Map::new(),
                    view: None,
                    view_repeated: false,
                    events: None,
                };
                while let Some(name) = map.next_key::<String>()? {
                    if name == "events" {
                        top.events = Some(map.next_value()?);
                    } else if name == "view" {
                        top.view_repeated |= top.view.is_some();
                        top.view = Some(map.next_value()?);
                    } else {
                        top.root.insert(name, map.next_value()?);
                    }
                }
                Ok(top)
            }
        }
        deserializer.deserialize_map(Object)
    }
}

impl<'de> serde::Deserialize<'de> for EventsMember<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::value::MapAccessDeserializer;
        struct Events;
        impl<'de> serde::de::Visitor<'de> for Events {
            type Value = EventsMember<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<S: serde::de::SeqAccess<'de>>(
                self,
                mut seq: S,
            ) -> Result<Self::Value, S::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element::<&'de RawValue>()? {
                    items.push(item);
                }
                Ok(EventsMember::Items(items))
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                map: M,
            ) -> Result<Self::Value, M::Error> {
                let value = serde::Deserialize::deserialize(MapAccessDeserializer::new(map))?;
                Ok(EventsMember::Other(value))
            }
            fn visit_bool<E>(self, value: bool) -> Result<Self::Value, E> {
                Ok(EventsMember::Other(Value::Bool(value)))
            }
            fn visit_i64<E>(self, value: i64) -> Result<Self::Value, E> {
                Ok(EventsMember::Other(Value::from(value)))
            }
            fn visit_u64<E>(self, value: u64) -> Result<Self::Value, E> {
                Ok(EventsMember::Other(Value::from(value)))
            }
            fn visit_f64<E>(self, value: f64) -> Result<Self::Value, E> {
                Ok(EventsMember::Other(Value::from(value)))
            }
            fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
                Ok(EventsMember::Other(Value::String(value.to_owned())))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(EventsMember::Other(Value::Null))
            }
        }
        deserializer.deserialize_any(Events)
    }
}

/// An event object's members, each value as raw text: only the members its kind reads are
/// parsed (building a map of every value was a fifth of ingest's CPU).
pub(crate) struct Members<'a>(pub(crate) Vec<(Cow<'a, str>, &'a RawValue)>);

/// A member name, borrowed from the body unless it holds escapes.
struct MemberName<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for MemberName<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl<'de> serde::de::Visitor<'de> for Name {
            type Value = MemberName<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, name: &'de str) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Borrowed(name)))
            }
            fn visit_str<E>(self, name: &str) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Owned(name.to_owned())))
            }
        }
        deserializer.deserialize_str(Name)
    }
}

impl<'de> serde::Deserialize<'de> for Members<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> serde::de::Visitor<'de> for Object {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Self::Value, M::Error> {
                let mut members = Vec::new();
                while let Some((name, value)) =
                    map.next_entry::<MemberName<'de>, &'de RawValue>()?
                {
                    members.push((name.0, value));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(Object)
    }
}

impl<'a> Members<'a> {
    /// The value of member `name` (the last, if repeated, as a JSON map would keep it).
    pub(crate) fn get(&self, name: &str) -> Option<Value> {
        // Text the JSON parser has already checked.
        serde_json::from_str(self.raw(name)?).ok()
    }

    /// The JSON text of member `name`'s value.
    pub(crate) fn raw(&self, name: &str) -> Option<&'a str> {
        let (_, raw) = self.0.iter().rev().find(|(member, _)| member == name)?;
        Some(raw.get())
    }

    /// Member `name`'s value when it is written as digits only and below 10^15 (exact as a
    /// JSON number and as `f64`): the common case, read without a JSON parse (each parse of a
    /// member was a few percent of ingest).
    pub(crate) fn digits(&self, name: &str) -> Option<u64> {
        let text = self.raw(name)?;
        if text.is_empty() || text.len() > 15 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok()
    }

    /// Member `name`'s value when it is a string without escapes, borrowed.
    pub(crate) fn plain_str(&self, name: &str) -> Option<&'a str> {
        let text = self.raw(name)?.strip_prefix('"')?.strip_suffix('"')?;
        (!text.contains('\\')).then_some(text)
    }
}
