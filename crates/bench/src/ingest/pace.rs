//! How fast a connection sends: flat out, a token bucket per connection, or a batch per view every
//! period with the views joining over one view's life.
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// How fast a connection sends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pace {
    /// As fast as acknowledgements come.
    FlatOut,
    /// At most this many requests a second ([`TokenBucket`]), its views in turn.
    PerConnection(f64),
    /// Each view a batch every `period`; the connection's views join one at a time over one
    /// view's life, so that views of every age are live and end one by one, as in an audience.
    PerView {
        /// Between two batches of a view.
        period: Duration,
    },
}

/// Which of a connection's views sends next, and when.
pub(crate) enum Schedule {
    /// In turn, as fast as `bucket` allows (no bucket: flat out).
    Turns {
        turn: usize,
        views: usize,
        bucket: Option<TokenBucket>,
    },
    /// Each view when it is due, earliest first.
    Due {
        queue: BinaryHeap<Reverse<(Instant, usize)>>,
        period: Duration,
    },
}

impl Schedule {
    /// `views` views of `view_batches` batches each, from `start`; `phase` (0 to 1) puts
    /// connections out of step.
    pub(crate) fn new(
        pace: Pace,
        views: usize,
        view_batches: usize,
        phase: f64,
        start: Instant,
    ) -> Schedule {
        match pace {
            Pace::FlatOut => Schedule::Turns {
                turn: 0,
                views,
                bucket: None,
            },
            Pace::PerConnection(per_second) => Schedule::Turns {
                turn: 0,
                views,
                bucket: Some(TokenBucket::new(per_second, phase, start)),
            },
            Pace::PerView { period } => {
                // View `k` joins at k / views of a view's life.
                let life = period.mul_f64(view_batches as f64);
                let queue = (0..views)
                    .map(|k| {
                        let joins = life.mul_f64((k as f64 + phase) / views as f64);
                        Reverse((start + joins, k))
                    })
                    .collect();
                Schedule::Due { queue, period }
            }
        }
    }

    /// The view to send now, or how long until one is due.
    pub(crate) fn next(&mut self, now: Instant) -> Result<usize, Duration> {
        match self {
            Schedule::Turns {
                turn,
                views,
                bucket,
            } => {
                if let Some(wait) = bucket.as_mut().and_then(|bucket| bucket.take(now)) {
                    return Err(wait);
                }
                *turn += 1;
                Ok((*turn - 1) % *views)
            }
            Schedule::Due { queue, period } => {
                let Some(&Reverse((due, view))) = queue.peek() else {
                    return Err(Duration::from_secs(1));
                };
                if due > now {
                    return Err(due - now);
                }
                queue.pop();
                queue.push(Reverse((due + *period, view)));
                Ok(view)
            }
        }
    }
}

/// Paces one connection: tokens (requests) accrue at `per_second` up to a burst of 100 ms worth,
/// so a connection that fell behind (a slow acknowledgement) catches up, but never in a flood.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    filled_at: Instant,
}

impl TokenBucket {
    /// A bucket holding `phase` (0 to 1) of a token at `now`: connections given different phases
    /// send out of step instead of all at once.
    pub(crate) fn new(per_second: f64, phase: f64, now: Instant) -> TokenBucket {
        debug_assert!(per_second > 0.0, "a pace of {per_second} requests/s");
        TokenBucket {
            per_second,
            burst: (per_second * 0.1).max(1.0),
            tokens: phase.clamp(0.0, 1.0),
            filled_at: now,
        }
    }

    /// Takes a token as of `now`: `None` when there was one (send now), else how long until
    /// there is.
    pub(crate) fn take(&mut self, now: Instant) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(self.filled_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.filled_at = self.filled_at.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            None
        } else {
            // Whole microseconds, rounded up: a wait is never zero, however the floats round.
            let micros = ((1.0 - self.tokens) / self.per_second * 1e6).ceil();
            Some(Duration::from_micros((micros as u64).max(1)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends from a bucket over `seconds` of simulated time, sleeping exactly as told; after the
    /// first send past `stall.0` seconds, the clock jumps `stall.1` seconds (a slow
    /// acknowledgement). Returns the sends and the most sent at one instant.
    fn sends_over(per_second: f64, seconds: f64, stall: Option<(f64, f64)>) -> (usize, usize) {
        let start = Instant::now();
        let end = start + Duration::from_secs_f64(seconds);
        let mut stall = stall.map(|(at, length)| {
            (
                start + Duration::from_secs_f64(at),
                Duration::from_secs_f64(length),
            )
        });
        let mut bucket = TokenBucket::new(per_second, 0.5, start);
        let (mut now, mut sends, mut at_once, mut most_at_once) = (start, 0, 0, 0);
        while now < end {
            match bucket.take(now) {
                None => {
                    sends += 1;
                    at_once += 1;
                    most_at_once = most_at_once.max(at_once);
                    if let Some((_, length)) = stall.filter(|(at, _)| now >= *at) {
                        now += length;
                        stall = None;
                        at_once = 0;
                    }
                }
                Some(wait) => {
                    now += wait;
                    at_once = 0;
                }
            }
        }
        (sends, most_at_once)
    }

    #[test]
    fn token_buckets_keep_the_pace_and_bound_bursts() {
        // (name, requests/s, seconds, stall (at, length), sends (±1), most sent at one instant)
        let cases = [
            (
                "100 000 events/s in 100-event batches on 16 connections",
                62.5,
                10.0,
                None,
                625,
                1,
            ),
            ("300 000 events/s likewise", 187.5, 10.0, None, 1875, 1),
            ("below 1/s", 0.5, 10.0, None, 5, 1),
            (
                "a 50 ms stall is made up at once",
                100.0,
                10.0,
                Some((2.0, 0.0505)),
                1000,
                5,
            ),
            (
                "a 2 s stall, only up to the burst",
                100.0,
                10.0,
                Some((2.0, 2.0)),
                810,
                10,
            ),
        ];
        for (name, per_second, seconds, stall, want_sends, want_at_once) in cases {
            let (sends, at_once) = sends_over(per_second, seconds, stall);
            assert!(sends.abs_diff(want_sends) <= 1, "{name}: {sends} sends");
            assert_eq!(at_once, want_at_once, "{name}");
        }
    }

    #[test]
    fn views_paced_each_join_over_one_life_then_send_every_period() {
        // 4 views of 8 batches, a batch a second each: a life of 8 s, a view joining every 2 s.
        let start = Instant::now();
        let period = Duration::from_secs(1);
        let mut schedule = Schedule::new(Pace::PerView { period }, 4, 8, 0.0, start);
        let (mut now, mut sends) = (start, Vec::new());
        while now < start + Duration::from_secs(12) {
            match schedule.next(now) {
                Ok(view) => sends.push((now.duration_since(start).as_secs(), view)),
                Err(wait) => now += wait,
            }
        }
        let first = |view| sends.iter().find(|(_, v)| *v == view).map(|(at, _)| *at);
        assert_eq!(
            (first(0), first(1), first(2), first(3)),
            (Some(0), Some(2), Some(4), Some(6)),
            "joined one at a time over the life"
        );
        let in_second = |second| sends.iter().filter(|(at, _)| *at == second).count();
        assert_eq!(
            (in_second(1), in_second(3), in_second(9), in_second(11)),
            (1, 2, 4, 4),
            "every view once a second once joined"
        );
    }
}
