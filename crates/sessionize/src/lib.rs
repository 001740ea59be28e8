//! Turns batches into views: keeps live views and applies the rules that end them (DESIGN §3):
//! `view_end`, no event for the inactivity timeout, or a stall longer than the stall timeout.
//!
//! Key decision: `sessionize` is pure. Time comes in as an argument (`received_at` on each batch,
//! `now` for [`Sessionizer::expire`]) and ended views are pushed to the caller, so replaying the
//! write-ahead log through the same calls rebuilds exactly the views a live run had.
#![warn(missing_docs)]

mod config;
mod end_rules;
mod sessionizer;

pub use config::SessionizeConfig;
pub use end_rules::{EndScan, StallStart};
pub use sessionizer::{Applied, LiveViewsCap, Sessionizer};

#[cfg(test)]
mod tests;
