//! Content steering (HLS Content Steering v1.2, DASH-IF CTS 001): what players tell the steering
//! server when they poll it, the steering manifest it answers with, and the decisions between
//! them — each pathway's health per viewer cohort, demotions with hysteresis, exploration,
//! operator overrides and the kill switch (reference/cmcd-cmsd-steering.md §5). Pure: no I/O;
//! the caller passes the clock.
#![warn(missing_docs)]

mod config;
mod health;
mod manifest;
mod policy;
mod query;

pub use config::{PathwayConfig, SteerAction, SteerConfig};
pub use health::{Evidence, Health, Penalties};
pub use manifest::{PathwayClone, SteeringManifest, UriReplacement};
pub use policy::{
    Change, ChangeKind, Cohort, CohortState, DemotedBy, Demotion, Observations, Override,
    PathwayHealth, Policy, Refused,
};
pub use query::{is_pathway_id, PathwayReport, Protocol, SteeringQuery, SteeringQueryError};

#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod tests;
