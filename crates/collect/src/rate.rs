//! Rate limits on ingest: a token bucket per write key (one environment cannot take the whole
//! box) and one per client address (one device or script cannot take a whole environment),
//! each answered `429` with `Retry-After`. governor's GCRA keeps one timestamp per key; keys
//! idle longer than their bucket's refill are dropped every [`SWEEP_EVERY`] checks, so a flood
//! of addresses costs memory only while it lasts.
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;

/// Checks between sweeps of idle keys.
const SWEEP_EVERY: u64 = 10_000;

/// A sustained rate and a burst, in requests.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests a second, sustained.
    pub per_second: u32,
    /// Requests at once after a quiet spell.
    pub burst: u32,
}

impl RateLimit {
    fn quota(self) -> Option<Quota> {
        let rate = NonZeroU32::new(self.per_second)?;
        let burst = NonZeroU32::new(self.burst.max(self.per_second))?;
        Some(Quota::per_second(rate).allow_burst(burst))
    }
}

/// Which bucket refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateScope {
    /// The write key's (its environment's) bucket.
    WriteKey,
    /// The client address's bucket.
    ClientAddress,
}

/// A refusal: whose bucket was empty, and the seconds until a retry can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    /// Whose bucket was empty.
    pub scope: RateScope,
    /// Seconds until a retry can succeed.
    pub retry_after_s: u64,
}

/// The buckets; shared by every ingest request.
pub struct RateLimits {
    per_key: Option<DefaultKeyedRateLimiter<String>>,
    per_client: Option<DefaultKeyedRateLimiter<IpAddr>>,
    checks: AtomicU64,
}

impl RateLimits {
    /// Buckets for `per_key` and `per_client` (none where a limit is 0).
    pub fn new(per_key: RateLimit, per_client: RateLimit) -> RateLimits {
        RateLimits {
            per_key: per_key.quota().map(RateLimiter::keyed),
            per_client: per_client.quota().map(RateLimiter::keyed),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one request from the bucket of `client` (from [`client_of`]).
    ///
    /// # Errors
    /// [`RateLimited`] with the wait before a retry can succeed.
    pub fn check_client(&self, client: IpAddr) -> Result<(), RateLimited> {
        self.sweep();
        let Some(limiter) = &self.per_client else {
            return Ok(());
        };
        limiter.check_key(&client).map_err(|not_until| {
            limited(
                RateScope::ClientAddress,
                not_until.wait_time_from(DefaultClock::default().now()),
            )
        })
    }

    /// Takes one request from write key `key`'s bucket.
    ///
    /// # Errors
    /// [`RateLimited`] with the wait before a retry can succeed.
    pub fn check_key(&self, key: &str) -> Result<(), RateLimited> {
        let Some(limiter) = &self.per_key else {
            return Ok(());
        };
        // Only configured keys reach here, so the map holds one entry per environment.
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            limited(
                RateScope::WriteKey,
                not_until.wait_time_from(DefaultClock::default().now()),
            )
        })
    }

    fn sweep(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            if let Some(limiter) = &self.per_client {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
    }
}

fn limited(scope: RateScope, wait: Duration) -> RateLimited {
    RateLimited {
        scope,
        retry_after_s: wait.as_secs() + 1,
    }
}

/// The bucket an address counts in: itself for IPv4, its /64 for IPv6 (one subscriber's
/// network gets a /64 or more, so finer keys would give one attacker millions of buckets).
fn bucket_of(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V4(_) => client,
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(
                segments[0],
                segments[1],
                segments[2],
                segments[3],
                0,
                0,
                0,
                0,
            ))
        }
    }
}

/// The client a request counts as, for limits and for weighing what it reports: its address
/// (an IPv6 client's /64). `None` when unknown, or for a loopback peer
/// with no trusted header: a proxy or load generator on this host stands for many clients.
pub fn client_of(
    peer: Option<IpAddr>,
    header: Option<&str>,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    if header.is_none() && peer.is_some_and(|p| p.is_loopback()) {
        return None;
    }
    client_address(peer, header, headers).map(bucket_of)
}

/// The client's address: the right-most entry of `header` when a trusted proxy sets it (the
/// one the proxy itself saw; entries to its left are the client's to forge), else the peer.
fn client_address(
    peer: Option<IpAddr>,
    header: Option<&str>,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    let Some(name) = header else {
        return peer;
    };
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .and_then(|v| v.trim().parse().ok())
        .or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_waits_and_others_are_untouched() {
        let limits = RateLimits::new(
            RateLimit {
                per_second: 0,
                burst: 0,
            },
            RateLimit {
                per_second: 2,
                burst: 5,
            },
        );
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..5 {
            limits.check_client(a).unwrap();
        }
        match limits.check_client(a) {
            Err(RateLimited {
                scope: RateScope::ClientAddress,
                retry_after_s,
            }) => {
                assert!((1..=2).contains(&retry_after_s), "{retry_after_s}")
            }
            other => panic!("{other:?}"),
        }
        limits.check_client("192.0.2.2".parse().unwrap()).unwrap();
        assert!(limits.check_key("any").is_ok(), "a limit of 0 is none");
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_loopback_is_no_client() {
        let headers = HeaderMap::new();
        let client = |peer: &str| client_of(Some(peer.parse().unwrap()), None, &headers);
        assert_eq!(client("2001:db8:1:2::1"), client("2001:db8:1:2:ffff::9"));
        assert_ne!(client("2001:db8:1:2::1"), client("2001:db8:1:3::1"));
        assert_eq!(client("192.0.2.1"), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(client("127.0.0.1"), None, "a proxy on this host");
        assert_eq!(client("::1"), None);
        let mut forwarded = HeaderMap::new();
        forwarded.insert("x-forwarded-for", "203.0.113.4".parse().unwrap());
        let loopback = Some("127.0.0.1".parse().unwrap());
        let behind_proxy = client_of(loopback, Some("x-forwarded-for"), &forwarded);
        assert_eq!(behind_proxy, Some("203.0.113.4".parse().unwrap()));
    }

    #[test]
    fn the_client_address_comes_from_the_trusted_header_s_last_entry() {
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 198.51.100.7".parse().unwrap());
        let cases = [
            (None, Some(peer)),
            (
                Some("x-forwarded-for"),
                Some("198.51.100.7".parse().unwrap()),
            ),
            (Some("x-real-ip"), Some(peer)),
        ];
        for (header, want) in cases {
            assert_eq!(
                client_address(Some(peer), header, &headers),
                want,
                "{header:?}"
            );
        }
        headers.insert("x-forwarded-for", "garbage".parse().unwrap());
        assert_eq!(
            client_address(Some(peer), Some("x-forwarded-for"), &headers),
            Some(peer)
        );
    }
}
