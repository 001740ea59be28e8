//! The act stage: delivers alert lifecycle notices to webhooks, Slack, PagerDuty and Alertmanager.
//!
//! Owns the wire formats of each destination, HMAC signing of webhooks, retries and the per-alert
//! log of delivery attempts. Does not own alerts: detection decides when an alert fires, changes
//! or resolves and hands each change to a [`Notifier`] as a [`Notice`].
//! Key decision: every destination has its own ordered queue, so a resolved notice never
//! overtakes its firing notice and a slow or failing destination holds up no other.
#![warn(missing_docs)]

mod alertmanager;
mod config;
mod deliver;
mod delivery_log;
mod notice;
mod pagerduty;
mod slack;
mod webhook;

pub use config::{ActionHook, Destination, DestinationKind};
pub use deliver::{Notifier, RetryPolicy};
pub use delivery_log::{DeliveryRecord, Outcome, Purpose};
pub use notice::{Notice, NoticeCause, NoticeStatus, Severity};
pub use webhook::{signature, SIGNATURE_HEADER, TIMESTAMP_HEADER};
