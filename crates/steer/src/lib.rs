//! Content steering (HLS Content Steering v1.2, DASH-IF CTS 001): what players tell the steering
//! server when they poll it, and the steering manifest it answers with. Pure: no I/O, no clock.
//!
//! The decisions (which pathway first, for which viewers) are issue 7's next step; this crate
//! starts with the two wire formats, exactly as the players speak them
//! (reference/cmcd-cmsd-steering.md §5).
#![warn(missing_docs)]

mod manifest;
mod query;

pub use manifest::{PathwayClone, SteeringManifest, UriReplacement};
pub use query::{is_pathway_id, PathwayReport, Protocol, SteeringQuery, SteeringQueryError};

#[cfg(test)]
mod tests;
