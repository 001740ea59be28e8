//! The transmission forms (CTA-5004-B §3–§4): the `CMCD=` query argument, the four header
//! shards, and the event-mode POST body of LF-separated records.
use crate::{decode_payload, CmcdError, CmcdPayload};

/// The four request-mode headers, by shard (names are case-insensitive).
pub const HEADER_SHARDS: [&str; 4] = ["CMCD-Request", "CMCD-Object", "CMCD-Status", "CMCD-Session"];

/// Decodes the `CMCD=` argument of a query string (`a=1&CMCD=br%3D3200%2Cbs`); a full URL or a
/// leading `?` is fine. `None` when the query carries no `CMCD` argument.
///
/// # Errors
/// As [`decode_payload`], for the decoded argument.
pub fn decode_query(query: &str) -> Option<Result<CmcdPayload, CmcdError>> {
    let query = query.split_once('?').map_or(query, |(_, q)| q);
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    // The name is case-sensitive and capitalised (CTA-5004 §3.2).
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "CMCD")
        .map(|(_, value)| decode_payload(&value))
}

/// Decodes the CMCD headers among `headers` as one payload; `None` when there are none.
///
/// # Errors
/// As [`decode_payload`], for the shards joined into one dictionary.
pub fn decode_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<Result<CmcdPayload, CmcdError>> {
    let shards: Vec<&str> = headers
        .into_iter()
        .filter(|(name, _)| {
            HEADER_SHARDS
                .iter()
                .any(|shard| shard.eq_ignore_ascii_case(name.trim()))
        })
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
        .collect();
    (!shards.is_empty()).then(|| decode_payload(&shards.join(",")))
}

/// Decodes a request's CMCD: the headers when any is present, else the query argument
/// (CTA-5004-B §6: a server ignores the query argument when CMCD headers are present).
pub fn decode_request<'a>(
    query: Option<&str>,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<Result<CmcdPayload, CmcdError>> {
    decode_headers(headers).or_else(|| query.and_then(decode_query))
}

/// Decodes an event-mode body (`application/cmcd` or `text/cmcd`): one payload per line, lines
/// trimmed, empty lines (a trailing LF, CRLF endings) skipped. A bad record does not spoil the
/// others.
pub fn decode_event_body(body: &str) -> Vec<Result<CmcdPayload, CmcdError>> {
    body.split('\n')
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(decode_payload)
        .collect()
}
