//! `openqoe cmcd decode`: prints a CMCD payload as JSON, whatever form it was captured in.
use anyhow::bail;
use clap::Subcommand;
use openqoe_cmcd::{decode_event_body, decode_headers, decode_payload, decode_query};
use serde_json::{json, Value};

/// `openqoe cmcd …`
#[derive(Subcommand)]
pub enum CmcdCommand {
    /// Decodes a raw payload, a `CMCD=` query string or URL, `CMCD-*: …` header lines, an
    /// event-mode body (one record per line), or a `CMSD-Static:`/`CMSD-Dynamic:` header line;
    /// `-` reads standard input.
    Decode {
        /// The payload, or `-` for standard input.
        input: String,
    },
}

/// Runs a `cmcd` subcommand.
pub fn run(command: CmcdCommand) -> anyhow::Result<()> {
    let CmcdCommand::Decode { input } = command;
    let text = if input == "-" {
        crate::stdin::read_all()?
    } else {
        input
    };
    println!("{}", serde_json::to_string_pretty(&decode_any(&text)?)?);
    Ok(())
}

/// Recognises the capture's form and decodes it.
fn decode_any(text: &str) -> anyhow::Result<Value> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let header_lines: Vec<(&str, &str)> = lines
        .iter()
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| name.trim().to_ascii_lowercase().starts_with("cmcd-"))
        .collect();
    let one = |decoded: Result<openqoe_cmcd::CmcdPayload, openqoe_cmcd::CmcdError>| -> anyhow::Result<Value> {
        Ok(serde_json::to_value(decoded?)?)
    };
    // CMSD response headers (CTA-5006), as an operator copies them from a CDN response.
    for (name, value) in lines.iter().filter_map(|line| line.split_once(':')) {
        match name.trim().to_ascii_lowercase().as_str() {
            "cmsd-static" => {
                return Ok(serde_json::to_value(openqoe_cmcd::decode_cmsd_static(
                    value,
                )?)?)
            }
            "cmsd-dynamic" => {
                return Ok(serde_json::to_value(openqoe_cmcd::decode_cmsd_dynamic(
                    value,
                )?)?)
            }
            _ => {}
        }
    }
    if !header_lines.is_empty() {
        return one(decode_headers(header_lines).expect("header lines are present"));
    }
    if text.contains("CMCD=") {
        return one(decode_query(text.trim()).expect("the query carries CMCD="));
    }
    match lines.len() {
        0 => bail!("nothing to decode"),
        1 => one(decode_payload(lines[0])),
        _ => Ok(Value::Array(
            decode_event_body(text)
                .into_iter()
                .map(|record| match record {
                    Ok(payload) => serde_json::to_value(payload).unwrap_or(Value::Null),
                    Err(e) => json!({"error": e.to_string()}),
                })
                .collect(),
        )),
    }
}
