//! The experience score, 0–100 per view (docs/metrics.md, "Experience score"): four published
//! sub-scores — playback success, startup, smoothness, video quality (reference/metrics-and-
//! beacons.md) — and our own combiner, published in the docs: playback success scales a weighted
//! power mean of the other three with exponent −2, a soft minimum in which the weakest part
//! dominates; each part's pull on the score is its share of the shortfall from 100.
use serde::Serialize;

/// Weights of startup, smoothness and quality in the combiner: viewers rank smoothness above
/// startup above quality (reference: surveys across millions of views).
pub const WEIGHTS: [f64; 3] = [0.35, 0.40, 0.25];
/// The power mean's exponent: below 0, the weakest sub-score dominates.
pub const EXPONENT: f64 = -2.0;

/// A view's sub-scores and the combined score, all 0–100.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ExperienceScore {
    /// 100 played without failure, 50 exited before start (after 1 s or more), 0 failed.
    pub playback_success: Option<f64>,
    /// `8 / (8 + startup seconds) × 100`.
    pub startup: Option<f64>,
    /// Mean of `100/√(1+(rebuffers/2)²)` and `100·e^(−10·rebuffer fraction)`.
    pub smoothness: Option<f64>,
    /// `100·e^(−0.33·(0.15·max upscale + 0.85·mean upscale))`, upscale as fractions.
    pub quality: Option<f64>,
    /// The combined score.
    pub overall: Option<f64>,
    /// Points of `100 − overall` each part takes: startup, smoothness, quality, playback success.
    pub pull: Option<[f64; 4]>,
}

/// The facts of a view the score reads.
pub struct ScoreInputs {
    /// A play request was made.
    pub attempted: bool,
    /// The first frame was shown.
    pub started: bool,
    /// A fatal error happened.
    pub failed: bool,
    /// How long a viewer who left before the start waited, ms.
    pub exit_wait_ms: Option<u64>,
    /// Video startup time, ms.
    pub startup_ms: Option<u64>,
    /// Rebuffers.
    pub rebuffer_count: u64,
    /// Rebuffer time ÷ (rebuffer + playing time), 0–1.
    pub rebuffer_fraction: Option<f64>,
    /// Upscaling as fractions (0.5 = 50 %): time-weighted mean and maximum.
    pub upscale_mean: Option<f64>,
    /// Largest upscaling, as a fraction.
    pub upscale_max: Option<f64>,
}

/// Scores one view.
pub fn score(inputs: &ScoreInputs) -> ExperienceScore {
    if !inputs.attempted {
        return ExperienceScore::default();
    }
    let playback_success = if inputs.failed {
        Some(0.0)
    } else if inputs.started {
        Some(100.0)
    } else {
        // An exit before the start scores 50, unless the viewer left within a second: no score.
        inputs.exit_wait_ms.filter(|ms| *ms >= 1000).map(|_| 50.0)
    };
    let played = inputs.started;
    let startup = inputs
        .startup_ms
        .filter(|_| played)
        .map(|ms| 8.0 / (8.0 + ms as f64 / 1000.0) * 100.0);
    let smoothness = inputs.rebuffer_fraction.filter(|_| played).map(|r| {
        let count = inputs.rebuffer_count as f64;
        (100.0 / (1.0 + (count / 2.0).powi(2)).sqrt() + 100.0 * (-10.0 * r).exp()) / 2.0
    });
    // Without a known player size there is no scaling to judge: full quality.
    let quality = played.then(|| {
        let (mean, max) = (
            inputs.upscale_mean.unwrap_or(0.0),
            inputs.upscale_max.unwrap_or(0.0),
        );
        100.0 * (-0.33 * (0.15 * max + 0.85 * mean)).exp()
    });
    let Some(success) = playback_success else {
        return ExperienceScore {
            playback_success,
            startup,
            smoothness,
            quality,
            overall: None,
            pull: None,
        };
    };
    let parts = [startup, smoothness, quality];
    let (overall, pull) = combine(success, parts);
    ExperienceScore {
        playback_success,
        startup,
        smoothness,
        quality,
        overall: Some(overall),
        pull: Some(pull),
    }
}

/// The combiner: `overall = success/100 × M`, with `M` the weighted power mean (exponent −2) of
/// the parts that exist (100 when none does, 0 when one is 0). The shortfall `100 − overall` is
/// `(100 − success)`, playback success's pull, plus `success/100 × (100 − M)`, which the parts
/// share in proportion to `wᵢ·(sᵢ⁻² − 100⁻²)`: nothing for a perfect part, most for the weakest.
pub fn combine(success: f64, parts: [Option<f64>; 3]) -> (f64, [f64; 4]) {
    let present: Vec<(f64, f64)> = parts
        .iter()
        .zip(WEIGHTS)
        .filter_map(|(p, w)| p.map(|p| (p, w)))
        .collect();
    let weight: f64 = present.iter().map(|(_, w)| w).sum();
    let mean = if present.is_empty() {
        100.0
    } else if present.iter().any(|(p, _)| *p <= 0.0) {
        0.0
    } else {
        (present
            .iter()
            .map(|(p, w)| w / weight * p.powf(EXPONENT))
            .sum::<f64>())
        .powf(1.0 / EXPONENT)
    };
    let overall = success / 100.0 * mean;
    // Shortfall = (100 − success) + success/100 × (100 − M). The second term splits among the
    // parts by wᵢ·(sᵢ⁻² − 100⁻²): nothing for a perfect part, the most for the weakest.
    let excess: Vec<f64> = parts
        .iter()
        .zip(WEIGHTS)
        .map(|(p, w)| {
            p.map_or(0.0, |p| {
                w * (p.max(1e-9).powf(EXPONENT) - 100f64.powf(EXPONENT))
            })
        })
        .collect();
    let total: f64 = excess.iter().sum();
    let parts_shortfall = success / 100.0 * (100.0 - mean);
    let share = |i: usize| {
        if total > 0.0 {
            excess[i] / total * parts_shortfall
        } else {
            0.0
        }
    };
    (overall, [share(0), share(1), share(2), 100.0 - success])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: Option<f64>, want: f64, what: &str) {
        let got = got.unwrap_or_else(|| panic!("{what}: no score"));
        assert!(
            (got - want).abs() < 0.005,
            "{what}: {got:.4}, docs say {want}"
        );
    }

    /// A played view with these facts.
    fn played(startup_s: f64, rebuffers: u64, fraction: f64, upscale: f64) -> ExperienceScore {
        score(&ScoreInputs {
            attempted: true,
            started: true,
            failed: false,
            exit_wait_ms: None,
            startup_ms: Some((startup_s * 1000.0) as u64),
            rebuffer_count: rebuffers,
            rebuffer_fraction: Some(fraction),
            upscale_mean: Some(upscale),
            upscale_max: Some(upscale),
        })
    }

    /// A view that never showed a frame: failed, or left after `exit_wait_ms`.
    fn unstarted(failed: bool, exit_wait_ms: Option<u64>) -> ExperienceScore {
        score(&ScoreInputs {
            attempted: true,
            started: false,
            failed,
            exit_wait_ms,
            startup_ms: None,
            rebuffer_count: 0,
            rebuffer_fraction: None,
            upscale_mean: None,
            upscale_max: None,
        })
    }

    #[test]
    fn sub_scores_match_the_published_examples() {
        // docs/metrics.md, "Experience score": one row per example.
        close(played(0.4, 0, 0.0, 0.0).startup, 95.238, "startup 0.4 s");
        close(played(2.0, 0, 0.0, 0.0).startup, 80.0, "startup 2 s");
        close(played(8.0, 0, 0.0, 0.0).startup, 50.0, "startup 8 s");
        close(played(20.0, 0, 0.0, 0.0).startup, 28.571, "startup 20 s");
        close(
            played(1.0, 4, 0.05, 0.0).smoothness,
            52.687,
            "four 15 s stalls in 20 min",
        );
        close(played(1.0, 0, 0.0, 0.5).quality, 84.789, "50 % upscaling");
    }

    #[test]
    fn the_combiner_matches_the_documented_examples() {
        // (example, score, overall, lost to [startup, smoothness, quality, playback success])
        let perfect = played(0.0, 0, 0.0, 0.0);
        let slow = played(2.0, 0, 0.0, 0.0);
        let rough = played(2.0, 4, 0.05, 0.5);
        let gave_up = unstarted(false, Some(3000));
        let quick_exit = unstarted(false, Some(400));
        let failed = unstarted(true, None);
        let cases: [(&str, &ExperienceScore, f64, [f64; 4]); 5] = [
            ("perfect", &perfect, 100.0, [0.0, 0.0, 0.0, 0.0]),
            (
                "a 2 s start, otherwise perfect",
                &slow,
                91.406,
                [8.594, 0.0, 0.0, 0.0],
            ),
            (
                "2 s start, four stalls (5 %), 50 % upscaled",
                &rough,
                65.434,
                [5.095, 26.941, 2.530, 0.0],
            ),
            ("gave up after 3 s", &gave_up, 50.0, [0.0, 0.0, 0.0, 50.0]),
            ("failed", &failed, 0.0, [0.0, 0.0, 0.0, 100.0]),
        ];
        for (name, score, overall, lost) in cases {
            close(score.overall, overall, name);
            let pull = score.pull.expect("a pull");
            for (i, want) in lost.iter().enumerate() {
                close(Some(pull[i]), *want, &format!("{name}: pull {i}"));
            }
            assert!(
                (pull.iter().sum::<f64>() - (100.0 - overall)).abs() < 0.01,
                "{name}: the pulls add up to the shortfall"
            );
        }
        assert_eq!(
            quick_exit.overall, None,
            "an exit within a second is not scored"
        );
    }

    #[test]
    fn the_overall_score_rises_with_every_part() {
        let base = [Some(60.0), Some(70.0), Some(80.0)];
        let (overall, _) = combine(100.0, base);
        for i in 0..3 {
            let mut better = base;
            better[i] = better[i].map(|s| s + 10.0);
            assert!(combine(100.0, better).0 > overall, "part {i}");
        }
        assert!(combine(50.0, base).0 < overall, "playback success");
        // The weakest part dominates: one part at 20 drags more than two at 60 each.
        assert!(
            combine(100.0, [Some(20.0), Some(100.0), Some(100.0)]).0
                < combine(100.0, [Some(60.0), Some(60.0), Some(100.0)]).0
        );
    }
}
