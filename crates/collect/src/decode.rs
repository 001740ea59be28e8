//! Request body decoding: content type, gzip, and the decoded-size limit.
use std::io::Read;

use axum::http::{header, HeaderMap};

use crate::IngestError;

/// Returns the decoded body: checks the content type, gunzips when asked, enforces `limit`.
///
/// `text/plain` is accepted because `sendBeacon` and preflight-free `fetch` send it.
pub fn decode_body(headers: &HeaderMap, body: &[u8], limit: usize) -> Result<Vec<u8>, IngestError> {
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let essence = content_type
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim();
        if !essence.eq_ignore_ascii_case("application/json")
            && !essence.eq_ignore_ascii_case("text/plain")
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
