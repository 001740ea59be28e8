//! Generic webhooks: the notice as JSON, signed with HMAC-SHA256 when a secret is set.
//!
//! The body is the [`Notice`] serialized, plus `"action": "<name>"` when a rule's action hook is
//! called. With a secret, each request carries `X-Openqoe-Timestamp` (unix seconds at sending) and
//! `X-Openqoe-Signature: sha256=<hex>`, the lowercase hex HMAC-SHA256 of `<timestamp>.<raw body>`.
//!
//! # Verifying a request
//! A receiver that shares the secret:
//! 1. computes HMAC-SHA256 keyed by the secret over the timestamp header, a `.`, and the body
//!    bytes exactly as received (before any JSON parsing), and compares `sha256=<lowercase hex>`
//!    with `X-Openqoe-Signature` in constant time;
//! 2. rejects a timestamp more than a few minutes from its own clock. The timestamp is signed, so
//!    a captured request cannot be replayed later with a fresh one. Retries are signed anew.
//!
//! [`signature`] computes the header value, for receivers written in Rust and for tests.
use crate::notice::Notice;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// Header carrying the unix seconds the signature covers.
pub const TIMESTAMP_HEADER: &str = "x-openqoe-timestamp";
/// Header carrying `sha256=<lowercase hex HMAC-SHA256 of "<timestamp>.<body>">`.
pub const SIGNATURE_HEADER: &str = "x-openqoe-signature";

/// The `X-Openqoe-Signature` value of `body` sent at `timestamp` (unix seconds): `sha256=<hex>`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The signature headers of `body` sent at `now_ms`.
pub(crate) fn signature_headers(
    secret: &str,
    now_ms: i64,
    body: &[u8],
) -> [(&'static str, String); 2] {
    let timestamp = now_ms.div_euclid(1000);
    [
        (TIMESTAMP_HEADER, timestamp.to_string()),
        (SIGNATURE_HEADER, signature(secret, timestamp, body)),
    ]
}

/// The JSON body: the notice, with `"action"` added for action hooks.
pub(crate) fn webhook_body(notice: &Notice, action: Option<&str>) -> Value {
    let mut body = serde_json::to_value(notice).expect("a notice has only string map keys");
    if let (Some(action), Value::Object(fields)) = (action, &mut body) {
        fields.insert("action".into(), action.into());
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notice::sample_notice;

    #[test]
    fn signs_timestamp_and_body() {
        // Reference value from `printf '1700000000.{}' | openssl dgst -sha256 -hmac s3cret`.
        assert_eq!(
            signature("s3cret", 1_700_000_000, b"{}"),
            "sha256=97926816e98fbb41ccb1673225ff29a2f35369099990e1b1561651e7bd097ebf"
        );
        assert_ne!(signature("s3cret", 1, b"{}"), signature("s3cret", 2, b"{}"));
    }

    #[test]
    fn action_is_added_to_the_notice() {
        let body = webhook_body(&sample_notice(), Some("shift-cdn"));
        assert_eq!(body["action"], "shift-cdn");
        assert_eq!(body["alert_id"], "a-1");
        assert_eq!(body["status"], "firing");
        assert!(webhook_body(&sample_notice(), None).get("action").is_none());
    }
}
