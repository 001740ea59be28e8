//! A view's props as the JSON text of one object: a few hundred bytes where a map of values
//! costs a few kilobytes, and one shared copy for every view with the same props
//! ([`SharedProps`]).
use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::batch::members::Members;

/// Dimension values of a view (`cdn`, `country`, `custom_1`, …): strings, numbers or booleans.
pub type Props = Map<String, Value>;

/// Props a view holds at most: a name new to a view that has this many is dropped, so that
/// batches with other names each cannot grow one view without end.
pub const MAX_VIEW_PROPS: usize = 128;

/// A view's dimension values (`cdn`, `country`, `custom_1`, …), kept as the text of a JSON
/// object with its names in order. Read a value with [`ViewProps::get`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewProps(Arc<str>);

impl Default for ViewProps {
    fn default() -> ViewProps {
        ViewProps(Arc::from("{}"))
    }
}

impl ViewProps {
    /// The props of `map`.
    pub fn from_map(map: &Props) -> ViewProps {
        ViewProps(Arc::from(text_of(map)))
    }

    /// Every prop, as a map.
    pub fn to_map(&self) -> Props {
        // Always the text of an object made by `from_map`.
        serde_json::from_str(&self.0).unwrap_or_default()
    }

    /// The value of prop `name`.
    pub fn get(&self, name: &str) -> Option<Value> {
        // One pass over the text; only the value asked for is parsed.
        let members: Members = serde_json::from_str(&self.0).ok()?;
        let (_, raw) = members.0.iter().find(|(member, _)| member == name)?;
        serde_json::from_str(raw.get()).ok()
    }

    /// The props' names, in order.
    pub fn names(&self) -> Vec<String> {
        self.to_map().into_iter().map(|(name, _)| name).collect()
    }

    /// Each prop with its value as a dimension's text (see [`dimension_text`]), in order.
    pub fn texts(&self) -> Vec<(String, String)> {
        self.to_map()
            .into_iter()
            .map(|(name, value)| (name, dimension_text(value)))
            .collect()
    }

    /// Whether there is no prop.
    pub fn is_empty(&self) -> bool {
        &*self.0 == "{}"
    }

    /// The JSON object's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Takes in `props`, whose values replace earlier ones (names new to the view only while
    /// it has fewer than [`MAX_VIEW_PROPS`]); returns whether anything changed.
    pub fn extend(&mut self, props: Props) -> bool {
        if props.is_empty() {
            return false;
        }
        // SDKs send the same props with every batch: the same text, nothing to merge.
        if *text_of(&props) == *self.0 {
            return false;
        }
        let mut map = self.to_map();
        if props
            .iter()
            .all(|(name, value)| map.get(name) == Some(value))
        {
            return false;
        }
        let before = map.clone();
        for (name, value) in props {
            if map.len() < MAX_VIEW_PROPS || map.contains_key(&name) {
                map.insert(name, value);
            }
        }
        if map == before {
            return false;
        }
        *self = ViewProps::from_map(&map);
        true
    }
}

/// The JSON text of `map`.
fn text_of(map: &Props) -> String {
    // A map of JSON values always serializes.
    serde_json::to_string(map).unwrap_or_default()
}

/// A prop's value as a dimension's text: a string as it is, anything else as its JSON.
pub fn dimension_text(value: Value) -> String {
    match value {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

impl From<Props> for ViewProps {
    fn from(map: Props) -> ViewProps {
        ViewProps::from_map(&map)
    }
}

/// One copy of each props text in use, shared by the views that have it.
#[derive(Debug, Default)]
pub struct SharedProps {
    texts: HashSet<Arc<str>>,
    /// Past this many texts, those no view holds any more are let go.
    sweep_at: usize,
}

impl SharedProps {
    /// Makes `props` the shared copy of its text.
    pub fn share(&mut self, props: &mut ViewProps) {
        match self.texts.get(&props.0) {
            Some(text) => props.0 = Arc::clone(text),
            None => {
                if self.texts.len() >= self.sweep_at {
                    self.texts.retain(|text| Arc::strong_count(text) > 1);
                    self.sweep_at = (2 * self.texts.len()).max(1_024);
                }
                self.texts.insert(Arc::clone(&props.0));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Value) -> Props {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn later_values_replace_earlier_ones_and_the_same_props_change_nothing() {
        let mut props = ViewProps::default();
        assert!(props.is_empty());
        assert!(props.extend(map(json!({"cdn": "a", "w": 1280, "live": true}))));
        assert!(!props.extend(map(json!({"cdn": "a", "w": 1280, "live": true}))));
        assert!(
            !props.extend(map(json!({"w": 1280}))),
            "a subset of the same"
        );
        assert!(!props.extend(Props::new()));
        assert!(props.extend(map(json!({"cdn": "b", "country": "DE"}))));
        assert_eq!(
            props.to_map(),
            map(json!({"cdn": "b", "country": "DE", "w": 1280, "live": true}))
        );
        assert_eq!(props.get("w"), Some(json!(1280)));
        assert!(props.extend(map(json!({"a\"b\u{e9}": "x"}))));
        assert_eq!(props.get("a\"bé"), Some(json!("x")), "an escaped name");
        assert_eq!(props.get("nope"), None);
        assert_eq!(props.names(), ["a\"bé", "cdn", "country", "live", "w"]);
        assert_eq!(
            props.as_str(),
            r#"{"a\"bé":"x","cdn":"b","country":"DE","live":true,"w":1280}"#
        );
    }

    #[test]
    fn views_with_the_same_props_share_one_copy_until_none_holds_it() {
        let mut shared = SharedProps::default();
        let mut a = ViewProps::from_map(&map(json!({"cdn": "a"})));
        let mut b = ViewProps::from_map(&map(json!({"cdn": "a"})));
        shared.share(&mut a);
        shared.share(&mut b);
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(shared.texts.len(), 1);
        drop((a, b));
        // Past the sweep point, texts no view holds go.
        shared.sweep_at = 1;
        let mut c = ViewProps::from_map(&map(json!({"cdn": "c"})));
        shared.share(&mut c);
        assert_eq!(shared.texts.len(), 1, "only c's");
    }
}
