//! CDN access-log readers (nginx, CloudFront, Fastly): any text gives requests and skipped lines
//! with reasons, never a panic, and the requests map to valid batches.
#![no_main]
use libfuzzer_sys::fuzz_target;
use openqoe_cmcd::{read_log, requests_to_batches, LogFormat};
use openqoe_model::ServerTime;

fuzz_target!(|text: &str| {
    for format in [LogFormat::Nginx, LogFormat::Cloudfront, LogFormat::Fastly] {
        let (requests, skipped) = read_log(format, text);
        assert!(skipped
            .iter()
            .all(|(line, reason)| *line > 0 && !reason.is_empty()));
        let _ = requests_to_batches(requests, ServerTime(0));
    }
});
