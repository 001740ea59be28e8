//! What a view's media requests looked like per host (CDN edge): counts, failures, TTFB and
//! TTLB spreads, and the CMSD the servers attached — from `request` events, which CMCD v2
//! `e=rr` (response received) records become (docs/cmcd.md).
use openqoe_model::{EventKind, View};
use serde::Serialize;
use serde_json::Value;

use crate::nearest_rank;

/// Median, p95 and maximum of a view's values, in ms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spread {
    /// Median.
    pub p50: f64,
    /// 95th percentile (nearest rank).
    pub p95: f64,
    /// Largest value.
    pub max: f64,
}

/// One host's requests in a view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostRequests {
    /// `host[:port]` of the request URLs.
    pub host: String,
    /// Responses reported.
    pub requests: u64,
    /// Responses with status 0 (no response) or ≥ 400.
    pub failed: u64,
    /// Time to first byte.
    pub ttfb_ms: Option<Spread>,
    /// Time to last byte.
    pub ttlb_ms: Option<Spread>,
    /// The last `CMSD-Static` decoded from this host's responses.
    pub cmsd_static: Option<Value>,
    /// The last `CMSD-Dynamic` decoded from this host's responses (one entry per server hop).
    pub cmsd_dynamic: Option<Value>,
}

/// Per-host request statistics of `view`'s measured events, hosts in order of first request.
pub fn requests_by_host(view: &View) -> Vec<HostRequests> {
    let mut hosts: Vec<(HostRequests, Vec<f64>, Vec<f64>)> = Vec::new();
    for event in view.measured_events() {
        if !matches!(&event.kind, EventKind::Unknown(name) if name == "request") {
            continue;
        }
        let fields = event.fields();
        let field = |name: &str| fields.get(name);
        let Some(host) = field("host").and_then(Value::as_str) else {
            continue;
        };
        let index = match hosts.iter().position(|(h, _, _)| h.host == host) {
            Some(i) => i,
            None => {
                hosts.push((
                    HostRequests {
                        host: host.to_owned(),
                        requests: 0,
                        failed: 0,
                        ttfb_ms: None,
                        ttlb_ms: None,
                        cmsd_static: None,
                        cmsd_dynamic: None,
                    },
                    Vec::new(),
                    Vec::new(),
                ));
                hosts.len() - 1
            }
        };
        let (stats, ttfb, ttlb) = &mut hosts[index];
        stats.requests += 1;
        if let Some(status) = field("status").and_then(Value::as_i64) {
            if status == 0 || status >= 400 {
                stats.failed += 1;
            }
        }
        let ms = |name: &str| field(name).and_then(Value::as_f64).filter(|v| *v >= 0.0);
        ttfb.extend(ms("ttfb_ms"));
        ttlb.extend(ms("ttlb_ms"));
        if let Some(cmsd) = field("cmsd_static") {
            stats.cmsd_static = Some(cmsd.clone());
        }
        if let Some(cmsd) = field("cmsd_dynamic") {
            stats.cmsd_dynamic = Some(cmsd.clone());
        }
    }
    hosts
        .into_iter()
        .map(|(mut stats, mut ttfb, mut ttlb)| {
            stats.ttfb_ms = spread(&mut ttfb);
            stats.ttlb_ms = spread(&mut ttlb);
            stats
        })
        .collect()
}

fn spread(values: &mut [f64]) -> Option<Spread> {
    values.sort_by(f64::total_cmp);
    Some(Spread {
        p50: nearest_rank(values, 0.5)?,
        p95: nearest_rank(values, 0.95)?,
        max: *values.last()?,
    })
}

#[cfg(test)]
mod tests {
    use openqoe_model::{Batch, ServerTime, View};
    use serde_json::json;

    use super::*;

    #[test]
    fn requests_group_by_host_with_spreads_and_failures() {
        let request = |seq: u64, host: &str, status: i64, ttfb: i64, ttlb: i64| {
            json!({"seq": seq, "ts": 1000 + seq, "type": "request", "host": host, "status": status,
                   "ttfb_ms": ttfb, "ttlb_ms": ttlb})
        };
        let mut events: Vec<_> = (0..10)
            .map(|i| request(i, "edge-a", 200, 10 + i as i64, 100 + i as i64))
            .collect();
        events.push(request(10, "edge-b", 404, 5, 6));
        events.push(
            json!({"seq": 11, "ts": 1011, "type": "request", "host": "edge-b", "status": 0,
                           "cmsd_dynamic": [{"server": "edge-b", "params": {"etp": 96}}]}),
        );
        events.push(json!({"seq": 12, "ts": 1012, "type": "heartbeat"}));
        let body = json!({"v": 1, "view": {"id": "r"}, "events": events});
        let batch = Batch::parse(body.to_string().as_bytes(), ServerTime(0)).unwrap();
        let mut view = View::new(&batch.view, batch.received_at);
        view.merge(batch);

        let hosts = requests_by_host(&view);
        assert_eq!(hosts.len(), 2);
        let a = &hosts[0];
        assert_eq!((a.host.as_str(), a.requests, a.failed), ("edge-a", 10, 0));
        assert_eq!(
            a.ttfb_ms,
            Some(Spread {
                p50: 14.0,
                p95: 19.0,
                max: 19.0
            })
        );
        let b = &hosts[1];
        assert_eq!(
            (b.requests, b.failed),
            (2, 2),
            "404 and no response both fail"
        );
        assert_eq!(b.ttlb_ms.as_ref().map(|s| s.max), Some(6.0));
        assert_eq!(
            b.cmsd_dynamic,
            Some(json!([{"server": "edge-b", "params": {"etp": 96}}]))
        );
    }
}
