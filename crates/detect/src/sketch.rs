//! Startup times of recent calm minutes in a log-bucketed histogram (a mergeable quantile sketch
//! with 2.5 % relative error), for a cohort's p95 threshold of a slow start.
use std::collections::VecDeque;

/// Bucket `i` holds times in [γ^i, γ^(i+1)) ms.
const GAMMA: f64 = 1.05;
const BUCKETS: usize = 240;
/// Minutes of startup times the threshold is taken over.
const WINDOW_MINUTES: i64 = 120;
/// Starts needed before a p95 is trusted.
const MIN_STARTS: u64 = 100;

fn bucket(ms: u64) -> usize {
    ((ms.max(1) as f64).ln() / GAMMA.ln())
        .floor()
        .clamp(0.0, (BUCKETS - 1) as f64) as usize
}

/// A sliding window of startup times.
#[derive(Debug, Default)]
pub struct StartupWindow {
    minutes: VecDeque<(i64, Vec<u16>)>,
    counts: Vec<u64>,
    total: u64,
}

impl StartupWindow {
    /// Adds one minute's startup times and drops minutes older than the window.
    pub fn push(&mut self, minute: i64, times_ms: &[u64]) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        let buckets: Vec<u16> = times_ms.iter().map(|ms| bucket(*ms) as u16).collect();
        for b in &buckets {
            self.counts[usize::from(*b)] += 1;
        }
        self.total += buckets.len() as u64;
        self.minutes.push_back((minute, buckets));
        while let Some((oldest, _)) = self.minutes.front() {
            if minute - oldest < WINDOW_MINUTES {
                break;
            }
            let (_, gone) = self.minutes.pop_front().expect("front exists");
            for b in &gone {
                self.counts[usize::from(*b)] -= 1;
            }
            self.total -= gone.len() as u64;
        }
    }

    /// The 95th percentile (upper edge of its bucket), once enough starts are held.
    pub fn p95(&self) -> Option<f64> {
        if self.total < MIN_STARTS {
            return None;
        }
        let rank = (self.total as f64 * 0.95).ceil() as u64;
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(GAMMA.powi(i as i32 + 1));
            }
        }
        None
    }
}

/// The p95 of a set of startup times, exact (nearest rank).
pub fn p95_of(times_ms: &[u64]) -> Option<f64> {
    let mut sorted: Vec<f64> = times_ms.iter().map(|ms| *ms as f64).collect();
    sorted.sort_by(f64::total_cmp);
    openqoe_metrics::nearest_rank(&sorted, 0.95)
}
