//! Every CMCD key with its type (CTA-5004-B Table 1), and which value forms the server accepts.

/// The value type a key carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// An integer (ms, kbps, counts, epoch ms).
    Integer,
    /// A decimal (`pr`); an integer is accepted too.
    Decimal,
    /// A boolean: a bare key is TRUE, `?0` is FALSE.
    Boolean,
    /// A string of at most this many characters (0 = no limit).
    String(usize),
    /// A token from this set.
    Token(&'static [&'static str]),
    /// v2: an inner list of integers, each with an optional object-type parameter
    /// (`br=(5000;v 320;a)`); a v1 scalar integer is read as a one-item list.
    IntegerList,
    /// v2: an inner list of strings (`ec=("E1" "E2")`, `nor=("../3.m4v")`); a v1 string is read
    /// as a one-item list (URL-decoded for `nor`, CTA-5004 §3.3).
    StringList,
}

/// One key of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// The key as spelled in CTA-5004.
    pub key: &'static str,
    /// Its full name.
    pub name: &'static str,
    /// Its value type.
    pub kind: KeyKind,
}

/// Object types (`ot`), also the names of list-item parameters in v2.
pub const OBJECT_TYPES: &[&str] = &["m", "a", "v", "av", "i", "c", "tt", "k", "o"];
/// Event types (`e`, CTA-5004-B §1.3); `h` is in the spec though CML's list lacks it.
pub const EVENT_TYPES: &[&str] = &[
    "abs", "abe", "as", "ae", "b", "bc", "c", "ce", "e", "h", "m", "um", "pc", "pe", "pr", "ps",
    "rr", "sk", "t",
];
/// Player states (`sta`); `w` is listed but undefined in -B (CML reads it as "waiting").
pub const STATES: &[&str] = &["s", "p", "k", "r", "a", "w", "e", "f", "q", "d"];

const fn spec(key: &'static str, name: &'static str, kind: KeyKind) -> KeySpec {
    KeySpec { key, name, kind }
}

use KeyKind::{Boolean, Decimal, Integer, IntegerList, String, StringList, Token};

/// Every key of CTA-5004-B Table 1 (and v1's `nrr`), alphabetically.
pub const KEYS: &[KeySpec] = &[
    spec("ab", "aggregate encoded bitrate (kbps)", IntegerList),
    spec("bg", "backgrounded", Boolean),
    spec("bl", "buffer length (ms)", IntegerList),
    spec("br", "encoded bitrate (kbps)", IntegerList),
    spec("bs", "buffer starvation", Boolean),
    spec("bsa", "buffer starvation absolute (count)", IntegerList),
    spec("bsd", "buffer starvation duration (ms)", IntegerList),
    spec(
        "bsda",
        "buffer starvation duration absolute (ms)",
        IntegerList,
    ),
    spec("cen", "custom event name", String(64)),
    spec("cid", "content id", String(128)),
    spec("cmsdd", "CMSD-Dynamic header copy (base64)", String(0)),
    spec("cmsds", "CMSD-Static header copy (base64)", String(0)),
    spec("cs", "content signature", String(0)),
    spec("d", "object duration (ms)", Integer),
    spec("dfa", "dropped frames absolute", Integer),
    spec("dl", "deadline (ms)", Integer),
    spec("e", "event", Token(EVENT_TYPES)),
    spec("ec", "player error codes", StringList),
    spec("h", "hostname", String(128)),
    spec("lab", "lowest aggregated bitrate (kbps)", IntegerList),
    spec("lb", "lowest encoded bitrate (kbps)", IntegerList),
    spec("ltc", "live stream latency (ms)", Integer),
    spec("msd", "media start delay (ms)", Integer),
    spec("mtp", "measured throughput (kbps)", IntegerList),
    spec("nor", "next object requests", StringList),
    spec("nr", "non-rendered", Boolean),
    spec("nrr", "next range request (v1)", String(0)),
    spec("ot", "object type", Token(OBJECT_TYPES)),
    spec("pb", "playhead bitrate (kbps)", IntegerList),
    spec("pr", "playback rate", Decimal),
    spec("pt", "playhead time (ms)", Integer),
    spec("rc", "response code", Integer),
    spec("rtp", "requested maximum throughput (kbps)", Integer),
    spec("sf", "streaming format", Token(&["d", "h", "e", "s", "o"])),
    spec("sid", "session id", String(64)),
    spec("smrt", "SMRT-Data header copy (base64)", String(0)),
    spec("sn", "sequence number", Integer),
    spec("st", "stream type", Token(&["v", "l", "ll"])),
    spec("sta", "state", Token(STATES)),
    spec("su", "startup", Boolean),
    spec("tab", "top aggregated bitrate (kbps)", IntegerList),
    spec("tb", "top encoded bitrate (kbps)", IntegerList),
    spec("tbl", "target buffer length (ms)", IntegerList),
    spec("tpb", "top playable bitrate (kbps)", IntegerList),
    spec("ts", "timestamp (epoch ms)", Integer),
    spec("ttfb", "time to first byte (ms)", Integer),
    spec("ttfbb", "time to first body byte (ms)", Integer),
    spec("ttlb", "time to last byte (ms)", Integer),
    spec("url", "request url", String(0)),
    spec("v", "version", Integer),
];

/// Looks a key up in the table.
pub fn key_spec(key: &str) -> Option<&'static KeySpec> {
    KEYS.binary_search_by(|spec| spec.key.cmp(key))
        .ok()
        .map(|i| &KEYS[i])
}

/// Whether a key is a custom key: CTA-5004 §3.1 requires a hyphen (`com.example-foo`).
pub fn is_custom(key: &str) -> bool {
    key.contains('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_complete() {
        assert!(
            KEYS.windows(2).all(|w| w[0].key < w[1].key),
            "binary search needs order"
        );
        assert_eq!(KEYS.len(), 50);
        assert_eq!(key_spec("br").map(|s| s.kind), Some(KeyKind::IntegerList));
        assert_eq!(key_spec("zz"), None);
    }
}
