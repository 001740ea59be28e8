//! Slack incoming webhooks: a plain fallback line and mrkdwn sections for people to read.
use crate::notice::{dimension_values, quantity, truncate, Notice, NoticeStatus};
use serde_json::{json, Value};

/// Causes listed; more would bury the first, which explains the most.
const MAX_CAUSES: usize = 5;
/// Slack refuses a section text longer than 3,000 characters; the summary must leave room.
const MAX_SUMMARY_BYTES: usize = 2_000;

/// The incoming-webhook body: `text` for notifications, `blocks` for the channel.
pub(crate) fn slack_body(notice: &Notice) -> Value {
    let marker = match notice.status {
        NoticeStatus::Firing => ":red_circle:",
        NoticeStatus::Updated => ":large_orange_circle:",
        NoticeStatus::Resolved => ":white_check_mark:",
    };
    let word = notice.status.word();
    let summary = escape(truncate(&notice.summary, MAX_SUMMARY_BYTES));
    let mut blocks = vec![
        section(format!(
            "{marker} *{word}* {}\n{summary}",
            escape(&notice.rule)
        )),
        section(format!(
            "*Value* {} (baseline {}) · *Affected views* {:.0}",
            escape(&quantity(notice.value, &notice.unit)),
            escape(&quantity(notice.baseline, &notice.unit)),
            notice.affected_views
        )),
    ];
    if !notice.causes.is_empty() {
        let lines: Vec<String> = notice
            .causes
            .iter()
            .take(MAX_CAUSES)
            .map(|cause| {
                let element = escape(&dimension_values(&cause.element, " & "));
                format!(
                    "• `{element}` explains {:.0}%",
                    cause.explanatory_power * 100.0
                )
            })
            .collect();
        blocks.push(section(format!("*Root cause*\n{}", lines.join("\n"))));
    }
    let links: Vec<String> = [
        (&notice.runbook_url, "Runbook"),
        (&notice.dashboard_url, "Dashboard"),
    ]
    .into_iter()
    .filter_map(|(url, text)| url.as_ref().map(|url| format!("<{url}|{text}>")))
    .collect();
    if !links.is_empty() {
        blocks.push(section(links.join(" · ")));
    }
    json!({
        "text": format!("{word} {}: {}", notice.rule, truncate(&notice.summary, MAX_SUMMARY_BYTES)),
        "blocks": blocks,
    })
}

fn section(text: String) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

/// Slack reads `&`, `<` and `>` as markup, so text from dimensions and rules must escape them.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notice::sample_notice;

    #[test]
    fn blocks_carry_status_figures_cause_and_links() {
        let mut notice = sample_notice();
        notice.causes[0]
            .element
            .insert("country".into(), "DE".into());
        let body = slack_body(&notice);
        assert_eq!(
            body["text"],
            format!("FIRING rebuffering: {}", notice.summary)
        );
        let texts: Vec<&str> = body["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|block| block["text"]["text"].as_str().unwrap())
            .collect();
        assert!(
            texts[0].starts_with(":red_circle: *FIRING* rebuffering\n"),
            "{}",
            texts[0]
        );
        assert_eq!(
            texts[1],
            "*Value* 3.1% (baseline 1%) · *Affected views* 1234"
        );
        assert_eq!(
            texts[2],
            "*Root cause*\n• `cdn=cdn-b &amp; country=DE` explains 82%"
        );
        assert_eq!(
            texts[3],
            "<http://wiki/rebuffering|Runbook> · <http://openqoe/alerts/a-1|Dashboard>"
        );
    }

    #[test]
    fn resolved_without_causes_or_links() {
        let mut notice = sample_notice();
        notice.status = NoticeStatus::Resolved;
        notice.causes.clear();
        notice.runbook_url = None;
        notice.dashboard_url = None;
        let blocks = slack_body(&notice)["blocks"].as_array().unwrap().clone();
        assert_eq!(blocks.len(), 2);
        assert!(blocks[0]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with(":white_check_mark: *RESOLVED*"));
    }
}
