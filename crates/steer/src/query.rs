//! The query parameters players append to every steering poll (§5.4): the pathway they use and
//! their throughput estimate, in every form players send them.
use serde::Serialize;

/// Which steering dialect a poll speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HLS: `_HLS_pathway`, `_HLS_throughput`.
    Hls,
    /// DASH: `_DASH_pathway`, `_DASH_throughput`.
    Dash,
}

impl Protocol {
    fn params(self) -> (&'static str, &'static str) {
        match self {
            Protocol::Hls => ("_HLS_pathway", "_HLS_throughput"),
            Protocol::Dash => ("_DASH_pathway", "_DASH_throughput"),
        }
    }
}

/// One pathway a player reports, with its throughput estimate when it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathwayReport {
    /// Pathway id (HLS `PATHWAY-ID`, DASH `serviceLocation`).
    pub pathway: String,
    /// The player's throughput estimate on it, bits per second.
    pub throughput_bps: Option<u64>,
}

/// What one poll says. No pathway means the player has not measured anything yet (its first poll,
/// or a `data:` steering URI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SteeringQuery {
    /// The dialect.
    pub protocol: Protocol,
    /// Pathways in the order the player gave them: the current one (hls.js, Shaka) or every one
    /// used since the last poll, fastest first (dash.js).
    pub reports: Vec<PathwayReport>,
}

/// Why a poll's parameters were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SteeringQueryError {
    /// A pathway id outside `[A-Za-z0-9._-]` (the HLS specification's character set).
    #[error("{param}: {value:?} is not a pathway id (letters, digits, '.', '-', '_')")]
    Pathway {
        /// The parameter.
        param: &'static str,
        /// The offending id.
        value: String,
    },
    /// A throughput that is not a non-negative number.
    #[error("{param}: {value:?} is not a throughput in bits per second")]
    Throughput {
        /// The parameter.
        param: &'static str,
        /// The offending value.
        value: String,
    },
}

/// Whether `id` is a legal pathway id.
pub fn is_pathway_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Strips one pair of surrounding double quotes (the specification quotes; hls.js and Shaka do
/// not; dash.js quotes its comma list).
fn unquote(value: &str) -> &str {
    let value = value.trim();
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

impl SteeringQuery {
    /// Reads a poll's decoded query pairs; other parameters (our own state in `RELOAD-URI`) are
    /// left to the caller. Throughputs pair with pathways by position; a missing or empty one
    /// is "not measured". A repeated parameter: the last wins.
    pub fn parse(
        protocol: Protocol,
        pairs: &[(String, String)],
    ) -> Result<SteeringQuery, SteeringQueryError> {
        let (pathway_param, throughput_param) = protocol.params();
        let last = |name: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| unquote(v))
        };
        let pathways: Vec<&str> = match last(pathway_param) {
            Some(list) if !list.is_empty() => list.split(',').map(str::trim).collect(),
            _ => Vec::new(),
        };
        let throughputs: Vec<&str> = match last(throughput_param) {
            Some(list) if !list.is_empty() => list.split(',').map(str::trim).collect(),
            _ => Vec::new(),
        };
        let mut reports = Vec::with_capacity(pathways.len());
        for (i, pathway) in pathways.iter().enumerate() {
            let pathway = unquote(pathway);
            if !is_pathway_id(pathway) {
                return Err(SteeringQueryError::Pathway {
                    param: pathway_param,
                    value: pathway.to_owned(),
                });
            }
            let throughput_bps = match throughputs.get(i).map(|t| unquote(t)) {
                None | Some("") => None,
                Some(text) => Some(
                    text.parse::<f64>()
                        .ok()
                        .filter(|t| t.is_finite() && *t >= 0.0)
                        .map(|t| t.round() as u64)
                        .ok_or_else(|| SteeringQueryError::Throughput {
                            param: throughput_param,
                            value: text.to_owned(),
                        })?,
                ),
            };
            reports.push(PathwayReport {
                pathway: pathway.to_owned(),
                throughput_bps,
            });
        }
        Ok(SteeringQuery { protocol, reports })
    }
}
