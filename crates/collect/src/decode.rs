//! Request body decoding: content type, gzip, and the decoded-size limit.
use std::io::Read;

use axum::http::{header, HeaderMap};

use crate::IngestError;

/// Content types of `POST /v1/events`: `text/plain` because `sendBeacon` and preflight-free
/// `fetch` send it.
pub const BEACON_TYPES: &[&str] = &["application/json", "text/plain"];
/// Content types of CMCD event-mode bodies: `application/cmcd` (CTA-5004-B), `text/cmcd`
/// (CTA-5004-A), and `text/plain` for players that avoid a CORS preflight.
pub const CMCD_TYPES: &[&str] = &["application/cmcd", "text/cmcd", "text/plain"];

/// Returns the decoded body: checks the content type against `accepted`, gunzips when asked,
/// enforces `limit`.
pub fn decode_body(
    headers: &HeaderMap,
    body: &[u8],
    accepted: &[&str],
    limit: usize,
) -> Result<Vec<u8>, IngestError> {
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let essence = content_type
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim();
        if !accepted
            .iter()
            .any(|kind| essence.eq_ignore_ascii_case(kind))
        {
            return Err(IngestError::Unsupported(format!(
                "content type {essence:?}"
            )));
        }
    }
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("") | Some("identity") => {
            if body.len() > limit {
                return Err(IngestError::TooLarge { limit });
            }
            Ok(body.to_vec())
        }
        Some("gzip") => {
            let mut decoded = Vec::with_capacity(body.len() * 4);
            // Read one byte past the limit so a gzip bomb stops there instead of filling memory.
            flate2::read::GzDecoder::new(body)
                .take(limit as u64 + 1)
                .read_to_end(&mut decoded)
                .map_err(|e| IngestError::Unsupported(format!("gzip body: {e}")))?;
            if decoded.len() > limit {
                return Err(IngestError::TooLarge { limit });
            }
            Ok(decoded)
        }
        Some(other) => Err(IngestError::Unsupported(format!(
            "content encoding {other:?}"
        ))),
    }
}
