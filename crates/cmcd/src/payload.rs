//! One CMCD payload: an RFC 8941 dictionary read into typed keys under the server rules of
//! CTA-5004-B §6 (unknown keys and values of the wrong type are ignored, each with a reason).
use std::collections::BTreeMap;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use sfv::{BareItem, Dictionary, Item, ListEntry, Parser};

use crate::keys::{is_custom, key_spec, KeyKind, KeySpec, OBJECT_TYPES};
use crate::CmcdError;

/// The highest CMCD version this decoder reads (CTA-5004-B is version 2).
pub const SUPPORTED_VERSION: i64 = 2;

/// A decoded payload: its version, its keys, and what was ignored and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CmcdPayload {
    /// `v`, or 1 when absent (CTA-5004-A: omitted means 1).
    pub version: i64,
    /// Every key kept, v1 scalars already read as v2 lists.
    pub keys: BTreeMap<String, CmcdValue>,
    /// Keys left out under the server rules.
    pub ignored: Vec<IgnoredKey>,
}

/// A key the server rules left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IgnoredKey {
    /// The key as sent.
    pub key: String,
    /// Why it was left out.
    pub reason: String,
}

/// One list member: a value and its object-type parameter (`5000;v`).
#[derive(Debug, Clone, PartialEq)]
pub struct ListItem<T> {
    /// The value.
    pub value: T,
    /// The object type the value is for (`v`, `a`, …), when given.
    pub ot: Option<String>,
}

/// A typed CMCD value.
#[derive(Debug, Clone, PartialEq)]
pub enum CmcdValue {
    /// An integer.
    Integer(i64),
    /// A decimal.
    Decimal(f64),
    /// A boolean.
    Boolean(bool),
    /// A string.
    String(String),
    /// A token.
    Token(String),
    /// An inner list of integers.
    IntegerList(Vec<ListItem<i64>>),
    /// An inner list of strings.
    StringList(Vec<ListItem<String>>),
}

impl<T: Serialize> Serialize for ListItem<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.ot {
            None => self.value.serialize(serializer),
            Some(ot) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("value", &self.value)?;
                map.serialize_entry("ot", ot)?;
                map.end()
            }
        }
    }
}

impl Serialize for CmcdValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            CmcdValue::Integer(v) => serializer.serialize_i64(*v),
            CmcdValue::Decimal(v) => serializer.serialize_f64(*v),
            CmcdValue::Boolean(v) => serializer.serialize_bool(*v),
            CmcdValue::String(v) | CmcdValue::Token(v) => serializer.serialize_str(v),
            CmcdValue::IntegerList(items) => items.serialize(serializer),
            CmcdValue::StringList(items) => items.serialize(serializer),
        }
    }
}

impl CmcdPayload {
    /// A key's integer value.
    pub fn integer(&self, key: &str) -> Option<i64> {
        match self.keys.get(key)? {
            CmcdValue::Integer(v) => Some(*v),
            _ => None,
        }
    }

    /// A key's token or string value.
    pub fn text(&self, key: &str) -> Option<&str> {
        match self.keys.get(key)? {
            CmcdValue::String(v) | CmcdValue::Token(v) => Some(v),
            _ => None,
        }
    }

    /// Whether a boolean key is TRUE.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.keys.get(key), Some(CmcdValue::Boolean(true)))
    }

    /// A list key's values (for `br`, the first is usually video).
    pub fn integers(&self, key: &str) -> Vec<i64> {
        match self.keys.get(key) {
            Some(CmcdValue::IntegerList(items)) => items.iter().map(|i| i.value).collect(),
            _ => Vec::new(),
        }
    }
}

/// Decodes one payload (`br=(5000;v),bs,sid="…",v=2`), not URL-encoded.
///
/// # Errors
/// [`CmcdError::Syntax`] when the text is not an RFC 8941 dictionary, and
/// [`CmcdError::UnsupportedVersion`] when `v` is above [`SUPPORTED_VERSION`]: CTA-5004-B §6
/// requires the whole payload to be ignored then.
pub fn decode_payload(text: &str) -> Result<CmcdPayload, CmcdError> {
    let text = text.trim_matches(|c: char| c == ' ' || c == '\t');
    if text.is_empty() {
        return Err(CmcdError::Empty);
    }
    let dictionary: Dictionary = Parser::new(text)
        .parse()
        .map_err(|e| CmcdError::Syntax(e.to_string()))?;
    let version = match dictionary.get("v") {
        None => 1,
        Some(ListEntry::Item(Item {
            bare_item: BareItem::Integer(v),
            ..
        })) => i64::from(*v),
        Some(_) => return Err(CmcdError::Syntax("v: expected an integer".into())),
    };
    if version > SUPPORTED_VERSION {
        return Err(CmcdError::UnsupportedVersion(version));
    }
    let mut payload = CmcdPayload {
        version,
        keys: BTreeMap::new(),
        ignored: Vec::new(),
    };
    for (key, entry) in &dictionary {
        let key = key.as_str();
        match typed_value(key, entry, key_spec) {
            Ok(value) => {
                payload.keys.insert(key.to_owned(), value);
            }
            Err(reason) => payload.ignored.push(IgnoredKey {
                key: key.to_owned(),
                reason,
            }),
        }
    }
    Ok(payload)
}

pub(crate) fn describe(entry: &ListEntry) -> &'static str {
    match entry {
        ListEntry::InnerList(_) => "an inner list",
        ListEntry::Item(item) => match item.bare_item {
            BareItem::Integer(_) => "an integer",
            BareItem::Decimal(_) => "a decimal",
            BareItem::String(_) => "a string",
            BareItem::Token(_) => "a token",
            BareItem::Boolean(_) => "a boolean",
            BareItem::ByteSequence(_) => "a byte sequence",
            BareItem::Date(_) => "a date",
            BareItem::DisplayString(_) => "a display string",
        },
    }
}

/// Reads one member under its key's type; the error is the reason it is ignored.
pub(crate) fn typed_value(
    key: &str,
    entry: &ListEntry,
    table: fn(&str) -> Option<&'static KeySpec>,
) -> Result<CmcdValue, String> {
    let Some(spec) = table(key) else {
        return if is_custom(key) {
            custom_value(entry)
        } else {
            Err("unknown key".into())
        };
    };
    let got = || format!("expected {}, got {}", expected(spec.kind), describe(entry));
    let bare = match entry {
        ListEntry::Item(item) => Some(&item.bare_item),
        ListEntry::InnerList(_) => None,
    };
    match (spec.kind, bare) {
        (KeyKind::Integer, Some(BareItem::Integer(v))) => Ok(CmcdValue::Integer(i64::from(*v))),
        (KeyKind::Decimal, Some(BareItem::Decimal(v))) => Ok(CmcdValue::Decimal(f64::from(*v))),
        // An integer is a decimal's value too, within a decimal's range (RFC 8941 §3.3.2: at
        // most 12 integer digits), so that what is kept encodes again.
        (KeyKind::Decimal, Some(BareItem::Integer(v))) => {
            let v = i64::from(*v);
            if v.unsigned_abs() < 1_000_000_000_000 {
                Ok(CmcdValue::Decimal(v as f64))
            } else {
                Err(format!(
                    "expected a decimal (at most 12 integer digits), got {v}"
                ))
            }
        }
        (KeyKind::Boolean, Some(BareItem::Boolean(v))) => Ok(CmcdValue::Boolean(*v)),
        (KeyKind::String(limit), Some(BareItem::String(v))) => {
            let v = v.as_str();
            if limit > 0 && v.chars().count() > limit {
                Err(format!(
                    "expected at most {limit} characters, got {}",
                    v.chars().count()
                ))
            } else {
                Ok(CmcdValue::String(v.to_owned()))
            }
        }
        (KeyKind::Token(allowed), Some(BareItem::Token(v))) => {
            if allowed.contains(&v.as_str()) {
                Ok(CmcdValue::Token(v.as_str().to_owned()))
            } else {
                Err(format!(
                    "expected one of {}, got {}",
                    allowed.join(" "),
                    v.as_str()
                ))
            }
        }
        // CTA-5004 (v1) sent these as scalars; read them as the v2 one-item list.
        (KeyKind::IntegerList, Some(BareItem::Integer(v))) => {
            Ok(CmcdValue::IntegerList(vec![ListItem {
                value: i64::from(*v),
                ot: None,
            }]))
        }
        (KeyKind::StringList, Some(BareItem::String(v))) => {
            let value = if key == "nor" {
                url_decoded(v.as_str())
            } else {
                v.as_str().to_owned()
            };
            Ok(CmcdValue::StringList(vec![ListItem { value, ot: None }]))
        }
        (KeyKind::IntegerList, None) | (KeyKind::StringList, None) => {
            list_value(spec.kind, entry).ok_or_else(got)
        }
        _ => Err(got()),
    }
}

fn expected(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Integer => "an integer",
        KeyKind::Decimal => "a decimal",
        KeyKind::Boolean => "a boolean",
        KeyKind::String(_) => "a string",
        KeyKind::Token(_) => "a token",
        KeyKind::IntegerList => "an inner list of integers",
        KeyKind::StringList => "an inner list of strings",
    }
}

/// The object type named by a list item's parameters (`5000;v` → `v`).
fn object_type(item: &Item) -> Option<String> {
    item.params
        .iter()
        .find(|(key, value)| {
            OBJECT_TYPES.contains(&key.as_str()) && matches!(value, BareItem::Boolean(true))
        })
        .map(|(key, _)| key.as_str().to_owned())
}

fn list_value(kind: KeyKind, entry: &ListEntry) -> Option<CmcdValue> {
    let ListEntry::InnerList(list) = entry else {
        return None;
    };
    match kind {
        KeyKind::IntegerList => list
            .items
            .iter()
            .map(|item| match item.bare_item {
                BareItem::Integer(v) => Some(ListItem {
                    value: i64::from(v),
                    ot: object_type(item),
                }),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(CmcdValue::IntegerList),
        _ => list
            .items
            .iter()
            .map(|item| match &item.bare_item {
                BareItem::String(v) => Some(ListItem {
                    value: v.as_str().to_owned(),
                    ot: object_type(item),
                }),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(CmcdValue::StringList),
    }
}

/// Custom keys: the spec asks for a string or token of at most 64 characters; players also
/// send integers and booleans, so any scalar is kept.
pub(crate) fn custom_value(entry: &ListEntry) -> Result<CmcdValue, String> {
    match entry {
        ListEntry::Item(item) => match &item.bare_item {
            BareItem::Integer(v) => Ok(CmcdValue::Integer(i64::from(*v))),
            BareItem::Decimal(v) => Ok(CmcdValue::Decimal(f64::from(*v))),
            BareItem::Boolean(v) => Ok(CmcdValue::Boolean(*v)),
            BareItem::String(v) => Ok(CmcdValue::String(v.as_str().to_owned())),
            BareItem::Token(v) => Ok(CmcdValue::Token(v.as_str().to_owned())),
            _ => Err(format!(
                "custom key: expected a string, token, number or boolean, got {}",
                describe(entry)
            )),
        },
        ListEntry::InnerList(_) => list_value(KeyKind::IntegerList, entry)
            .or_else(|| list_value(KeyKind::StringList, entry))
            .ok_or_else(|| "custom key: expected an inner list of integers or strings".to_owned()),
    }
}

/// Percent-decodes a v1 `nor` path (`..%2Ftesting%2F3.m4v`).
fn url_decoded(text: &str) -> String {
    form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map_or_else(|| text.to_owned(), |(_, v)| v.into_owned())
}

/// Encodes a payload as CMCD v2 text, keys in alphabetical order (CTA-5004-B §4.1); booleans
/// FALSE are omitted as the spec recommends.
pub fn encode_payload(payload: &CmcdPayload) -> String {
    encode_dictionary(&payload.keys)
}

/// Encodes typed keys as a dictionary with bare commas between members.
pub(crate) fn encode_dictionary(keys: &BTreeMap<String, CmcdValue>) -> String {
    let mut dictionary = Dictionary::new();
    for (key, value) in keys {
        let Ok(key) = sfv::Key::from_string(key.clone()) else {
            continue;
        };
        let entry = match value {
            CmcdValue::Boolean(false) => continue,
            CmcdValue::Integer(v) => match sfv::Integer::try_from(*v) {
                Ok(v) => v.into(),
                Err(_) => continue,
            },
            CmcdValue::Decimal(v) => match sfv::Decimal::try_from(*v) {
                Ok(d) => d.into(),
                Err(_) => continue,
            },
            CmcdValue::Boolean(true) => true.into(),
            CmcdValue::String(v) => match sfv::String::from_string(v.clone()) {
                Ok(s) => s.into(),
                Err(_) => continue,
            },
            CmcdValue::Token(v) => match sfv::Token::from_string(v.clone()) {
                Ok(t) => t.into(),
                Err(_) => continue,
            },
            CmcdValue::IntegerList(items) => inner_list(items, |v| {
                sfv::Integer::try_from(*v).ok().map(BareItem::Integer)
            }),
            CmcdValue::StringList(items) => inner_list(items, |v| {
                sfv::String::from_string(v.clone())
                    .ok()
                    .map(BareItem::String)
            }),
        };
        dictionary.insert(key, entry);
    }
    // RFC 8941 joins members with ", "; CMCD payloads use a bare comma (CTA-5004-B §4.1), which
    // also keeps the query form short. Serializing member by member keeps quoted commas intact.
    dictionary
        .iter()
        .filter_map(|(key, entry)| {
            let mut serializer = sfv::DictSerializer::new();
            serializer.members(std::iter::once((key, entry)));
            serializer.finish()
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn inner_list<T>(items: &[ListItem<T>], bare: impl Fn(&T) -> Option<BareItem>) -> ListEntry {
    let items = items
        .iter()
        .filter_map(|item| {
            let mut params = sfv::Parameters::new();
            if let Some(ot) = item
                .ot
                .as_ref()
                .and_then(|ot| sfv::Key::from_string(ot.clone()).ok())
            {
                params.insert(ot, BareItem::Boolean(true));
            }
            Some(Item::with_params(bare(&item.value)?, params))
        })
        .collect();
    ListEntry::InnerList(sfv::InnerList::new(items))
}
