//! CMSD — Common Media Server Data (CTA-5006): the `CMSD-Static` dictionary an origin sets once,
//! and the `CMSD-Dynamic` list each hop appends to (its identifier, with `du`, `etp`, `mb`, `rd`,
//! `rtt` parameters). Decoded for `e=rr` response reports; encoded by the demo origin.
use std::collections::BTreeMap;

use serde::Serialize;
use sfv::{BareItem, Dictionary, List, ListEntry, Parser};

use crate::keys::{KeyKind, KeySpec, OBJECT_TYPES};
use crate::payload::{encode_dictionary, typed_value, IgnoredKey};
use crate::{CmcdError, CmcdValue};

use KeyKind::{Boolean, Integer, String, Token};

/// `CMSD-Static` keys (CTA-5006 §4).
const STATIC_KEYS: &[KeySpec] = &[
    KeySpec {
        key: "at",
        name: "availability time (epoch ms)",
        kind: Integer,
    },
    KeySpec {
        key: "br",
        name: "encoded bitrate (kbps)",
        kind: Integer,
    },
    KeySpec {
        key: "d",
        name: "object duration (ms)",
        kind: Integer,
    },
    KeySpec {
        key: "ht",
        name: "held time (ms)",
        kind: Integer,
    },
    KeySpec {
        key: "n",
        name: "intermediary identifier",
        kind: String(0),
    },
    KeySpec {
        key: "nor",
        name: "next object request",
        kind: String(0),
    },
    KeySpec {
        key: "nrr",
        name: "next range request",
        kind: String(0),
    },
    KeySpec {
        key: "ot",
        name: "object type",
        kind: Token(OBJECT_TYPES),
    },
    KeySpec {
        key: "sf",
        name: "streaming format",
        kind: Token(&["d", "h", "s", "o"]),
    },
    KeySpec {
        key: "st",
        name: "stream type",
        kind: Token(&["v", "l"]),
    },
    KeySpec {
        key: "su",
        name: "startup",
        kind: Boolean,
    },
    KeySpec {
        key: "v",
        name: "version",
        kind: Integer,
    },
];

/// `CMSD-Dynamic` parameters of one hop (CTA-5006 §5); `rtt` is milliseconds.
const DYNAMIC_PARAMS: &[KeySpec] = &[
    KeySpec {
        key: "du",
        name: "duress",
        kind: Boolean,
    },
    KeySpec {
        key: "etp",
        name: "estimated throughput (kbps)",
        kind: Integer,
    },
    KeySpec {
        key: "mb",
        name: "max suggested bitrate (kbps)",
        kind: Integer,
    },
    KeySpec {
        key: "rd",
        name: "response delay (ms)",
        kind: Integer,
    },
    KeySpec {
        key: "rtt",
        name: "round-trip time (ms)",
        kind: Integer,
    },
];

fn static_spec(key: &str) -> Option<&'static KeySpec> {
    STATIC_KEYS.iter().find(|spec| spec.key == key)
}

fn dynamic_spec(key: &str) -> Option<&'static KeySpec> {
    DYNAMIC_PARAMS.iter().find(|spec| spec.key == key)
}

/// A decoded `CMSD-Static` header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CmsdStatic {
    /// Keys kept, typed.
    pub keys: BTreeMap<std::string::String, CmcdValue>,
    /// Keys left out, with the reason.
    pub ignored: Vec<IgnoredKey>,
}

/// One hop of a `CMSD-Dynamic` header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CmsdHop {
    /// The server or intermediary that added the hop.
    pub server: std::string::String,
    /// Its parameters, typed (`etp`, `rtt`, `du`, …).
    pub params: BTreeMap<std::string::String, CmcdValue>,
}

/// Decodes a `CMSD-Static` header value.
///
/// # Errors
/// [`CmcdError::Syntax`] when the text is not an RFC 8941 dictionary.
pub fn decode_cmsd_static(text: &str) -> Result<CmsdStatic, CmcdError> {
    let dictionary: Dictionary = Parser::new(text.trim())
        .parse()
        .map_err(|e| CmcdError::Syntax(e.to_string()))?;
    let mut decoded = CmsdStatic {
        keys: BTreeMap::new(),
        ignored: Vec::new(),
    };
    for (key, entry) in &dictionary {
        match typed_value(key.as_str(), entry, static_spec) {
            Ok(value) => {
                decoded.keys.insert(key.as_str().to_owned(), value);
            }
            Err(reason) => decoded.ignored.push(IgnoredKey {
                key: key.as_str().to_owned(),
                reason,
            }),
        }
    }
    Ok(decoded)
}

/// Encodes a `CMSD-Static` header value.
pub fn encode_cmsd_static(header: &CmsdStatic) -> std::string::String {
    encode_dictionary(&header.keys)
}

/// Decodes a `CMSD-Dynamic` header value: one hop per list member, origin first, the hop
/// closest to the client last. Members that are not a string identifier are skipped, as are
/// parameters of the wrong type.
///
/// # Errors
/// [`CmcdError::Syntax`] when the text is not an RFC 8941 list.
pub fn decode_cmsd_dynamic(text: &str) -> Result<Vec<CmsdHop>, CmcdError> {
    let list: List = Parser::new(text.trim())
        .parse()
        .map_err(|e| CmcdError::Syntax(e.to_string()))?;
    Ok(list
        .iter()
        .filter_map(|entry| {
            let ListEntry::Item(item) = entry else {
                return None;
            };
            let BareItem::String(server) = &item.bare_item else {
                return None;
            };
            let params = item
                .params
                .iter()
                .filter_map(|(key, value)| {
                    let entry = ListEntry::Item(sfv::Item::new(value.clone()));
                    typed_value(key.as_str(), &entry, dynamic_spec)
                        .ok()
                        .map(|v| (key.as_str().to_owned(), v))
                })
                .collect();
            Some(CmsdHop {
                server: server.as_str().to_owned(),
                params,
            })
        })
        .collect())
}

/// Encodes hops as a `CMSD-Dynamic` header value.
pub fn encode_cmsd_dynamic(hops: &[CmsdHop]) -> std::string::String {
    hops.iter()
        .filter_map(|hop| {
            let server = sfv::String::from_string(hop.server.clone()).ok()?;
            let mut params = sfv::Parameters::new();
            for (key, value) in &hop.params {
                let Ok(key) = sfv::Key::from_string(key.clone()) else {
                    continue;
                };
                let bare = match value {
                    CmcdValue::Integer(v) => sfv::Integer::try_from(*v).ok().map(BareItem::Integer),
                    CmcdValue::Boolean(v) => Some(BareItem::Boolean(*v)),
                    _ => None,
                };
                if let Some(bare) = bare {
                    params.insert(key, bare);
                }
            }
            let mut serializer = sfv::ListSerializer::new();
            serializer.members(std::iter::once(&ListEntry::Item(sfv::Item::with_params(
                server, params,
            ))));
            serializer.finish()
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn static_vector_roundtrips() {
        // CML `libs/cmsd/test/data` (reference §2).
        let header =
            decode_cmsd_static(r#"ot=v,sf=h,st=v,d=5000,br=2000,n="OriginProviderA""#).unwrap();
        assert_eq!(
            serde_json::to_value(&header.keys).unwrap(),
            json!({"ot": "v", "sf": "h", "st": "v", "d": 5000, "br": 2000, "n": "OriginProviderA"})
        );
        assert_eq!(
            decode_cmsd_static(&encode_cmsd_static(&header)).unwrap(),
            header
        );
        let odd = decode_cmsd_static("br=\"fast\",zz=1").unwrap();
        assert_eq!(odd.ignored.len(), 2);
    }

    #[test]
    fn dynamic_vector_has_four_hops() {
        let text = r#""CDNB-3ak1";etp=96;rtt=8,"CDNB-w35k";etp=76;rtt=32,"CDNA-987.343";etp=48;rtt=30,"CDNA-312.663";etp=115;rtt=16;mb=5000"#;
        let hops = decode_cmsd_dynamic(text).unwrap();
        assert_eq!(hops.len(), 4);
        assert_eq!(hops[3].server, "CDNA-312.663");
        assert_eq!(
            serde_json::to_value(&hops[3].params).unwrap(),
            json!({"etp": 115, "rtt": 16, "mb": 5000})
        );
        // Parameter order carries no meaning; the encoder writes them alphabetically.
        assert_eq!(
            decode_cmsd_dynamic(&encode_cmsd_dynamic(&hops)).unwrap(),
            hops
        );
        let duress = decode_cmsd_dynamic(r#""edge-7";du"#).unwrap();
        assert_eq!(duress[0].params["du"], CmcdValue::Boolean(true));
        assert!(decode_cmsd_dynamic("\"a\";etp=(1").is_err());
    }

    proptest::proptest! {
        #[test]
        fn decoding_never_panics(text in ".{0,120}") {
            let _ = decode_cmsd_static(&text);
            let _ = decode_cmsd_dynamic(&text);
        }
    }
}
