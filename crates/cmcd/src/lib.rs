//! CMCD — Common Media Client Data (CTA-5004, -A, -B): every key with its type, read from every
//! transmission form (the `CMCD=` query argument, the four header shards, the event-mode body);
//! and CMSD (CTA-5006) static and dynamic headers.
//!
//! Owns the codec and the mapping of event-mode records to openqoe events; views are still the
//! sessionizer's job. Key decision:
//! RFC 8941 syntax is the `sfv` library's; this crate applies CTA-5004-B's server rules on top —
//! unknown keys and values of the wrong type are ignored (and reported with a reason), a payload
//! above the supported version is refused whole, and v1 scalars are read as their v2 lists, so
//! one typed payload serves v1 and v2 players alike.
#![warn(missing_docs)]

mod cmsd;
mod keys;
mod logs;
mod payload;
mod transmission;
mod views;

pub use cmsd::{
    decode_cmsd_dynamic, decode_cmsd_static, encode_cmsd_dynamic, encode_cmsd_static, CmsdHop,
    CmsdStatic,
};
pub use keys::{is_custom, key_spec, KeyKind, KeySpec, EVENT_TYPES, KEYS, OBJECT_TYPES, STATES};
pub use logs::{read_log, requests_to_batches, LogFormat, LoggedRequest};
pub use payload::{
    decode_payload, encode_payload, CmcdPayload, CmcdValue, IgnoredKey, ListItem, SUPPORTED_VERSION,
};
pub use transmission::{
    decode_event_body, decode_headers, decode_query, decode_request, HEADER_SHARDS,
};
pub use views::{records_to_batches, view_id, SkippedRecord};

/// Why a payload could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmcdError {
    /// The payload is empty.
    #[error("cmcd payload: empty")]
    Empty,
    /// The text is not an RFC 8941 dictionary.
    #[error("cmcd payload: not a structured-field dictionary: {0}")]
    Syntax(String),
    /// `v` is above the version this decoder reads; the payload is ignored whole.
    #[error("cmcd payload: version {0} is above the supported version 2")]
    UnsupportedVersion(i64),
}

#[cfg(test)]
mod tests;
