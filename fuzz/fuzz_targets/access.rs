//! Credentials' parsers: `[access]` in openqoe.toml, a `Cookie` header, a presented token and
//! the route table take any input without panicking; a parsed hash is 32 bytes, and no path
//! that escapes or decorates a public route is public.
#![no_main]
use axum::http::Method;
use libfuzzer_sys::fuzz_target;
use openqoe_access::policy::{requirement, Requirement};
use openqoe_access::session::{cookie_value, COOKIE};
use openqoe_access::token::{find, TokenEntry, TokenHash};
use openqoe_access::{AccessConfig, Role};

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    if let Ok(config) = toml::from_str::<AccessConfig>(&text) {
        for token in &config.tokens {
            let hex: String = token.sha256.clone().into();
            assert_eq!(hex.len(), 64);
        }
    }
    if let Some(value) = cookie_value(&text, COOKIE) {
        assert!(text.contains(value));
    }
    let _ = TokenHash::try_from(text.to_string());
    let entries = [TokenEntry {
        name: "n".into(),
        role: Role::Read,
        sha256: TokenHash::of("oq_known"),
    }];
    assert_eq!(find(&entries, &text).is_some(), text == "oq_known");
    for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::HEAD] {
        if requirement(&method, &text) == Requirement::Public {
            assert!(!text.contains('%') && !text.contains("/.") && text.starts_with('/'), "{text}");
        }
    }
});
