//! Destinations and action hooks as written in openqoe.toml.
use serde::Deserialize;

/// Where an alert goes, one `[[alerts.destinations]]` entry of openqoe.toml.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Destination {
    /// The name rules use to route alerts here, unique among destinations.
    pub name: String,
    /// The kind of receiver (`kind = "webhook" | "slack" | "pagerduty" | "alertmanager"`) and its settings.
    #[serde(flatten)]
    pub kind: DestinationKind,
}

/// The kind of receiver and its settings, selected by the `kind` key.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum DestinationKind {
    /// A generic webhook: the notice as JSON, signed when `secret` is set.
    Webhook {
        /// The URL the notice is POSTed to.
        url: String,
        /// Shared secret of the `X-Openqoe-Signature` HMAC; without it requests are unsigned.
        secret: Option<String>,
    },
    /// A Slack incoming webhook.
    Slack {
        /// The incoming webhook URL Slack issued.
        url: String,
    },
    /// PagerDuty Events API v2.
    Pagerduty {
        /// The events endpoint; the default is PagerDuty's own.
        #[serde(default = "pagerduty_events_url")]
        url: String,
        /// The integration key of the PagerDuty service.
        routing_key: String,
    },
    /// Prometheus Alertmanager.
    Alertmanager {
        /// Base URL of Alertmanager; alerts are POSTed to `{url}/api/v2/alerts`.
        url: String,
    },
}

/// A rule's action webhook (`action = { name = "shift-cdn", url = "...", secret = "..." }`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Hash)]
#[serde(deny_unknown_fields)]
pub struct ActionHook {
    /// The action's name, sent as `"action"` in the body.
    pub name: String,
    /// The URL the notice is POSTed to.
    pub url: String,
    /// Shared secret of the `X-Openqoe-Signature` HMAC; without it requests are unsigned.
    pub secret: Option<String>,
}

fn pagerduty_events_url() -> String {
    "https://events.pagerduty.com/v2/enqueue".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct File {
        alerts: Alerts,
    }
    #[derive(Debug, Deserialize)]
    struct Alerts {
        destinations: Vec<Destination>,
    }

    fn parse(toml_text: &str) -> Result<Vec<Destination>, toml::de::Error> {
        toml::from_str::<File>(toml_text).map(|file| file.alerts.destinations)
    }

    #[test]
    fn parses_a_webhook_and_pagerduty_default_url() {
        let destinations = parse(
            r#"
            [[alerts.destinations]]
            name = "ops"
            kind = "webhook"
            url = "http://127.0.0.1:9000/hook"
            secret = "s3cret"

            [[alerts.destinations]]
            name = "pager"
            kind = "pagerduty"
            routing_key = "R0UT1NG"
            "#,
        )
        .unwrap();
        let webhook = DestinationKind::Webhook {
            url: "http://127.0.0.1:9000/hook".into(),
            secret: Some("s3cret".into()),
        };
        assert_eq!(
            (destinations[0].name.as_str(), &destinations[0].kind),
            ("ops", &webhook)
        );
        let pagerduty = DestinationKind::Pagerduty {
            url: "https://events.pagerduty.com/v2/enqueue".into(),
            routing_key: "R0UT1NG".into(),
        };
        assert_eq!(destinations[1].kind, pagerduty);
    }

    #[test]
    fn rejects_bad_entries_with_a_reason() {
        let cases = [
            (
                "unknown key",
                "name = \"a\"\nkind = \"slack\"\nurl = \"u\"\nchannel = \"#ops\"",
                "unknown field `channel`",
            ),
            (
                "unknown kind",
                "name = \"a\"\nkind = \"email\"",
                "unknown variant `email`",
            ),
            (
                "missing routing key",
                "name = \"a\"\nkind = \"pagerduty\"",
                "missing field `routing_key`",
            ),
            (
                "missing kind",
                "name = \"a\"\nurl = \"u\"",
                "missing field `kind`",
            ),
        ];
        for (name, entry, want) in cases {
            let err = parse(&format!("[[alerts.destinations]]\n{entry}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{name}: {err}");
        }
    }

    #[test]
    fn action_hook_rejects_unknown_keys() {
        let err =
            toml::from_str::<ActionHook>("name = \"shift-cdn\"\nurl = \"u\"\nmethod = \"PUT\"")
                .unwrap_err();
        assert!(err.to_string().contains("unknown field `method`"), "{err}");
    }
}
